// The `dispatch.*` options: one table drives the option set, the defaults, the reader and the INI
// example, so a field cannot be known to one and missing from another.
#include "config/engine_config.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include <caf/config_option_set.hpp>
#include <caf/settings.hpp>

#include "config/log_config.hpp"
#include "config/option_table.hpp"
#include "messages/error_code.hpp"
#include "messages/type_registry.hpp"

namespace dispatch {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Sections below `dispatch` that other readers own (HTTP gateway, sinks, cluster, logging): keys
// there are not ours to judge.
const std::vector<std::string> foreign_sections{"http", "sinks", "cluster", "log"};

const detail::option_table<engine_config>& options_table() {
  using cfg = engine_config;
  static const detail::option_table<engine_config> table{
    "dispatch",
    {
      {"data-dir", +[](cfg& c) -> std::string& { return c.data_dir; },
       "directory of the RocksDB database"},
      {"shards", +[](cfg& c) -> uint32_t& { return c.shards; },
       "matcher shards (1..256); fixed when the data directory is created"},
      {"sync", +[](cfg& c) -> bool& { return c.sync; },
       "fsync each ingest batch before acknowledging (true|false)"},
      {"in-memory", +[](cfg& c) -> bool& { return c.in_memory; },
       "keep RocksDB in memory: nothing survives a restart (true|false)"},
      {"detached", +[](cfg& c) -> bool& { return c.detached; },
       "run actors that do I/O on their own threads (true|false)"},
      {"retry.initial", +[](cfg& c) -> milliseconds& { return c.retry.initial; },
       "first retry delay in ms (or a duration such as 500ms)"},
      {"retry.multiplier", +[](cfg& c) -> double& { return c.retry.multiplier; },
       "growth factor of the retry delay (>= 1)"},
      {"retry.cap", +[](cfg& c) -> milliseconds& { return c.retry.cap; },
       "largest retry delay in ms"},
      {"retry.max-attempts", +[](cfg& c) -> uint32_t& { return c.retry.max_attempts; },
       "attempts before a delivery is dead-lettered"},
      {"retry.max-age", +[](cfg& c) -> milliseconds& { return c.retry.max_age; },
       "age in ms after which a failing delivery is dead-lettered"},
      {"max-unacknowledged", +[](cfg& c) -> uint32_t& { return c.max_unacknowledged; },
       "publishes in flight before new ones are refused as overload"},
      {"batch.max-events", +[](cfg& c) -> uint32_t& { return c.batch_max_events; },
       "events in one group commit"},
      {"batch.max-bytes", +[](cfg& c) -> uint32_t& { return c.batch_max_bytes; },
       "bytes in one group commit"},
      {"sink.in-flight", +[](cfg& c) -> uint32_t& { return c.sink_in_flight; },
       "deliveries at one sink at once"},
      {"sink.timeout", +[](cfg& c) -> milliseconds& { return c.sink_timeout; },
       "time in ms a sink has to answer one delivery"},
      {"request-timeout", +[](cfg& c) -> milliseconds& { return c.request_timeout; },
       "time in ms any internal request may take"},
      {"emitter-memory-cap", +[](cfg& c) -> uint32_t& { return c.emitter_memory_cap; },
       "due deliveries an emitter keeps in memory; the rest are paged from disk"},
      {"readers", +[](cfg& c) -> uint32_t& { return c.readers.count; },
       "threads answering listings, off the path publishes take (1..64)"},
      {"readers-nice", +[](cfg& c) -> uint32_t& { return c.readers.nice; },
       "nice steps the readers and the replayer run below the rest (0..19): reads yield the CPU"},
      {"readers-idle", +[](cfg& c) -> bool& { return c.readers.idle; },
       "the readers and the replayer run under SCHED_IDLE: only on CPU the rest leaves idle"},
      {"readers-cpu", +[](cfg& c) -> double& { return c.readers.cpu; },
       "cores' worth of CPU the readers use together at most, a listing waits for the rest "
       "(0: half the machine's cores beyond the first, at least 0.25)"},
      {"retention.seen-days", +[](cfg& c) -> uint32_t& { return c.seen_days; },
       "days an event id suppresses duplicates"},
      {"retention.history-days", +[](cfg& c) -> uint32_t& { return c.history_days; },
       "days finished deliveries stay readable"},
      {"retention.log-days", +[](cfg& c) -> uint32_t& { return c.log_days; },
       "days the built-in sink's tasks and mails stay readable"},
      {"retention.event-days", +[](cfg& c) -> uint32_t& { return c.event_days; },
       "days accepted events stay in the archive (GET /events/v1/, replays)"},
      {"replay.rate", +[](cfg& c) -> uint32_t& { return c.replay_rate; },
       "archived events a replay walks per second at most (it also waits while deliveries queue)"},
      {"cache-bytes", +[](cfg& c) -> uint64_t& { return c.block_cache_bytes; },
       "RocksDB block cache shared by all column families"},
      {"write-buffer-bytes", +[](cfg& c) -> uint64_t& { return c.write_buffer_bytes; },
       "RocksDB write buffer memory shared by all column families"},
      {"limits.actions-per-dispatcher",
       +[](cfg& c) -> uint32_t& { return c.max_actions_per_dispatcher; },
       "most actions one dispatcher may have"},
      {"limits.dispatchers-per-type",
       +[](cfg& c) -> uint32_t& { return c.max_dispatchers_per_type; },
       "most dispatchers one event type may have"},
      {"limits.delivery-bytes-per-event",
       +[](cfg& c) -> uint64_t& { return c.max_delivery_bytes_per_event; },
       "most bytes of deliveries one event may make (its size times its type's actions); "
       "a larger event is refused"},
      {"max-open-files", +[](cfg& c) -> uint32_t& { return c.max_open_files; },
       "RocksDB table files kept open at once (dispatchd lowers it to fit its file limit)"},
      {"restart.limit", +[](cfg& c) -> uint32_t& { return c.restart_limit; },
       "restarts of crashed actors allowed within the window (0: shut down at once)"},
      {"restart.window", +[](cfg& c) -> seconds& { return c.restart_window; },
       "window in seconds for restart.limit"},
      {"max-event-bytes", +[](cfg& c) -> uint32_t& { return c.max_event_bytes; },
       "largest accepted event JSON text"},
    },
    foreign_sections};
  return table;
}

} // namespace

