#pragma once
// A cluster's keys (docs/SECURITY.md): one CURVE key pair per cluster. Holding
// the secret key is membership: every process of the cluster, drivers and
// CLI clients included, reads the same two files from one key folder:
//
//   cluster.key  the secret key, z85, mode 0600 (the folder is 0700)
//   cluster.pub  the public key, z85
//
// The folder is found in this order (find_keys): `--keys DIR` (the CLI sets
// $TROUPE_KEYS from it before any thread starts), else $TROUPE_KEYS, else
// ~/.config/troupe/keys when it holds keys. TROUPE_KEYS=none means "no keys"
// (an embedded cluster run unsecured for a benchmark): such a process may
// only bind loopback addresses.
//
// Two further secrets are derived from the secret key (BLAKE2b keyed with it,
// one label each), so that a folder holds one secret only: the password of
// the authenticated-but-unencrypted loopback mechanism (PLAIN, runtime/
// security.hpp) and the HTTP API's token.
#include <memory>
#include <string>
#include <string_view>

#include "runtime/error.hpp"

namespace troupe {

/// A loaded key pair. Immutable once built: safe to share between threads.
struct ClusterKeys {
  std::string dir;         ///< the folder it was read from (handed to child processes)
  std::string public_key;  ///< z85, 40 characters
  std::string secret_key;  ///< z85, 40 characters

  /// The loopback PLAIN password: hex of BLAKE2b-256(key = secret, "troupe plain v1").
  [[nodiscard]] std::string plain_password() const;
  /// The HTTP API token: hex of BLAKE2b-256(key = secret, "troupe http v1").
  [[nodiscard]] std::string http_token() const;
};

using KeysPtr = std::shared_ptr<const ClusterKeys>;

/// ~/.config/troupe/keys ($HOME; /tmp when unset). Thread-safe.
[[nodiscard]] std::string default_keys_dir();

/// Creates `dir` (0700) and writes a fresh pair (cluster.key 0600,
/// cluster.pub 0644). Refuses to overwrite existing keys unless `overwrite`
/// (invalid_argument); io_error when a file cannot be written. Thread-safe.
[[nodiscard]] Result<ClusterKeys> generate_keys(const std::string& dir, bool overwrite = false);

/// Reads the pair in `dir`. io_error when missing; invalid_argument when the
/// secret file is readable by others than its owner or a key is malformed.
/// Thread-safe.
[[nodiscard]] Result<ClusterKeys> load_keys(const std::string& dir);

/// The keys this process uses, found in the documented order (top of this
/// file): a null pointer when there are none (TROUPE_KEYS=none, or neither
/// the variable nor the default folder). An error when $TROUPE_KEYS names a
/// folder without readable keys: a typo must not silently mean "no
/// security". Thread-safe (reads the environment).
[[nodiscard]] Result<KeysPtr> find_keys();

/// True when TROUPE_KEYS=none: this process, and an embedded cluster it
/// starts, run without keys (loopback only). Thread-safe.
[[nodiscard]] bool keys_disabled();

/// A fresh pair in a private temporary folder (mkdtemp, 0700) for an embedded
/// cluster; remove_keys_dir() deletes it. Thread-safe.
[[nodiscard]] Result<ClusterKeys> ephemeral_keys();
void remove_keys_dir(const std::string& dir);

/// The line every refusal to bind without keys prints.
[[nodiscard]] std::string no_keys_message(std::string_view endpoint);

}  // namespace troupe
