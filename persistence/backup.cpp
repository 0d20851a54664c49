// Backups with RocksDB's BackupEngine, their manifest, and restoring them offline.
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

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <rocksdb/utilities/backup_engine.h>

#include "messages/error_code.hpp"
#include "messages/json.hpp"
#include "messages/json_dom.hpp"
#include "persistence/backup_impl.hpp"
#include "persistence/keys.hpp"
#include "persistence/store_impl.hpp"

namespace dispatch {

namespace fs = std::filesystem;

namespace {

/// At most the start of a path a client sent, for a message.
std::string quote_path(const std::string& text) {
  constexpr size_t shown = 200;
  return "'" + (text.size() > shown ? text.substr(0, shown) + "..." : text) + "'";
}

caf::error field_error(const std::string& field, const std::string& why) {
  return make_error(error_code::field_format, field + ": " + why);
}

caf::error backup_error(const std::string& why) {
  return make_error(error_code::server, "backup: " + why);
}

/// A path without a trailing separator (its last component empty), so components compare.
fs::path without_trailing_separator(fs::path p) {
  while (!p.has_filename() && p.has_parent_path() && p != p.root_path()) p = p.parent_path();
  return p;
}

/// True when `inner` is `outer` or lies below it (both normalized, absolute).
bool is_within(const fs::path& inner, const fs::path& outer) {
  auto [o, i] = std::mismatch(outer.begin(), outer.end(), inner.begin(), inner.end());
  return o == outer.end();
}

/// An empty directory or none at all; the error says what is there instead.
caf::error check_absent_or_empty(const fs::path& dir, const std::string& field) {
  std::error_code ec;
  auto st = fs::status(dir, ec);
  if (ec && ec != std::errc::no_such_file_or_directory)
    return field_error(field, "cannot look at " + quote_path(dir.string()) + ": " + ec.message());
  if (!fs::exists(st)) return caf::none;
  if (!fs::is_directory(st))
    return field_error(field, quote_path(dir.string()) + " exists and is not a directory");
  auto empty = fs::is_empty(dir, ec);
  if (ec)
    return field_error(field, "cannot read " + quote_path(dir.string()) + ": " + ec.message());
  if (!empty)
    return field_error(field, quote_path(dir.string())
                                + " exists and is not empty (the target must be a new or an "
                                  "empty directory)");
  return caf::none;
}

caf::error check_path_text(const std::string& text, const std::string& field) {
  if (text.empty()) return make_error(error_code::missing_required_fields, field + ": required");
  if (text.size() > 4096) return field_error(field, "longer than 4096 bytes");
  for (unsigned char c : text)
    if (c < 0x20 || c == 0x7f) return field_error(field, "must not contain control characters");
  return caf::none;
}

uint64_t member_u64(const rapidjson::Value& object, const char* key) {
  auto i = object.FindMember(key);
  return i != object.MemberEnd() && i->value.IsUint64() ? i->value.GetUint64() : 0;
}

uint32_t member_u32(const rapidjson::Value& object, const char* key) {
  auto x = member_u64(object, key);
  return x <= UINT32_MAX ? static_cast<uint32_t>(x) : 0;
}

std::string member_text(const rapidjson::Value& object, const char* key) {
  auto i = object.FindMember(key);
  if (i == object.MemberEnd() || !i->value.IsString()) return {};
  return {i->value.GetString(), i->value.GetStringLength()};
}

/// A part's name is a directory inside the backup and the data directory: a plain name only.
bool plain_name(const std::string& name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::string manifest_json(const backup_manifest& m) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> out{buffer};
  auto text = [&](const char* key, const std::string& value) {
    out.Key(key);
    out.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  auto number = [&](const char* key, uint64_t value) {
    out.Key(key);
    out.Uint64(value);
  };
  out.StartObject();
  text("format", "dispatch-backup");
  number("version", 1);
  text("software", m.software);
  text("dataDir", m.data_dir);
  number("startedTimestamp", static_cast<uint64_t>(std::max<timestamp_ms>(m.started, 0)));
  number("finishedTimestamp", static_cast<uint64_t>(std::max<timestamp_ms>(m.finished, 0)));
  number("files", m.files);
  number("bytes", m.bytes);
  number("lastSequence", m.last_sequence);
  number("shards", m.shards);
  number("node", m.node);
  out.Key("parts");
  out.StartArray();
  for (auto& p : m.parts) {
    out.StartObject();
    text("name", p.name);
    number("files", p.files);
    number("bytes", p.bytes);
    number("lastSequence", p.last_sequence);
    number("shards", p.shards);
    number("schema", p.schema);
    number("node", p.node);
    out.EndObject();
  }
  out.EndArray();
  out.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

/// Writes `text` into `path` and syncs it.
caf::error write_synced(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return backup_error("cannot create " + path + ": " + std::strerror(errno));
  size_t written = 0;
  while (written < text.size()) {
    auto n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      auto why = std::string{std::strerror(errno)};
      ::close(fd);
      return backup_error("cannot write " + path + ": " + why);
    }
    written += static_cast<size_t>(n);
  }
  auto synced = ::fsync(fd) == 0;
  auto why = std::string{std::strerror(errno)};
  ::close(fd);
  if (!synced) return backup_error("cannot sync " + path + ": " + why);
  return caf::none;
}

caf::error sync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return backup_error("cannot open " + dir + ": " + std::strerror(errno));
  auto synced = ::fsync(fd) == 0;
  auto why = std::string{std::strerror(errno)};
  ::close(fd);
  if (!synced) return backup_error("cannot sync " + dir + ": " + why);
  return caf::none;
}

/// The descriptors a read-only copy may hold at once: it is opened beside a live node.
constexpr int read_only_open_files = 64;

} // namespace

// -- targets --------------------------------------------------------------------------------------

caf::expected<std::string> check_backup_target(const std::string& to, const std::string& data_dir,
                                               const std::string& field) {
  if (auto err = check_path_text(to, field)) return err;
  fs::path path{to};
  if (!path.is_absolute())
    return field_error(field, "must be an absolute path, got " + quote_path(to));
  std::error_code ec;
  auto target = without_trailing_separator(fs::weakly_canonical(path, ec));
  if (ec) return field_error(field, "cannot resolve " + quote_path(to) + ": " + ec.message());
  auto data = without_trailing_separator(fs::weakly_canonical(fs::absolute(data_dir), ec));
  if (ec) return field_error(field, "cannot resolve the data directory: " + ec.message());
  if (is_within(target, data))
    return field_error(field, quote_path(target.string()) + " is inside the data directory "
                                + quote_path(data.string()) + " (a backup must live elsewhere)");
  if (auto err = check_absent_or_empty(target, field)) return err;
  if (!fs::exists(target, ec)) {
    auto parent = target.parent_path();
    if (!fs::is_directory(parent, ec))
      return field_error(field, "the parent directory " + quote_path(parent.string())
                                  + " does not exist (create it first)");
  }
  return target.string();
}

caf::expected<std::string> check_restore_target(const std::string& dir, const std::string& field) {
  if (auto err = check_path_text(dir, field)) return err;
  std::error_code ec;
  auto target = without_trailing_separator(fs::weakly_canonical(fs::absolute(dir), ec));
  if (ec) return field_error(field, "cannot resolve " + quote_path(dir) + ": " + ec.message());
  if (auto err = check_absent_or_empty(target, field)) return err;
  return target.string();
}

// -- the manifest ---------------------------------------------------------------------------------

caf::error write_backup_manifest(const std::string& dir, const backup_manifest& manifest) {
  auto path = dir + "/" + backup_manifest_file;
  auto temporary = path + ".tmp";
  if (auto err = write_synced(temporary, manifest_json(manifest))) return err;
  if (::rename(temporary.c_str(), path.c_str()) != 0)
    return backup_error("cannot rename " + temporary + ": " + std::strerror(errno));
  return sync_directory(dir);
}

caf::expected<backup_manifest> read_backup_manifest(const std::string& dir) {
  auto path = dir + "/" + backup_manifest_file;
  auto not_a_backup = [&](const std::string& why) {
    return field_error("from", quote_path(dir) + " holds no complete backup: " + why);
  };
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    return not_a_backup(std::string{backup_manifest_file}
                        + " is missing (a backup writes it last, once every part was copied and "
                          "verified)");
  constexpr size_t max_manifest = 64 * 1024;
  if (fs::file_size(path, ec) > max_manifest)
    return not_a_backup(std::string{backup_manifest_file} + " is larger than 64 KiB");
  std::ifstream in{path, std::ios::binary};
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto text = buffer.str();
  json_limits limits;
  limits.max_bytes = max_manifest;
  if (auto err = check_json(text, limits))
    return not_a_backup(std::string{backup_manifest_file} + ": " + message_of(err));
  rapidjson::Document doc;
  doc.Parse<dom_parse_flags>(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsObject() || member_text(doc, "format") != "dispatch-backup")
    return not_a_backup(std::string{backup_manifest_file} + " is not a dispatch backup manifest");
  if (member_u64(doc, "version") != 1)
    return not_a_backup("its manifest has version " + std::to_string(member_u64(doc, "version"))
                        + "; this build reads version 1");
  backup_manifest m;
  m.software = member_text(doc, "software");
  m.data_dir = member_text(doc, "dataDir");
  m.started = static_cast<timestamp_ms>(member_u64(doc, "startedTimestamp"));
  m.finished = static_cast<timestamp_ms>(member_u64(doc, "finishedTimestamp"));
  m.files = member_u64(doc, "files");
  m.bytes = member_u64(doc, "bytes");
  m.last_sequence = member_u64(doc, "lastSequence");
  m.shards = member_u32(doc, "shards");
  m.node = member_u32(doc, "node");
  auto parts = doc.FindMember("parts");
  if (parts == doc.MemberEnd() || !parts->value.IsArray() || parts->value.Size() > 16)
    return not_a_backup("its manifest lists no parts");
  for (auto& item : parts->value.GetArray()) {
    if (!item.IsObject()) return not_a_backup("its manifest has a part that is not an object");
    backup_part p;
    p.name = member_text(item, "name");
    if (!plain_name(p.name) || !copy_reader_for(p.name))
      return not_a_backup("its manifest names an unknown part " + quote_path(p.name));
    p.files = member_u64(item, "files");
    p.bytes = member_u64(item, "bytes");
    p.last_sequence = member_u64(item, "lastSequence");
    p.shards = member_u32(item, "shards");
    p.schema = member_u32(item, "schema");
    p.node = member_u32(item, "node");
    if (std::any_of(m.parts.begin(), m.parts.end(), [&](auto& q) { return q.name == p.name; }))
      return not_a_backup("its manifest names the part " + quote_path(p.name) + " twice");
    m.parts.push_back(std::move(p));
  }
  if (std::none_of(m.parts.begin(), m.parts.end(),
                   [](auto& p) { return p.name == engine_backup_part; }))
    return not_a_backup("its manifest has no engine part");
  return m;
}

std::string remove_partial(const std::string& dir, const std::vector<std::string>& names,
                           bool remove_dir) {
  std::string left;
  std::error_code ec;
  for (auto& name : names) {
    fs::remove_all(fs::path{dir} / name, ec);
    if (ec) left += (left.empty() ? "" : ", ") + (fs::path{dir} / name).string();
  }
  if (remove_dir && !fs::remove(dir, ec) && ec) left += (left.empty() ? "" : ", ") + dir;
  return left;
}

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
    return field_error("from", "the " + expected.name + " part cannot be read ("
                                 + message_of(to_error(opened, "open " + source)) + ")");
  std::unique_ptr<rocksdb::BackupEngineReadOnly> engine{raw};
  rocksdb::BackupInfo info;
  auto found = engine->GetLatestBackupInfo(&info);
  if (!found.ok()) return field_error("from", "the " + expected.name + " part holds no backup");
  say("restore: checking the " + expected.name + " copy (" + std::to_string(info.number_files)
      + " files, " + size_text(info.size) + ") against its checksums");
  auto verified = engine->VerifyBackup(info.backup_id, /*verify_with_checksum=*/true);
  if (!verified.ok())
    return field_error("from", "the " + expected.name + " copy is damaged ("
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
  auto target = check_restore_target(data_dir);
  if (!target) return target.error();
  std::error_code ec;
  auto source = without_trailing_separator(fs::weakly_canonical(fs::absolute(from), ec));
  if (!ec && is_within(fs::path{*target}, source))
    return field_error("data-dir", quote_path(*target) + " is inside the backup "
                                     + quote_path(source.string()));
  bool created = !fs::exists(*target, ec);
  fs::create_directories(*target, ec);
  if (ec)
    return field_error("data-dir", "cannot create " + quote_path(*target) + ": " + ec.message());
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
