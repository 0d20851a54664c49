// The cluster node's own RocksDB database, beside the engine's: its identity, the forward queue
// (events waiting for the node that owns their shard) and the replicated dispatcher log.
#include "persistence/cluster_store.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>

#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/table_properties_collectors.h>

#include "messages/error_code.hpp"
#include "persistence/backup_impl.hpp"
#include "persistence/codec.hpp"
#include "persistence/key_range.hpp"
#include "persistence/keys.hpp"
#include "persistence/store_impl.hpp"

namespace dispatch {

namespace {

// Column families rather than key prefixes in one: the forward queue is written and range-deleted
// at a high rate and the log is read in order, so each gets its own memtables, files and options,
// and a scan of one never walks the other's tombstones.
constexpr const char* meta_family = "meta";           // identity, versions, sequence marks
constexpr const char* forward_family = "forward";     // owner(4) · sequence(8) -> event
constexpr const char* log_family = "log";             // version(8) -> log_entry
constexpr const char* log_index_family = "log_index"; // dispatcher id -> version(8)

constexpr const char* schema_version_key = "schema_version";   // u32
constexpr const char* node_key = "node";                       // u32
constexpr const char* shards_key = "shards";                   // u32
constexpr const char* last_version_key = "last_version";       // u64
constexpr const char* applied_version_key = "applied_version"; // u64
constexpr const char* sequence_mark_prefix = "sequence/";      // · owner(4) -> u64
constexpr uint32_t schema_version = 1;

// An in-memory database still needs a name inside its private Env.
constexpr const char* in_memory_path = "/dispatch-cluster";

caf::error cluster_error(std::string message) {
  return make_error(error_code::server, "cluster store: " + std::move(message));
}

std::string u32_value(uint32_t x) {
  std::string out;
  keys::append_u32(out, x);
  return out;
}

std::string u64_value(uint64_t x) {
  std::string out;
  keys::append_u64(out, x);
  return out;
}

std::string queue_key(uint32_t owner, uint64_t sequence) {
  std::string out;
  keys::append_u32(out, owner);
  keys::append_u64(out, sequence);
  return out;
}

// Exclusive upper bound of the keys of `owner` up to `last`: the key itself plus a zero byte sorts
// after it and before the next key (and needs no `owner + 1`, which would wrap).
std::string queue_key_after(uint32_t owner, uint64_t last) {
  auto out = queue_key(owner, last);
  out.push_back('\0');
  return out;
}

std::string sequence_mark_key(uint32_t owner) {
  std::string out = sequence_mark_prefix;
  keys::append_u32(out, owner);
  return out;
}

bool contains_lock(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text.find("lock") != std::string::npos;
}

rocksdb::ColumnFamilyOptions family_options(const std::string& name,
                                            const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = 4 << 20; // a small side database: keep its memtables small
  cf.max_write_buffer_number = 2;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  if (name == log_index_family || name == meta_family)
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // The log loses superseded entries, and the forward queue its retired head, one point delete
  // at a time: compact the files they crowd.
  if (name == log_family || name == forward_family)
    cf.table_properties_collector_factories.emplace_back(
      rocksdb::NewCompactOnDeletionCollectorFactory(128, 64, 0.5));
  return cf;
}

} // namespace

// -- state ----------------------------------------------------------------------------------------

struct cluster_store::impl {
  cluster_store_options opts;
  std::string path; // the directory, or a name inside the in-memory Env
  // Declared first so it is destroyed last: the database runs on it until closed.
  std::unique_ptr<rocksdb::Env> mem_env;
  std::shared_ptr<rocksdb::Cache> block_cache;
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::ColumnFamilyHandle* meta = nullptr;
  rocksdb::ColumnFamilyHandle* forward = nullptr;
  rocksdb::ColumnFamilyHandle* log = nullptr;
  rocksdb::ColumnFamilyHandle* log_index = nullptr;

  // Sequence assignment and the depth counters change with the write that makes them true; retire
  // counts what it deletes under the same lock, so no enqueue slips between count and delete.
  mutable std::mutex queue_mutex;
  std::map<uint32_t, uint64_t> last_sequence; // per owner, the highest ever assigned
  std::map<uint32_t, uint64_t> depths;        // per owner with a non-empty queue

