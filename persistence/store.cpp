// The RocksDB store, ingest side: opening (families, options, meta checks), dispatchers, the
// inbox and `seen`. Deliveries: store_deliveries.cpp; log, retention, health: store_log.cpp.
#include "persistence/store.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>

#include <sys/statvfs.h>

#include <rocksdb/compaction_filter.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/table_properties_collectors.h>

#include "messages/error_code.hpp"
#include "persistence/codec.hpp"
#include "persistence/keys.hpp"
#include "persistence/store_impl.hpp"

namespace dispatch {

namespace {

constexpr int64_t ms_per_day = 86400000;

bool contains_nocase(std::string text, const std::string& lower_needle) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text.find(lower_needle) != std::string::npos;
}

caf::error server_error(std::string message) {
  return make_error(error_code::server, std::move(message));
}

// Drops `seen` entries accepted before the retention floor (the day in the first 4 value bytes).
class seen_retention : public rocksdb::CompactionFilter {
public:
  explicit seen_retention(const std::atomic<uint32_t>& floor) : floor_(floor) {
    // nop
  }

  bool Filter(int, const rocksdb::Slice&, const rocksdb::Slice& value, std::string*,
              bool*) const override {
    auto floor = floor_.load(std::memory_order_relaxed);
    return floor > 0 && value.size() >= 4 && keys::read_u32(value.data()) < floor;
  }

  const char* Name() const override {
    return "dispatch.seen_retention";
  }

private:
  const std::atomic<uint32_t>& floor_;
};

// Applies `seen_retention` when memtables are flushed too, so a let-go entry rarely reaches disk.
class seen_retention_factory : public rocksdb::CompactionFilterFactory {
public:
  explicit seen_retention_factory(const std::atomic<uint32_t>& floor) : floor_(floor) {
    // nop
  }

  bool ShouldFilterTableFileCreation(rocksdb::TableFileCreationReason reason) const override {
    return reason == rocksdb::TableFileCreationReason::kFlush
           || reason == rocksdb::TableFileCreationReason::kCompaction;
  }

  std::unique_ptr<rocksdb::CompactionFilter>
  CreateCompactionFilter(const rocksdb::CompactionFilter::Context&) override {
    return std::make_unique<seen_retention>(floor_);
  }

  const char* Name() const override {
    return "dispatch.seen_retention_factory";
  }

private:
  const std::atomic<uint32_t>& floor_;
};

// Per-family options: every family shares the block cache; point-looked-up families get a bloom
// filter; time-keyed queues compact away the tombstones their heads accumulate; `seen` drops
// what retention let go when it compacts, and is compacted at least daily for that.
rocksdb::ColumnFamilyOptions family_options(const std::string& name, detail::store_state& s) {
  rocksdb::ColumnFamilyOptions cf;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = s.block_cache;
  if (name == keys::seen_family || name == keys::delivery_index_family
      || name == keys::dispatchers_family || name == keys::history_family)
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  if (name == keys::deliveries_family || name == keys::inbox_family)
    cf.table_properties_collector_factories.emplace_back(
      rocksdb::NewCompactOnDeletionCollectorFactory(128, 64, 0.5));
  if (name == keys::seen_family) {
    cf.compaction_filter_factory = std::make_shared<seen_retention_factory>(s.seen_floor);
    cf.periodic_compaction_seconds = 86400;
  }
  return cf;
}

const std::vector<std::string>& family_names() {
  static const std::vector<std::string> names{
    rocksdb::kDefaultColumnFamilyName, keys::meta_family,         keys::dispatchers_family,
    keys::inbox_family,                keys::seen_family,         keys::deliveries_family,
    keys::delivery_index_family,       keys::dead_letters_family, keys::history_family,
    keys::log_family};
  return names;
}

// Opens the database with our families plus any others an existing directory already has.
caf::error open_families(detail::store_state& s, const rocksdb::DBOptions& db_opts) {
  const auto& dir = s.opts.data_dir;
  std::vector<std::string> names = family_names();
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_opts, dir, &existing).ok())
    for (auto& name : existing)
      if (std::find(names.begin(), names.end(), name) == names.end())
        names.push_back(name);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (auto& name : names)
    descriptors.emplace_back(name, family_options(name, s));
  rocksdb::DB* raw = nullptr;
  auto status = rocksdb::DB::Open(db_opts, dir, descriptors, &s.handles, &raw);
  if (!status.ok()) {
    if (status.IsIOError() && contains_nocase(status.ToString(), "lock"))
      return server_error("data directory " + dir + " is in use by another process");
    return to_error(status, "open data directory " + dir);
  }
  s.db.reset(raw);
  rocksdb::ColumnFamilyHandle** slots[] = {nullptr,         &s.meta,           &s.dispatchers,
                                           &s.inbox,        &s.seen,           &s.deliveries,
                                           &s.delivery_index, &s.dead_letters, &s.history,
                                           &s.log};
  for (size_t i = 1; i < family_names().size(); ++i)
    *slots[i] = s.handles[i];
  return caf::none;
}

