// Matcher: one shard of the event types. Holds the dispatchers of its types, turns each accepted
// event into one delivery per action, and writes the deliveries together with the retirement of the
// event's inbox entry in one atomic batch before handing them to the emitters.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/typed_response_promise.hpp>

#include "actors/metrics.hpp"
#include "config/engine_config.hpp"
#include "messages/interfaces.hpp"
#include "persistence/store.hpp"

namespace dispatch {

struct matcher_state {
  static inline const char* name = "matcher";

  uint32_t shard = 0;
  engine_config config;
  store_ptr db;
  metrics_ptr metrics;
  emitter_actor task_emitter;
  emitter_actor mail_emitter;
  bool task_sink_schedules = false; // false: tasks with a future startTimestamp are held

  std::unordered_map<std::string, dispatcher> dispatchers;               // by id
  std::unordered_map<std::string, std::vector<std::string>> by_type;    // event type -> ids
  std::unordered_map<std::string, uint64_t> removed;                    // id -> version removed
  uint64_t scanned_up_to = 0; // inbox sequences up to here were consumed by a scan
  bool rescan_pending = false;

  /// Group commit: routed events waiting for the next `flush`, and the routes to answer after it
  /// (each with the number of events it brought). While a commit waits for the WAL (behind
  /// ingest's fsync), routes queue up in the mailbox and the next commit takes them all.
  inbox_event_list routed;
  std::vector<std::pair<caf::typed_response_promise<uint64_t>, uint64_t>> routes;
  bool flush_pending = false;
};

/// Turns one event and one action of a dispatcher into its delivery (pending, or held until the
/// action's startTimestamp when the task sink does not schedule tasks itself).
delivery make_delivery(const event& ev, const dispatcher& disp, const action& act,
                       bool task_sink_schedules, timestamp_ms now);

/// Spawns with its shard, the configuration, the store, the metrics and the emitters. On start it
/// loads the dispatchers of its shard and consumes whatever is left in its inbox shard.
matcher_actor::behavior_type matcher(matcher_actor::stateful_pointer<matcher_state> self,
                                     uint32_t shard, engine_config config, store_ptr db,
                                     metrics_ptr metrics, emitter_actor task_emitter,
                                     emitter_actor mail_emitter, bool task_sink_schedules);

} // namespace dispatch
