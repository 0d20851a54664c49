// An iterator confined to one key range of one column family: the bounds RocksDB reads by pointer
// live as long as the iterator, so a scan is one line to set up; and a snapshot held for one read
// (internal to persistence/).
#pragma once

#include <memory>
#include <string>

#include <rocksdb/db.h>

namespace dispatch::detail {

class range_iterator {
public:
  /// Keys in [lower, upper) of `family`; an empty `upper` leaves the range open above.
  /// `fill_cache = false` for scans that would only push hot blocks out of the cache.
  range_iterator(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* family, std::string lower,
                 std::string upper, bool fill_cache = true)
      : lower_(std::move(lower)), upper_(std::move(upper)), lower_bound_(lower_),
        upper_bound_(upper_) {
    rocksdb::ReadOptions options;
    options.iterate_lower_bound = &lower_bound_;
    if (!upper_.empty()) options.iterate_upper_bound = &upper_bound_;
    options.fill_cache = fill_cache;
    it_.reset(db.NewIterator(options, family));
  }

  range_iterator(const range_iterator&) = delete;
  range_iterator& operator=(const range_iterator&) = delete;

  /// Positions at the range's first key.
  void seek_first() { it_->Seek(lower_bound_); }

  rocksdb::Iterator* operator->() const { return it_.get(); }

private:
  std::string lower_;
  std::string upper_;
  rocksdb::Slice lower_bound_;
  rocksdb::Slice upper_bound_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

/// A snapshot of the database, held for one read and released when it goes.
class held_snapshot {
public:
  explicit held_snapshot(rocksdb::DB& db) : db_(db), snapshot_(db.GetSnapshot()) {
    // nop
  }

  ~held_snapshot() { db_.ReleaseSnapshot(snapshot_); }

  held_snapshot(const held_snapshot&) = delete;
  held_snapshot& operator=(const held_snapshot&) = delete;

  const rocksdb::Snapshot* get() const { return snapshot_; }

private:
  rocksdb::DB& db_;
  const rocksdb::Snapshot* snapshot_;
};

} // namespace dispatch::detail