std::string u32_value(uint32_t x) {
  std::string out;
  keys::append_u32(out, x);
  return out;
}

// Reads a u32 meta entry; `found` is false when absent.
caf::error read_meta(detail::store_state& s, const char* key, uint32_t& out, bool& found) {
  std::string value;
  auto status = s.db->Get(rocksdb::ReadOptions{}, s.meta, key, &value);
  found = status.ok();
  if (status.IsNotFound())
    return caf::none;
  if (!status.ok())
    return to_error(status, std::string{"read meta "} + key);
  if (value.size() != 4)
    return codec::corrupt_value(keys::meta_family, key, std::strlen(key),
                                "expected 4 bytes, found " + std::to_string(value.size()));
  out = keys::read_u32(value.data());
  return caf::none;
}

// A fresh directory gets its schema version and shard count; an existing one must match them.
caf::error check_meta(detail::store_state& s) {
  const auto& dir = s.opts.data_dir;
  uint32_t version = 0;
  bool found = false;
  if (auto err = read_meta(s, keys::schema_version_key, version, found))
    return err;
  if (!found) {
    rocksdb::WriteBatch batch;
    batch.Put(s.meta, keys::schema_version_key, u32_value(keys::schema_version));
    batch.Put(s.meta, keys::shard_count_key, u32_value(s.opts.shards));
    return s.write(batch, true, "initialize data directory " + dir);
  }
  if (version != keys::schema_version)
    return server_error("data directory " + dir + " has schema version " + std::to_string(version)
                        + "; this build reads " + std::to_string(keys::schema_version));
  uint32_t shards = 0;
  if (auto err = read_meta(s, keys::shard_count_key, shards, found))
    return err;
  if (!found)
    return server_error("data directory " + dir + " has no shard count in its meta family");
  if (shards != s.opts.shards)
    return server_error("data directory " + dir + " was created with " + std::to_string(shards)
                        + " shards; this configuration asks for "
                        + std::to_string(s.opts.shards));
  uint32_t floor = 0;
  if (auto err = read_meta(s, keys::seen_floor_key, floor, found))
    return err;
  s.seen_floor = found ? floor : 0;
  return caf::none;
}

void count_entries(detail::store_state& s) {
  s.inbox_counts.reset(new std::atomic<uint64_t>[s.opts.shards]);
  for (uint32_t shard = 0; shard < s.opts.shards; ++shard)
    s.inbox_counts[shard] = s.count_range(s.inbox, keys::inbox_prefix(shard),
                                          keys::inbox_prefix(shard + 1));
  for (auto kind : {action_kind::task, action_kind::mail}) {
    s.waiting_counts[index_of(kind)] = s.count_range(s.deliveries, keys::kind_prefix(kind),
                                                     keys::next_kind_prefix(kind));
    s.head_due[index_of(kind)] = std::numeric_limits<timestamp_ms>::min();
  }
}

} // namespace

// -- impl -----------------------------------------------------------------------------------------

detail::store_state::~store_state() {
  if (!db)
    return;
  for (auto* handle : handles)
    db->DestroyColumnFamilyHandle(handle);
  db->Close();
  db.reset();
}

caf::error detail::store_state::write(rocksdb::WriteBatch& batch, bool sync,
                              const std::string& operation) {
  if (write_failed.load()) {
    std::lock_guard<std::mutex> guard{resume_mutex};
    if (write_failed.load()) {
      // RocksDB 7.8's Resume() flushes the memtables and never returns when that flush cannot
      // be written: resume only once the volume has room for them.
      if (!room_to_resume())
        return server_error("store: " + operation
                            + ": no space left on the storage device (writing resumes once "
                              "there is room again)");
      auto resumed = db->Resume();
      if (!resumed.ok())
        return to_error(resumed, operation + " (resuming after a failed write)");
      write_failed = false;
    }
  }
  rocksdb::WriteOptions options;
  options.sync = sync;
  auto status = db->Write(options, &batch);
  if (!status.ok()) {
    write_failed = true;
    return to_error(status, operation);
  }
  return caf::none;
}