  // `append` reads the index and assigns a version before writing: one step under this lock.
  std::mutex log_mutex;
  std::atomic<uint64_t> last_version{0};
  std::atomic<uint64_t> applied_version{0};

  ~impl() {
    if (!db) return;
    for (auto* handle : handles) db->DestroyColumnFamilyHandle(handle);
    db->Close();
    db.reset();
  }

  caf::error write(rocksdb::WriteBatch& batch, bool sync, const char* operation) {
    rocksdb::WriteOptions options;
    options.sync = sync;
    auto status = db->Write(options, &batch);
    return status.ok() ? caf::none : to_error(status, std::string{"cluster "} + operation);
  }

  caf::error sync_wal(const char* operation) {
    if (!opts.sync || opts.in_memory) // the in-memory Env has nothing to sync (nor SyncWAL)
      return caf::none;
    return dispatch::sync_wal(*db, std::string{"cluster "} + operation);
  }

  caf::error read_meta(const std::string& key, size_t width, uint64_t& out, bool& found);
  caf::error delete_present(rocksdb::ColumnFamilyHandle* family, const std::string& lower,
                            const std::string& upper, rocksdb::WriteBatch& batch,
                            uint64_t& n) const;
  caf::error open_families(const rocksdb::DBOptions& db_opts);
  caf::error check_identity();
  caf::error recover();
};

caf::error cluster_store::impl::read_meta(const std::string& key, size_t width, uint64_t& out,
                                          bool& found) {
  std::string value;
  auto status = db->Get(rocksdb::ReadOptions{}, meta, key, &value);
  found = status.ok();
  if (status.IsNotFound()) return caf::none;
  if (!status.ok()) return to_error(status, "cluster read meta");
  if (value.size() != width)
    return codec::corrupt_value(meta_family, key.data(), key.size(),
                                "expected " + std::to_string(width) + " bytes, found "
                                  + std::to_string(value.size()));
  out = width == 4 ? keys::read_u32(value.data()) : keys::read_u64(value.data());
  return caf::none;
}

// Adds a point delete of every key present in [lower, upper) of a family to `batch`; `n` says
// how many. (Not DeleteRange: RocksDB 7.8 fragments every range tombstone of a memtable again for
// each new iterator, so a queue retired range by range makes every later read slower.)
caf::error cluster_store::impl::delete_present(rocksdb::ColumnFamilyHandle* family,
                                               const std::string& lower, const std::string& upper,
                                               rocksdb::WriteBatch& batch, uint64_t& n) const {
  detail::range_iterator it{*db, family, lower, upper, false};
  n = 0;
  for (it.seek_first(); it->Valid(); it->Next(), ++n) batch.Delete(family, it->key());
  return it->status().ok() ? caf::none : to_error(it->status(), "cluster read forward queue");
}

// Opens our families plus any others an existing directory already has (RocksDB refuses to open a
// database without naming all of them).
caf::error cluster_store::impl::open_families(const rocksdb::DBOptions& db_opts) {
  std::vector<std::string> names{rocksdb::kDefaultColumnFamilyName, meta_family, forward_family,
                                 log_family, log_index_family};
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_opts, path, &existing).ok())
    for (auto& name : existing)
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (auto& name : names) descriptors.emplace_back(name, family_options(name, block_cache));
  rocksdb::DB* raw = nullptr;
  auto status = rocksdb::DB::Open(db_opts, path, descriptors, &handles, &raw);
  if (!status.ok()) {
    if (status.IsIOError() && contains_lock(status.ToString()))
      return cluster_error("the cluster data directory is held by another process");
    return to_error(status, "cluster open data directory");
  }
  db.reset(raw);
  meta = handles[1];
  forward = handles[2];
  log = handles[3];
  log_index = handles[4];
  return caf::none;
}

