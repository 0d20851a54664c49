// The RocksDB store of one node: column families by purpose, atomic batches for every state change
// that must not be lost, cursors over time-keyed queues, retention by day. Thread-safe: actors share
// one `store` through a shared_ptr. No RocksDB type or status escapes this header: failures are
// `caf::error`s in the dispatch category (code `server`, with a message saying what failed).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <utility>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/optional.hpp>

#include "messages/delivery.hpp"
#include "messages/derive.hpp"
#include "messages/dispatcher.hpp"
#include "messages/event.hpp"
#include "messages/interfaces.hpp"
#include "messages/replay.hpp"

namespace dispatch {

struct store_options {
  std::string data_dir;   // created when missing
  uint32_t shards = 4;    // must match the shard count stored in an existing directory
  bool sync = true;       // fsync the ingest batch (`accept_events`); other writes ride the WAL
  bool in_memory = false; // RocksDB on an in-memory Env: nothing touches the disk
  uint64_t block_cache_bytes = 64ull << 20;  // one block cache for every family
  uint64_t write_buffer_bytes = 64ull << 20; // one WriteBufferManager for every family
  uint32_t max_open_files = 512;             // table files RocksDB keeps open at once
};

/// An accepted event as ingest writes it into its shard's log. `chosen_id`: the publisher chose
/// the id, so it goes into `seen` too (an id ingest generated is unique by construction).
struct accepted_event {
  uint32_t shard = 0;
  uint64_t sequence = 0;
  dispatch::event event;
  bool chosen_id = false;
};

/// An event whose deliveries could not be derived (see `derive_deliveries`): it gets none, and is
/// kept here with why and when instead of failing its matcher again after every restart.
struct set_aside_event {
  uint32_t shard = 0;
  uint64_t sequence = 0;
  dispatch::event event;
  std::string reason;           // what failed
  timestamp_ms at = 0;          // when it was set aside
  timestamp_ms replayed_at = 0; // when it was matched again or discarded (0: still set aside)
};

/// An event of the archive (the log) and where it is.
struct archived_event {
  uint32_t shard = 0;
  uint64_t sequence = 0; // 0 for a publisher's id whose `seen` value predates positions
  dispatch::event event;
};

/// Which part of the archive a walk reads: the log entries of `shards` (empty: every shard) with
/// a sequence in [lower, upper), newest or oldest first across the shards (sequences are accept
/// time and unique on a node, so merging the shards by sequence is the order of acceptance).
struct archive_range {
  std::vector<uint32_t> shards;
  uint64_t lower = 0;
  uint64_t upper = std::numeric_limits<uint64_t>::max();
  bool newest_first = true;
};

/// Where a delivery's record is. A derived delivery that never failed has none.
enum class record_place : uint8_t {
  waiting = 0,  // an exception record: pending (replayed), held or retrying; `field` = due time
  dead = 1,     // a dead letter; `field` = day it died
  finished = 2, // history only (delivered after a record); `field` = day it finished
  purged = 3,   // purged: listed nowhere; `field` = day of the purge
};

struct record_slot {
  record_place place = record_place::waiting;
  action_kind kind = action_kind::task;
  uint32_t shard = 0;
  int64_t field = 0;
};

/// What became of a delivery, to be written down: `value.status` says delivered, dead, retrying
/// or held (then `value.next_attempt` is its due time). `recorded`: it has an exception record
/// under `previous_due` already; otherwise it is a derived delivery that gets its first record
/// here (it failed, is held, or died at its first attempt).
struct delivery_outcome {
  timestamp_ms previous_due = 0;
  bool recorded = true;
  delivery value;
};

/// A waiting delivery's ordering key, as its exception record carries it.
struct recorded_key {
  std::string id;
  uint64_t key = 0;
  timestamp_ms created = 0;
  delivery_status status = delivery_status::pending;
};

/// How far the emitter of a kind and shard has come: every delivery derived from the shard's log
/// up to `cursor` has finished or has a record; `delivered` counts those delivered without one,
/// and `days` the same per day of the log (the day of the event's acceptance), so that the
/// listings' totals lose them with the log days retention drops.
struct progress {
  progress() = default;
  progress(uint64_t cursor, uint64_t delivered, std::map<uint32_t, uint64_t> days = {})
      : cursor(cursor), delivered(delivered), days(std::move(days)) {
    // nop
  }

