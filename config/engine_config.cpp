// The `dispatch.*` options: one table drives the option set, the defaults, the reader and the INI
// example, so a field cannot be known to one and missing from another.
#include "config/engine_config.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <variant>
#include <vector>

#include <caf/config_option.hpp>
#include <caf/config_option_set.hpp>
#include <caf/config_value.hpp>
#include <caf/make_config_option.hpp>
#include <caf/settings.hpp>

#include "messages/error_code.hpp"
#include "messages/type_registry.hpp"

namespace dispatch {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Where an option's value lives in `engine_config`; the alternative also fixes its type.
using text_field = std::string& (*)(engine_config&);
using flag_field = bool& (*)(engine_config&);
using count32_field = uint32_t& (*)(engine_config&);
using count64_field = uint64_t& (*)(engine_config&);
using real_field = double& (*)(engine_config&);
using millis_field = milliseconds& (*)(engine_config&);
using seconds_field = seconds& (*)(engine_config&);
using field_ref = std::variant<text_field, flag_field, count32_field, count64_field, real_field,
                               millis_field, seconds_field>;

struct option_spec {
  const char* key;  // below `dispatch.`, e.g. "retry.initial"
  field_ref field;
  const char* help;
};

// Sections below `dispatch` that later issues fill (HTTP gateway, sinks, cluster, logging): keys
// there are not ours to judge.
const char* const reserved_sections[] = {"http", "sinks", "cluster", "log"};

const std::vector<option_spec>& option_specs() {
  using cfg = engine_config;
  static const std::vector<option_spec> specs{
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
      {"retention.seen-days", +[](cfg& c) -> uint32_t& { return c.seen_days; },
       "days an event id suppresses duplicates"},
      {"retention.history-days", +[](cfg& c) -> uint32_t& { return c.history_days; },
       "days finished deliveries stay readable"},
      {"retention.log-days", +[](cfg& c) -> uint32_t& { return c.log_days; },
       "days the built-in sink's tasks and mails stay readable"},
      {"cache-bytes", +[](cfg& c) -> uint64_t& { return c.block_cache_bytes; },
       "RocksDB block cache shared by all column families"},
      {"write-buffer-bytes", +[](cfg& c) -> uint64_t& { return c.write_buffer_bytes; },
       "RocksDB write buffer memory shared by all column families"},
      {"restart.limit", +[](cfg& c) -> uint32_t& { return c.restart_limit; },
       "restarts of crashed actors allowed within the window (0: shut down at once)"},
      {"restart.window", +[](cfg& c) -> seconds& { return c.restart_window; },
       "window in seconds for restart.limit"},
      {"max-event-bytes", +[](cfg& c) -> uint32_t& { return c.max_event_bytes; },
       "largest accepted event JSON text"},
  };
  return specs;
}

// -- option set ----------------------------------------------------------------------------------

// CAF's typed options drop an INI value of the wrong type without a word (and an integer given
// for a real). Our options therefore accept any INI value into the settings, where
// `read_engine_config` checks it and names the key; the command line still parses strictly.
caf::error accept_any(const caf::config_value&) {
  return caf::none;
}

void store_nothing(void*, const caf::config_value&) {
  // nop: options are read from the settings after parsing, never bound to variables
}

caf::config_value no_binding(const void*) {
  return caf::config_value{};
}

// Durations take plain integers (in the option's unit) or CAF durations such as `500ms`.
caf::expected<caf::config_value> parse_duration(void*, caf::string_view text) {
  if (auto count = caf::detail::option_meta_state_instance<int64_t>()->parse(nullptr, text))
    return count;
  return caf::detail::option_meta_state_instance<caf::timespan>()->parse(nullptr, text);
}

template <class T>
const caf::config_option::meta_state* lenient_meta(const char* type_name) {
  static const caf::config_option::meta_state meta{
      accept_any, store_nothing, no_binding, caf::detail::option_meta_state_instance<T>()->parse,
      type_name};
  return &meta;
}

const caf::config_option::meta_state* meta_of(const field_ref& field) {
  // A boolean named "boolean" would make CAF treat it as a value-less flag, which could never be
  // switched off on the command line: sync and detached default to true.
  static const caf::config_option::meta_state duration_meta{accept_any, store_nothing, no_binding,
                                                            parse_duration, "duration"};
  switch (field.index()) {
    case 0:
      return lenient_meta<std::string>("string");
    case 1:
      return lenient_meta<bool>("bool");
    case 2:
      return lenient_meta<uint32_t>("uint32");
    case 3:
      return lenient_meta<int64_t>("uint64");
    case 4:
      return lenient_meta<double>("real");
    default:
      return &duration_meta;
  }
}

// The default of a field as a config value (durations as integers in their unit).
caf::config_value default_of(const field_ref& field) {
  engine_config defaults;
  return std::visit(
      [&](auto get) -> caf::config_value {
        auto& value = get(defaults);
        using type = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<type, milliseconds> || std::is_same_v<type, seconds>)
          return caf::config_value{static_cast<int64_t>(value.count())};
        else if constexpr (std::is_integral_v<type> && !std::is_same_v<type, bool>)
          return caf::config_value{static_cast<int64_t>(value)};
        else
          return caf::config_value{value};
      },
      field);
}

