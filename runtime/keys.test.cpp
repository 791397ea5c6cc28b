// Cluster keys: the files keygen writes, what load accepts, the derived
// secrets, and which mechanism an address gets.
#include "runtime/keys.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "runtime/security.hpp"

using namespace troupe;

namespace {
mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}
}  // namespace

TEST_CASE("generate_keys writes a private folder and a 0600 secret that load_keys reads back") {
  auto k = ephemeral_keys();
  REQUIRE(k.ok());
  CHECK(mode_of(k->dir) == 0700);
  CHECK(mode_of(k->dir + "/cluster.key") == 0600);
  CHECK(k->public_key.size() == 40);
  CHECK(k->secret_key.size() == 40);
  auto again = load_keys(k->dir);
  REQUIRE(again.ok());
  CHECK(again->public_key == k->public_key);
  CHECK(again->secret_key == k->secret_key);
  // Never overwritten by accident.
  auto twice = generate_keys(k->dir);
  REQUIRE(!twice.ok());
  CHECK(twice.error().code == Errc::invalid_argument);
  CHECK(load_keys(k->dir)->secret_key == k->secret_key);
  remove_keys_dir(k->dir);
  CHECK(!std::filesystem::exists(k->dir));
}

TEST_CASE("load_keys refuses a secret others can read, and a folder without keys") {
  auto k = ephemeral_keys();
  REQUIRE(k.ok());
  ::chmod((k->dir + "/cluster.key").c_str(), 0644);
  auto r = load_keys(k->dir);
  REQUIRE(!r.ok());
  CHECK(r.error().message.find("chmod 600") != std::string::npos);
  remove_keys_dir(k->dir);
  auto missing = load_keys(k->dir);
  REQUIRE(!missing.ok());
  CHECK(missing.error().message.find("troupe keygen") != std::string::npos);
}

TEST_CASE("derived secrets differ per cluster and per use, and never equal the secret key") {
  auto a = ephemeral_keys();
  auto b = ephemeral_keys();
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->plain_password().size() == 64);
  CHECK(a->plain_password() == load_keys(a->dir)->plain_password());
  CHECK(a->plain_password() != b->plain_password());
  CHECK(a->plain_password() != a->http_token());
  CHECK(a->plain_password().find(a->secret_key) == std::string::npos);
  remove_keys_dir(a->dir);
  remove_keys_dir(b->dir);
}

TEST_CASE("both ends pick the mechanism from the address") {
  auto k = ephemeral_keys();
  REQUIRE(k.ok());
  KeysPtr keys = std::make_shared<const ClusterKeys>(k.value());
  CHECK(mechanism_for(keys, "tcp://127.0.0.1:7400") == Mechanism::plain);
  CHECK(mechanism_for(keys, "tcp://127.0.1.1:*") == Mechanism::plain);
  CHECK(mechanism_for(keys, "tcp://localhost:7400") == Mechanism::plain);
  CHECK(mechanism_for(keys, "tcp://[::1]:7400") == Mechanism::plain);
  CHECK(mechanism_for(keys, "ipc:///tmp/x") == Mechanism::plain);
  CHECK(mechanism_for(keys, "tcp://0.0.0.0:7400") == Mechanism::curve);
  CHECK(mechanism_for(keys, "tcp://*:7400") == Mechanism::curve);
  CHECK(mechanism_for(keys, "tcp://10.1.2.3:7400") == Mechanism::curve);
  CHECK(mechanism_for(keys, "tcp://127.0.0.1.example.com:7400") == Mechanism::curve);  // a name may resolve anywhere
  CHECK(mechanism_for(keys, "tcp://10.0.0.1;127.0.0.1:7400") == Mechanism::curve);
  CHECK(mechanism_for(keys, "inproc://x") == Mechanism::none);
  CHECK(mechanism_for(nullptr, "tcp://127.0.0.1:7400") == Mechanism::none);
  remove_keys_dir(k->dir);
}
