// Matcher: one shard of the event types. Holds the dispatchers of its types over time, turns each
// logged event into one delivery per action and hands them to the shard's emitters, one batch per
// kind and route. It writes nothing for an event: a delivery is derived again, the same, whenever
// an emitter catches up from the log. It writes a dispatcher version when it applies a change.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "actors/dispatcher_rates.hpp"
#include "actors/metrics.hpp"
#include "actors/tombstones.hpp"
#include "config/engine_config.hpp"
#include "messages/derive.hpp"
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
  /// The buckets of this shard's rate-limited dispatchers, kept following the current versions
  /// (the emitters take tokens from them); none: rates are not enforced (some tests).
  dispatcher_rates_ptr rates;

  dispatcher_timeline timeline;
  tombstones removed; // late installs of a removed dispatcher lose
  /// The last sequence handed to the emitters (at start: the last in the log, which the emitters
  /// catch up to themselves). Live batches continue from it; a change applies after it.
  uint64_t last_sequence = 0;
  /// False until the first events are routed to this matcher (see `missed_before`).
  bool routed = false;

  /// What one emitter has been told: its next batch starts after `after`, and `unsent` events
  /// since then made nothing of its kind. A batch without deliveries only moves the emitter's
  /// cursor, so it is not sent with every route (an emitter with nothing to do would be woken
  /// for each one): it is folded into that emitter's next batch, or sent once it covers enough
  /// events or has waited long enough (`flush_atom`).
  struct emitter_progress {
    uint64_t after = 0;
    uint64_t unsent = 0;
  };
  emitter_progress task_progress;
  emitter_progress mail_progress;
  bool progress_timer = false; // a `flush_atom` is on its way
};

/// Spawns with its shard, the configuration, the store, the metrics and the emitters. On start it
/// loads its dispatchers' versions and records what the current set changed meanwhile; `rates`
/// (the shard's, shared with its emitters) follows its current dispatchers from then on.
matcher_actor::behavior_type matcher(matcher_actor::stateful_pointer<matcher_state> self,
                                     uint32_t shard, engine_config config, store_ptr db,
                                     metrics_ptr metrics, emitter_actor task_emitter,
                                     emitter_actor mail_emitter, bool task_sink_schedules,
                                     dispatcher_rates_ptr rates);

} // namespace dispatch
