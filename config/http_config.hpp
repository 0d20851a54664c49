// The HTTP gateway's configuration (`dispatch.http.*`): listen addresses, limits, deadlines and
// bearer tokens. Read after parsing, like the engine's options; unknown keys are refused by name.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>

namespace dispatch {

struct http_config {
  std::vector<std::string> hosts{"127.0.0.1", "::1"}; // every address is bound; ::1 may be skipped
  uint16_t port = 8080;                               // 0: a free port (the same on every host)
  uint32_t body_limit = 1 << 20;                      // larger bodies: 413
  uint32_t header_limit = 16 * 1024;                  // request line and headers together
  std::chrono::milliseconds header_timeout{10000};    // to receive a request's headers
  std::chrono::milliseconds body_timeout{30000};      // to receive its body after the headers
  std::chrono::milliseconds idle_timeout{60000};      // keep-alive wait for the next request
  std::chrono::milliseconds request_timeout{30000};   // the engine's answer to one request
  uint32_t max_connections = 4096;                    // further connections are refused
  uint32_t io_threads = 1;
  std::vector<std::string> tokens; // accepted bearer tokens; empty: no auth (loopback only)
};

/// True when every host is a loopback address (127.0.0.0/8, ::1, localhost).
bool loopback_only(const http_config& cfg);

/// Adds the `dispatch.http.*` options (with their defaults) for `--help`, INI files and the CLI.
void add_http_options(caf::config_option_set& options);

/// Puts the defaults into the settings, so `--dump-config` shows the effective configuration.
void put_http_defaults(caf::actor_system_config& cfg);

/// Reads `dispatch.http.*` after parsing. Fails on unknown keys and wrong types, naming the key.
caf::expected<http_config> read_http_config(const caf::actor_system_config& cfg);

} // namespace dispatch
