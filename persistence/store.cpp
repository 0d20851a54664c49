// The RocksDB store, ingest side: opening (families, options, meta checks), dispatchers and their
// versions, the event log, `seen` and the emitters' progress. Deliveries: store_deliveries.cpp;
// migration from schema 2: store_migration.cpp; log sink, retention, health: store_log.cpp.
#include "persistence/store.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>
#include <unordered_map>

#include <signal.h>
#include <sys/statvfs.h>

#include <rocksdb/compaction_filter.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/table_properties_collectors.h>

#include "logging/log.hpp"
#include "messages/derive.hpp"
#include "messages/error_code.hpp"
#include "messages/ids.hpp"
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

// What a `day_floor_filter` drops once its day is before the floor: any entry (`seen`), any
// index entry but a waiting delivery's (which has no day), or only those of finished deliveries
// (`record_times`: a dead letter outlives history, and is listed for as long as it is kept).
enum class floor_rule { any, not_waiting, finished };

// Drops entries whose day (4 bytes at `day_offset` of the value) is before a floor: `seen`
// entries accepted before the seen floor, and index and record-time entries of deliveries
// finished before the history floor.
class day_floor_filter : public rocksdb::CompactionFilter {
public:
  day_floor_filter(const std::atomic<uint32_t>& floor, size_t day_offset, floor_rule rule)
      : floor_(floor), day_offset_(day_offset), rule_(rule) {
    // nop
  }

  bool Filter(int, const rocksdb::Slice&, const rocksdb::Slice& value, std::string*,
              bool*) const override {
    auto floor = floor_.load(std::memory_order_relaxed);
    if (floor == 0 || value.size() < day_offset_ + 4) return false;
    auto place = static_cast<uint8_t>(value[0]);
    if (rule_ == floor_rule::not_waiting && place == static_cast<uint8_t>(record_place::waiting))
      return false;
    if (rule_ == floor_rule::finished && place != static_cast<uint8_t>(record_place::finished))
      return false;
    return keys::read_u32(value.data() + day_offset_) < floor;
  }

  const char* Name() const override { return "dispatch.day_floor"; }

private:
  const std::atomic<uint32_t>& floor_;
  size_t day_offset_;
  floor_rule rule_;
};

// Applies `day_floor_filter` when memtables are flushed too, so a let-go entry rarely reaches disk.
class day_floor_factory : public rocksdb::CompactionFilterFactory {
public:
  day_floor_factory(const std::atomic<uint32_t>& floor, size_t day_offset, floor_rule rule)
      : floor_(floor), day_offset_(day_offset), rule_(rule) {
    // nop
  }

  bool ShouldFilterTableFileCreation(rocksdb::TableFileCreationReason reason) const override {
    return reason == rocksdb::TableFileCreationReason::kFlush
           || reason == rocksdb::TableFileCreationReason::kCompaction;
  }

  std::unique_ptr<rocksdb::CompactionFilter>
  CreateCompactionFilter(const rocksdb::CompactionFilter::Context&) override {
    return std::make_unique<day_floor_filter>(floor_, day_offset_, rule_);
  }

  const char* Name() const override { return "dispatch.day_floor_factory"; }

private:
  const std::atomic<uint32_t>& floor_;
  size_t day_offset_;
  floor_rule rule_;
};

// Per-family options: every family shares the block cache; point-looked-up families get a bloom
// filter; the time-keyed exception queue compacts away the tombstones its head accumulates;
// `seen` and the index drop what retention let go when they compact, and are compacted at least
// daily for that.
rocksdb::ColumnFamilyOptions family_options(const std::string& name, detail::store_state& s) {
  rocksdb::ColumnFamilyOptions cf;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = s.block_cache;
  if (name == keys::seen_family || name == keys::delivery_index_family
      || name == keys::dispatchers_family || name == keys::history_family
      || name == keys::dead_letters_family)
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  if (name == keys::exceptions_family)
    cf.table_properties_collector_factories.emplace_back(
      rocksdb::NewCompactOnDeletionCollectorFactory(128, 64, 0.5));
  if (name == keys::seen_family) {
    cf.compaction_filter_factory = std::make_shared<day_floor_factory>(s.seen_floor, 0,
                                                                       floor_rule::any);
    cf.periodic_compaction_seconds = 86400;
  }
  if (name == keys::delivery_index_family) {
    // value: place(1) · kind(1) · shard(2) · field(8), the day in the last 4 bytes
    cf.compaction_filter_factory = std::make_shared<day_floor_factory>(s.history_floor, 8,
                                                                       floor_rule::not_waiting);
    cf.periodic_compaction_seconds = 86400;
  }
  if (name == keys::record_times_family) {
    // value: the index entry's (the day in the last 4 bytes)
    cf.compaction_filter_factory = std::make_shared<day_floor_factory>(s.history_floor, 8,
                                                                       floor_rule::finished);
    cf.periodic_compaction_seconds = 86400;
  }
  return cf;
}

