// The cluster's configuration (`dispatch.cluster.*`): this node's id and listen address, the
// peers, heartbeat and reconnect timing, TLS files. Read after parsing; unknown keys are refused.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>

#include "messages/cluster.hpp"

namespace dispatch {

struct cluster_config {
  uint32_t node = 0;                                 // this node's id (≥ 1); 0: not clustered
  std::string listen;                                // "host:port" where peers reach this node
  std::vector<std::string> peers;                    // every other member as "id@host:port"
  std::chrono::milliseconds heartbeat_interval{500}; // a ping to every peer this often
  std::chrono::milliseconds peer_timeout{3000};      // unanswered this long: the peer is down
  std::chrono::milliseconds reconnect_initial{200};  // backoff between connection attempts ...
  std::chrono::milliseconds reconnect_max{5000};     // ... doubling up to this
  std::chrono::milliseconds join_timeout{3000};      // at start: wait this long for peers' hellos
  uint32_t forward_batch = 1024;                     // events per forward to an owner
  std::string certificate; // PEM file: this node's certificate (TLS when all three set)
  std::string key;         // PEM file: its private key
  std::string ca_file;     // PEM file: the CA that signed every node's certificate
  std::string passphrase;  // of the key, if it has one
  std::string secret;      // shared by every member; proves membership in the hello
  std::string secret_file; // ... or a file holding it (one line)
};

/// The fewest characters a cluster secret may have.
constexpr size_t min_secret_size = 16;

/// True when `node` is set: the engine runs as a member of a cluster.
inline bool clustered(const cluster_config& cfg) {
  return cfg.node != 0;
}

/// True when certificate, key and CA file are all set.
inline bool uses_tls(const cluster_config& cfg) {
  return !cfg.certificate.empty() && !cfg.key.empty() && !cfg.ca_file.empty();
}

/// Splits "host:port" ("[::1]:7400" for IPv6); the error names `key` and the reason.
caf::expected<std::pair<std::string, uint16_t>> parse_address(const std::string& key,
                                                              const std::string& text);

/// Every member, this node included, sorted by id. Call on a validated configuration.
member_list members_of(const cluster_config& cfg);

/// Adds the `dispatch.cluster.*` options (with their defaults) for `--help`, INI files and the CLI.
void add_cluster_options(caf::config_option_set& options);

/// Puts the defaults into the settings, so `--dump-config` shows the effective configuration.
void put_cluster_defaults(caf::actor_system_config& cfg);

/// Reads `dispatch.cluster.*` after parsing and validates it. Fails on unknown keys and wrong
/// types, naming the key.
caf::expected<cluster_config> read_cluster_config(const caf::actor_system_config& cfg);

/// Checks a configuration (also one filled in code): peers parse as "id@host:port", ids are
/// unique and ≥ 1, `listen` parses, timings are positive with the timeout above the interval,
/// TLS files are all set or none, exist and are readable, a node whose `listen` or any peer
/// is beyond loopback has TLS configured, and exactly one of `secret` and `secret-file` is set
/// (the secret is required with TLS too). The error names the key and the reason, never the
/// secret.
caf::error validate(const cluster_config& cfg);

/// The cluster secret: `secret`, or the first line of `secret-file`; at least `min_secret_size`
/// characters. The error names the key and the reason, never the secret.
caf::expected<std::string> read_secret(const cluster_config& cfg);

} // namespace dispatch
