// Backups' own files: the checks on a backup's or a restore's target, the manifest a complete
// backup ends with, and removing what a failed backup or restore wrote.
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

#include "messages/error_code.hpp"
#include "messages/json.hpp"
#include "messages/json_dom.hpp"
#include "persistence/backup_impl.hpp"

namespace dispatch {

namespace fs = std::filesystem;

namespace {

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
    return backup_field_error(field,
                              "cannot look at " + quote_path(dir.string()) + ": " + ec.message());
  if (!fs::exists(st)) return caf::none;
  if (!fs::is_directory(st))
    return backup_field_error(field, quote_path(dir.string()) + " exists and is not a directory");
  auto empty = fs::is_empty(dir, ec);
  if (ec)
    return backup_field_error(field,
                              "cannot read " + quote_path(dir.string()) + ": " + ec.message());
  if (!empty)
    return backup_field_error(field, quote_path(dir.string())
                                + " exists and is not empty (the target must be a new or an "
                                  "empty directory)");
  return caf::none;
}

caf::error check_path_text(const std::string& text, const std::string& field) {
  if (text.empty()) return make_error(error_code::missing_required_fields, field + ": required");
  if (text.size() > 4096) return backup_field_error(field, "longer than 4096 bytes");
  for (unsigned char c : text)
    if (c < 0x20 || c == 0x7f)
      return backup_field_error(field, "must not contain control characters");
  return caf::none;
}

uint32_t member_u32(const rapidjson::Value& object, const char* key) {
  auto x = member_u64(object, key);
  return x <= UINT32_MAX ? static_cast<uint32_t>(x) : 0;
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

} // namespace

// -- shared with backup.cpp -----------------------------------------------------------------------

std::string quote_path(const std::string& text) {
  constexpr size_t shown = 200;
  return "'" + (text.size() > shown ? text.substr(0, shown) + "..." : text) + "'";
}

caf::error backup_field_error(const std::string& field, const std::string& why) {
  return make_error(error_code::field_format, field + ": " + why);
}

caf::error backup_error(const std::string& why) {
  return make_error(error_code::server, "backup: " + why);
}

// -- targets --------------------------------------------------------------------------------------

caf::expected<std::string> check_backup_target(const std::string& to, const std::string& data_dir,
                                               const std::string& field) {
  if (auto err = check_path_text(to, field)) return err;
  fs::path path{to};
  if (!path.is_absolute())
    return backup_field_error(field, "must be an absolute path, got " + quote_path(to));
  std::error_code ec;
  auto target = without_trailing_separator(fs::weakly_canonical(path, ec));
  if (ec)
    return backup_field_error(field, "cannot resolve " + quote_path(to) + ": " + ec.message());
  auto data = without_trailing_separator(fs::weakly_canonical(fs::absolute(data_dir), ec));
  if (ec) return backup_field_error(field, "cannot resolve the data directory: " + ec.message());
  if (is_within(target, data))
    return backup_field_error(field, quote_path(target.string()) + " is inside the data directory "
                                       + quote_path(data.string())
                                       + " (a backup must live elsewhere)");
  if (auto err = check_absent_or_empty(target, field)) return err;
  if (!fs::exists(target, ec)) {
    auto parent = target.parent_path();
    if (!fs::is_directory(parent, ec))
      return backup_field_error(field, "the parent directory " + quote_path(parent.string())
                                         + " does not exist (create it first)");
  }
  return target.string();
}

caf::expected<std::string> check_restore_target(const std::string& dir, const std::string& from,
                                                const std::string& field) {
  if (auto err = check_path_text(dir, field)) return err;
  std::error_code ec;
  auto target = without_trailing_separator(fs::weakly_canonical(fs::absolute(dir), ec));
  if (ec)
    return backup_field_error(field, "cannot resolve " + quote_path(dir) + ": " + ec.message());
  auto source = without_trailing_separator(fs::weakly_canonical(fs::absolute(from), ec));
  if (!ec && !from.empty() && is_within(target, source))
    return backup_field_error(field, quote_path(target.string()) + " is inside the backup "
                                       + quote_path(source.string()));
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
    return backup_field_error("from", quote_path(dir) + " holds no complete backup: " + why);
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

} // namespace dispatch