const std::vector<std::string>& family_names() {
  static const std::vector<std::string> names{rocksdb::kDefaultColumnFamilyName,
                                              keys::meta_family,
                                              keys::dispatchers_family,
                                              keys::dispatcher_versions_family,
                                              keys::event_log_family,
                                              keys::seen_family,
                                              keys::progress_family,
                                              keys::exceptions_family,
                                              keys::delivery_index_family,
                                              keys::dead_letters_family,
                                              keys::history_family,
                                              keys::log_family,
                                              keys::event_counts_family,
                                              keys::record_times_family};
  return names;
}

// Opens the database with our families plus any others an existing directory already has (schema
// 2's inbox and deliveries until the migration dropped them).
caf::error open_families(detail::store_state& s, const rocksdb::DBOptions& db_opts) {
  const auto& dir = s.opts.data_dir;
  std::vector<std::string> names = family_names();
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_opts, dir, &existing).ok())
    for (auto& name : existing)
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (auto& name : names) descriptors.emplace_back(name, family_options(name, s));
  rocksdb::DB* raw = nullptr;
  auto status = rocksdb::DB::Open(db_opts, dir, descriptors, &s.handles, &raw);
  if (!status.ok()) {
    if (status.IsIOError() && contains_nocase(status.ToString(), "lock"))
      return server_error("data directory " + dir + " is in use by another process");
    return to_error(status, "open data directory " + dir);
  }
  s.db.reset(raw);
  rocksdb::ColumnFamilyHandle** slots[] = {
    nullptr,    &s.meta,     &s.dispatchers,  &s.dispatcher_versions, &s.event_log,
    &s.seen,    &s.progress, &s.exceptions,   &s.delivery_index,      &s.dead_letters,
    &s.history, &s.log,      &s.event_counts, &s.record_times};
  for (size_t i = 1; i < family_names().size(); ++i) *slots[i] = s.handles[i];
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
  if (status.IsNotFound()) return caf::none;
  if (!status.ok()) return to_error(status, std::string{"read meta "} + key);
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
  if (auto err = read_meta(s, keys::schema_version_key, version, found)) return err;
  if (!found) {
    rocksdb::WriteBatch batch;
    batch.Put(s.meta, keys::schema_version_key, u32_value(keys::schema_version));
    batch.Put(s.meta, keys::shard_count_key, u32_value(s.opts.shards));
    batch.Put(s.meta, keys::event_counts_ready_key, u32_value(1)); // nothing to count yet
    batch.Put(s.meta, keys::created_spans_from_key, u32_value(0)); // every event gets its span
    return s.write(batch, true, "initialize data directory " + dir);
  }
  if (version > keys::schema_version)
    return server_error("data directory " + dir + " has schema version " + std::to_string(version)
                        + ", written by a newer release; this build reads up to "
                        + std::to_string(keys::schema_version));
  uint32_t shards = 0;
  if (auto err = read_meta(s, keys::shard_count_key, shards, found)) return err;
  if (!found)
    return server_error("data directory " + dir + " has no shard count in its meta family");
  if (shards != s.opts.shards)
    return server_error("data directory " + dir + " was created with " + std::to_string(shards)
                        + " shards; this configuration asks for " + std::to_string(s.opts.shards));
  uint32_t floor = 0;
  if (auto err = read_meta(s, keys::seen_floor_key, floor, found)) return err;
  s.seen_floor = found ? floor : 0;
  if (auto err = read_meta(s, keys::history_floor_key, floor, found)) return err;
  s.history_floor = found ? floor : 0;
  if (version < 3)
    if (auto err = migrate_from_schema_2(s)) return err;
  if (version < 4)
    if (auto err = migrate_from_schema_3(s)) return err;
  if (auto err = count_archive_once(s)) return err;
  return load_created_spans(s);
}

