#include "tests/training/deferred_actor.hpp"

#include "runtime/registry.hpp"

TROUPE_ACTOR(Mailbox, get, refuse, put, put_later);