  uint64_t cursor = 0;
  uint64_t delivered = 0;
  std::map<uint32_t, uint64_t> days;
};

/// One change of a dispatcher in one shard's matcher: from sequence `from` on it is `value`
/// (absent: removed).
struct dispatcher_version {
  uint64_t from = 0;
  std::string id;
  caf::optional<dispatcher> value;
};

/// A record of the built-in log sink: what it received, as JSON text in ExH shape.
struct log_record {
  std::string id; // the delivery id
  action_kind kind = action_kind::task;
  timestamp_ms received = 0;
  std::string json;
};

/// What a listing of deliveries reads. Places: exception records (pending, held, retrying), the
/// dead letters (dead), `history` (delivered after a record) and the log, from which every other
/// delivery is derived (delivered up to the cursor, pending past it). With `by_id`, only the
/// deliveries in `ids` are looked up, by key; with `by_event`, only the deliveries of the events
/// in `event_ids` (from their log entries and the records of their log positions).
struct delivery_scope {
  bool waiting = true;
  bool dead = true;
  bool finished = true;
  bool derived = true; // false: only the deliveries with a record of their own
  bool by_id = false;
  std::vector<std::string> ids;
  bool by_event = false;
  std::vector<std::string> event_ids;
};

/// Which deliveries a listing newest first takes: those of the kinds and statuses asked for,
/// created in [`from`, `to`).
struct delivery_selection {
  bool task = true;
  bool mail = true;
  std::array<bool, 5> statuses{{true, true, true, true, true}}; // by `delivery_status`
  timestamp_ms from = std::numeric_limits<timestamp_ms>::min();
  timestamp_ms to = std::numeric_limits<timestamp_ms>::max();

  bool has(action_kind kind) const { return kind == action_kind::task ? task : mail; }
  bool has(delivery_status status) const { return statuses[static_cast<size_t>(status)]; }
  /// Any of the statuses a delivery waiting on a record can have (pending, held, retrying).
  bool waiting() const {
    return has(delivery_status::pending) || has(delivery_status::held)
           || has(delivery_status::retrying);
  }
  /// Every status a delivery waiting on a record can have.
  bool all_waiting() const {
    return has(delivery_status::pending) && has(delivery_status::held)
           && has(delivery_status::retrying);
  }
  bool bounded() const {
    return from != std::numeric_limits<timestamp_ms>::min()
           || to != std::numeric_limits<timestamp_ms>::max();
  }
  /// Whether nothing can be selected (no kind, no status, or an empty time range).
  bool empty() const {
    return (!task && !mail) || from >= to
           || std::find(statuses.begin(), statuses.end(), true) == statuses.end();
  }
};

/// The scope that holds every delivery matching `where`: a filter on `status` narrows the places
/// and a filter on `id` or `eventId` turns the scans into lookups (`eq`, `in`, and any `and`/`or`
/// of them), so that listing dead letters, one delivery or the deliveries of one event does not
/// read the whole log. Every other filter keeps the whole store.
delivery_scope scope_of(const filter& where);

/// The day number (days since the epoch, UTC) of a timestamp; `seen`, `history` and the logs are
/// dropped by whole days.
uint32_t day_of(timestamp_ms t);

/// The first sequence of a day (sequences are accept time in ms × 1000 + a counter).
uint64_t first_sequence_of_day(uint32_t day);

class store {
public:
  /// Opens (creating when missing) the store in `opts.data_dir`. A directory of schema 2 is
  /// migrated in place first (resumable; progress in the log, component `store`). Fails with a clear message when the
  /// directory was made with another shard count or a newer schema, or is held by another process.
  static caf::expected<std::shared_ptr<store>> open(const store_options& opts);

  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  uint32_t shards() const;
  const store_options& options() const;

  // -- dispatchers ------------------------------------------------------------------------------

  /// Writes and erases dispatchers of the current set in one atomic batch (the directory's).
  caf::error write_dispatchers(const std::vector<dispatcher>& put,
                               const std::vector<std::string>& erase);

  /// Every dispatcher of the current set.
  caf::expected<std::vector<dispatcher>> load_dispatchers() const;

  /// Records changes a shard's matcher applied (in force from their `from` on), in one batch.
  caf::error write_dispatcher_versions(uint32_t shard,
                                       const std::vector<dispatcher_version>& versions);

  /// Every recorded change of `shard`, in `from` order.
  caf::expected<std::vector<dispatcher_version>> load_dispatcher_versions(uint32_t shard) const;