// The built-in log's records per kind and day, from its keys (kind · day · id): one pass over
// the keys at open, so that listing the log needs no pass for its total.
void count_log(detail::store_state& s) {
  std::lock_guard<std::mutex> guard{s.log_mutex};
  s.log_counts.clear();
  detail::range_iterator it{*s.db, s.log, std::string{}, std::string{}, false};
  for (it.seek_first(); it->Valid(); it->Next()) {
    auto key = it->key();
    if (key.size() < 5) continue; // malformed: the listing reports it when it meets it
    ++s.log_counts[{static_cast<uint8_t>(key[0]), keys::read_u32(key.data() + 1)}];
  }
}

// The records by kind from `record_times` (dead letters, and those finished after a record while
// history still holds their day), and where each emitter's per-day counts begin.
void count_records(detail::store_state& s) {
  uint32_t history_from = std::numeric_limits<uint32_t>::max(); // history empty: none counts
  {
    detail::range_iterator it{*s.db, s.history, std::string{}, std::string{}, false};
    it.seek_first();
    if (it->Valid() && it->key().size() >= 4) history_from = keys::read_u32(it->key().data());
  }
  std::lock_guard<std::mutex> guard{s.delivery_mutex};
  s.finished_counts.clear();
  std::array<uint64_t, 2> dead{};
  detail::range_iterator it{*s.db, s.record_times, std::string{}, std::string{}, false};
  for (it.seek_first(); it->Valid(); it->Next()) {
    record_slot slot;
    auto value = it->value();
    if (!parse_record_value(value.data(), value.size(), slot)) continue;
    if (slot.place == record_place::dead)
      ++dead[index_of(slot.kind)];
    else if (slot.place == record_place::finished
             && static_cast<uint32_t>(slot.field) >= history_from)
      ++s.finished_counts[{static_cast<uint8_t>(slot.kind), static_cast<uint32_t>(slot.field)}];
  }
  for (size_t k = 0; k < dead.size(); ++k) s.dead_counts[k] = dead[k];
  s.counted_from.assign(2 * size_t{s.opts.shards}, 0);
  for (auto kind : {action_kind::task, action_kind::mail})
    for (uint32_t shard = 0; shard < s.opts.shards; ++shard) {
      std::string value;
      auto status = s.db->Get(rocksdb::ReadOptions{}, s.meta, keys::counted_from_key(kind, shard),
                              &value);
      if (status.ok() && value.size() == 8)
        s.counted_from[index_of(kind) * s.opts.shards + shard] = keys::read_u64(value.data());
    }
}

// The exact waiting, dead-letter and log counts and the last sequence of each shard, read once at
// open (a directory of any earlier release has no counts of these: they are always read here).
void count_entries(detail::store_state& s) {
  auto start = std::chrono::steady_clock::now();
  for (auto kind : {action_kind::task, action_kind::mail})
    s.waiting_counts[index_of(kind)] = s.count_range(s.exceptions, keys::kind_prefix(kind),
                                                     keys::next_kind_prefix(kind));
  count_log(s);
  count_records(s);
  // A pass over keys that grows with the store: said when it is long enough to notice at start.
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now()
                                                                    - start);
  if (took.count() >= 1000)
    DISPATCH_LOG(info, store) << "counted the waiting deliveries, "
                              << s.dead_counts[0].load() + s.dead_counts[1].load()
                              << " dead letters and the built-in log at open in " << took.count()
                              << " ms";
  s.timelines.assign(s.opts.shards, nullptr);
  s.timelines_at.assign(s.opts.shards, 0);
  s.timeline_changes.reset(new std::atomic<uint64_t>[s.opts.shards]);
  for (uint32_t shard = 0; shard < s.opts.shards; ++shard) s.timeline_changes[shard] = 0;
  s.last_sequences.reset(new std::atomic<uint64_t>[s.opts.shards]);
  for (uint32_t shard = 0; shard < s.opts.shards; ++shard) {
    auto last = last_sequence_in(*s.db, s.event_log, shard);
    s.last_sequences[shard] = last ? *last : 0;
  }
}

} // namespace

caf::expected<uint64_t> last_sequence_in(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* event_log,
                                         uint32_t shard) {
  detail::range_iterator it{db, event_log, keys::shard_prefix(shard),
                            keys::shard_prefix(shard + 1)};
  it->SeekToLast();
  if (!it->status().ok()) return to_error(it->status(), "read the event log");
  return it->Valid() && it->key().size() == 12 ? keys::read_u64(it->key().data() + 4) : 0;
}

// -- impl -----------------------------------------------------------------------------------------

