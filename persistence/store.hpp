// The RocksDB store of one node: column families by purpose, atomic batches for every state change
// that must not be lost, cursors over time-keyed queues, retention by day. Thread-safe: actors share
// one `store` through a shared_ptr. No RocksDB type or status escapes this header: failures are
// `caf::error`s in the dispatch category (code `server`, with a message saying what failed).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/optional.hpp>

#include "messages/delivery.hpp"
#include "messages/dispatcher.hpp"
#include "messages/event.hpp"
#include "messages/interfaces.hpp"

namespace dispatch {

struct store_options {
  std::string data_dir;        // created when missing
  uint32_t shards = 4;         // must match the shard count stored in an existing directory
  bool sync = true;            // fsync the ingest batch (`accept_events`); other writes ride the WAL
  bool in_memory = false;      // RocksDB on an in-memory Env: nothing touches the disk
  uint64_t block_cache_bytes = 64ull << 20;  // one block cache for every family
  uint64_t write_buffer_bytes = 64ull << 20; // one WriteBufferManager for every family
};

/// An accepted event as ingest writes it: into its shard's inbox, and into `seen` under its day.
struct accepted_event {
  uint32_t shard = 0;
  uint64_t sequence = 0;
  dispatch::event event;
};

/// Where a delivery is while it waits: its kind and due time (the key in `deliveries`).
struct delivery_slot {
  action_kind kind = action_kind::task;
  timestamp_ms due = 0;
};

/// What became of a delivery at its sink, to be written down: `value.status` says delivered, dead
/// or retrying (then `value.next_attempt` is its new due time); `previous_due` is its current key.
struct delivery_outcome {
  timestamp_ms previous_due = 0;
  delivery value;
};

/// A record of the built-in log sink: what it received, as JSON text in ExH shape.
struct log_record {
  std::string id; // the delivery id
  action_kind kind = action_kind::task;
  timestamp_ms received = 0;
  std::string json;
};

/// The day number (days since the epoch, UTC) of a timestamp; `seen`, `history` and the log are keyed
/// by it so that whole days are dropped with one DeleteRange.
uint32_t day_of(timestamp_ms t);

class store {
public:
  /// Opens (creating when missing) the store in `opts.data_dir`. Fails with a clear message when the
  /// directory was made with another shard count or schema version, or is held by another process.
  static caf::expected<std::shared_ptr<store>> open(const store_options& opts);

  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  uint32_t shards() const;
  const store_options& options() const;

  // -- dispatchers ------------------------------------------------------------------------------

  /// Writes and erases dispatchers in one atomic batch (a move between event types is one call).
  caf::error write_dispatchers(const std::vector<dispatcher>& put,
                               const std::vector<std::string>& erase);

  /// Every stored dispatcher.
  caf::expected<std::vector<dispatcher>> load_dispatchers() const;

  // -- ingest ------------------------------------------------------------------------------------

  /// For each id: the event as first stored when it was seen within the last `days` days.
  /// One MultiGet for the lot.
  caf::expected<std::vector<caf::optional<event>>>
  find_seen(const std::vector<std::string>& ids, uint32_t days, timestamp_ms now) const;

  /// Writes accepted events into `seen` (under the day of `now`) and into their inbox shard, in one
  /// batch, fsynced when the store syncs. Nothing is acknowledged unless this returns no error.
  caf::error accept_events(const std::vector<accepted_event>& events, timestamp_ms now);

  /// The highest inbox sequence in any shard (0 when every inbox is empty).
  uint64_t last_inbox_sequence() const;

  /// Up to `limit` inbox entries of `shard` with a sequence above `after`, in sequence order.
  caf::expected<inbox_event_list> scan_inbox(uint32_t shard, uint64_t after, size_t limit) const;

  /// Number of entries in one inbox shard (an estimate is fine for stats).
  uint64_t inbox_size(uint32_t shard) const;

  // -- matcher -----------------------------------------------------------------------------------