  /// The dispatchers of `shard` over time, prepared for deriving (what listings derive with):
  /// built from the recorded changes once, again after each change, shared meanwhile.
  caf::expected<std::shared_ptr<const dispatcher_timeline>> timeline(uint32_t shard) const;

  /// Forgets the changes of `shard` that no log entry from `floor` on needs: of each dispatcher's
  /// changes from `floor` or before, only the last one is in force from `floor` on (none, when it
  /// is a removal). Retention calls it with the oldest sequence the log keeps.
  caf::error prune_dispatcher_versions(uint32_t shard, uint64_t floor);

  // -- ingest ------------------------------------------------------------------------------------

  /// For each id: the event as first stored when it was seen within the last `days` days.
  /// One MultiGet for the lot.
  caf::expected<std::vector<caf::optional<event>>> find_seen(const std::vector<std::string>& ids,
                                                             uint32_t days, timestamp_ms now) const;

  /// Appends accepted events to their shards' logs (and the publisher-chosen ids to `seen` under
  /// the day of `now`) in one batch, fsynced when the store syncs. Nothing is acknowledged unless
  /// this returns no error.
  caf::error accept_events(const std::vector<accepted_event>& events, timestamp_ms now);

  /// The highest log sequence of `shard` (0 when its log is empty).
  uint64_t last_log_sequence(uint32_t shard) const;

  /// The highest log sequence of any shard.
  uint64_t last_log_sequence() const;

  /// Up to `limit` log entries of `shard` with a sequence above `after`, in sequence order.
  caf::expected<logged_event_list> scan_log(uint32_t shard, uint64_t after, size_t limit) const;

  /// One log entry, if the log still holds it.
  caf::expected<caf::optional<event>> get_logged(uint32_t shard, uint64_t sequence) const;

  // -- the event archive (store_archive.cpp) ---------------------------------------------------

  /// Visits the archived events of `range` in its order (by sequence, then shard), on one
  /// snapshot of the log, until `visit` answers false. Reads only as far as the visitor goes.
  caf::error for_each_archived(const archive_range& range,
                               const std::function<bool(const archived_event&)>& visit) const;

  /// How many events the archive holds, of every type (`type` null) or of one. From the running
  /// counts (one entry per shard and day); a shard and day that met more distinct types than
  /// the counts keep apart is read to count one type.
  caf::expected<uint64_t> count_archived(const std::string* type = nullptr) const;

  /// Narrows `range` to the days of its shards whose events were created in [`from`, `to`):
  /// each shard and day keeps the earliest and latest `creationTimestamp` of its events (a
  /// publisher may set any), so a time range reads the days that can hold it, from the first to
  /// the last (a day accepted before these were kept can hold any time). Empty when none can.
  caf::error bound_by_creation(archive_range& range, timestamp_ms from, timestamp_ms to) const;

  /// The archived event with this id: an id ingest made leads to its log entry, a publisher's
  /// id is looked up in `seen` (kept as long as the archive).
  caf::expected<caf::optional<archived_event>> find_archived(const std::string& id) const;

  // -- replays from the archive (store_archive.cpp) -------------------------------------------

  /// Writes (or replaces) a replay's record: its request (with the filter tree `where`), state
  /// and position. Rides the WAL.
  caf::error write_replay(const replay_status& status, const filter& where);

  /// Every replay record, in id order, with its filter tree.
  caf::expected<std::vector<std::pair<replay_status, filter>>> load_replays() const;

  // -- emitters ----------------------------------------------------------------------------------

  /// The progress of the emitter of `kind` and `shard` (zeros when it has none yet).
  caf::expected<progress> read_progress(action_kind kind, uint32_t shard) const;

  /// Writes outcomes in one atomic batch, with the progress of the emitter of (`kind`, `shard`)
  /// when `advance` is set: a finished recorded delivery leaves its exception record for
  /// `history` (a dead one also for `dead_letters`); a retrying or held one is (re)written under
  /// its due time; a derived one that failed or is held gets its first record, one that died at
  /// once goes to the dead letters. For the emitter, the single writer of its records.
  caf::error write_outcomes(action_kind kind, uint32_t shard,
                            const std::vector<delivery_outcome>& outcomes,
                            const progress* advance = nullptr);

  /// Up to `limit` exception records of (`kind`, `shard`) in due-time order. Skips deliveries
  /// for which `skip(id)` is true (those already in memory or in flight).
  caf::expected<delivery_list> scan_due(action_kind kind, uint32_t shard, size_t limit,
                                        const std::function<bool(const std::string&)>& skip) const;