detail::store_state::~store_state() {
  if (!db) return;
  for (auto* handle : handles) db->DestroyColumnFamilyHandle(handle);
  db->Close();
  db.reset();
}

namespace {

thread_local const detail::store_state* held_store = nullptr; // whose gate this thread holds

} // namespace

detail::store_use::store_use(store_state& s) : state_(s) {
  if (held_store == &s) return; // inside another operation of this store, on this thread
  if (s.reopen_needed.load()) s.reopen_now();
  s.gate.lock_shared();
  locked_ = true;
  outer_ = held_store;
  held_store = &s;
}

detail::store_use::~store_use() {
  if (!locked_) return;
  held_store = outer_;
  state_.gate.unlock_shared();
}

caf::error detail::store_use::error() const {
  if (state_.db) return caf::none;
  return server_error(
    "store: the database is closed: reopening it after a failed write did not "
    "succeed yet (tried again on the next operation)");
}

bool detail::store_state::sync_fault() const {
  std::error_code ec;
  return !fail_sync_while.empty() && std::filesystem::exists(fail_sync_while, ec);
}

caf::error detail::store_state::apply_pending_undo(const std::string& operation) {
  if (!undo_pending.load()) return caf::none;
  std::lock_guard<std::mutex> guard{undo_mutex};
  if (!pending_undo) return caf::none;
  auto status = sync_fault() ? rocksdb::Status::IOError("injected")
                             : db->Write(rocksdb::WriteOptions{}, pending_undo.get());
  if (!status.ok())
    return to_error(status, operation + " (taking back a batch whose sync failed, first)");
  pending_undo.reset();
  undo_pending = false;
  DISPATCH_LOG(info, store) << "an unsynced batch was taken back";
  return caf::none;
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
      if (!resumed.ok()) {
        // A fatal error (a flush or a new WAL file failed, e.g. with no descriptor left) is
        // beyond Resume(): the next operation closes the database and opens it again.
        if (!reopen_needed.exchange(true))
          DISPATCH_LOG(error, store)
            << "the database cannot resume after a failed write (" << resumed.ToString()
            << "); it is reopened before the next operation";
        return to_error(resumed, operation + " (resuming after a failed write)");
      }
      write_failed = false;
    }
  }
  if (auto err = apply_pending_undo(operation)) return err;
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
  auto err = sync_fault() ? server_error("store: " + operation + ": IO error (injected)")
                          : dispatch::sync_wal(*db, operation);
  if (err) write_failed = true;
  return err;
}

bool detail::store_state::room_to_resume() const {
  if (opts.in_memory) return true;
  struct statvfs fs;
  if (statvfs(opts.data_dir.c_str(), &fs) != 0) return false;
  auto free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  uint64_t memtables = 0;
  db->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &memtables);
  return free_bytes >= memtables + (1ull << 20);
}

uint64_t detail::store_state::count_range(rocksdb::ColumnFamilyHandle* family,
                                          const std::string& lower,
                                          const std::string& upper) const {
  range_iterator it{*db, family, lower, upper, false};
  uint64_t n = 0;
  for (it.seek_first(); it->Valid(); it->Next()) ++n;
  return n;
}

rocksdb_log::rocksdb_log(std::string prefix)
    : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL), prefix_(std::move(prefix)) {
  // nop
}

rocksdb::InfoLogLevel rocksdb_log::GetInfoLogLevel() const {
  // RocksDB formats nothing below this, so a dropped warning costs it nothing either.
  return log_enabled(log_component::rocksdb, log_level::warning)
           ? rocksdb::InfoLogLevel::WARN_LEVEL
           : rocksdb::InfoLogLevel::ERROR_LEVEL;
}

void rocksdb_log::Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) {
  // Its info and debug lines (an options dump at every open, statistics every ten minutes) and
  // its header are RocksDB's own LOG file's business: not kept.
  if (level < rocksdb::InfoLogLevel::WARN_LEVEL || level == rocksdb::InfoLogLevel::HEADER_LEVEL)
    return;
  auto ours = level == rocksdb::InfoLogLevel::WARN_LEVEL ? log_level::warning : log_level::error;
  if (!log_enabled(log_component::rocksdb, ours)) return;
  // Every backup pauses file deletions inside a pause of its own, and RocksDB warns about the
  // nesting it does itself: nothing for an operator to act on.
  if (std::strstr(format, "File Deletions Disabled, but already disabled") != nullptr
      || std::strstr(format, "File Deletions Enable, but not really enabled") != nullptr)
    return;
  char line[1024];
  std::vsnprintf(line, sizeof(line), format, ap);
  log_write(log_component::rocksdb, ours, prefix_ + line);
}

