#pragma once
// Actor classes used by the multi-process tests; registered in test_actors.cpp,
// which is built into libtest_actors.so (the code path of every test actor).
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "kernels/cpu/threads.hpp"
#include "runtime/actor_context.hpp"
#include "runtime/actor_handle.hpp"
#include "runtime/tensor.hpp"

struct Echo {
  std::string echo(std::string s) { return s; }
  int add(int a, int b) { return a + b; }
  troupe::Tensor scale(troupe::Tensor t, float k) {
    auto out = troupe::Tensor::empty(troupe::DType::f32, t.shape());
    auto in = t.span<float>();
    auto o = out.span<float>();
    for (std::size_t i = 0; i < in.size(); ++i) o[i] = in[i] * k;
    return out;
  }
  void fail(std::string message) { throw std::runtime_error(message); }
  /// Fails with a troupe error of the given code, as a method may.
  void fail_with(int code, std::string message) {
    throw troupe::Exception(troupe::Error(static_cast<troupe::Errc>(code), std::move(message)));
  }
  int pid() { return static_cast<int>(getpid()); }
  /// Whether denormals are flushed here (MXCSR), on the executor thread and on a thread started now.
  std::vector<bool> flushes_denormals() {
    bool fresh = false;
    std::thread([&] { fresh = troupe::kernels::cpu::flushes_denormals(); }).join();
    return {troupe::kernels::cpu::flushes_denormals(), fresh};
  }
};

struct Tally {
  explicit Tally(int start) : value_(start) {}
  int add(int x) { return value_ += x; }
  int value() const { return value_; }
  int pid() const { return static_cast<int>(getpid()); }
  /// Which incarnation answers (to count calls served by each).
  unsigned incarnation() const { return troupe::this_actor().incarnation(); }
  /// Adds after `ms` milliseconds of work: a call that is in flight long enough to kill its actor.
  int slow_add(int x, int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    return value_ += x;
  }
  int value_;
};

struct Relay {
  /// Calls another actor through a handle it was given.
  int add_via(troupe::ActorHandle<Tally> tally, int x) {
    return tally.call(&Tally::add, x).get(std::chrono::seconds(10));
  }
};

struct Fragile {
  explicit Fragile(bool throw_in_constructor) {
    if (throw_in_constructor) throw std::runtime_error("boom in the constructor");
  }
  int ok() { return 1; }
};
