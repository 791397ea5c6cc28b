// Registers Counter. Built into libcounter_actor.so: the driver links it, and
// the actor process loads it (--code-path, found automatically by spawn()).
#include "examples/counter/counter.hpp"

#include "runtime/registry.hpp"

TROUPE_ACTOR(Counter, add, value, describe);
