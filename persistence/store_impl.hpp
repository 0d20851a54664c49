// The store's private state, shared by its two translation units (ingest side, delivery side).
// The only header that includes RocksDB; nothing outside persistence/ includes it.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/write_buffer_manager.h>

#include "messages/derive.hpp"
#include "persistence/codec.hpp"
#include "persistence/key_range.hpp"
#include "persistence/store.hpp"

namespace dispatch {

namespace detail {

/// A `seen` value: the day it was accepted, the event, and where the event is in the log (values
/// written before the log's position was kept end with the event).
struct seen_entry {
  uint32_t day = 0;
  dispatch::event event;
  bool placed = false;
  uint32_t shard = 0;
  uint64_t sequence = 0;
};

constexpr size_t seen_position_size = 12; // sequence (8) · shard (4)

/// Reads a `seen` value of either form; an error naming the id when it does not decode.
caf::error decode_seen(const std::string& id, const char* data, size_t size, seen_entry& out);

// Everything the store holds; `store::impl` (private in the header) is this under another name so
// that the helper functions of the .cpp files can take it.
struct store_state {
  store_options opts;
  // Declared first so it is destroyed last: the database runs on it until closed.
  std::unique_ptr<rocksdb::Env> mem_env;
  std::shared_ptr<rocksdb::Cache> block_cache;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers;
  // `seen` entries accepted before this day are gone (retention): lookups ignore them and
  // flushes and compactions drop them (a compaction filter reads it). Kept in the meta family.
  std::atomic<uint32_t> seen_floor{0};
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;

  rocksdb::ColumnFamilyHandle* meta = nullptr;
  rocksdb::ColumnFamilyHandle* dispatchers = nullptr;
  rocksdb::ColumnFamilyHandle* dispatcher_versions = nullptr;
  rocksdb::ColumnFamilyHandle* event_log = nullptr;
  rocksdb::ColumnFamilyHandle* seen = nullptr;
  rocksdb::ColumnFamilyHandle* progress = nullptr;
  rocksdb::ColumnFamilyHandle* exceptions = nullptr;
  rocksdb::ColumnFamilyHandle* delivery_index = nullptr;
  rocksdb::ColumnFamilyHandle* dead_letters = nullptr;
  rocksdb::ColumnFamilyHandle* history = nullptr;
  rocksdb::ColumnFamilyHandle* log = nullptr;
  rocksdb::ColumnFamilyHandle* event_counts = nullptr;
  rocksdb::ColumnFamilyHandle* record_times = nullptr;

  // `delivery_index` entries of finished, dead and purged deliveries from before this day are
  // let go with their history (a compaction filter reads it). Kept in the meta family.
  std::atomic<uint32_t> history_floor{0};

  // The first day the event log (the archive) still holds entries of, as retention last left
  // it: a publisher's id found in `seen` is archived only from this day on.
  std::atomic<uint32_t> archive_floor{0};

  // The counts of `event_counts` are read, added to and written back (plain values, no merge
  // operator, so that any RocksDB tool can open the database): ingest's batch and retention
  // hold this from the read until their batch is written.
  std::mutex counts_mutex;
  // Per (shard, minute accepted): the earliest and latest creation time of the events accepted
  // (the `created_span` entries of `meta`, read at open), from the minute `spans_from` on (the
  // events accepted before it can hold any time). Under `counts_mutex`.
  std::map<std::pair<uint32_t, uint32_t>, std::pair<timestamp_ms, timestamp_ms>> created_spans;
  uint32_t spans_from = 0;

  // The emitters' state changes (outcomes, revive, purge) read the index before writing their
  // batch (to keep the counters exact); this mutex makes read and write one step.
  std::mutex delivery_mutex;

  // Exact number of exception records waiting, per kind, counted at open and kept by the writes.
  std::array<std::atomic<uint64_t>, 2> waiting_counts{};

  // Exact number of dead letters per kind, counted at open (from `record_times`) and kept by the
  // writes that add or remove one (outcomes, revive, purge; retention never drops a dead letter).
  std::array<std::atomic<uint64_t>, 2> dead_counts{};

  // Deliveries finished after a record (history, not dead) per (kind, day finished), counted at
  // open from `record_times` and kept by the writes (under `delivery_mutex`) and by retention.
  std::map<std::pair<uint8_t, uint32_t>, uint64_t> finished_counts;