void rocksdb_log::Logv(const char*, va_list) {
  // A line without a level (RocksDB's header, or a caller that names none): not kept.
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
    DISPATCH_LOG(error, store) << operation << " failed: " << text;
  if (status.IsNoSpace() || contains_nocase(text, "no space"))
    return server_error("store: " + operation + ": no space left on the storage device");
  return server_error("store: " + operation + " failed: " + text.substr(0, text.find(':')));
}

uint32_t day_of(timestamp_ms t) {
  return t <= 0 ? 0 : static_cast<uint32_t>(t / ms_per_day);
}

uint64_t first_sequence_of_day(uint32_t day) {
  return static_cast<uint64_t>(day) * static_cast<uint64_t>(ms_per_day) * 1000;
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

void detail::store_state::before_scan() const {
  if (pause_scans_while.empty()) return;
  std::ofstream{pause_scans_while + ".entered"};
  std::error_code ec;
  while (std::filesystem::exists(pause_scans_while, ec))
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

caf::expected<std::shared_ptr<store>> store::open(const store_options& opts) {
  if (opts.shards == 0) return server_error("store.shards: must be at least 1");
  if (opts.data_dir.empty()) return server_error("store.data_dir: must not be empty");
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
  db_opts.info_log = std::make_shared<rocksdb_log>("");
  // Bounded: every table file held open is a descriptor, and the process shares its limit with
  // client connections (dispatchd sizes both). RocksDB opens the others on demand.
  db_opts.max_open_files = static_cast<int>(std::max<uint32_t>(opts.max_open_files, 16));
  db_opts.max_total_wal_size = std::max<uint64_t>(opts.write_buffer_bytes * 4, 64ull << 20);
  db_opts.listeners.push_back(std::make_shared<manual_recovery>());
  if (opts.in_memory) {
    s->mem_env.reset(rocksdb::NewMemEnv(rocksdb::Env::Default()));
    db_opts.env = s->mem_env.get();
    // Made first, as on disk: else RocksDB's first listing of it logs an error it then ignores.
    s->mem_env->CreateDirIfMissing(opts.data_dir).PermitUncheckedError();
  } else {
    std::error_code ec;
    std::filesystem::create_directories(opts.data_dir, ec);
    if (ec)
      return server_error("cannot create data directory " + opts.data_dir + ": " + ec.message());
  }
  s->block_cache = rocksdb::NewLRUCache(opts.block_cache_bytes);
  s->write_buffers = std::make_shared<rocksdb::WriteBufferManager>(opts.write_buffer_bytes);
  db_opts.write_buffer_manager = s->write_buffers;
  s->db_options = db_opts;
  if (auto err = open_families(*s, db_opts)) return err;
  if (auto err = check_meta(*s)) return err;
  count_entries(*s);
  if (auto pause = std::getenv("DISPATCH_FAULT_PAUSE_SCANS")) {
    s->pause_scans_while = pause;
    DISPATCH_LOG(warning, store) << "fault injection: listing scans wait while " << pause
                                 << " exists";
  }
  if (auto fail = std::getenv("DISPATCH_FAULT_FAIL_SYNC")) {
    s->fail_sync_while = fail;
    DISPATCH_LOG(warning, store) << "fault injection: WAL syncs of accepted events fail while "
                                 << fail << " exists";
  }
  if (auto fail = std::getenv("DISPATCH_FAULT_FAIL_OUTCOMES")) {
    s->fail_outcomes_while = fail;
    DISPATCH_LOG(warning, store) << "fault injection: outcome writes fail while " << fail
                                 << " exists";
  }
  if (auto fault = std::getenv("DISPATCH_FAULT_KILL_OUTCOMES")) {
    std::string text = fault;
    auto colon = text.find(':');
    if (colon != std::string::npos) {
      s->kill_after_write = text.substr(0, colon) == "after";
      s->kill_countdown = std::strtoll(text.c_str() + colon + 1, nullptr, 10);
      DISPATCH_LOG(warning, store)
        << "fault injection: killing this process " << (s->kill_after_write ? "after" : "before")
        << " outcome write " << s->kill_countdown.load();
    }
  }
  return std::shared_ptr<store>{new store(std::move(s))};
}

void detail::store_state::reopen_now() {
  std::unique_lock<std::shared_mutex> alone{gate};
  if (!reopen_needed.load()) return; // another thread did it while this one waited
  DISPATCH_LOG(warning, store) << "reopening the database in " << opts.data_dir;
  if (db) {
    for (auto* handle : handles) db->DestroyColumnFamilyHandle(handle);
    handles.clear();
    auto closed = db->Close();
    closed.PermitUncheckedError(); // it was failing already: opening again is what counts
    db.reset();
  }
  if (auto err = open_families(*this, db_options)) {
    DISPATCH_LOG(error, store) << "reopening failed (" << message_of(err)
                               << "); tried again on the next operation";
    return;
  }
  count_entries(*this);
  write_failed = false;
  reopen_needed = false;
  DISPATCH_LOG(info, store) << "the database is open again; writes resume";
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
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  rocksdb::WriteBatch batch;
  std::string value;
  for (auto& id : erase) batch.Delete(impl_->dispatchers, id);
  for (auto& x : put) {
    if (auto err = codec::encode_dispatcher(value, x)) return err;
    batch.Put(impl_->dispatchers, x.id, value);
  }
  return impl_->write(batch, false, "write dispatchers");
}

caf::expected<std::vector<dispatcher>> store::load_dispatchers() const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  return read_dispatchers(*impl_);
}

caf::expected<std::vector<dispatcher>> read_dispatchers(const detail::store_state& s) {
  std::vector<dispatcher> result;
  std::unique_ptr<rocksdb::Iterator> it{s.db->NewIterator(rocksdb::ReadOptions{}, s.dispatchers)};
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    dispatcher x;
    auto key = it->key();
    auto value = it->value();
    if (auto err = codec::decode_dispatcher(keys::dispatchers_family, key.data(), key.size(),
                                            value.data(), value.size(), x))
      return err;
    result.push_back(std::move(x));
  }
  if (!it->status().ok()) return to_error(it->status(), "load dispatchers");
  return result;
}

