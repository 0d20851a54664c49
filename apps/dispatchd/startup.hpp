// dispatchd's startup: the config class with every `dispatch.*` option, reading all of it into
// one value, and the startup lines (the log itself is logging/log.hpp).
#pragma once

#include <string>

#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>

#include "config/cluster_config.hpp"
#include "config/engine_config.hpp"
#include "config/http_config.hpp"
#include "config/sink_config.hpp"
#include "logging/log.hpp"

namespace dispatch::app {

/// CAF's options plus the engine's, the gateway's, the sinks' and `dispatch.log.*`, with
/// their defaults in the settings (`--dump-config`) and the message types registered.
class dispatchd_config : public caf::actor_system_config {
public:
  dispatchd_config();
};

/// The text of `--help`: usage, the config file option and every `dispatch.*` option with its
/// default (`--long-help` adds CAF's own options).
std::string help_text();

/// One line for a command line CAF could not parse, e.g. "unknown option --dispatch.foo=1".
std::string usage_problem(const caf::error& err);

/// Everything dispatchd reads from its configuration.
struct dispatchd_settings {
  engine_config engine;
  http_config http;
  sinks_config sinks;
  cluster_config cluster; // node 0: a single node
  log_config log;
};

/// Reads and checks the whole configuration: unknown keys anywhere below `dispatch` (naming
/// them), wrong types, ranges, a config file CAF would misread, and listening beyond loopback
/// without tokens. The error's message is one line for the operator.
caf::expected<dispatchd_settings> read_settings(const dispatchd_config& cfg);

/// Makes `engine.data_dir` absolute and creates it, parents included (not for in-memory).
caf::error prepare_data_dir(engine_config& engine);

/// The effective `dispatch.*` values on one line, `key=value` sorted by key, secrets masked
/// (tokens, header values, passwords in URLs).
std::string config_summary(const dispatchd_config& cfg);

/// What `--dump-config` prints: every option CAF and dispatchd hold, nested as in the INI file,
/// with the same secrets masked.
std::string config_dump(const dispatchd_config& cfg);

/// What the process may open: its soft limit on file descriptors before and after start, and the
/// hard limit (0 when unknown).
struct file_limit {
  uint64_t before = 0;
  uint64_t now = 0;
  uint64_t hard = 0;
};

/// Raises the soft limit on open files to the hard one: every connection, webhook connection and
/// RocksDB file takes a descriptor, and a shell's default soft limit (often 1024, sometimes 256)
/// runs out long before `dispatch.http.max-connections`.
file_limit raise_file_limit();

/// How the process's file descriptors are shared out: table files RocksDB keeps open, a fixed
/// reserve (WAL, manifest, logs, webhook and cluster connections, CAF), and the HTTP connections
/// the server accepts: what is left, at most `dispatch.http.max-connections`.
struct file_budget {
  uint32_t storage_files = 0; // RocksDB's max_open_files
  uint32_t reserve = 0;
  uint32_t connections = 0; // the HTTP server's cap
  bool lowered = false;     // below what the configuration asked for
  bool enough = true;       // false: too few descriptors to run at all
  std::string line;         // the log line saying all of it
};

/// The least number of HTTP connections dispatchd starts with.
constexpr uint32_t min_connections = 16;

/// Shares `limit` out, given what the configuration asks for.
file_budget plan_files(const file_limit& limit, uint32_t max_connections, uint32_t max_open_files);

/// "task sink: webhook POST https://.../tasks/v1/ (1 header)" or "task sink: built-in log".
std::string sink_summary(const char* kind, const caf::optional<webhook_config>& sink);

} // namespace dispatch::app