std::pair<std::string, std::string> category_and_name(const char* key) {
  std::string full = std::string{"dispatch."} + key;
  auto dot = full.rfind('.');
  return {full.substr(0, dot), full.substr(dot + 1)};
}

}  // namespace

void add_engine_options(caf::config_option_set& options) {
  for (auto& spec : option_specs()) {
    auto [category, name] = category_and_name(spec.key);
    auto help =
        std::string{spec.help} + " (default: " + caf::to_string(default_of(spec.field)) + ")";
    options.add(caf::config_option{category, name, help, meta_of(spec.field)});
  }
}

void prepare_config(caf::actor_system_config& cfg, caf::config_option_set& options) {
  add_engine_options(options);
  // Defaults in the settings make `--dump-config` show the effective configuration.
  for (auto& spec : option_specs())
    caf::put_missing(cfg.content, std::string{"dispatch."} + spec.key, default_of(spec.field));
  add_message_types(cfg);
}

engine_system_config::engine_system_config() {
  prepare_config(*this, custom_options_);
}

// -- reading -------------------------------------------------------------------------------------

namespace {

caf::error wrong_type(const std::string& key, const char* expected, const caf::config_value& v) {
  return make_error(error_code::field_format,
                    key + ": expected " + expected + ", got " + caf::to_string(v));
}

template <class Duration>
caf::error read_duration(const std::string& key, const caf::config_value& v, Duration& out) {
  if (auto count = caf::get_if<int64_t>(&v)) {
    out = Duration{*count};
    return caf::none;
  }
  if (auto span = caf::get_if<caf::timespan>(&v)) {
    out = std::chrono::duration_cast<Duration>(*span);
    return caf::none;
  }
  return wrong_type(key, "an integer or a duration", v);
}

template <class Unsigned>
caf::error read_count(const std::string& key, const caf::config_value& v, Unsigned& out) {
  auto count = caf::get_if<int64_t>(&v);
  if (!count || *count < 0 || static_cast<uint64_t>(*count) > std::numeric_limits<Unsigned>::max())
    return wrong_type(
        key, sizeof(Unsigned) == 4 ? "an unsigned 32-bit integer" : "an unsigned integer", v);
  out = static_cast<Unsigned>(*count);
  return caf::none;
}

caf::error read_value(const option_spec& spec, const caf::config_value& v, engine_config& out) {
  auto key = std::string{"dispatch."} + spec.key;
  return std::visit(
      [&](auto get) -> caf::error {
        auto& field = get(out);
        using type = std::decay_t<decltype(field)>;
        if constexpr (std::is_same_v<type, std::string>) {
          if (auto text = caf::get_if<std::string>(&v))
            field = *text;
          else if (auto atom = caf::get_if<caf::atom_value>(&v))
            field = caf::to_string(*atom);  // INI 'single quotes' read as an atom
          else
            return wrong_type(key, "a string", v);
        } else if constexpr (std::is_same_v<type, bool>) {
          auto flag = caf::get_if<bool>(&v);
          if (!flag) return wrong_type(key, "a boolean (true or false)", v);
          field = *flag;
        } else if constexpr (std::is_same_v<type, double>) {
          if (auto real = caf::get_if<double>(&v))
            field = *real;
          else if (auto count = caf::get_if<int64_t>(&v))
            field = static_cast<double>(*count);
          else
            return wrong_type(key, "a number", v);
        } else if constexpr (std::is_integral_v<type>) {
          return read_count(key, v, field);
        } else {
          return read_duration(key, v, field);
        }
        return caf::none;
      },
      spec.field);
}

// Levenshtein distance, to suggest the option a typo meant.
size_t edit_distance(const std::string& x, const std::string& y) {
  std::vector<size_t> row(y.size() + 1);
  for (size_t j = 0; j <= y.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= x.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= y.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (x[i - 1] != y[j - 1] ? 1 : 0)});
      diagonal = above;
    }
  }
  return row[y.size()];
}

