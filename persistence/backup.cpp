// Backups with RocksDB's BackupEngine: copying a live database, reading a copy back, and restoring
// a backup offline (its files and manifest: backup_files.cpp).
//
// Why a BackupEngine and not a Checkpoint: a checkpoint hard-links the table files when the target
// is on the data directory's file system, so that "copy" shares every byte with the live database
// and is lost with its disk, and it copies without telling anyone how far it got. A BackupEngine
// always copies, reports progress as it goes (`progress_callback`), records a checksum of every
// file it copied (checked again here right after the copy, and by `dispatchd restore` before it
// restores), can copy on a low-priority thread, and lets the copy be opened read-only to read back
// what it holds. Consistency is RocksDB's: it stops deleting files, takes the live table files,
// the manifest and the write-ahead logs up to one point, and the copy is the database as of that
// point, every column family included. The write-ahead log is copied instead of flushing the
// memtables first (the WAL is always on here), so a backup costs the node no extra writes.
#include "persistence/backup.hpp"

#include <algorithm>
#include <filesystem>

#include <rocksdb/utilities/backup_engine.h>

#include "messages/error_code.hpp"
#include "persistence/backup_impl.hpp"
#include "persistence/keys.hpp"
#include "persistence/store_impl.hpp"

namespace dispatch {

namespace fs = std::filesystem;

namespace {

/// The descriptors a read-only copy may hold at once: it is opened beside a live node.
constexpr int read_only_open_files = 64;

} // namespace

// -- reading copies -------------------------------------------------------------------------------

read_only_database::~read_only_database() {
  if (!db) return;
  for (auto* handle : handles) db->DestroyColumnFamilyHandle(handle);
  db->Close().PermitUncheckedError();
}

rocksdb::ColumnFamilyHandle* read_only_database::family(const std::string& name) const {
  for (size_t i = 0; i < names.size() && i < handles.size(); ++i)
    if (names[i] == name) return handles[i];
  return nullptr;
}

caf::expected<std::unique_ptr<read_only_database>> open_read_only(const std::string& dir,
                                                                  rocksdb::Env* env) {
  // Warnings go to stderr; a read-only database must not try to create a LOG file in `dir`.
  static auto logger = std::make_shared<rocksdb_log>("");
  rocksdb::DBOptions options;
  options.env = env != nullptr ? env : rocksdb::Env::Default();
  options.info_log = logger;
  options.max_open_files = read_only_open_files;
  auto result = std::make_unique<read_only_database>();
  auto status = rocksdb::DB::ListColumnFamilies(options, dir, &result->names);
  if (!status.ok()) return to_error(status, "list the families of the copy");
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (auto& name : result->names) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions{});
  rocksdb::DB* raw = nullptr;
  status = rocksdb::DB::OpenForReadOnly(options, dir, descriptors, &result->handles, &raw);
  if (!status.ok()) return to_error(status, "open the copy read-only");
  result->db.reset(raw);
  return result;
}

namespace {

/// A u32 of a meta family; `found` false when absent.
caf::error read_meta_u32(const read_only_database& copy, const char* family, const std::string& key,
                         uint32_t& out, bool& found) {
  auto handle = copy.family(family);
  found = false;
  if (handle == nullptr) return backup_error(std::string{"the copy has no "} + family + " family");
  std::string value;
  auto status = copy.db->Get(rocksdb::ReadOptions{}, handle, key, &value);
  if (status.IsNotFound()) return caf::none;
  if (!status.ok()) return to_error(status, "read the copy's " + key);
  if (value.size() != 4) return backup_error("the copy's " + key + " is not 4 bytes");
  out = keys::read_u32(value.data());
  found = true;
  return caf::none;
}

} // namespace

caf::error read_engine_copy(const read_only_database& copy, backup_part& out) {
  bool found = false;
  if (auto err = read_meta_u32(copy, keys::meta_family, keys::schema_version_key, out.schema,
                               found))
    return err;
  if (!found) return backup_error("the copy has no schema version");
  if (auto err = read_meta_u32(copy, keys::meta_family, keys::shard_count_key, out.shards, found))
    return err;
  if (!found || out.shards == 0) return backup_error("the copy has no shard count");
  auto log = copy.family(keys::event_log_family);
  if (log == nullptr) return backup_error("the copy has no event log");
  out.last_sequence = 0;
  for (uint32_t shard = 0; shard < out.shards; ++shard) {
    auto last = last_sequence_in(*copy.db, log, shard);
    if (!last) return last.error();
    out.last_sequence = std::max(out.last_sequence, *last);
  }
  return caf::none;
}

