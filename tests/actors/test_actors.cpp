#include "tests/actors/test_actors.hpp"

#include "runtime/registry.hpp"

TROUPE_ACTOR(Echo, echo, add, scale, fail, fail_with, pid, flushes_denormals);
TROUPE_ACTOR(Tally, add, value, pid, slow_add, incarnation);
TROUPE_ACTOR(Relay, add_via);
TROUPE_ACTOR(Fragile, ok);