caf::error unknown_option(const std::string& key) {
  std::string message = "unknown option " + key;
  std::string best;
  size_t best_distance = 3;  // suggest only near misses
  for (auto& spec : option_specs()) {
    auto candidate = std::string{"dispatch."} + spec.key;
    auto distance = edit_distance(key, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  if (!best.empty()) message += "; did you mean " + best + "?";
  return make_error(error_code::field_format, std::move(message));
}

const option_spec* find_spec(const std::string& key) {
  for (auto& spec : option_specs())
    if (key == spec.key) return &spec;
  return nullptr;
}

bool is_known_section(const std::string& key) {
  for (auto& spec : option_specs())
    if (std::string_view{spec.key}.substr(0, key.size() + 1) == key + ".") return true;
  return false;
}

// Rejects every key below `dispatch` (given without the prefix) that no option declares.
caf::error check_known_keys(const caf::settings& section, const std::string& prefix) {
  for (auto& [name, value] : section) {
    auto key = prefix + name;
    auto full_key = "dispatch." + key;
    auto nested = caf::get_if<caf::settings>(&value);
    if (nested && prefix.empty() &&
        std::find(std::begin(reserved_sections), std::end(reserved_sections), name) !=
            std::end(reserved_sections))
      continue;
    if (find_spec(key) != nullptr) {
      if (nested)
        return make_error(error_code::field_format, full_key + ": expected a value, got a section");
      continue;
    }
    if (!nested) return unknown_option(full_key);
    if (!is_known_section(key)) {
      // Name a whole key of the unknown section, as the user wrote it.
      for (auto entry = nested; entry != nullptr && !entry->empty();) {
        full_key += "." + entry->begin()->first;
        entry = caf::get_if<caf::settings>(&entry->begin()->second);
      }
      return unknown_option(full_key);
    }
    if (auto err = check_known_keys(*nested, key + ".")) return err;
  }
  return caf::none;
}

caf::error check_positive(const char* key, int64_t value) {
  if (value > 0) return caf::none;
  return make_error(error_code::field_format, std::string{"dispatch."} + key + ": must be > 0");
}

}  // namespace

caf::expected<engine_config> read_engine_config(const caf::actor_system_config& cfg) {
  const auto& root = caf::content(cfg);
  engine_config result;
  if (auto entry = caf::get_if(&root, "dispatch")) {
    auto section = caf::get_if<caf::settings>(entry);
    if (!section) return make_error(error_code::field_format, "dispatch: expected a section");
    if (auto err = check_known_keys(*section, "")) return err;
  }
  for (auto& spec : option_specs())
    if (auto value = caf::get_if(&root, std::string{"dispatch."} + spec.key))
      if (auto err = read_value(spec, *value, result)) return err;
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
  if (!(cfg.retry.multiplier >= 1.0) || !std::isfinite(cfg.retry.multiplier))
    return fail("retry.multiplier", "must be a finite number >= 1");
  if (cfg.retry.max_attempts < 1) return fail("retry.max-attempts", "must be at least 1");
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
      {"cache-bytes", static_cast<int64_t>(std::min<uint64_t>(cfg.block_cache_bytes, INT64_MAX))},
      {"write-buffer-bytes",
       static_cast<int64_t>(std::min<uint64_t>(cfg.write_buffer_bytes, INT64_MAX))},
      {"restart.window", cfg.restart_window.count()},
      {"max-event-bytes", cfg.max_event_bytes},
  };
  for (auto& [key, value] : positives)
    if (auto err = check_positive(key, value)) return err;
  if (cfg.retry.cap < cfg.retry.initial)
    return fail("retry.cap", "must be at least dispatch.retry.initial");
  return caf::none;
}

}  // namespace dispatch
