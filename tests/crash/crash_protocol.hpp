// What the crash test and its child process agree on: the child's command line, the files it
// writes, the event type and dispatcher it uses, and how an event id derives from its index.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace dispatch::crash {

/// `crash_child <data-dir> <record-dir> [events]`: the engine's store lives in <data-dir>; the
/// files below live in <record-dir>.
constexpr uint32_t default_events = 10000;

/// One line `<delivery id> <event id>\n` per delivery the child's task sink was handed.
constexpr const char* deliveries_file = "deliveries";
/// One line `<event id>\n` per event the child's engine acknowledged.
constexpr const char* acked_file = "acked";
/// Created once every event was acknowledged (the child then waits to be killed).
constexpr const char* done_file = "done";

/// When set to N > 0, the child's sink fails the first attempt of every N-th event's delivery.
constexpr const char* fail_every_variable = "DISPATCH_CRASH_FAIL_EVERY";

/// When set to N > 0, the child purges the delivery of every N-th event once its sink recorded it,
/// and appends `<delivery id>\n` to `purged_file` when the engine answered the purge.
constexpr const char* purge_every_variable = "DISPATCH_CRASH_PURGE_EVERY";
constexpr const char* purged_file = "purged";

constexpr const char* event_type = "crash";
constexpr const char* dispatcher_name = "crash-dispatcher";
constexpr const char* function_name = "crash-task";

/// The id of the `index`-th event: a fixed prefix and the index in hex, 24 lowercase hex in all.
inline std::string event_id_of(uint32_t index) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "c4a5c4a5c4a5c4a5%08x", index);
  return buf;
}

} // namespace dispatch::crash