  // Each shard's dispatchers over time as listings derive with them, built from
  // `dispatcher_versions` once and again after every change of it (`timeline_changes` counts the
  // changes per shard). Guarded by `timeline_mutex`.
  std::mutex timeline_mutex;
  std::vector<std::shared_ptr<const dispatcher_timeline>> timelines;
  std::vector<uint64_t> timelines_at;
  std::unique_ptr<std::atomic<uint64_t>[]> timeline_changes;

  // Per kind and shard (kind · shards + shard): the cursor from which the emitter's per-day
  // counts hold every delivery it delivered without a record (0, but in a directory upgraded from
  // schema 3). Read at open.
  std::vector<uint64_t> counted_from;

  // Records of the built-in log per (kind, day received), counted at open and kept by
  // `append_logs` (a redelivery the same day replaces its record: not counted twice) and by
  // retention (whole days). `log_mutex` makes append's existence check and write one step.
  std::mutex log_mutex;
  std::map<std::pair<uint8_t, uint32_t>, uint64_t> log_counts;

  // Fault injection for the crash tests (`DISPATCH_FAULT_KILL_OUTCOMES=before:N` or `after:N`):
  // the process kills itself just before or just after the N-th write of outcomes that holds a
  // record. Zero (the default) injects nothing.
  std::atomic<int64_t> kill_countdown{0};
  bool kill_after_write = false;

  // Fault injection for the tests of reads (`DISPATCH_FAULT_PAUSE_SCANS=<path>`): every listing
  // scan (`for_each_delivery`, `for_each_waiting`, `for_each_unfinished_event`, `for_each_log`)
  // creates `<path>.entered` and waits while `<path>` exists. Empty (the default): no pause.
  std::string pause_scans_while;

  void before_scan() const;

  // Fault injection for the tests of storage failures (`DISPATCH_FAULT_FAIL_OUTCOMES=<path>`):
  // every write of delivery outcomes fails while `<path>` exists, as a failing disk's would.
  std::string fail_outcomes_while;

  // The highest log sequence per shard (ingest's next sequence starts above them).
  std::unique_ptr<std::atomic<uint64_t>[]> last_sequences;

  store_state() = default;
  store_state(const store_state&) = delete;
  ~store_state();

  /// Writes a batch; `sync` fsyncs the WAL first.
  caf::error write(rocksdb::WriteBatch& batch, bool sync, const std::string& operation);

  /// Fsyncs the WAL (everything written so far) without holding RocksDB's write queue.
  caf::error sync_wal(const std::string& operation);

  // Set after a failed write: RocksDB then refuses every write until it is resumed, and its own
  // recovery waits for far more free space than a small volume may ever have. The next write
  // resumes it first.
  std::atomic<bool> write_failed{false};
  std::mutex resume_mutex;

  // What RocksDB cannot resume from (a fatal error: a flush or a new WAL file that failed, e.g.
  // with no file descriptor left) needs the database closed and opened again. Every public
  // operation of the store holds `gate` shared (`store_use`); when a write finds the database
  // beyond `Resume()` it sets `reopen_needed`, and the next operation to start reopens it while
  // holding `gate` alone. Until a reopen succeeds `db` may be null: operations then fail.
  rocksdb::DBOptions db_options; // as opened
  std::shared_mutex gate;
  std::atomic<bool> reopen_needed{false};
  void reopen_now();

  /// Whether the volume has room for the memtables' flush (plus 1 MiB) that resuming needs.
  bool room_to_resume() const;

  // An accepted batch whose WAL sync failed is taken back (its publishers were told it failed).
  // When taking it back fails too, the undo waits here: every later write applies it first (and
  // fails while it cannot), and the log is not read meanwhile, so no emitter derives deliveries
  // of events nobody was told were accepted. Guarded by `undo_mutex`.
  std::unique_ptr<rocksdb::WriteBatch> pending_undo;
  std::atomic<bool> undo_pending{false};
  std::mutex undo_mutex;
  caf::error apply_pending_undo(const std::string& operation);

  // Fault injection (`DISPATCH_FAULT_FAIL_SYNC=<path>`): while `<path>` exists the WAL sync of
  // accepted events fails, and so does taking the batch back.
  std::string fail_sync_while;
  bool sync_fault() const;