caf::error sync_wal(rocksdb::DB& db, const std::string& operation) {
  auto status = db.SyncWAL();
  return status.ok() ? caf::none : to_error(status, operation + " (syncing the write-ahead log)");
}

caf::error detail::store_state::sync_wal(const std::string& operation) {
  if (opts.in_memory) // the in-memory Env has nothing to sync (nor SyncWAL)
    return caf::none;
  auto err = dispatch::sync_wal(*db, operation);
  if (err)
    write_failed = true;
  return err;
}

bool detail::store_state::room_to_resume() const {
  if (opts.in_memory)
    return true;
  struct statvfs fs;
  if (statvfs(opts.data_dir.c_str(), &fs) != 0)
    return false;
  auto free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  uint64_t memtables = 0;
  db->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &memtables);
  return free_bytes >= memtables + (1ull << 20);
}

uint64_t detail::store_state::count_range(rocksdb::ColumnFamilyHandle* family,
                                          const std::string& lower,
                                          const std::string& upper) const {
  rocksdb::Slice lower_bound{lower};
  rocksdb::Slice upper_bound{upper};
  rocksdb::ReadOptions options;
  options.iterate_lower_bound = &lower_bound;
  options.iterate_upper_bound = &upper_bound;
  options.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it{db->NewIterator(options, family)};
  uint64_t n = 0;
  for (it->Seek(lower_bound); it->Valid(); it->Next())
    ++n;
  return n;
}

stderr_logger::stderr_logger(std::string prefix)
  : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL), prefix_(std::move(prefix)) {
  // nop
}

void stderr_logger::Logv(const char* format, va_list ap) {
  char line[1024];
  std::vsnprintf(line, sizeof(line), format, ap);
  std::fprintf(stderr, "%s: %s\n", prefix_.c_str(), line);
}

caf::error to_error(const rocksdb::Status& status, const std::string& operation) {
  // RocksDB's text names files of the data directory: it goes to the operator's log (at most one
  // line a second, a full disk fails every write), and the error that may reach a client keeps
  // only its kind.
  auto text = status.ToString();
  static std::atomic<int64_t> last_logged{0};
  auto now = now_ms();
  auto previous = last_logged.load(std::memory_order_relaxed);
  if (now - previous >= 1000 && last_logged.compare_exchange_strong(previous, now))
    std::fprintf(stderr, "store: %s failed: %s\n", operation.c_str(), text.c_str());
  if (status.IsNoSpace() || contains_nocase(text, "no space"))
    return server_error("store: " + operation + ": no space left on the storage device");
  return server_error("store: " + operation + " failed: " + text.substr(0, text.find(':')));
}

uint32_t day_of(timestamp_ms t) {
  return t <= 0 ? 0 : static_cast<uint32_t>(t / ms_per_day);
}

// -- open -----------------------------------------------------------------------------------------

store::store(std::unique_ptr<impl> p) : impl_(std::move(p)) {
  // nop
}

store::~store() = default;

namespace {

/// Turns RocksDB's own recovery from a full disk off: it waits for as much free space as all write
/// buffers together, which a small volume may never have. The store resumes the database itself on
/// the next write instead (`store_state::write`).
class manual_recovery : public rocksdb::EventListener {
public:
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status bg_error,
                            bool* auto_recovery) override {
    bg_error.PermitUncheckedError();
    *auto_recovery = false;
  }
};

} // namespace

