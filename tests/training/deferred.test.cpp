// troupe::Deferred<T>: an actor method that replies later, from any thread,
// while the actor keeps serving other calls.
#include <doctest/doctest.h>

#include "embedded/local_cluster.hpp"
#include "runtime/cluster.hpp"
#include "tests/training/deferred_actor.hpp"

using namespace std::chrono_literals;

TEST_CASE("a deferred reply arrives when another call resolves it, and the actor serves calls meanwhile") {
  auto cluster = troupe::local_cluster({.workers = 1, .cpus_per_worker = 2, .http_port = -1});
  auto m = cluster.spawn<Mailbox>({});
  auto waiting = m.call(&Mailbox::get, 3);
  CHECK(m.call(&Mailbox::get, 0).get(10s) == 0);  // answered at once
  CHECK_FALSE(waiting.wait(200ms));
  CHECK(m.call(&Mailbox::put, 2).get(10s) == 2);
  CHECK_FALSE(waiting.wait(100ms));
  CHECK(m.call(&Mailbox::put, 5).get(10s) == 5);
  CHECK(waiting.get(10s) == 5);
}

TEST_CASE("a deferred reply can come from a background thread, and a failed one reaches the caller as its error") {
  auto cluster = troupe::local_cluster({.workers = 1, .cpus_per_worker = 2, .http_port = -1});
  auto m = cluster.spawn<Mailbox>({});
  auto waiting = m.call(&Mailbox::get, 7);
  CHECK(m.call(&Mailbox::put_later, 7, 50).get(10s) == 7);
  CHECK(waiting.get(10s) == 7);
  auto r = m.call(&Mailbox::refuse).result(10s);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == troupe::Errc::invalid_argument);
  CHECK(r.error().message.find("no, thanks") != std::string::npos);
}