  /// The ordering keys of the exception records of (`kind`, `shard`) that have one: what an
  /// emitter holds at its start, before it sends anything re-derived (one pass over its records).
  caf::expected<std::vector<recorded_key>> recorded_keys(action_kind kind, uint32_t shard) const;

  /// For each id: whether it has a record of its own (exception, dead letter, history, purged).
  caf::expected<std::vector<bool>> has_record(const std::vector<std::string>& ids) const;

  /// Where a delivery's record is, if it has one.
  caf::expected<caf::optional<record_slot>> find_record(const std::string& id) const;

  /// A waiting delivery, if it has an exception record.
  caf::expected<caf::optional<delivery>> get_waiting(const std::string& id) const;

  /// One dead letter.
  caf::expected<caf::optional<delivery>> get_dead_letter(const std::string& id) const;

  /// Re-queues a dead letter: deletes it from `dead_letters` and history and writes `revived`
  /// (fresh budget, due now) as an exception record of `shard`, atomically.
  caf::error revive(const delivery& revived, uint32_t shard);

  /// What `purge` removed.
  enum class purged { nothing, finished, waiting };

  /// Removes a delivery wherever it is (exception record, dead letters, history; a derived one is
  /// marked purged); answers what it was: nothing, a waiting record (counted by `waiting_size`),
  /// or anything else (a dead letter, history, a derived delivery). `counted`: the progress of
  /// the derived delivery's emitter, as last written, less the purged delivery in its day's
  /// count, written in the same batch (its emitter passes it when its cursor had passed it).
  caf::expected<purged> purge(const std::string& id, const progress* counted = nullptr);

  /// Visits every delivery in `scope`: exception records, dead letters, history (newest day
  /// first), then those derived from the log. Stop by returning false from `visit`.
  caf::error for_each_delivery(const std::function<bool(const delivery&)>& visit,
                               const delivery_scope& scope = {}) const;

  /// Visits the exception records only (pending, held, retrying), of every kind.
  caf::error for_each_waiting(const std::function<bool(const delivery&)>& visit) const;

  /// Dead letters in id order, starting after `after` (empty: from the first), until `visit`
  /// answers false: a replay by query walks them in bounded batches this way.
  caf::error for_each_dead_letter(const std::string& after,
                                  const std::function<bool(const delivery&)>& visit) const;

  /// Every dead letter, newest first (descending id: a delivery id starts with its event's
  /// sequence, the accept time), until `visit` answers false. Reads only as far as it goes.
  caf::error for_each_dead_letter_newest(const std::function<bool(const delivery&)>& visit) const;

  /// How many dead letters there are (counted when the store opens, kept exact by the writes).
  uint64_t dead_letter_count() const;

  /// The deliveries `which` selects, newest first: by creation time, then id, both descending.
  /// Merges the deliveries derived from the log, read backwards, with the records, so it reads
  /// only as far as `visit` goes, and only the part that the times bound:
  /// - with `delivered` selected, the records come from `record_times`, read backwards;
  /// - otherwise the log is read only past the emitters' smallest cursor (only pending
  ///   deliveries are derived there), the waiting records are read once (the newest `depth` of
  ///   them kept) and the dead letters come from their keys, in id order (their events' accept
  ///   time; a dead letter replayed from the archive or matched again may differ from its
  ///   creation time);
  /// - dead letters with waiting statuses but not `delivered` come from `record_times`.
  /// `depth`: how many deliveries the visitor can take at most.
  caf::error for_each_delivery_newest(const delivery_selection& which,
                                      const std::function<bool(const delivery&)>& visit,
                                      size_t depth = std::numeric_limits<size_t>::max()) const;

  /// How many deliveries `which` selects (what `for_each_delivery_newest` visits):
  /// - `delivered`: the emitters' per-day counts of those delivered without a record (a
  ///   directory upgraded from schema 3 reads the log up to its cursors at the upgrade until
  ///   retention let those days go) and the finished records counted per day;
  /// - `dead`, and every waiting status at once: counted per kind;
  /// - `pending`: the log past the cursors, counted per event without deriving, less the records
  ///   of those positions; with some waiting statuses but not all, the waiting records are read;
  /// - with a time range: the range is read.
  caf::expected<uint64_t> delivery_count(const delivery_selection& which) const;

