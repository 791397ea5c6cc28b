// The actor registry: what TROUPE_ACTOR records, how a constructor is chosen
// from the spawn's arguments, and how a method is invoked from a call (its
// arguments checked, its value or its troupe::Exception sent back), through
// a real Server and Client in one process (io_fixture.test.hpp).
#include "runtime/registry.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <tuple>

#include "runtime/io_fixture.test.hpp"

using troupe::Errc;
using troupe::Registry;
using namespace troupe::testing;

namespace {

/// A small actor class: one constructor argument, a method of each kind.
class RegistryProbe {
 public:
  explicit RegistryProbe(int start) : total_(start) {}
  int add(int x) { return total_ += x; }
  [[nodiscard]] int total() const { return total_; }
  void reset() { total_ = 0; }
  int fail(int code) { throw troupe::Exception(troupe::Error(static_cast<Errc>(code), "asked to fail")); }

 private:
  int total_;
};

/// A msgpack array of `args`, as a spawn or a call carries it.
template <class... A>
msgpack::object_handle packed(const A&... args) {
  msgpack::sbuffer buf;
  msgpack::pack(buf, std::make_tuple(args...));
  return msgpack::unpack(buf.data(), buf.size());
}

}  // namespace

TROUPE_ACTOR(RegistryProbe, add, total, reset, fail);

TEST_CASE("TROUPE_ACTOR registers the class by name and by type, its methods in the order listed") {
  const troupe::ClassInfo* info = Registry::instance().find("RegistryProbe");
  REQUIRE(info != nullptr);
  CHECK(Registry::instance().find(typeid(RegistryProbe)) == info);
  CHECK(info->method_list() == "add, total, reset, fail");
  CHECK(info->method("total") != nullptr);
  CHECK(info->method("nope") == nullptr);
  CHECK(info->library.empty());  // registered by this executable, not a loaded library
  const auto names = Registry::instance().names();
  CHECK(std::count(names.begin(), names.end(), "RegistryProbe") == 1);
  CHECK(Registry::instance().find("NoSuchClass") == nullptr);
}

TEST_CASE("a constructor is chosen by the number of arguments; a mismatch says which counts exist") {
  const troupe::ClassInfo* info = Registry::instance().find("RegistryProbe");
  REQUIRE(info != nullptr);
  auto made = info->construct(packed(5).get());
  REQUIRE(made.ok());
  CHECK(static_cast<RegistryProbe*>(made.value().get())->total() == 5);

  auto none = info->construct(packed().get());
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == Errc::bad_arguments);
  CHECK(none.error().message == "no constructor taking 0 argument(s); it takes 1");

  auto wrong = info->construct(packed(std::string("five")).get());
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code == Errc::bad_arguments);

  msgpack::sbuffer buf;
  msgpack::pack(buf, 5);
  CHECK(info->construct(msgpack::unpack(buf.data(), buf.size()).get()).error().code == Errc::bad_arguments);
}

TEST_CASE("a registered method runs on the executor, one call after another, and answers with its value or error") {
  const troupe::ClassInfo* info = Registry::instance().find("RegistryProbe");
  REQUIRE(info != nullptr);
  auto instance = std::make_shared<RegistryProbe>(10);
  ServedPair pair("inproc://registry-test");
  // As the actor process registers them: every method on the executor.
  for (const auto& m : info->methods)
    pair.server.add(m.name, [instance, invoke = m.invoke](const troupe::Message& call, const troupe::Responder& r) {
      invoke(instance.get(), call, r);
    });
  pair.start();

  auto frames = [](const std::string& method, auto... args) {
    troupe::Header h;
    h.method = method;
    return troupe::encode(std::move(h), std::make_tuple(args...));
  };
  CHECK(pair.call("add", frames("add", 5))->result().value().body_as<int>().value() == 15);
  CHECK(pair.call("add", frames("add", -3))->result().value().body_as<int>().value() == 12);
  CHECK(pair.call("total", frames("total"))->result().value().body_as<int>().value() == 12);
  CHECK(pair.call("reset", frames("reset"))->result().ok());  // void: a nil reply
  CHECK(pair.call("total", frames("total"))->result().value().body_as<int>().value() == 0);

  const auto arity_call = pair.call("add", frames("add", 1, 2));
  const auto& arity = arity_call->result();
  REQUIRE_FALSE(arity.ok());
  CHECK(arity.error().code == Errc::bad_arguments);
  CHECK(arity.error().message == "add takes 1 argument(s), got 2");

  const auto type_call = pair.call("add", frames("add", std::string("x")));
  const auto& type = type_call->result();
  REQUIRE_FALSE(type.ok());
  CHECK(type.error().code == Errc::bad_arguments);
  CHECK(type.error().message.starts_with("add: argument 1 has the wrong type"));

  const auto failed_call = pair.call("fail", frames("fail", static_cast<int>(Errc::not_found)));
  const auto& failed = failed_call->result();
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code == Errc::not_found);
  CHECK(failed.error().message == "asked to fail");
}
