#pragma once
// Actors for the actor_calls benchmark (built into libbench_actors.so).
#include <chrono>
#include <string>

#include "runtime/actor_handle.hpp"
#include "runtime/tensor.hpp"

struct Sink {
  std::string echo(std::string s) { return s; }
  int noop(int x) { return x; }
  /// Receives a tensor; returns its byte count (so nothing is optimised away).
  int64_t take(troupe::Tensor t) { return static_cast<int64_t>(t.nbytes()); }
};

struct Source {
  /// Sends `iterations` tensors of `bytes` to `sink` one after another (each
  /// call waits for its reply); returns the seconds it took.
  double push(troupe::ActorHandle<Sink> sink, int64_t bytes, int iterations) {
    auto t = troupe::Tensor::zeros(troupe::DType::u8, {bytes});
    sink.call(&Sink::take, t).get(std::chrono::seconds(30));  // warm-up: connection made
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iterations; ++i) sink.call(&Sink::take, t).get(std::chrono::seconds(30));
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
};