// A fresh directory takes this node's id and shard count; an existing one must have been made by
// the same node with the same shard count (a copied or misconfigured directory would forward
// events to the wrong nodes).
caf::error cluster_store::impl::check_identity() {
  uint64_t value = 0;
  bool found = false;
  if (auto err = read_meta(node_key, 4, value, found)) return err;
  if (!found) {
    rocksdb::WriteBatch batch;
    batch.Put(meta, schema_version_key, u32_value(schema_version));
    batch.Put(meta, node_key, u32_value(opts.node));
    batch.Put(meta, shards_key, u32_value(opts.shards));
    return write(batch, true, "initialize data directory");
  }
  if (value != opts.node)
    return cluster_error("cluster data directory belongs to node " + std::to_string(value)
                         + ", this is node " + std::to_string(opts.node));
  if (auto err = read_meta(shards_key, 4, value, found)) return err;
  if (!found) return cluster_error("cluster data directory has no shard count");
  if (value != opts.shards)
    return cluster_error("cluster data directory was made with " + std::to_string(value)
                         + " shards, the engine has " + std::to_string(opts.shards));
  if (auto err = read_meta(schema_version_key, 4, value, found)) return err;
  if (found && value != schema_version)
    return cluster_error("cluster data directory has schema version " + std::to_string(value)
                         + ", this build reads " + std::to_string(schema_version));
  return caf::none;
}

// Versions from meta; per owner, the depth (one scan of the queue) and the last sequence (the
// persisted mark, or the last key when higher): sequences never repeat, even after a drained
// queue, so an owner can never mistake a new event for one it acknowledged.
caf::error cluster_store::impl::recover() {
  uint64_t value = 0;
  bool found = false;
  if (auto err = read_meta(last_version_key, 8, value, found)) return err;
  last_version = found ? value : 0;
  if (auto err = read_meta(applied_version_key, 8, value, found)) return err;
  applied_version = found ? value : 0;
  rocksdb::ReadOptions options;
  options.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it{db->NewIterator(options, forward)};
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto key = it->key();
    if (key.size() != 12)
      return codec::corrupt_value(forward_family, key.data(), key.size(), "malformed key");
    auto owner = keys::read_u32(key.data());
    ++depths[owner];
    auto& last = last_sequence[owner];
    last = std::max(last, keys::read_u64(key.data() + 4));
  }
  if (!it->status().ok()) return to_error(it->status(), "cluster recover forward queue");
  it.reset(db->NewIterator(options, meta));
  rocksdb::Slice prefix{sequence_mark_prefix};
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto key = it->key();
    if (key.size() != prefix.size() + 4 || it->value().size() != 8)
      return codec::corrupt_value(meta_family, key.data(), key.size(), "malformed sequence mark");
    auto& last = last_sequence[keys::read_u32(key.data() + prefix.size())];
    last = std::max(last, keys::read_u64(it->value().data()));
  }
  if (!it->status().ok()) return to_error(it->status(), "cluster recover sequences");
  return caf::none;
}

// -- open -----------------------------------------------------------------------------------------

cluster_store::cluster_store(std::unique_ptr<impl> p) : impl_(std::move(p)) {
  // nop
}

cluster_store::~cluster_store() = default;

caf::expected<std::shared_ptr<cluster_store>>
cluster_store::open(const cluster_store_options& opts) {
  if (opts.node == 0) return cluster_error("node: must be at least 1");
  if (opts.shards == 0) return cluster_error("shards: must be at least 1");
  if (!opts.in_memory && opts.dir.empty()) return cluster_error("dir: must not be empty");
  auto s = std::make_unique<impl>();
  s->opts = opts;
  s->path = opts.in_memory ? in_memory_path : opts.dir;
  rocksdb::DBOptions db_opts;
  db_opts.create_if_missing = true;
  db_opts.max_open_files
    = 64; // a small queue: few tables, and descriptors are budgeted (dispatchd)
  db_opts.allow_concurrent_memtable_write = false; // as in the engine's store (store.cpp)
  db_opts.create_missing_column_families = true;
  db_opts.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_opts.info_log = std::make_shared<rocksdb_log>("cluster store: ");
  // Rarely written families (meta, log) would otherwise pin old WAL files behind the queue.
  db_opts.max_total_wal_size = 32 << 20;
  db_opts.keep_log_file_num = 2;
  if (opts.in_memory) {
    s->mem_env.reset(rocksdb::NewMemEnv(rocksdb::Env::Default()));
    db_opts.env = s->mem_env.get();
  } else {
    std::error_code ec;
    std::filesystem::create_directories(opts.dir, ec);
    if (ec) return cluster_error("cannot create the cluster data directory: " + ec.message());
  }
  s->block_cache = rocksdb::NewLRUCache(8 << 20);
  if (auto err = s->open_families(db_opts)) return err;
  if (auto err = s->check_identity()) return err;
  if (auto err = s->recover()) return err;
  return std::shared_ptr<cluster_store>{new cluster_store(std::move(s))};
}

