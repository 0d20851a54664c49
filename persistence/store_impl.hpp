// The store's private state, shared by its two translation units (ingest side, delivery side).
// The only header that includes RocksDB; nothing outside persistence/ includes it.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/write_buffer_manager.h>

#include "persistence/store.hpp"

namespace dispatch {

namespace detail {

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
  rocksdb::ColumnFamilyHandle* inbox = nullptr;
  rocksdb::ColumnFamilyHandle* seen = nullptr;
  rocksdb::ColumnFamilyHandle* deliveries = nullptr;
  rocksdb::ColumnFamilyHandle* delivery_index = nullptr;
  rocksdb::ColumnFamilyHandle* dead_letters = nullptr;
  rocksdb::ColumnFamilyHandle* history = nullptr;
  rocksdb::ColumnFamilyHandle* log = nullptr;

  // The emitters' state changes (outcomes, revive, purge) read the index before writing their
  // batch (to keep the counters exact and never orphan a queue key); this mutex makes read and
  // write one step. A matcher's commit does not take it: it only adds deliveries whose ids are
  // new (one event is matched by one matcher), so it never waits behind an emitter's write.
  std::mutex delivery_mutex;

  // Exact sizes, counted once at open and kept by the write calls.
  std::unique_ptr<std::atomic<uint64_t>[]> inbox_counts;
  std::array<std::atomic<uint64_t>, 2> waiting_counts{};

  // Cursor hint per kind: no waiting delivery is due before `head_due` (tombstones of delivered
  // ones pile up at the queue head; starting past them saves skipping them on every scan).
  // Guarded by queue_mutex (held for no I/O); `insert_epoch` tells a scan whether an insert
  // raced with it.
  std::mutex queue_mutex;
  std::array<timestamp_ms, 2> head_due{};
  std::array<uint64_t, 2> insert_epoch{};

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

  /// Whether the volume has room for the memtables' flush (plus 1 MiB) that resuming needs.
  bool room_to_resume() const;

  /// Called after a waiting delivery of `kind` was written at `due` (takes queue_mutex).
  void note_insert(action_kind kind, timestamp_ms due);

  /// Counts the keys in [lower, upper) of a family (used once at open).
  uint64_t count_range(rocksdb::ColumnFamilyHandle* family, const std::string& lower,
                       const std::string& upper) const;
};

} // namespace detail

struct store::impl : detail::store_state {};

/// Turns a RocksDB status into our error: names the operation; storage exhaustion says "no space".
caf::error to_error(const rocksdb::Status& status, const std::string& operation);

/// Fsyncs a database's WAL (everything written to it so far) without holding its write queue:
/// writers go on while the sync runs, and what they write after it rides the next one.
caf::error sync_wal(rocksdb::DB& db, const std::string& operation);

/// RocksDB's own LOG file writer aborts on an assertion once a write to a full disk failed (seen
/// with Debian's 7.8 build), so every database of ours sends its warnings and worse to stderr,
/// one line each, starting with `prefix`.
class stderr_logger : public rocksdb::Logger {
public:
  explicit stderr_logger(std::string prefix);

  using rocksdb::Logger::Logv;

  void Logv(const char* format, va_list ap) override;

private:
  std::string prefix_;
};

inline size_t index_of(action_kind kind) {
  return static_cast<size_t>(kind) & 1;
}

} // namespace dispatch
