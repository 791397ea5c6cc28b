// A small driver for the inspection tests: connects to a running cluster,
// spawns a Tally (tests/actors) under a name, calls it a few times, and leaves
// it running.
//   inspection_spawn ADDR NAME [MAX_RESTARTS] [CPUS] [GPUS]
// Prints "spawned NAME id ID pid PID" once the actor answered.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "runtime/cluster.hpp"
#include "tests/actors/test_actors.hpp"

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  if (argc < 3) {
    std::fprintf(stderr, "usage: inspection_spawn ADDR NAME [MAX_RESTARTS] [CPUS] [GPUS]\n");
    return 2;
  }
  try {
    auto cluster = troupe::Cluster::connect(argv[1]);
    troupe::SpawnOptions o;
    o.name = argv[2];
    o.max_restarts = argc > 3 ? std::atoi(argv[3]) : 3;
    o.cpus = argc > 4 ? std::atof(argv[4]) : 1;
    o.gpus = argc > 5 ? std::atof(argv[5]) : 0;
    auto t = cluster.spawn<Tally>(o, 0);
    if (o.cpus <= 16) {  // more: expected to stay PENDING, so no calls
      for (int i = 1; i <= 5; ++i) t.call(&Tally::add, i).get(20s);
      const int pid = t.call(&Tally::pid).get(10s);
      std::printf("spawned %s id %llu pid %d\n", argv[2], static_cast<unsigned long long>(t.id()), pid);
    } else {
      std::printf("spawned %s id %llu (pending)\n", argv[2], static_cast<unsigned long long>(t.id()));
    }
    std::fflush(stdout);
    cluster.shutdown();
    return 0;
  } catch (const troupe::Exception& e) {
    std::fprintf(stderr, "inspection_spawn: %s\n", e.error().to_string().c_str());
    return 1;
  }
}