  /// Counts the keys in [lower, upper) of a family (used once at open).
  uint64_t count_range(rocksdb::ColumnFamilyHandle* family, const std::string& lower,
                       const std::string& upper) const;
};

/// Holds the database for one public operation of the store: shared with every other operation,
/// re-entrant within a thread (an operation may call another), and after a fatal write error the
/// first to start reopens it (see `store_state::reopen_needed`).
class store_use {
public:
  explicit store_use(store_state& s);
  ~store_use();
  store_use(const store_use&) = delete;
  store_use& operator=(const store_use&) = delete;

  /// Why the operation cannot run (the database is closed: its reopen failed), or none.
  caf::error error() const;

private:
  store_state& state_;
  const store_state* outer_ = nullptr; // what this thread held before (another store's gate)
  bool locked_ = false;
};

} // namespace detail

struct store::impl : detail::store_state {};

/// Every dispatcher of the current set (`store::load_dispatchers`; the migration reads them too).
caf::expected<std::vector<dispatcher>> read_dispatchers(const detail::store_state& s);

/// Migrates a data directory of schema 2 to schema 3, in place, resumably: each step can be run
/// again after a kill, and the schema version is written last.
caf::error migrate_from_schema_2(detail::store_state& s);

/// Migrates a data directory of schema 3 to schema 4: builds `record_times` from the records and
/// notes each emitter's cursor as where its per-day counts begin. Resumable likewise.
caf::error migrate_from_schema_3(detail::store_state& s);

/// What a listing knows of one shard for deriving: the dispatchers over time and both cursors.
struct shard_view {
  std::shared_ptr<const dispatcher_timeline> timeline; // shared with other listings: never null
  progress task;
  progress mail;
  std::vector<uint64_t> set_aside; // log positions without deliveries, ascending

  const progress& of(action_kind kind) const { return kind == action_kind::task ? task : mail; }

  /// The deliveries of the event at `sequence`, as its matcher derived them: none when it was
  /// set aside, or when deriving fails here too.
  void derive(uint32_t shard, uint64_t sequence, const event& ev, delivery_list& out) const;
};

caf::expected<shard_view> view_of(const store& db, uint32_t shard);

/// A derived delivery as a listing shows it: delivered once its emitter's cursor passed it.
void settle(delivery& d, uint64_t sequence, const shard_view& view);

/// The progress of (`kind`, `shard`) with its per-day counts, read on `snapshot` (null: now).
caf::expected<progress> read_progress_in(const detail::store_state& s, action_kind kind,
                                         uint32_t shard, const rocksdb::Snapshot* snapshot);

/// Adds the progress of (`kind`, `shard`) to `batch`: the cursor entry and its per-day counts.
void stage_progress(detail::store_state& s, rocksdb::WriteBatch& batch, action_kind kind,
                    uint32_t shard, const progress& p);

/// The history floor day of the index value of a record of `place` (waiting: its due time).
std::string record_value(record_place place, action_kind kind, uint32_t shard, int64_t field);
bool parse_record_value(const char* data, size_t size, record_slot& out);

/// The highest sequence in `shard`'s part of the event log family `event_log` (0 when empty).
caf::expected<uint64_t> last_sequence_in(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* event_log,
                                         uint32_t shard);

/// Adds to `batch` one count entry per shard and day that `events` touch (negated: the batch is
/// taken back), each the entry as it is plus these events. Never one per event. The caller holds
/// `counts_mutex` until the batch is written.
caf::error stage_event_counts(const detail::store_state& s, rocksdb::WriteBatch& batch,
                              const std::vector<accepted_event>& events, bool negate);

/// Adds to `batch` the creation-time spans of the shards and minutes that `events` widen
/// (`created_span_key`) and answers them: the caller puts them into `created_spans` once the
/// batch is written (a span in memory that the disk lacks would never be written again). The
/// caller holds `counts_mutex`.
std::map<std::pair<uint32_t, uint32_t>, std::pair<timestamp_ms, timestamp_ms>>
stage_created_spans(const detail::store_state& s, rocksdb::WriteBatch& batch,
                    const std::vector<accepted_event>& events);

/// Counts the log once into `event_counts` when the directory was written before the counts
/// existed (or migrated from schema 2), then marks them ready. Run at open, before any actor.
caf::error count_archive_once(detail::store_state& s);

/// Reads the creation-time spans at open, and the minute they are kept from (now, the first time
/// a directory is opened by a release that keeps them).
caf::error load_created_spans(detail::store_state& s);

/// Adds to `batch` what dropping `shard`'s log below `limit` takes off the counts: whole days
/// go (the creation-time spans of their minutes too), the entries of a day cut in part are
/// subtracted. The caller holds `counts_mutex`.
caf::error stage_count_retention(const detail::store_state& s, rocksdb::WriteBatch& batch,
                                 uint32_t shard, uint64_t limit);

/// Forgets the creation-time spans of `shard`'s minutes below `limit`, once retention's batch
/// that dropped them is written. The caller holds `counts_mutex`.
void forget_created_spans(detail::store_state& s, uint32_t shard, uint64_t limit);

/// Turns a RocksDB status into our error: names the operation; storage exhaustion says "no space".
caf::error to_error(const rocksdb::Status& status, const std::string& operation);

/// Fsyncs a database's WAL (everything written to it so far) without holding its write queue:
/// writers go on while the sync runs, and what they write after it rides the next one.
caf::error sync_wal(rocksdb::DB& db, const std::string& operation);

/// RocksDB's own LOG file writer aborts on an assertion once a write to a full disk failed (seen
/// with Debian's 7.8 build), so every database of ours sends its lines to our logger instead
/// (component `rocksdb`, each line's text starting with `prefix`): its warnings and errors, each
/// at our level of the same name; its info lines are not kept. The threshold follows ours.
class rocksdb_log : public rocksdb::Logger {
public:
  explicit rocksdb_log(std::string prefix);