caf::expected<std::shared_ptr<store>> store::open(const store_options& opts) {
  if (opts.shards == 0)
    return server_error("store.shards: must be at least 1");
  if (opts.data_dir.empty())
    return server_error("store.data_dir: must not be empty");
  auto s = std::make_unique<impl>();
  s->opts = opts;
  rocksdb::DBOptions db_opts;
  db_opts.create_if_missing = true;
  // The leader of a write group inserts every batch of the group itself: with concurrent memtable
  // writes it would wake each writer to insert its own, a futex wake-up per writer per group
  // (costly on a VM) for batches that are small anyway. Sequential inserts also reuse the
  // skiplist's splice, which suits the time- and sequence-ordered families.
  // dispatch-bench standard-sync: 11-25% more events/s, 10-20% less CPU per event.
  db_opts.allow_concurrent_memtable_write = false;
  db_opts.create_missing_column_families = true;
  db_opts.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_opts.info_log = std::make_shared<stderr_logger>("rocksdb");
  db_opts.max_total_wal_size = std::max<uint64_t>(opts.write_buffer_bytes * 4, 64ull << 20);
  db_opts.listeners.push_back(std::make_shared<manual_recovery>());
  if (opts.in_memory) {
    s->mem_env.reset(rocksdb::NewMemEnv(rocksdb::Env::Default()));
    db_opts.env = s->mem_env.get();
  } else {
    std::error_code ec;
    std::filesystem::create_directories(opts.data_dir, ec);
    if (ec)
      return server_error("cannot create data directory " + opts.data_dir + ": " + ec.message());
  }
  s->block_cache = rocksdb::NewLRUCache(opts.block_cache_bytes);
  s->write_buffers = std::make_shared<rocksdb::WriteBufferManager>(opts.write_buffer_bytes);
  db_opts.write_buffer_manager = s->write_buffers;
  if (auto err = open_families(*s, db_opts))
    return err;
  if (auto err = check_meta(*s))
    return err;
  count_entries(*s);
  return std::shared_ptr<store>{new store(std::move(s))};
}

uint32_t store::shards() const {
  return impl_->opts.shards;
}

const store_options& store::options() const {
  return impl_->opts;
}

// -- dispatchers ----------------------------------------------------------------------------------

caf::error store::write_dispatchers(const std::vector<dispatcher>& put,
                                    const std::vector<std::string>& erase) {
  rocksdb::WriteBatch batch;
  std::string value;
  for (auto& id : erase)
    batch.Delete(impl_->dispatchers, id);
  for (auto& x : put) {
    if (auto err = codec::encode(value, x))
      return err;
    batch.Put(impl_->dispatchers, x.id, value);
  }
  return impl_->write(batch, false, "write dispatchers");
}

caf::expected<std::vector<dispatcher>> store::load_dispatchers() const {
  std::vector<dispatcher> result;
  std::unique_ptr<rocksdb::Iterator> it{
    impl_->db->NewIterator(rocksdb::ReadOptions{}, impl_->dispatchers)};
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    dispatcher x;
    auto key = it->key();
    auto value = it->value();
    if (auto err = codec::decode(keys::dispatchers_family, key.data(), key.size(), value.data(),
                                 value.size(), x))
      return err;
    result.push_back(std::move(x));
  }
  if (!it->status().ok())
    return to_error(it->status(), "load dispatchers");
  return result;
}

// -- ingest ---------------------------------------------------------------------------------------

caf::expected<std::vector<caf::optional<event>>>
store::find_seen(const std::vector<std::string>& ids, uint32_t days, timestamp_ms now) const {
  std::vector<caf::optional<event>> result(ids.size());
  auto today = day_of(now);
  days = std::min(days, today + 1); // never reach below day 0
  if (ids.empty() || days == 0)
    return result;
  // One key per id; the day in its value says whether it is inside the window (and not yet let
  // go by retention, whose compactions may not have run).
  auto first_day = std::max(today + 1 - days, impl_->seen_floor.load());
  std::vector<rocksdb::Slice> slices(ids.begin(), ids.end());
  std::vector<rocksdb::PinnableSlice> values(slices.size());
  std::vector<rocksdb::Status> statuses(slices.size());
  impl_->db->MultiGet(rocksdb::ReadOptions{}, impl_->seen, slices.size(), slices.data(),
                      values.data(), statuses.data());
  for (size_t i = 0; i < slices.size(); ++i) {
    if (statuses[i].IsNotFound())
      continue;
    if (!statuses[i].ok())
      return to_error(statuses[i], "look up seen events");
    auto& value = values[i];
    if (value.size() < 4)
      return codec::corrupt_value(keys::seen_family, ids[i].data(), ids[i].size(),
                                  "value shorter than its day");
    if (keys::read_u32(value.data()) < first_day)
      continue;
    event x;
    if (auto err = codec::decode(keys::seen_family, ids[i].data(), ids[i].size(),
                                 value.data() + 4, value.size() - 4, x))
      return err;
    result[i] = std::move(x);
  }
  return result;
}