caf::error store::write_dispatcher_versions(uint32_t shard,
                                            const std::vector<dispatcher_version>& versions) {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  rocksdb::WriteBatch batch;
  std::string value;
  for (auto& v : versions) {
    value.clear();
    if (v.value)
      if (auto err = codec::encode_dispatcher(value, *v.value)) return err;
    batch.Put(impl_->dispatcher_versions, keys::version_key(shard, v.from, v.id), value);
  }
  auto err = impl_->write(batch, false, "write dispatcher versions");
  if (!err && shard < impl_->opts.shards) ++impl_->timeline_changes[shard]; // after the write
  return err;
}

caf::expected<std::vector<dispatcher_version>>
store::load_dispatcher_versions(uint32_t shard) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  std::vector<dispatcher_version> result;
  detail::range_iterator it{*impl_->db, impl_->dispatcher_versions, keys::shard_prefix(shard),
                            keys::shard_prefix(shard + 1)};
  for (it.seek_first(); it->Valid(); it->Next()) {
    auto key = it->key();
    auto value = it->value();
    if (key.size() < 12)
      return codec::corrupt_value(keys::dispatcher_versions_family, key.data(), key.size(),
                                  "malformed key");
    dispatcher_version v;
    v.from = keys::read_u64(key.data() + 4);
    v.id.assign(key.data() + 12, key.size() - 12);
    if (!value.empty()) {
      dispatcher x;
      if (auto err = codec::decode_dispatcher(keys::dispatcher_versions_family, key.data(),
                                              key.size(), value.data(), value.size(), x))
        return err;
      v.value = std::move(x);
    }
    result.push_back(std::move(v));
  }
  if (!it->status().ok()) return to_error(it->status(), "load dispatcher versions");
  return result;
}

caf::error store::prune_dispatcher_versions(uint32_t shard, uint64_t floor) {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  auto versions = load_dispatcher_versions(shard);
  if (!versions) return versions.error();
  // The last change at or before the floor, per dispatcher: the one in force from the floor on.
  std::unordered_map<std::string, const dispatcher_version*> in_force;
  for (auto& v : *versions)
    if (v.from <= floor) in_force[v.id] = &v;
  rocksdb::WriteBatch batch;
  for (auto& v : *versions)
    if (v.from <= floor && (in_force[v.id] != &v || !v.value))
      batch.Delete(impl_->dispatcher_versions, keys::version_key(shard, v.from, v.id));
  if (batch.Count() == 0) return caf::none;
  auto err = impl_->write(batch, false, "prune dispatcher versions");
  if (!err && shard < impl_->opts.shards) ++impl_->timeline_changes[shard]; // after the write
  return err;
}