  /// The delivery derived from the log with this id, if it has no record of its own (the
  /// emitter of its kind and shard owns it: a purge goes through that emitter).
  caf::expected<caf::optional<delivery>> find_derived(const std::string& id) const;

  /// Visits the log entries that some emitter has not passed yet, every shard.
  caf::error for_each_unfinished_event(const std::function<bool(const event&)>& visit) const;

  /// Number of exception records of `kind` waiting (kept exact by the write calls).
  uint64_t waiting_size(action_kind kind) const;

  // -- built-in log sink -------------------------------------------------------------------------

  /// Records what the built-in sink received under (kind, day, delivery id), in one batch: a
  /// redelivery on the same day overwrites instead of adding a second record.
  caf::error append_logs(const std::vector<log_record>& records);

  /// Sets an event aside: no delivery is derived from its log position any more (listings skip
  /// it too), and it is listed with `for_each_set_aside`. Writing it again replaces it (as when
  /// it is marked replayed). Rides the WAL: an emitter's cursor past it, written later, cannot
  /// survive a crash without it.
  caf::error set_aside(const set_aside_event& e);

  /// Every set-aside event, in shard and log order, until `visit` answers false.
  caf::error for_each_set_aside(const std::function<bool(const set_aside_event&)>& visit) const;

  /// The set-aside event with this event id (replayed or not), if any.
  caf::expected<caf::optional<set_aside_event>> find_set_aside(const std::string& event_id) const;

  /// The log positions of `shard` in (`after`, `up_to`] that are set aside (replayed ones too:
  /// their deliveries are records of their own, never derived from the position), ascending. A
  /// range read: a catch-up page costs what its own stretch holds, however many are set aside.
  caf::expected<std::vector<uint64_t>>
  set_aside_sequences(uint32_t shard, uint64_t after = 0,
                      uint64_t up_to = std::numeric_limits<uint64_t>::max()) const;

  /// Visits log records of `kind`, oldest day first (by day received, then delivery id), or
  /// newest first: the same order reversed, read backwards from the keys. Stop by returning false.
  caf::error for_each_log(action_kind kind, const std::function<bool(const log_record&)>& visit,
                          bool newest_first = false) const;

  /// How many records of `kind` the built-in log holds (kept exact by `append_logs` and
  /// retention; counted per day when the store opens).
  uint64_t log_size(action_kind kind) const;

  // -- retention and health ----------------------------------------------------------------------

  /// Drops whole days of `seen`, `history`, the built-in log and the event log that are older
  /// than their retention (the event log, the archive: the longer of `history_days` and
  /// `event_days`, never past an emitter's cursor; `seen` at least as long, since it finds the
  /// archived events of publisher-chosen ids).
  caf::error apply_retention(timestamp_ms now, uint32_t seen_days, uint32_t history_days,
                             uint32_t log_days, uint32_t event_days = 0);

  /// Writes and deletes a probe key (synced): fails when storage cannot be written.
  caf::error probe_write();

  /// Flushes memtables (orderly shutdown).
  caf::error flush();

  // -- backups (backup.cpp) ----------------------------------------------------------------------

  /// Copies the database into the fresh directory `dir` while it is in use: consistent across
  /// every family, each file checked against its checksum, then opened read-only to read back
  /// what it holds (see persistence/backup.hpp). Stops early, failing, when `progress.stop` is
  /// set or a failed write means the database must be reopened. Fails (conflict) in memory.
  caf::expected<backup_part> backup(const std::string& dir, backup_progress& progress);

  /// The bytes the database's live files take now (0 in memory).
  uint64_t live_bytes() const;

private:
  struct impl;
  explicit store(std::unique_ptr<impl> p);
  /// `for_each_delivery` for a scope of named ids: lookups by key instead of scans.
  caf::error visit_by_id(const std::function<bool(const delivery&)>& visit,
                         const delivery_scope& scope) const;
  /// `for_each_delivery` for a scope of named events: their log positions' deliveries.
  caf::error visit_by_event(const std::function<bool(const delivery&)>& visit,
                            const delivery_scope& scope) const;
  /// `for_each_delivery`'s last place: every delivery derived from the log without a record.
  caf::error visit_derived(const std::function<bool(const delivery&)>& visit,
                           const delivery_scope& scope) const;
  std::unique_ptr<impl> impl_;
};

using store_ptr = std::shared_ptr<store>;

} // namespace dispatch