  rocksdb::InfoLogLevel GetInfoLogLevel() const override;

  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override;

  void Logv(const char* format, va_list ap) override;

private:
  std::string prefix_;
};

inline size_t index_of(action_kind kind) {
  return static_cast<size_t>(kind) & 1;
}

// Iterates one whole family, decoding deliveries; forwards, it may start after the key `after`.
// A walk of a whole family does not push the hot blocks out of the block cache.
template <class Next>
caf::error visit_family(const detail::store_state& s, rocksdb::ColumnFamilyHandle* family,
                        const char* name, bool backwards, Next&& next,
                        const std::string& after = {}) {
  rocksdb::ReadOptions options;
  options.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it{s.db->NewIterator(options, family)};
  if (backwards)
    it->SeekToLast();
  else
    after.empty() ? it->SeekToFirst() : it->Seek(after);
  for (; it->Valid(); backwards ? it->Prev() : it->Next()) {
    auto key = it->key();
    if (!after.empty() && key == rocksdb::Slice{after}) continue;
    delivery x;
    auto value = it->value();
    if (auto err = codec::decode(name, key.data(), key.size(), value.data(), value.size(), x))
      return err;
    if (!next(x)) return caf::none;
  }
  if (!it->status().ok()) return to_error(it->status(), std::string{"read "} + name);
  return caf::none;
}

/// Pages through the log of `shard` past `after` in sequence order (1024 entries a page), handing
/// each page to `visit` until it answers false or the log ends. What every walk of a shard's log
/// (listings, counts, catch-up) reads it with.
template <class Visit>
caf::error for_each_log_page(const store& db, uint32_t shard, uint64_t after, Visit&& visit) {
  constexpr size_t step = 1024;
  for (;;) {
    auto page = db.scan_log(shard, after, step);
    if (!page) return page.error();
    if (page->empty() || !visit(*page) || page->size() < step) return caf::none;
    after = page->back().sequence;
  }
}

/// Looks `keys` up in `family` with one MultiGet and hands each key found to `found(i, value)`
/// (`value` valid during the call), which answers an error to stop; a failed read is an error
/// saying it failed to `what`.
template <class Found>
caf::error multi_get(const detail::store_state& s, rocksdb::ColumnFamilyHandle* family,
                     const std::vector<rocksdb::Slice>& keys, const char* what, Found&& found) {
  if (keys.empty()) return caf::none;
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  s.db->MultiGet(rocksdb::ReadOptions{}, family, keys.size(), keys.data(), values.data(),
                 statuses.data());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return to_error(statuses[i], what);
    if (auto err = found(i, rocksdb::Slice{values[i].data(), values[i].size()})) return err;
  }
  return caf::none;
}

} // namespace dispatch
