// The process's one logger: every line `<UTC time> <LEVEL> <component>: <text>`, written whole, to
// stderr or to a writer the embedding program sets; levels globally and per component.
//
// Why our own and not Debian's libspdlog-dev (1.10, compiled against libfmt 9): what we need is
// small (four levels, a fixed set of components, one format, one redirect), and spdlog would cost
// more than it saves. The library is static, so every embedder that links `dispatch::engine` would
// have to find and link spdlog and fmt too (a `find_dependency` in dispatchConfig.cmake, a package
// in every consumer's install); logging macros in our installed headers would pull spdlog's and
// fmt's headers into every consumer's translation units; a program with its own spdlog (often a
// vendored, header-only one of another version) would get two spdlogs in one process; and
// spdlog's global registry and level are the embedder's to set, not ours. This file depends on
// the standard library only, so it sits below every folder of ours (`logging/` depends on none).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dispatch {

/// How much a line matters; a threshold lets through its own level and the ones before it.
enum class log_level : uint8_t { error, warning, info, debug };

/// Who writes a line: the parts of the process, named as the operator knows them.
enum class log_component : uint8_t {
  dispatchd,  // the daemon: start, configuration, signals, stop
  supervisor, // restarts of the engine's parts, retention
  engine,     // the facade: its readers and prober, set-aside events discarded
  matcher,    // events set aside
  emitter,    // storage failures while delivering
  store,      // the engine's RocksDB store: failures, reopening, migration, fault injection
  rocksdb,    // RocksDB's own warnings and errors (its info lines at debug)
  webhook,    // the webhook sinks: circuit breaker, requests that could not be made
  http,       // the HTTP gateway: listening, connection cap, handler failures, answers of 500
  cluster,    // membership, forwarding, replication
  backup,     // online backups: start, progress, end
  replayer,   // replays from the event archive: start, end, cancel, failed steps
};

constexpr size_t log_component_count = static_cast<size_t>(log_component::replayer) + 1;

/// "error", "warning", "info", "debug": the names the options take.
const char* to_string(log_level level);

/// The component's name as lines and options write it, e.g. "matcher".
const char* to_string(log_component component);

/// The level or component of a name as `to_string` writes it; none for anything else.
std::optional<log_level> log_level_named(std::string_view name);
std::optional<log_component> log_component_named(std::string_view name);

/// Every component, in declaration order.
std::vector<log_component> log_components();

/// One line as the logger hands it to a writer.
struct log_line {
  std::chrono::system_clock::time_point time;
  log_level level;
  log_component component;
  std::string_view text; // one line: a line break inside is written as `\n`
};

/// The line without its line break, e.g. `2026-12-06T14:03:07.123Z INFO  matcher: text`: UTC
/// to the millisecond, the level in capitals padded to five (ERROR, WARN, INFO, DEBUG), the
/// component, a colon and the text.
std::string format_log_line(const log_line& record);

/// Receives every line that passes the levels. Calls never overlap (the logger holds a lock
/// around each), so a writer needs no lock of its own; a line the writer itself logs goes to
/// stderr instead of back into the writer. A writer must not change the logger (its levels or
/// writer): that waits for the lock the call holds.
using log_writer = std::function<void(const log_line&)>;

/// Sends the lines to `writer` from now on; an empty writer restores the default, which writes
/// `format_log_line` and a line break to stderr with one write(2) per line.
void set_log_writer(log_writer writer);

/// Levels. The global level (default: info) applies to every component without a level of its
/// own; `set_log_level(component, level)` gives one, `reset_log_level(component)` takes it away.
void set_log_level(log_level level);
void set_log_level(log_component component, log_level level);
void reset_log_level(log_component component);

/// The threshold in force for `component`.
log_level log_level_of(log_component component);

/// The logging options as a whole: the global level and the components' own levels. Read from
/// `dispatch.log.*` by `read_log_config` (config/log_config.hpp).
struct log_config {
  log_level level = log_level::info;
  std::vector<std::pair<log_component, log_level>> components;
};

/// Puts `config` in force: the global level, every component's own level as it says (the others
/// follow the global level again).
void configure_logging(const log_config& config);

namespace detail {

// One threshold per component, the global level already applied: `log_enabled` is one relaxed
// load. Written only under the logger's lock.
extern std::atomic<uint8_t> log_thresholds[log_component_count];

} // namespace detail

/// Whether a line of `component` at `level` would be written.
inline bool log_enabled(log_component component, log_level level) noexcept {
  return static_cast<uint8_t>(level)
         <= detail::log_thresholds[static_cast<size_t>(component)].load(std::memory_order_relaxed);
}

/// Writes one line (when the levels let it through). Never throws.
void log_write(log_component component, log_level level, std::string_view text) noexcept;

namespace detail {

// The line under construction behind `DISPATCH_LOG`: collects what is streamed into it and
// writes it when the statement ends.
class line_builder {
public:
  line_builder(log_component component, log_level level) : component_(component), level_(level) {}
  line_builder(const line_builder&) = delete;
  line_builder& operator=(const line_builder&) = delete;
  ~line_builder() { log_write(component_, level_, text_.str()); }

  std::ostringstream& stream() { return text_; }

private:
  log_component component_;
  log_level level_;
  std::ostringstream text_;
};

// Turns the streamed expression into void, so that both arms of the macro's `?:` agree.
struct log_voidify {
  void operator&(std::ostream&) {}
};

} // namespace detail

} // namespace dispatch

/// `DISPATCH_LOG(warning, matcher) << "set aside event " << id;` writes one line when the level
/// of `matcher` lets warnings through; otherwise nothing after `<<` is evaluated, so a dropped
/// line costs one load. A single expression: safe in an unbraced `if`.
#define DISPATCH_LOG(level, component)                                                         \
  !::dispatch::log_enabled(::dispatch::log_component::component, ::dispatch::log_level::level) \
    ? (void)0                                                                                  \
    : ::dispatch::detail::log_voidify{}                                                        \
        & ::dispatch::detail::line_builder{::dispatch::log_component::component,               \
                                           ::dispatch::log_level::level}                       \
            .stream()