  /// Writes the deliveries of matched events (pending or held, keyed by kind and due time, plus their
  /// index entries) and deletes those events' inbox entries, in one atomic batch. Each inbox entry
  /// is retired once (the shard's matcher sees to it): the inbox count falls by `sequences.size()`.
  caf::error commit_match(uint32_t shard, const std::vector<uint64_t>& sequences,
                          const delivery_list& deliveries);

  // -- emitters ----------------------------------------------------------------------------------

  /// Up to `limit` waiting deliveries of `kind` in due-time order, starting at the head of the
  /// queue. Skips deliveries for which `skip(id)` is true (those already in memory or in flight).
  caf::expected<delivery_list>
  scan_due(action_kind kind, size_t limit,
           const std::function<bool(const std::string&)>& skip) const;

  /// Writes many outcomes in one atomic batch (one WAL write): delivered and dead ones as
  /// `finish_delivered` / `finish_dead` do, retrying ones as `reschedule` does. For the emitter,
  /// the single writer of its waiting deliveries: `previous_due` is trusted (no index read), and
  /// a delivery purged meanwhile is the caller's to leave out.
  caf::error write_outcomes(const std::vector<delivery_outcome>& outcomes);

  /// Moves a waiting delivery to its new due time (`updated.next_attempt`) and state, atomically.
  /// `previous_due` is its current key.
  caf::error reschedule(timestamp_ms previous_due, const delivery& updated);

  /// A delivery reached its sink: removes it from the queue and its index, records it in `history`.
  caf::error finish_delivered(timestamp_ms previous_due, const delivery& done);

  /// A delivery is dead: removes it from the queue and its index, writes it to `dead_letters` and
  /// records it in `history`.
  caf::error finish_dead(timestamp_ms previous_due, const delivery& dead);

  /// Where a waiting delivery is, if it is waiting.
  caf::expected<caf::optional<delivery_slot>> find_waiting(const std::string& id) const;

  /// A waiting delivery, read through the index.
  caf::expected<caf::optional<delivery>> get_waiting(const std::string& id) const;

  /// One dead letter.
  caf::expected<caf::optional<delivery>> get_dead_letter(const std::string& id) const;

  /// Re-queues a dead letter: deletes it from `dead_letters` and writes `revived` (fresh budget,
  /// due now) into the queue and the index, atomically.
  caf::error revive(const delivery& revived);

  /// Removes a delivery wherever it is (queue and index, dead letters, history); answers whether it
  /// existed.
  caf::expected<bool> purge(const std::string& id);

  /// Visits every delivery: waiting ones, dead letters, then history (newest day first). Stop by
  /// returning false from `visit`.
  caf::error for_each_delivery(const std::function<bool(const delivery&)>& visit) const;

  /// Visits the waiting deliveries only (pending, held, retrying), of every kind.
  caf::error for_each_waiting(const std::function<bool(const delivery&)>& visit) const;

  /// Number of waiting deliveries of `kind` (an estimate is fine for stats).
  uint64_t waiting_size(action_kind kind) const;

  // -- built-in log sink -------------------------------------------------------------------------

  /// Records what the built-in sink received under (kind, day of `now`, delivery id): a redelivery
  /// on the same day overwrites instead of adding a second record.
  caf::error append_log(action_kind kind, const std::string& delivery_id, const std::string& json,
                        timestamp_ms now);

  /// Records many at once, in one batch (`received` is each record's time and day).
  caf::error append_logs(const std::vector<log_record>& records);

  /// Visits log records of `kind`, oldest day first. Stop by returning false.
  caf::error for_each_log(action_kind kind,
                          const std::function<bool(const log_record&)>& visit) const;

  // -- retention and health ----------------------------------------------------------------------

  /// Drops whole days of `seen`, `history` and the log that are older than their retention.
  caf::error apply_retention(timestamp_ms now, uint32_t seen_days, uint32_t history_days,
                             uint32_t log_days);

  /// Writes and deletes a probe key (synced): fails when storage cannot be written.
  caf::error probe_write();

  /// Flushes memtables (orderly shutdown).
  caf::error flush();

private:
  struct impl;
  explicit store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

using store_ptr = std::shared_ptr<store>;

} // namespace dispatch
