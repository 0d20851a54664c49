// The emitter of one kind (task or mail) and one shard: hands deliveries to its sink in batches
// under a cap on those in flight; retries failures with backoff and full jitter, bounded by
// attempts and age; dead-letters permanent failures and spent budgets; and advances the shard's
// progress cursor for its kind once per outcome batch.
//
// Two kinds of delivery pass through it. Fresh ones come derived from the log (live from the
// matcher, or re-derived when the emitter catches up after a restart or after falling behind): they
// have no record, and the cursor passes them once they are delivered or have a record. Recorded
// ones (failed, held or replayed) have an exception record and are paged from the store by due time.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/message.hpp>

#include "actors/dispatcher_rates.hpp"
#include "actors/key_order.hpp"
#include "actors/metrics.hpp"
#include "actors/rate_limit.hpp"
#include "config/engine_config.hpp"
#include "messages/interfaces.hpp"
#include "persistence/store.hpp"

namespace dispatch {

/// A sink and what it declares about itself.
struct sink_binding {
  sink_actor handle;
  bool schedules_tasks = false; // true: gets tasks at once, startTimestamp included (it schedules)
  /// The sink's rate (`dispatch.sinks.<kind>.rate`), shared by every emitter of its kind; none:
  /// unlimited. (Its initializer lets `sink_binding{sink, schedules}` leave it out unwarned.)
  rate_limiter_ptr rate{};
};

/// A stretch of the log the emitter took in one batch: the cursor passes `last` once none of its
/// fresh deliveries is outstanding (each is delivered, or has its record staged).
struct log_segment {
  uint64_t last = 0;
  uint32_t outstanding = 0;
  uint64_t delivered = 0;
  std::map<uint32_t, uint64_t> days; // `delivered` per day of the log
};

/// Where a delivery at the sink came from: fresh (its segment) or recorded (its record's due time).
struct delivery_origin {
  bool fresh = true;
  uint64_t segment = 0;
  timestamp_ms previous_due = 0;
};

/// One batch at the sink: the message sent (the emitter and the sink share it instead of each
/// holding a copy of the deliveries), where each delivery came from, and until when the answer is
/// awaited (the emitter keeps the sink's timeout itself: no CAF timer per request).
struct sent_batch {
  caf::message message;
  std::vector<delivery_origin> origins;
  timestamp_ms deadline = 0;
};

struct emitter_state {
  static inline const char* name = "emitter";

  /// The most ordering keys one emitter holds at once (each held key costs an entry until its
  /// holder finishes); beyond it, fresh deliveries of a new key wait in line (back-pressure). A
  /// key is held by a delivery at the sink or retrying, so this is far above what the in-flight
  /// cap lets through and bounds only the keys of retrying holders.
  static constexpr size_t max_held_keys = 100000;

  /// What was at the sink when the emitter stopped is no longer in flight.
  ~emitter_state() {
    if (metrics) metrics->in_flight -= static_cast<int64_t>(in_flight_count);
  }

  action_kind kind = action_kind::task;
  uint32_t shard = 0;
  engine_config config;
  store_ptr db;
  metrics_ptr metrics;
  sink_binding sink;
  log_reader_actor reader; // the shard's matcher, to catch up from
  std::mt19937_64 rng;

  // -- fresh deliveries and the cursor ------------------------------------------------------------

  /// The last log sequence whose deliveries this emitter has taken (or passed).
  uint64_t frontier = 0;
  /// True while live batches are ignored because the emitter reads the log itself: at start,
  /// after a gap (a matcher restarted) or while memory is full.
  bool catching_up = true;
  bool rederive_pending = false;
  /// The frontier at the last sweep: a frontier that stays behind the log for a whole sweep
  /// interval means events went to a matcher that stopped before anyone could tell; the sweep
  /// then reads the log.
  uint64_t frontier_at_sweep = 0;
  /// Segments not yet passed by the cursor; `first_segment` numbers the front one.
  std::deque<log_segment> segments;
  uint64_t first_segment = 0;
  /// The progress to write next (`dirty`), and as written last; when the cursor was written
  /// last (a cursor alone, with no outcome to go with it, waits a little to ride with the next).
  /// Of the per-day counts, only the days from `days_changed_from` on are written again.
  progress done;
  progress written;
  uint32_t days_changed_from = std::numeric_limits<uint32_t>::max();
  bool dirty = false;
  timestamp_ms cursor_written_at = 0;
  /// Fresh deliveries waiting for room at the sink, in log order, with their segment.
  std::deque<std::pair<delivery, uint64_t>> fresh;
  /// Per-key ordering: who holds each ordering key, and the fresh deliveries (with their
  /// segment) waiting behind it. Those count against the memory cap with `fresh`.
  key_order order{max_held_keys};