copy_reader copy_reader_for(const std::string& part) {
  if (part == engine_backup_part) return read_engine_copy;
  if (part == "cluster") return read_cluster_copy;
  return nullptr;
}

// -- copying --------------------------------------------------------------------------------------

uint64_t live_bytes(rocksdb::DB& db) {
  uint64_t tables = 0;
  db.GetAggregatedIntProperty(rocksdb::DB::Properties::kLiveSstFilesSize, &tables);
  uint64_t logs = 0;
  rocksdb::VectorLogPtr wal_files;
  if (db.GetSortedWalFiles(wal_files).ok())
    for (auto& file : wal_files) logs += file->SizeFileBytes();
  return tables + logs;
}

caf::expected<backup_part> backup_database(rocksdb::DB& db, const std::string& name,
                                           const std::string& dir, backup_progress& progress,
                                           const std::function<bool()>& must_stop,
                                           const copy_reader& read) {
  constexpr uint64_t report_every = 1 << 20;
  if (must_stop()) return backup_error("stopped before the " + name + " database was copied");
  rocksdb_log logger{"backup: "};
  rocksdb::BackupEngineOptions options{dir};
  options.backup_env = rocksdb::Env::Default();
  options.info_log = &logger;
  options.sync = true; // the copy survives a power cut once the backup says it is done
  options.backup_log_files = true;
  options.max_background_operations = 1; // one copying thread: the node keeps the other core
  options.callback_trigger_interval_size = report_every;
  rocksdb::BackupEngine* raw = nullptr;
  auto opened = rocksdb::BackupEngine::Open(options, rocksdb::Env::Default(), &raw);
  if (!opened.ok()) return to_error(opened, "open a backup in " + dir);
  std::unique_ptr<rocksdb::BackupEngine> engine{raw};
  rocksdb::CreateBackupOptions create;
  create.flush_before_backup = false; // the WAL is copied instead (see the top of this file)
  create.decrease_background_thread_cpu_priority = true;
  create.background_thread_cpu_priority = rocksdb::CpuPriority::kLow;
  // Runs on the copying thread; RocksDB's callbacks must not throw.
  create.progress_callback = [&progress, &must_stop, engine = engine.get()]() {
    try {
      auto copied = progress.bytes_copied += report_every;
      if (progress.on_copied) progress.on_copied(copied);
      if (must_stop()) engine->StopBackup();
    } catch (...) {
      engine->StopBackup();
    }
  };
  rocksdb::BackupID id = 0;
  auto created = engine->CreateNewBackup(create, &db, &id);
  if (created.IsIncomplete() || (!created.ok() && must_stop()))
    return backup_error("stopped while copying the " + name + " database");
  if (!created.ok()) return to_error(created, "back up the " + name + " database");
  rocksdb::BackupInfo info;
  auto described = engine->GetBackupInfo(id, &info, /*include_file_details=*/true);
  if (!described.ok()) return to_error(described, "describe the copy of the " + name + " database");
  auto verified = engine->VerifyBackup(id, /*verify_with_checksum=*/true);
  if (!verified.ok()) return to_error(verified, "verify the copy of the " + name + " database");
  backup_part part;
  part.name = name;
  part.files = info.number_files;
  part.bytes = info.size;
  auto copy = open_read_only(info.name_for_open, info.env_for_open.get());
  if (!copy)
    return backup_error("the copy of the " + name + " database does not open ("
                        + message_of(copy.error()) + ")");
  if (auto err = read(**copy, part)) return err;
  return part;
}

// -- the engine's store ---------------------------------------------------------------------------

caf::expected<backup_part> store::backup(const std::string& dir, backup_progress& progress) {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  auto& s = *impl_;
  if (s.opts.in_memory)
    return make_error(error_code::conflict,
                      "backups need a data directory: this engine keeps its data in memory");
  // A database that failed a write beyond resuming waits for a reopen, which waits for this copy
  // to let go of it: stop instead, and let the operator back up once it is open again.
  auto must_stop = [&] { return progress.stop.load() || s.reopen_needed.load(); };
  auto part = backup_database(*s.db, engine_backup_part, dir, progress, must_stop,
                              read_engine_copy);
  if (!part && s.reopen_needed.load())
    return backup_error(
      "the database failed a write and must be reopened first; back up again "
      "once /health is green");
  return part;
}

