#include "runtime/future.hpp"

#include <doctest/doctest.h>

#include <thread>

using namespace std::chrono_literals;
using troupe::Errc;
using troupe::Error;
using troupe::Future;
using troupe::Result;
using troupe::detail::SharedState;

TEST_CASE("a future completed from another thread hands its value to get()") {
  auto s = std::make_shared<SharedState<int>>();
  Future<int> f(s);
  CHECK_FALSE(f.ready());
  std::thread t([s] { s->set(42); });
  CHECK(f.get(5s) == 42);
  t.join();
  CHECK(f.ready());
  CHECK(f.get() == 42);  // the value stays
}

TEST_CASE("get with a timeout throws Timeout and result returns it as a value") {
  auto s = std::make_shared<SharedState<int>>();
  bool abandoned = false;
  s->on_abandon = [&] { abandoned = true; };
  Future<int> f(s);
  auto r = f.result(10ms);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::timeout);
  CHECK(abandoned);
  try {
    f.get(1ms);
    FAIL("get did not throw");
  } catch (const troupe::Exception& e) {
    CHECK(e.code() == Errc::timeout);
  }
}

TEST_CASE("an error completes the future and get throws it with its code and cause") {
  Error died(Errc::actor_died, "gone");
  died.signal = 9;
  auto f = Future<int>::ready_with(died);
  auto r = f.result();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().signal == 9);
  CHECK(r.error().to_string().find("SIGKILL") != std::string::npos);
  CHECK_THROWS_AS(f.get(), troupe::Exception);
}

TEST_CASE("then chains on the value, passes errors through and turns exceptions into errors") {
  auto s = std::make_shared<SharedState<int>>();
  Future<int> f(s);
  auto doubled = f.then([](int v) { return v * 2; });
  auto text = doubled.then([](int v) { return std::to_string(v); });
  auto thrower = f.then([](int) -> int { throw std::runtime_error("bad"); });
  auto side = f.then([](int) {});
  s->set(21);
  CHECK(doubled.get(1s) == 42);
  CHECK(text.get(1s) == "42");
  CHECK(thrower.result(1s).error().code == Errc::remote_error);
  CHECK(thrower.result(1s).error().message == "bad");
  CHECK(side.result(1s).ok());

  auto failed = Future<int>::ready_with(Error(Errc::timeout, "late")).then([](int v) { return v + 1; });
  CHECK(failed.result(1s).error().code == Errc::timeout);
}

TEST_CASE("wait_all reports whether every future completed within the shared timeout") {
  auto a = std::make_shared<SharedState<int>>();
  auto b = std::make_shared<SharedState<int>>();
  a->set(1);
  CHECK_FALSE(troupe::wait_all(20ms, Future<int>(a), Future<int>(b)));
  b->set(2);
  CHECK(troupe::wait_all(20ms, Future<int>(a), Future<int>(b)));
  std::vector<Future<int>> v{Future<int>(a), Future<int>(b)};
  CHECK(troupe::wait_all(v, 20ms));
}

TEST_CASE("a future<void> completes without a value") {
  auto s = std::make_shared<SharedState<void>>();
  Future<void> f(s);
  s->set(Result<void>());
  CHECK_NOTHROW(f.get(1s));
}
