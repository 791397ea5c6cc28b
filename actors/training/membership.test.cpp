// Membership and fencing (membership.hpp): an older incarnation than the
// newest known for the slot, or one reported dead, is fenced off; a death
// marks the slots it held dead, once; a revived slot is waited for from the
// version it rejoined at; a restore learns who died for good.
#include <doctest/doctest.h>

#include <climits>

#include "actors/training/membership.hpp"

using namespace troupe;
using namespace troupe::train;

TEST_CASE("a newer incarnation replaces the older, which is fenced off from then on") {
  Membership m(2);
  CHECK(m.size() == 2);
  CHECK(m.adopt(0, 900, 0));
  CHECK_FALSE(m.adopt(0, 900, 0));  // the same occupant again
  CHECK_FALSE(m.fenced(0, 900, 0));
  CHECK(m.adopt(0, 900, 1));
  CHECK(m[0].incarnation == 1);
  CHECK(m.fenced(0, 900, 0));
  CHECK_FALSE(m.fenced(0, 900, 1));
  CHECK_FALSE(m.fenced(0, 900, 2));
  CHECK_FALSE(m.fenced(1, 900, 0));  // another slot holds no incarnation of it
}

TEST_CASE("a reported death marks its slots dead once and fences that incarnation and older ones") {
  Membership m(3);
  m.adopt(0, 900, 1);
  m.adopt(1, 901, 0);
  const auto dead = m.died(900, 1);
  REQUIRE(dead.size() == 1);
  CHECK(dead[0] == 0);
  CHECK_FALSE(m[0].alive);
  CHECK(m[1].alive);
  CHECK(m.died(900, 1).empty());  // old news
  CHECK(m.died(900, 0).empty());
  CHECK(m.fenced(0, 900, 1));
  CHECK(m.fenced(2, 900, 0));  // dead everywhere, whichever slot it claims
  CHECK_FALSE(m.fenced(0, 900, 2));
  // A death of an older incarnation than the slot's does not kill the slot.
  m.adopt(1, 901, 3);
  CHECK(m.died(901, 2).empty());
  CHECK(m[1].alive);
  CHECK(m.fenced(1, 901, 2));
}

TEST_CASE("a revived slot is waited for from the version it rejoined at") {
  Membership m(2);
  m.adopt(0, 900, 0);
  CHECK(m.waited_for(0, 0));
  CHECK_FALSE(m.revive(0, 5));  // alive: nothing changes
  CHECK(m[0].joined_at == 0);
  (void)m.died(900, 0);
  CHECK_FALSE(m.waited_for(0, 7));
  m.adopt(0, 900, 1);
  CHECK(m.revive(0, 6));
  CHECK_FALSE(m.waited_for(0, 5));
  CHECK(m.waited_for(0, 6));
}

TEST_CASE("the slowest live data cursor, and a restart moves every slot there") {
  Membership m(3);
  m[0].next_step = 4;
  m[1].next_step = 2;
  m[2].next_step = 9;
  CHECK(m.slowest_step() == 2);
  m.adopt(1, 901, 0);
  (void)m.died(901, 0);
  CHECK(m.slowest_step() == 4);
  (void)m.died(900, 0);  // in no slot: nothing changes
  CHECK(m.slowest_step() == 4);
  m.restart_at(3, false);
  CHECK(m[0].joined_at == 3);
  CHECK(m[0].next_step == 4);
  m.restart_at(3, true);
  CHECK(m[2].next_step == 3);
  Membership none(1);
  none.adopt(0, 5, 0);
  (void)none.died(5, 0);
  CHECK(none.slowest_step() == INT64_MAX);
}

TEST_CASE("a restored shard learns which trainers died for good while it was down") {
  Membership m(2);
  m.adopt(0, 900, 2);
  m.adopt(1, 901, 0);
  ActorInfo gone;
  gone.id = 900;
  gone.state = ActorState::dead;
  gone.incarnation = 2;
  ActorInfo live;
  live.id = 901;
  live.state = ActorState::alive;
  m.learn_dead({gone, live});
  CHECK_FALSE(m[0].alive);
  CHECK(m[1].alive);
  CHECK(m.fenced(0, 900, 2));
  const auto info = m.info();
  REQUIRE(info.size() == 2);
  CHECK(info[0].slot == 0);
  CHECK(info[0].actor == 900);
  CHECK(info[0].incarnation == 2);
  CHECK_FALSE(info[0].alive);
}
