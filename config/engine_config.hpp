// The engine's configuration: one struct with defaults, read from CAF's `dispatch.*` options.
// Embedding users fill it in code or call `read_engine_config` on their own actor system config.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>

#include "messages/clock.hpp"

namespace dispatch {

/// How failed deliveries are retried: exponential backoff with full jitter, bounded by attempts and
/// by age (time since the delivery was made).
struct retry_policy {
  std::chrono::milliseconds initial{1000};
  double multiplier = 2.0;
  std::chrono::milliseconds cap{5 * 60 * 1000};
  uint32_t max_attempts = 10;
  std::chrono::milliseconds max_age{24 * 60 * 60 * 1000};
};

/// The readers: threads answering listings off the path publishes take, and how they leave the
/// CPU to it (actors/thread_priority.hpp, actors/cpu_budget.hpp). The replayer runs at their
/// priority too.
struct reader_settings {
  uint32_t count = 2; // threads (1..64)
  uint32_t nice = 10; // nice steps below the rest (0..19)
  bool idle = true;   // under SCHED_IDLE: only on CPU the write path leaves idle
  // Cores' worth of CPU time the readers use together at most; 0: half of the CPUs the process
  // may run on beyond the first, at least 0.25 (`default_reader_cores`).
  double cpu = 0;
};

/// The highest rate a sink may be given, in deliveries a second.
constexpr uint32_t max_sink_rate = 1000000;

struct engine_config {
  std::string data_dir = "./var/dispatchd";
  uint32_t shards = 4;    // fixed when a data directory is created; stored in it
  bool sync = true;       // fsync ingest's batch before acknowledging
  bool in_memory = false; // RocksDB on an in-memory environment (benchmarks, tests)
  bool detached = true;   // run actors that do I/O on their own threads
  retry_policy retry;
  uint32_t max_unacknowledged = 65536; // publishes written or buffered but not yet matched
  uint32_t batch_max_events = 4096;    // group commit caps
  uint32_t batch_max_bytes = 4 * 1024 * 1024;
  uint32_t sink_in_flight = 256; // deliveries at one sink at once
  // Deliveries a second to the task / mail sink, shared by the shards' emitters (0: unlimited).
  // dispatchd reads them from `dispatch.sinks.task.rate` / `mail.rate` (config/sink_config.hpp).
  uint32_t task_sink_rate = 0;
  uint32_t mail_sink_rate = 0;
  std::chrono::milliseconds sink_timeout{10000};
  std::chrono::milliseconds request_timeout{10000}; // every internal request
  uint32_t emitter_memory_cap = 10000; // due deliveries an emitter keeps in memory; the rest paged
  reader_settings readers;             // listings, off the publish path
  uint32_t seen_days = 7;              // duplicate suppression window
  uint32_t history_days = 7;           // finished deliveries kept for reading back
  uint32_t log_days = 7;               // what the built-in sink received, kept for reading back
  uint32_t event_days = 7; // accepted events kept in the archive (the log, at least history_days)
  uint32_t replay_rate = 1000; // archived events a replay walks per second at most
  uint64_t block_cache_bytes = 64ull << 20;
  uint64_t write_buffer_bytes = 64ull << 20;
  uint32_t max_actions_per_dispatcher = 100; // fan-out limits, checked when dispatchers change
  uint32_t max_dispatchers_per_type = 1000;
  uint64_t max_delivery_bytes_per_event = 256ull << 20; // event bytes times its type's actions
  uint32_t max_open_files = 512; // RocksDB table files held open (more are opened and closed)
  uint32_t restart_limit = 5;    // supervisor: at most this many restarts ...
  std::chrono::seconds restart_window{60}; // ... within this window, else orderly shutdown
  uint32_t max_event_bytes = 1 << 20;      // one event's JSON text
  // Where the actors read the time (set in code only). Tests running the engine on CAF's test
  // coordinator pass `actor_system_time(sys)`, so that time moves only as the test advances it.
  clock_ptr clock = wall_clock();

  timestamp_ms now() const noexcept { return clock->now(); }
};

/// Adds the `dispatch.*` options (with their defaults) to an option set, so `--help`,
/// `--dump-config`, INI files and the command line know them.
void add_engine_options(caf::config_option_set& options);

/// Adds our options and message types to a user's own config. `custom_options_` is protected in
/// CAF 0.17, so call it from the constructor of your config subclass:
/// `dispatch::prepare_config(*this, custom_options_);`
void prepare_config(caf::actor_system_config& cfg, caf::config_option_set& options);

/// A ready-made config with our options and message types, for users without a config of their own.
class engine_system_config : public caf::actor_system_config {
public:
  engine_system_config();
};

/// Reads the engine configuration after parsing. Fails on unknown `dispatch.*` keys (naming them),
/// on values of the wrong type and on values out of range.
caf::expected<engine_config> read_engine_config(const caf::actor_system_config& cfg);

/// Checks a configuration filled in code; the error names the field and the reason.
caf::error validate(const engine_config& cfg);

} // namespace dispatch
