#include "scheduler/resources.hpp"

#include <doctest/doctest.h>

using namespace troupe;

TEST_CASE("a node's resources: held, taken back, what fits") {
  NodeInfo n;
  n.total = {4, 1, 1000};
  add_resources(n.used, {1.5, 1, 0});
  CHECK(free_resources(n).cpus == doctest::Approx(2.5));
  CHECK(fits(n, {2.5, 0, 0}));
  CHECK_FALSE(fits(n, {2.6, 0, 0}));
  CHECK_FALSE(fits(n, {1, 1, 0}));    // the GPU is held
  CHECK(fits(n, {0.1, 0, 900}));      // memory counts where both sides state it
  CHECK_FALSE(fits(n, {0.1, 0, 1001}));
  NodeInfo unstated = n;
  unstated.total.memory_mb = 0;      // a node that does not state its memory: memory is not a limit
  CHECK(fits(unstated, {0.1, 0, 1e6}));
  // Ten placements of 0.1 CPU summed in another order than they are taken back still fit exactly.
  NodeInfo f;
  f.total = {1, 0, 0};
  for (int i = 0; i < 10; ++i) add_resources(f.used, {0.1, 0, 0});
  take_back_resources(f.used, {0.1, 0, 0});
  CHECK(fits(f, {0.1, 0, 0}));
  // Taking back more than is held (an actor recovery did not count) never goes below zero.
  take_back_resources(f.used, {5, 1, 10});
  CHECK(f.used.cpus == 0);
  CHECK(f.used.gpus == 0);
  CHECK(f.used.memory_mb == 0);
}
