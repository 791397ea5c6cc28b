#include "tools/bench/actor_calls/bench_actors.hpp"

#include "runtime/registry.hpp"

TROUPE_ACTOR(Sink, echo, noop, take);
TROUPE_ACTOR(Source, push);