// -- ingest ---------------------------------------------------------------------------------------

caf::error detail::decode_seen(const std::string& id, const char* data, size_t size,
                               seen_entry& out) {
  auto fail = [&](const std::string& why) {
    return codec::corrupt_value(keys::seen_family, id.data(), id.size(), why);
  };
  if (size < 4) return fail("value shorter than its day");
  out.day = keys::read_u32(data);
  caf::binary_deserializer source{nullptr, data + 4, size - 4};
  if (auto err = source(out.event)) return fail(caf::to_string(err));
  auto rest = source.remaining();
  if (rest == 0) return caf::none;
  if (rest != seen_position_size) return fail(std::to_string(rest) + " trailing bytes");
  auto position = data + size - seen_position_size;
  out.placed = true;
  out.sequence = keys::read_u64(position);
  out.shard = keys::read_u32(position + 8);
  return caf::none;
}

caf::expected<std::vector<caf::optional<event>>>
store::find_seen(const std::vector<std::string>& ids, uint32_t days, timestamp_ms now) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  std::vector<caf::optional<event>> result(ids.size());
  auto today = day_of(now);
  days = std::min(days, today + 1); // never reach below day 0
  if (ids.empty() || days == 0) return result;
  // One key per id; the day in its value says whether it is inside the window (and not yet let
  // go by retention, whose compactions may not have run).
  auto first_day = std::max(today + 1 - days, impl_->seen_floor.load());
  std::vector<rocksdb::Slice> slices(ids.begin(), ids.end());
  auto err = multi_get(
    *impl_, impl_->seen, slices, "look up seen events",
    [&](size_t i, const rocksdb::Slice& value) -> caf::error {
      if (value.size() < 4)
        return codec::corrupt_value(keys::seen_family, ids[i].data(), ids[i].size(),
                                    "value shorter than its day");
      if (keys::read_u32(value.data()) < first_day) return caf::none;
      detail::seen_entry entry;
      if (auto bad = detail::decode_seen(ids[i], value.data(), value.size(), entry)) return bad;
      result[i] = std::move(entry.event);
      return caf::none;
    });
  if (err) return err;
  // An id ingest generated is not in `seen`: it says where its event is in the log. (A
  // publisher's id that only looks like one finds another event there, or none.)
  for (size_t i = 0; i < ids.size(); ++i) {
    uint32_t shard = 0;
    uint64_t sequence = 0;
    if (result[i] || !logged_position_of(ids[i], shard, sequence) || shard >= impl_->opts.shards
        || day_of(accepted_at(sequence)) < first_day)
      continue;
    auto logged = get_logged(shard, sequence);
    if (!logged) return logged.error();
    if (*logged && (*logged)->id == ids[i]) result[i] = std::move(*logged);
  }
  return result;
}