  // -- recorded deliveries ------------------------------------------------------------------------

  /// Recorded deliveries in memory, by (due time, id); the rest wait in the store (`backlog`).
  std::map<std::pair<timestamp_ms, std::string>, delivery> queue;
  /// The ids in `queue` with their due time, and the recorded ids at the sink or being written.
  std::unordered_map<std::string, timestamp_ms> queued;
  std::unordered_set<std::string> busy;
  /// Recorded deliveries that came due while an older one held their ordering key: they wait in
  /// `order` (marked recorded) and go back to `queue` when the key comes to them.
  std::unordered_set<std::string> parked;
  /// Ids purged while at the sink, or before the log brought them: their answer is ignored,
  /// they are not taken.
  std::unordered_set<std::string> purged;
  bool backlog = true;
  timestamp_ms next_sweep = 0;

  // -- the sink -----------------------------------------------------------------------------------

  std::unordered_map<uint64_t, sent_batch> in_flight; // by send number
  std::deque<uint64_t> send_order;                    // send numbers, hence deadline order
  uint64_t sends = 0;
  size_t in_flight_count = 0; // deliveries at the sink
  /// When the sink's rate lets the next delivery go, while some wait for it (0: none waits).
  timestamp_ms rate_wait_until = 0;

  // -- dispatchers' rates -------------------------------------------------------------------------

  /// The shard's buckets of rate-limited dispatchers (shared with the matcher and the other
  /// kind's emitter), this emitter's copy of their table and the version copied. An empty copy
  /// costs a delivery nothing.
  dispatcher_rates_ptr rates;
  dispatcher_rates::table rate_of;
  uint64_t rates_seen = 0;
  /// Fresh deliveries over their dispatcher's rate, by dispatcher, in the order they came, with
  /// their segment, and when its bucket has the next token. They stay outstanding in their
  /// segment (the cursor waits before them) and count against the memory cap with `fresh`; a
  /// keyed one holds its key meanwhile. Recorded ones over the rate wait in `queue` instead, at
  /// a later place than their due time (their record keeps it: nothing is written for a rate).
  struct rate_line {
    std::deque<std::pair<delivery, uint64_t>> waiting;
    timestamp_ms ready_at = 0;
  };
  std::unordered_map<std::string, rate_line> over_rate;
  size_t over_rate_count = 0;

  // -- writing ------------------------------------------------------------------------------------

  /// Outcomes not written yet: written with the cursor by the next `flush`, or kept after a
  /// failed write and tried again.
  std::vector<delivery_outcome> unwritten;
  bool flush_pending = false;

  /// The due time of the earliest pending timer (0: none), and when it fires on the scheduler's
  /// (steady) clock: a tick before that is a stale one.
  timestamp_ms timer_due = 0;
  std::chrono::steady_clock::time_point timer_fires;
};

/// Spawns with: its kind and shard, the configuration, the store, the shared metrics, its sink and
/// its shard's dispatcher buckets (none: dispatchers' rates are not enforced). It starts catching
/// up from its cursor once it is told its matcher (`handles_atom`).
emitter_actor::behavior_type emitter(emitter_actor::stateful_pointer<emitter_state> self,
                                     action_kind kind, uint32_t shard, engine_config config,
                                     store_ptr db, metrics_ptr metrics, sink_binding sink,
                                     dispatcher_rates_ptr rates);

} // namespace dispatch