caf::error store::accept_events(const std::vector<accepted_event>& events, timestamp_ms now) {
  if (events.empty())
    return caf::none;
  rocksdb::WriteBatch batch;
  std::string value;
  std::string seen_value;
  auto today = day_of(now);
  std::vector<uint64_t> added(impl_->opts.shards, 0);
  for (auto& accepted : events) {
    if (accepted.shard >= impl_->opts.shards)
      return server_error("store: accept events: shard " + std::to_string(accepted.shard)
                          + " out of range (" + std::to_string(impl_->opts.shards) + " shards)");
    auto& x = accepted.event;
    if (auto err = codec::encode(value, x))
      return err;
    seen_value.clear();
    keys::append_u32(seen_value, today);
    seen_value += value;
    batch.Put(impl_->seen, x.id, seen_value);
    batch.Put(impl_->inbox, keys::inbox_key(accepted.shard, accepted.sequence), value);
    ++added[accepted.shard];
  }
  // Written unsynced, then the WAL synced on its own: RocksDB's write queue is not held during
  // the fsync, so the matchers' and emitters' (unsynced) writes do not wait behind it. Nothing is
  // acknowledged or routed before the sync returns, and the WAL is ordered: a write that follows
  // this batch cannot outlive it in a crash.
  if (auto err = impl_->write(batch, false, "accept events"))
    return err;
  if (impl_->opts.sync) {
    if (auto err = impl_->sync_wal("accept events")) {
      // Visible but not durable: take the batch back (best effort), so that a rescan does not
      // match events whose publishers were told nothing was accepted.
      rocksdb::WriteBatch undo;
      for (auto& accepted : events) {
        undo.Delete(impl_->seen, accepted.event.id);
        undo.Delete(impl_->inbox, keys::inbox_key(accepted.shard, accepted.sequence));
      }
      impl_->db->Write(rocksdb::WriteOptions{}, &undo);
      return err;
    }
  }
  for (uint32_t shard = 0; shard < impl_->opts.shards; ++shard)
    impl_->inbox_counts[shard] += added[shard];
  return caf::none;
}

uint64_t store::last_inbox_sequence() const {
  uint64_t result = 0;
  for (uint32_t shard = 0; shard < impl_->opts.shards; ++shard) {
    auto lower = keys::inbox_prefix(shard);
    auto upper = keys::inbox_prefix(shard + 1);
    rocksdb::Slice lower_bound{lower};
    rocksdb::Slice upper_bound{upper};
    rocksdb::ReadOptions options;
    options.iterate_lower_bound = &lower_bound;
    options.iterate_upper_bound = &upper_bound;
    std::unique_ptr<rocksdb::Iterator> it{impl_->db->NewIterator(options, impl_->inbox)};
    it->SeekToLast();
    if (it->Valid() && it->key().size() == 12)
      result = std::max(result, keys::read_u64(it->key().data() + 4));
  }
  return result;
}

caf::expected<inbox_event_list> store::scan_inbox(uint32_t shard, uint64_t after,
                                                  size_t limit) const {
  inbox_event_list result;
  if (after == std::numeric_limits<uint64_t>::max() || limit == 0)
    return result;
  auto lower = keys::inbox_key(shard, after + 1);
  auto upper = keys::inbox_prefix(shard + 1);
  rocksdb::Slice lower_bound{lower};
  rocksdb::Slice upper_bound{upper};
  rocksdb::ReadOptions options;
  options.iterate_lower_bound = &lower_bound;
  options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it{impl_->db->NewIterator(options, impl_->inbox)};
  for (it->Seek(lower_bound); it->Valid() && result.size() < limit; it->Next()) {
    auto key = it->key();
    auto value = it->value();
    if (key.size() != 12)
      return codec::corrupt_value(keys::inbox_family, key.data(), key.size(), "malformed key");
    inbox_event entry;
    entry.sequence = keys::read_u64(key.data() + 4);
    if (auto err = codec::decode(keys::inbox_family, key.data(), key.size(), value.data(),
                                 value.size(), entry.event))
      return err;
    result.push_back(std::move(entry));
  }
  if (!it->status().ok())
    return to_error(it->status(), "scan inbox shard " + std::to_string(shard));
  return result;
}

uint64_t store::inbox_size(uint32_t shard) const {
  return shard < impl_->opts.shards ? impl_->inbox_counts[shard].load() : 0;
}

} // namespace dispatch