caf::error store::accept_events(const std::vector<accepted_event>& events, timestamp_ms now) {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  if (events.empty()) return caf::none;
  auto& s = *impl_;
  rocksdb::WriteBatch batch;
  std::string value;
  std::string seen_value;
  auto today = day_of(now);
  for (auto& accepted : events) {
    if (accepted.shard >= s.opts.shards)
      return server_error("store: accept events: shard " + std::to_string(accepted.shard)
                          + " out of range (" + std::to_string(s.opts.shards) + " shards)");
    auto& x = accepted.event;
    value.clear();
    codec::encode_event(value, x);
    batch.Put(s.event_log, keys::log_entry_key(accepted.shard, accepted.sequence), value);
    if (accepted.chosen_id) {
      seen_value.clear();
      keys::append_u32(seen_value, today);
      std::string encoded;
      if (auto err = codec::encode(encoded, x)) return err;
      seen_value += encoded;
      // Where the event is, so that its deliveries are found by its id (`visit_by_event`).
      keys::append_u64(seen_value, accepted.sequence);
      keys::append_u32(seen_value, accepted.shard);
      batch.Put(s.seen, x.id, seen_value);
    }
  }
  // The counts are read and written back under this lock; the WAL sync below runs without it.
  std::unique_lock<std::mutex> counting{s.counts_mutex};
  if (auto err = stage_event_counts(s, batch, events, false)) return err;
  auto widened = stage_created_spans(s, batch, events);
  // Written unsynced, then the WAL synced on its own: RocksDB's write queue is not held during
  // the fsync, so the emitters' (unsynced) writes do not wait behind it. Nothing is acknowledged
  // or routed before the sync returns, and the WAL is ordered: a write that follows this batch
  // cannot outlive it in a crash.
  if (auto err = s.write(batch, false, "accept events")) return err;
  for (auto& [where, span] : widened) s.created_spans[where] = span;
  counting.unlock();
  if (s.opts.sync) {
    if (auto err = s.sync_wal("accept events")) {
      // Visible but not durable: take the batch back, so that no emitter catching up derives
      // events whose publishers were told nothing was accepted.
      auto undo = std::make_unique<rocksdb::WriteBatch>();
      for (auto& accepted : events) {
        if (accepted.chosen_id) undo->Delete(s.seen, accepted.event.id);
        undo->Delete(s.event_log, keys::log_entry_key(accepted.shard, accepted.sequence));
      }
      // A pending undo is applied before any other write, so the counts it puts back are still
      // the current ones then.
      counting.lock();
      if (auto undo_err = stage_event_counts(s, *undo, events, true))
        DISPATCH_LOG(error, store) << "accept events: the counts of a batch taken back could not "
                                   << "be read: " << message_of(undo_err);
      auto undone = s.sync_fault() ? rocksdb::Status::IOError("injected")
                                   : s.db->Write(rocksdb::WriteOptions{}, undo.get());
      if (!undone.ok()) {
        DISPATCH_LOG(error, store)
          << "accept events: taking back an unsynced batch failed too (" << undone.ToString()
          << "): it is taken back before the next write";
        // None is pending: this batch's write applied any earlier one first.
        std::lock_guard<std::mutex> guard{s.undo_mutex};
        s.pending_undo = std::move(undo);
        s.undo_pending = true;
      }
      return err;
    }
  }
  for (auto& accepted : events) {
    auto& last = s.last_sequences[accepted.shard];
    if (accepted.sequence > last.load(std::memory_order_relaxed))
      last.store(accepted.sequence, std::memory_order_relaxed);
  }
  return caf::none;
}

uint64_t store::last_log_sequence(uint32_t shard) const {
  return shard < impl_->opts.shards ? impl_->last_sequences[shard].load() : 0;
}

uint64_t store::last_log_sequence() const {
  uint64_t result = 0;
  for (uint32_t shard = 0; shard < impl_->opts.shards; ++shard)
    result = std::max(result, last_log_sequence(shard));
  return result;
}

caf::expected<logged_event_list> store::scan_log(uint32_t shard, uint64_t after,
                                                 size_t limit) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  logged_event_list result;
  if (after == std::numeric_limits<uint64_t>::max() || limit == 0) return result;
  // Entries of a batch whose publishers were told it failed may still be there: not read until
  // they are taken back (the next write does that first, or says why it cannot).
  if (impl_->undo_pending.load())
    if (auto err = impl_->apply_pending_undo("read the log")) return err;
  detail::range_iterator it{*impl_->db, impl_->event_log, keys::log_entry_key(shard, after + 1),
                            keys::shard_prefix(shard + 1), false};
  for (it.seek_first(); it->Valid() && result.size() < limit; it->Next()) {
    auto key = it->key();
    auto value = it->value();
    if (key.size() != 12)
      return codec::corrupt_value(keys::event_log_family, key.data(), key.size(), "malformed key");
    logged_event entry;
    entry.sequence = keys::read_u64(key.data() + 4);
    if (auto err = codec::decode_event(keys::event_log_family, key.data(), key.size(), value.data(),
                                       value.size(), entry.event))
      return err;
    result.push_back(std::move(entry));
  }
  if (!it->status().ok())
    return to_error(it->status(), "scan the log of shard " + std::to_string(shard));
  return result;
}

caf::expected<caf::optional<event>> store::get_logged(uint32_t shard, uint64_t sequence) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  auto key = keys::log_entry_key(shard, sequence);
  std::string value;
  auto status = impl_->db->Get(rocksdb::ReadOptions{}, impl_->event_log, key, &value);
  if (status.IsNotFound()) return caf::optional<event>{};
  if (!status.ok()) return to_error(status, "read the log");
  event x;
  if (auto err = codec::decode_event(keys::event_log_family, key.data(), key.size(), value.data(),
                                     value.size(), x))
    return err;
  return caf::optional<event>{std::move(x)};
}

// -- progress -------------------------------------------------------------------------------------

caf::expected<progress> store::read_progress(action_kind kind, uint32_t shard) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  return read_progress_in(*impl_, kind, shard, nullptr);
}

} // namespace dispatch