// -- forward queue --------------------------------------------------------------------------------

caf::expected<std::vector<uint64_t>> cluster_store::enqueue(uint32_t owner,
                                                            const event_list& events) {
  auto sequences = append(owner, events);
  if (!sequences || sequences->empty()) return sequences;
  if (auto err = sync()) {
    // Not durable: take the events back (best effort) before the caller answers its error.
    retire(owner, sequences->front(), sequences->back());
    return err;
  }
  return sequences;
}

caf::expected<std::vector<uint64_t>> cluster_store::append(uint32_t owner,
                                                           const event_list& events) {
  std::vector<uint64_t> sequences;
  if (events.empty()) return sequences;
  // Encoded before taking the lock: only key assignment and the write are serialized.
  std::vector<std::string> values(events.size());
  for (size_t i = 0; i < events.size(); ++i)
    if (auto err = codec::encode(values[i], events[i])) return err;
  auto& s = *impl_;
  // Unsynced under the lock (keys are assigned in order); the sync comes after it, so the
  // forwarders' retires and the stats do not wait for the fsync.
  std::lock_guard<std::mutex> guard{s.queue_mutex};
  auto found = s.last_sequence.find(owner);
  auto next = found == s.last_sequence.end() ? 0 : found->second;
  rocksdb::WriteBatch batch;
  sequences.reserve(events.size());
  for (auto& value : values) {
    ++next;
    batch.Put(s.forward, queue_key(owner, next), value);
    sequences.push_back(next);
  }
  batch.Put(s.meta, sequence_mark_key(owner), u64_value(next));
  if (auto err = s.write(batch, false, "enqueue")) return err;
  s.last_sequence[owner] = next;
  s.depths[owner] += events.size();
  return sequences;
}

caf::error cluster_store::sync() {
  return impl_->sync_wal("enqueue");
}

caf::expected<queued_event_list> cluster_store::peek(uint32_t owner, uint64_t after, size_t max) {
  queued_event_list result;
  if (after == std::numeric_limits<uint64_t>::max() || max == 0) return result;
  detail::range_iterator it{*impl_->db, impl_->forward, queue_key(owner, after + 1),
                            queue_key_after(owner, std::numeric_limits<uint64_t>::max())};
  for (it.seek_first(); it->Valid() && result.size() < max; it->Next()) {
    auto key = it->key();
    auto value = it->value();
    if (key.size() != 12)
      return codec::corrupt_value(forward_family, key.data(), key.size(), "malformed key");
    queued_event entry;
    entry.sequence = keys::read_u64(key.data() + 4);
    if (auto err = codec::decode(forward_family, key.data(), key.size(), value.data(), value.size(),
                                 entry.event))
      return err;
    result.push_back(std::move(entry));
  }
  if (!it->status().ok()) return to_error(it->status(), "cluster peek forward queue");
  return result;
}

caf::error cluster_store::retire(uint32_t owner, uint64_t first, uint64_t last) {
  if (first > last) return caf::none;
  auto& s = *impl_;
  auto lower = queue_key(owner, first);
  auto upper = queue_key_after(owner, last);
  std::lock_guard<std::mutex> guard{s.queue_mutex};
  // Only the keys actually present lower the depth: a range retired twice, or one with gaps,
  // leaves the counter exact.
  rocksdb::WriteBatch batch;
  uint64_t present = 0;
  if (auto err = s.delete_present(s.forward, lower, upper, batch, present)) return err;
  if (present == 0) return caf::none;
  // Not synced: a retire lost in a crash only forwards those events again, and the owner answers
  // them as duplicates (it dedups on event ids). The next synced enqueue makes it durable anyway.
  if (auto err = s.write(batch, false, "retire")) return err;
  auto& depth = s.depths[owner];
  depth -= std::min(depth, present);
  if (depth == 0) s.depths.erase(owner);
  return caf::none;
}

uint64_t cluster_store::depth(uint32_t owner) const {
  std::lock_guard<std::mutex> guard{impl_->queue_mutex};
  auto found = impl_->depths.find(owner);
  return found == impl_->depths.end() ? 0 : found->second;
}

std::vector<uint32_t> cluster_store::owners_waiting() const {
  std::lock_guard<std::mutex> guard{impl_->queue_mutex};
  std::vector<uint32_t> result;
  for (auto& [owner, depth] : impl_->depths)
    if (depth > 0) result.push_back(owner);
  return result;
}

