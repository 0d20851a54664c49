// The logger's state: the thresholds, the components' own levels and the writer, behind one lock
// that also keeps each line whole; the line format and the default writer (stderr).
#include "logging/log.hpp"

#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <iterator>
#include <mutex>
#include <optional>
#include <string>

namespace dispatch {

namespace detail {

// Every component starts at the global default, info (2).
static_assert(log_component_count == 12, "give every component its initial threshold");
std::atomic<uint8_t> log_thresholds[log_component_count] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2};

} // namespace detail

namespace {

const char* const level_names[] = {"error", "warning", "info", "debug"};
const char* const level_labels[] = {"ERROR", "WARN ", "INFO ", "DEBUG"};
const char* const component_names[] = {"dispatchd", "supervisor", "engine",  "matcher",
                                       "emitter",   "store",      "rocksdb", "webhook",
                                       "http",      "cluster",    "backup",  "replayer"};
static_assert(std::size(component_names) == log_component_count);

// Never destroyed: a line may be logged while static objects are torn down at exit.
struct logger_state {
  std::mutex mutex; // guards the rest, and is held while a line is written
  log_level global = log_level::info;
  std::optional<log_level> own[log_component_count];
  log_writer writer; // empty: stderr
};

logger_state& state() {
  static auto* instance = new logger_state;
  return *instance;
}

// Set while this thread is inside the writer: a line the writer logs goes to stderr directly
// instead of waiting for the lock this thread holds.
thread_local bool inside_writer = false;

void write_stderr(const log_line& record) {
  auto line = format_log_line(record);
  line += '\n';
  // One write(2) per line: a partial write is retried, nothing else is done about stderr failing.
  for (size_t done = 0; done < line.size();) {
    auto written = ::write(STDERR_FILENO, line.data() + done, line.size() - done);
    if (written <= 0) break;
    done += static_cast<size_t>(written);
  }
}

// Recomputes the thresholds after a change of levels; under the lock.
void apply_levels(logger_state& s) {
  for (size_t i = 0; i < log_component_count; ++i)
    detail::log_thresholds[i].store(static_cast<uint8_t>(s.own[i].value_or(s.global)),
                                    std::memory_order_relaxed);
}

// The text as one line: line breaks inside become `\n` (`\r` likewise), trailing ones go.
std::string_view one_line(std::string_view text, std::string& buffer) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  if (text.find_first_of("\r\n") == std::string_view::npos) return text;
  buffer.reserve(text.size() + 8);
  for (char c : text) {
    if (c == '\n')
      buffer += "\\n";
    else if (c == '\r')
      buffer += "\\r";
    else
      buffer += c;
  }
  return buffer;
}

} // namespace

const char* to_string(log_level level) {
  return level_names[static_cast<size_t>(level)];
}

const char* to_string(log_component component) {
  return component_names[static_cast<size_t>(component)];
}

std::optional<log_level> log_level_named(std::string_view name) {
  for (size_t i = 0; i < std::size(level_names); ++i)
    if (name == level_names[i]) return static_cast<log_level>(i);
  return std::nullopt;
}

std::optional<log_component> log_component_named(std::string_view name) {
  for (size_t i = 0; i < log_component_count; ++i)
    if (name == component_names[i]) return static_cast<log_component>(i);
  return std::nullopt;
}

std::vector<log_component> log_components() {
  std::vector<log_component> result;
  for (size_t i = 0; i < log_component_count; ++i) result.push_back(static_cast<log_component>(i));
  return result;
}

std::string format_log_line(const log_line& record) {
  using namespace std::chrono;
  auto since_epoch = duration_cast<milliseconds>(record.time.time_since_epoch()).count();
  auto seconds = static_cast<std::time_t>(since_epoch / 1000);
  auto millis = static_cast<int>(since_epoch % 1000);
  if (millis < 0) { // before 1970: floor, not truncate
    millis += 1000;
    --seconds;
  }
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[64];
  std::snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
  std::string line;
  auto component = to_string(record.component);
  line.reserve(64 + record.text.size());
  line += stamp;
  line += level_labels[static_cast<size_t>(record.level)];
  line += ' ';
  line += component;
  line += ": ";
  line += record.text;
  return line;
}

void set_log_writer(log_writer writer) {
  auto& s = state();
  std::lock_guard<std::mutex> guard{s.mutex};
  s.writer = std::move(writer);
}

void set_log_level(log_level level) {
  auto& s = state();
  std::lock_guard<std::mutex> guard{s.mutex};
  s.global = level;
  apply_levels(s);
}

void set_log_level(log_component component, log_level level) {
  auto& s = state();
  std::lock_guard<std::mutex> guard{s.mutex};
  s.own[static_cast<size_t>(component)] = level;
  apply_levels(s);
}

void reset_log_level(log_component component) {
  auto& s = state();
  std::lock_guard<std::mutex> guard{s.mutex};
  s.own[static_cast<size_t>(component)].reset();
  apply_levels(s);
}

log_level log_level_of(log_component component) {
  return static_cast<log_level>(
    detail::log_thresholds[static_cast<size_t>(component)].load(std::memory_order_relaxed));
}

void configure_logging(const log_config& config) {
  auto& s = state();
  std::lock_guard<std::mutex> guard{s.mutex};
  s.global = config.level;
  for (auto& own : s.own) own.reset();
  for (auto& [component, level] : config.components) s.own[static_cast<size_t>(component)] = level;
  apply_levels(s);
}

void log_write(log_component component, log_level level, std::string_view text) noexcept {
  if (!log_enabled(component, level)) return;
  try {
    std::string buffer;
    log_line record{std::chrono::system_clock::now(), level, component, one_line(text, buffer)};
    if (inside_writer) {
      write_stderr(record);
      return;
    }
    auto& s = state();
    std::lock_guard<std::mutex> guard{s.mutex};
    if (!s.writer) {
      write_stderr(record);
      return;
    }
    inside_writer = true;
    try {
      s.writer(record);
    } catch (...) {
      // A writer that throws loses its line, nothing else.
    }
    inside_writer = false;
  } catch (...) {
    // Out of memory while building the line: the line is lost.
  }
}

} // namespace dispatch