uint64_t store::live_bytes() const {
  detail::store_use use{*impl_};
  if (use.error() || impl_->opts.in_memory) return 0;
  return dispatch::live_bytes(*impl_->db);
}

// -- restoring ------------------------------------------------------------------------------------

namespace {

/// Restores one part of the backup in `from` into `dest` and reads it back.
caf::expected<backup_part> restore_part(const std::string& from, const backup_part& expected,
                                        const std::string& dest,
                                        const std::function<void(const std::string&)>& say) {
  auto source = from + "/" + expected.name;
  rocksdb_log logger{"restore: "};
  rocksdb::BackupEngineOptions options{source};
  options.info_log = &logger;
  options.max_background_operations = 1;
  rocksdb::BackupEngineReadOnly* raw = nullptr;
  auto opened = rocksdb::BackupEngineReadOnly::Open(options, rocksdb::Env::Default(), &raw);
  if (!opened.ok())
    return backup_field_error("from", "the " + expected.name + " part cannot be read ("
                                        + message_of(to_error(opened, "open " + source)) + ")");
  std::unique_ptr<rocksdb::BackupEngineReadOnly> engine{raw};
  rocksdb::BackupInfo info;
  auto found = engine->GetLatestBackupInfo(&info);
  if (!found.ok())
    return backup_field_error("from", "the " + expected.name + " part holds no backup");
  say("restore: checking the " + expected.name + " copy (" + std::to_string(info.number_files)
      + " files, " + size_text(info.size) + ") against its checksums");
  auto verified = engine->VerifyBackup(info.backup_id, /*verify_with_checksum=*/true);
  if (!verified.ok())
    return backup_field_error("from", "the " + expected.name + " copy is damaged ("
                                        + message_of(to_error(verified, "verify " + source)) + ")");
  auto restored = engine->RestoreDBFromBackup(rocksdb::RestoreOptions{}, info.backup_id, dest,
                                              dest);
  if (!restored.ok()) return to_error(restored, "restore the " + expected.name + " database");
  backup_part part;
  part.name = expected.name;
  part.files = info.number_files;
  part.bytes = info.size;
  auto copy = open_read_only(dest);
  if (!copy)
    return backup_error("the restored " + expected.name + " database does not open ("
                        + message_of(copy.error()) + ")");
  if (auto err = copy_reader_for(expected.name)(**copy, part)) return err;
  if (part.last_sequence != expected.last_sequence || part.shards != expected.shards
      || part.node != expected.node)
    return backup_error("the restored " + expected.name
                        + " database does not hold what the manifest says (last sequence "
                        + std::to_string(part.last_sequence) + ", expected "
                        + std::to_string(expected.last_sequence) + ")");
  return part;
}

std::vector<std::string> entries_of(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (auto& entry : fs::directory_iterator{dir, ec}) names.push_back(entry.path().filename());
  return names;
}

} // namespace

caf::expected<backup_manifest> restore_backup(const std::string& from, const std::string& data_dir,
                                              const std::function<void(const std::string&)>& say) {
  auto manifest = read_backup_manifest(from);
  if (!manifest) return manifest.error();
  auto target = check_restore_target(data_dir, from);
  if (!target) return target.error();
  std::error_code ec;
  bool created = !fs::exists(*target, ec);
  fs::create_directories(*target, ec);
  if (ec)
    return backup_field_error("data-dir",
                              "cannot create " + quote_path(*target) + ": " + ec.message());
  // The engine's database first: restoring clears the files of the directory it restores into,
  // and the companions live in directories of their own below it.
  auto parts = manifest->parts;
  std::stable_partition(parts.begin(), parts.end(),
                        [](auto& p) { return p.name == engine_backup_part; });
  for (auto& expected : parts) {
    auto dest = expected.name == engine_backup_part ? *target : *target + "/" + expected.name;
    auto part = restore_part(from, expected, dest, say);
    if (!part) {
      // The target was empty: everything in it now is this restore's.
      remove_partial(*target, entries_of(*target), created);
      return part.error();
    }
    std::string holds = "schema " + std::to_string(part->schema) + ", "
                        + std::to_string(part->shards) + " shards";
    if (part->name == engine_backup_part)
      holds += ", last event sequence " + std::to_string(part->last_sequence);
    else if (part->node != 0)
      holds += ", node " + std::to_string(part->node);
    say("restore: restored the " + part->name + " database into " + dest + " ("
        + std::to_string(part->files) + " files, " + size_text(part->bytes)
        + "); it opens: " + holds);
  }
  return manifest;
}

} // namespace dispatch
