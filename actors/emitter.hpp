// The emitter: hands deliveries of one kind (task or mail) to its sink with a timeout and a cap on
// in-flight requests; retries failures with backoff and full jitter, bounded by attempts and age;
// dead-letters permanent failures and spent budgets. It keeps at most `emitter_memory_cap` waiting
// deliveries in memory and pages the rest from the store by due time.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <caf/message.hpp>

#include "actors/metrics.hpp"
#include "config/engine_config.hpp"
#include "messages/interfaces.hpp"
#include "persistence/store.hpp"

namespace dispatch {

/// A sink and what it declares about itself.
struct sink_binding {
  sink_actor handle;
  bool schedules_tasks = false; // true: gets tasks at once, startTimestamp included (it schedules)
};

/// An outcome (delivered, dead or rescheduled: `outcome.status` says which) not written yet: it
/// waits for the next group commit, or for the store to work again after a failed write.
struct unwritten_outcome {
  timestamp_ms previous_due = 0; // the delivery's key in the store
  delivery outcome;
};

/// A delivery at the sink: what was sent, which send it was and until when its answer is awaited.
/// The emitter keeps the sink's timeout itself (one timer, not one per request through CAF's
/// clock); an answer to a send that already timed out is ignored. `message` is the one sent
/// (`deliver_atom`, the delivery): the emitter and the sink share it instead of each holding a
/// copy of the delivery.
struct sent_delivery {
  caf::message message;
  uint64_t send = 0;
  timestamp_ms deadline = 0;
};

struct emitter_state {
  static inline const char* name = "emitter";

  /// What was at the sink when the emitter stopped is no longer in flight.
  ~emitter_state() {
    if (metrics)
      metrics->in_flight -= static_cast<int64_t>(in_flight.size());
  }

  action_kind kind = action_kind::task;
  engine_config config;
  store_ptr db;
  metrics_ptr metrics;
  sink_binding sink;
  std::mt19937_64 rng;

  /// Waiting deliveries in memory, by (due time, id).
  std::map<std::pair<timestamp_ms, std::string>, delivery> queue;
  /// The ids in `queue`, with their due time (finds a queued delivery by id).
  std::unordered_map<std::string, timestamp_ms> queued;
  /// Deliveries at the sink right now, by id.
  std::unordered_map<std::string, sent_delivery> in_flight;
  /// (id, send) of the sends in order, hence in deadline order; answered ones are dropped from
  /// the front as they are met.
  std::deque<std::pair<std::string, uint64_t>> send_order;
  /// Number of sends so far (numbers each send).
  uint64_t sends = 0;
  /// Ids purged while in flight: their answer is ignored.
  std::unordered_set<std::string> purged;
  /// Outcomes not yet written, by delivery id: written together by the next `flush` (one batch),
  /// or kept after a failed write and tried again.
  std::map<std::string, unwritten_outcome> unwritten;
  /// A `flush` is queued in our own mailbox.
  bool flush_pending = false;
  /// Ids finished lately (oldest first), so that a late `enqueue` of a delivery this emitter
  /// already paged from the store and finished does not send it again.
  std::unordered_set<std::string> finished_recently;
  std::deque<std::string> finished_order;
  /// True when the store may hold waiting deliveries that are not in `queue`.
  bool backlog = true;
  /// The due time of the earliest pending timer (0: none).
  timestamp_ms timer_due = 0;
  /// When that timer fires on the scheduler's (steady) clock: a tick before it is a stale one.
  std::chrono::steady_clock::time_point timer_fires;
  /// When the store is next swept for waiting deliveries whose `enqueue` never arrived.
  timestamp_ms next_sweep = 0;
};

/// Spawns with: the kind it emits, the configuration, the store, the shared metrics and its sink.
/// On start it pages due deliveries of its kind from the store (those of a previous run included).
emitter_actor::behavior_type emitter(emitter_actor::stateful_pointer<emitter_state> self,
                                     action_kind kind, engine_config config, store_ptr db,
                                     metrics_ptr metrics, sink_binding sink);

} // namespace dispatch
