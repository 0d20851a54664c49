// A cluster node's own RocksDB store, beside the engine's (`<data_dir>/cluster`): who this node
// is, the forward queue of events waiting for their shard's owner, and the replicated dispatcher
// log. Thread-safe; failures are `caf::error`s in the dispatch category, naming the kind of
// failure (never a file path).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "messages/backup.hpp"
#include "messages/cluster.hpp"
#include "messages/event.hpp"

namespace dispatch {

struct cluster_store_options {
  std::string dir;        // created when missing; unused when in_memory
  bool in_memory = false; // RocksDB on an in-memory Env
  bool sync = true;       // fsync `enqueue` (an acknowledged publish must survive a crash)
  uint32_t node = 0;      // this node's id: a directory made by another node id is refused
  uint32_t shards = 0;    // the engine's shard count: a directory made with another is refused
};

/// An event waiting in the forward queue of one owner.
struct queued_event {
  uint64_t sequence = 0; // per owner, counting up; the key
  dispatch::event event;
};

using queued_event_list = std::vector<queued_event>;

class cluster_store {
public:
  /// Opens (creating when missing). Fails when the directory belongs to another node id or shard
  /// count (saying which), or is held by another process.
  static caf::expected<std::shared_ptr<cluster_store>> open(const cluster_store_options& opts);

  ~cluster_store();
  cluster_store(const cluster_store&) = delete;
  cluster_store& operator=(const cluster_store&) = delete;

  // -- the forward queue: events accepted here for a shard another node owns --------------------

  /// Appends `events` to the queue of `owner` in one atomic (synced) write; answers their
  /// sequences in order.
  caf::expected<std::vector<uint64_t>> enqueue(uint32_t owner, const event_list& events);

  /// `enqueue` without the sync: several appends then one `sync` make a group commit. Until the
  /// sync returns nothing of them may be acknowledged; `retire` takes one back.
  caf::expected<std::vector<uint64_t>> append(uint32_t owner, const event_list& events);

  /// Makes every append so far durable (an fsync of the WAL, when the store syncs).
  caf::error sync();

  /// Up to `max` queued events of `owner` with a sequence above `after`, oldest first (a page read
  /// from disk: the queue is never held in memory).
  caf::expected<queued_event_list> peek(uint32_t owner, uint64_t after, size_t max);

  /// Removes the events of `owner` with sequences in [first, last] (the owner acknowledged them).
  caf::error retire(uint32_t owner, uint64_t first, uint64_t last);

  /// How many events wait for `owner` (kept as a counter, recounted on open).
  uint64_t depth(uint32_t owner) const;

  /// Every owner with a non-empty queue.
  std::vector<uint32_t> owners_waiting() const;

  // -- the dispatcher log: on the coordinator, every change; on followers, how far they applied --

  /// Appends one change, assigning it the next version (answered). An earlier entry for the same
  /// dispatcher id is deleted in the same write: the log keeps the latest change per dispatcher,
  /// so a node that was away catches up with every change it missed and nothing it does not need.
  caf::expected<uint64_t> append(log_entry entry);

  /// Up to `max` entries with a version above `version`, in version order.
  caf::expected<log_entry_list> entries_after(uint64_t version, size_t max);

  /// The version of the last appended entry (0 when none).
  uint64_t last_version() const;

  /// On a follower: the version of the last entry applied to the local engine (0 when none).
  uint64_t applied_version() const;

  /// Records that every entry up to `version` is applied.
  caf::error set_applied_version(uint64_t version);

  // -- backups ----------------------------------------------------------------------------------

  /// Copies the database into the fresh directory `dir` while it is in use: consistent across
  /// its families, verified, read back (see persistence/backup.hpp). Fails for an in-memory one.
  caf::expected<backup_part> backup(const std::string& dir, backup_progress& progress);

  /// The bytes the database's live files take now (0 in memory).
  uint64_t live_bytes() const;

private:
  struct impl;
  explicit cluster_store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

using cluster_store_ptr = std::shared_ptr<cluster_store>;

} // namespace dispatch