void add_engine_options(caf::config_option_set& options) {
  options_table().add_options(options);
}

void prepare_config(caf::actor_system_config& cfg, caf::config_option_set& options) {
  add_engine_options(options);
  add_log_options(options);
  // Defaults in the settings make `--dump-config` show the effective configuration.
  options_table().put_defaults(cfg.content);
  put_log_defaults(cfg);
  add_message_types(cfg);
}

engine_system_config::engine_system_config() {
  prepare_config(*this, custom_options_);
}

// -- reading -------------------------------------------------------------------------------------

namespace {

caf::error check_positive(const char* key, int64_t value) {
  if (value > 0) return caf::none;
  return make_error(error_code::field_format, std::string{"dispatch."} + key + ": must be > 0");
}

} // namespace

caf::expected<engine_config> read_engine_config(const caf::actor_system_config& cfg) {
  engine_config result;
  if (auto err = options_table().read(caf::content(cfg), result)) return err;
  if (auto err = validate(result)) return err;
  return result;
}

caf::error validate(const engine_config& cfg) {
  auto fail = [](const char* key, const std::string& reason) {
    return make_error(error_code::field_format, std::string{"dispatch."} + key + ": " + reason);
  };
  if (cfg.data_dir.empty() && !cfg.in_memory)
    return fail("data-dir", "must not be empty unless dispatch.in-memory is true");
  if (cfg.shards < 1 || cfg.shards > 256) return fail("shards", "must be between 1 and 256");
  if (!cfg.clock) return make_error(error_code::field_format, "engine_config.clock: must be set");
  if (!(cfg.retry.multiplier >= 1.0) || !std::isfinite(cfg.retry.multiplier))
    return fail("retry.multiplier", "must be a finite number >= 1");
  if (cfg.retry.max_attempts < 1) return fail("retry.max-attempts", "must be at least 1");
  if (cfg.readers.count < 1 || cfg.readers.count > 64)
    return fail("readers", "must be between 1 and 64");
  if (cfg.readers.nice > 19) return fail("readers-nice", "must be between 0 and 19");
  if (!(cfg.readers.cpu == 0 || (cfg.readers.cpu >= 0.05 && cfg.readers.cpu <= 1024)))
    return fail("readers-cpu", "must be 0 (left to the machine) or between 0.05 and 1024 cores");
  const std::pair<const char*, int64_t> positives[] = {
    {"retry.initial", cfg.retry.initial.count()},
    {"retry.cap", cfg.retry.cap.count()},
    {"retry.max-age", cfg.retry.max_age.count()},
    {"max-unacknowledged", cfg.max_unacknowledged},
    {"batch.max-events", cfg.batch_max_events},
    {"batch.max-bytes", cfg.batch_max_bytes},
    {"sink.in-flight", cfg.sink_in_flight},
    {"sink.timeout", cfg.sink_timeout.count()},
    {"request-timeout", cfg.request_timeout.count()},
    {"emitter-memory-cap", cfg.emitter_memory_cap},
    {"retention.seen-days", cfg.seen_days},
    {"retention.history-days", cfg.history_days},
    {"retention.log-days", cfg.log_days},
    {"retention.event-days", cfg.event_days},
    {"replay.rate", cfg.replay_rate},
    {"cache-bytes", static_cast<int64_t>(std::min<uint64_t>(cfg.block_cache_bytes, INT64_MAX))},
    {"write-buffer-bytes",
     static_cast<int64_t>(std::min<uint64_t>(cfg.write_buffer_bytes, INT64_MAX))},
    {"restart.window", cfg.restart_window.count()},
    {"max-event-bytes", cfg.max_event_bytes},
    {"max-open-files", cfg.max_open_files},
    {"limits.actions-per-dispatcher", cfg.max_actions_per_dispatcher},
    {"limits.dispatchers-per-type", cfg.max_dispatchers_per_type},
    {"limits.delivery-bytes-per-event",
     static_cast<int64_t>(std::min<uint64_t>(cfg.max_delivery_bytes_per_event, INT64_MAX))},
  };
  for (auto& [key, value] : positives)
    if (auto err = check_positive(key, value)) return err;
  for (auto [key, rate] : {std::pair<const char*, uint32_t>{"sinks.task.rate", cfg.task_sink_rate},
                           {"sinks.mail.rate", cfg.mail_sink_rate}})
    if (rate > max_sink_rate)
      return fail(key, "must be at most " + std::to_string(max_sink_rate) + " (0: unlimited)");
  if (cfg.retry.cap < cfg.retry.initial)
    return fail("retry.cap", "must be at least dispatch.retry.initial");
  return caf::none;
}

} // namespace dispatch