// -- dispatcher log -------------------------------------------------------------------------------

caf::expected<uint64_t> cluster_store::append(log_entry entry) {
  if (entry.id.empty()) return cluster_error("append: id: the entry names no dispatcher");
  auto& s = *impl_;
  std::lock_guard<std::mutex> guard{s.log_mutex};
  auto version = s.last_version.load() + 1;
  entry.version = version;
  std::string value;
  if (auto err = codec::encode_log_entry(value, entry)) return err;
  rocksdb::WriteBatch batch;
  std::string previous;
  auto status = s.db->Get(rocksdb::ReadOptions{}, s.log_index, entry.id, &previous);
  if (status.ok()) {
    if (previous.size() != 8)
      return codec::corrupt_value(log_index_family, entry.id.data(), entry.id.size(),
                                  "expected 8 bytes, found " + std::to_string(previous.size()));
    batch.Delete(s.log, previous);
  } else if (!status.IsNotFound()) {
    return to_error(status, "cluster log index lookup");
  }
  auto key = u64_value(version);
  batch.Put(s.log, key, value);
  batch.Put(s.log_index, entry.id, key);
  batch.Put(s.meta, last_version_key, key);
  if (auto err = s.write(batch, s.opts.sync, "log append")) return err;
  s.last_version = version;
  return version;
}

caf::expected<log_entry_list> cluster_store::entries_after(uint64_t version, size_t max) {
  log_entry_list result;
  if (version == std::numeric_limits<uint64_t>::max() || max == 0) return result;
  detail::range_iterator it{*impl_->db, impl_->log, u64_value(version + 1), {}};
  for (it.seek_first(); it->Valid() && result.size() < max; it->Next()) {
    auto key = it->key();
    auto value = it->value();
    if (key.size() != 8)
      return codec::corrupt_value(log_family, key.data(), key.size(), "malformed key");
    log_entry entry;
    if (auto err = codec::decode_log_entry(log_family, key.data(), key.size(), value.data(),
                                           value.size(), entry))
      return err;
    result.push_back(std::move(entry));
  }
  if (!it->status().ok()) return to_error(it->status(), "cluster read log");
  return result;
}

uint64_t cluster_store::last_version() const {
  return impl_->last_version.load();
}

uint64_t cluster_store::applied_version() const {
  return impl_->applied_version.load();
}

caf::error cluster_store::set_applied_version(uint64_t version) {
  // Under the log lock so that concurrent calls leave disk and memory with the same value.
  std::lock_guard<std::mutex> guard{impl_->log_mutex};
  rocksdb::WriteBatch batch;
  batch.Put(impl_->meta, applied_version_key, u64_value(version));
  // Not synced: a lost update only makes the follower apply those entries again, and applying a
  // put or a drop twice leaves the same directory.
  if (auto err = impl_->write(batch, false, "set applied version")) return err;
  impl_->applied_version = version;
  return caf::none;
}

// -- backups --------------------------------------------------------------------------------------

caf::expected<backup_part> cluster_store::backup(const std::string& dir,
                                                 backup_progress& progress) {
  if (impl_->opts.in_memory)
    return make_error(error_code::conflict,
                      "backups need a data directory: this cluster store is in memory");
  return backup_database(
    *impl_->db, "cluster", dir, progress, [&progress] { return progress.stop.load(); },
    read_cluster_copy);
}

uint64_t cluster_store::live_bytes() const {
  return impl_->opts.in_memory ? 0 : dispatch::live_bytes(*impl_->db);
}

caf::error read_cluster_copy(const read_only_database& copy, backup_part& out) {
  auto handle = copy.family(meta_family);
  if (handle == nullptr) return cluster_error("the copy has no meta family");
  for (auto [key, slot] : {std::pair{node_key, &out.node}, std::pair{shards_key, &out.shards},
                           std::pair{schema_version_key, &out.schema}}) {
    std::string value;
    auto status = copy.db->Get(rocksdb::ReadOptions{}, handle, key, &value);
    if (!status.ok() || value.size() != 4)
      return cluster_error(std::string{"the copy has no "} + key + " in its meta family");
    *slot = keys::read_u32(value.data());
  }
  return caf::none;
}

} // namespace dispatch
