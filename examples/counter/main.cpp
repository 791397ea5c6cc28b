// The counter example: start (or connect to) a cluster, spawn a Counter, call it.
//   counter_example                         embedded local cluster
//   counter_example tcp://127.0.0.1:7400    a cluster started with `troupe up`
#include <chrono>
#include <cstdio>
#include <vector>

#include "examples/counter/counter.hpp"
#include "embedded/local_cluster.hpp"
#include "runtime/cluster.hpp"

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  try {
    auto cluster = argc > 1 ? troupe::Cluster::connect(argv[1]) : troupe::local_cluster({.workers = 2, .http_port = -1});
    auto c = cluster.spawn<Counter>({.name = "counter", .cpus = 1, .max_restarts = 3}, 10);
    troupe::Future<int> f = c.call(&Counter::add, 5);
    std::printf("add(5) -> %d\n", f.get(10s));

    // Pipelined: 1000 calls in flight, order kept per caller.
    std::vector<troupe::Future<int>> many;
    for (int i = 0; i < 1000; ++i) many.push_back(c.call(&Counter::add, 1));
    troupe::wait_all(many, 10s);
    std::printf("after 1000 more adds: %d\n", many.back().get());
    std::printf("%s\n", c.call(&Counter::describe, std::string("the driver")).get(10s).c_str());

    // Handles are values: look the actor up by name.
    auto same = cluster.actor<Counter>("counter");
    std::printf("looked up by name: value() -> %d\n", same.call(&Counter::value).get(10s));
    if (argc > 1) cluster.kill("counter");  // leave a shared cluster as we found it
    cluster.shutdown();
    return 0;
  } catch (const troupe::Exception& e) {
    std::fprintf(stderr, "counter_example: %s\n", e.error().to_string().c_str());
    return 1;
  }
}
