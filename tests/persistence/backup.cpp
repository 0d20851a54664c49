// Tests of backups at the storage level: the checks on a backup's target, the manifest read as
// hostile input, a backup of a store in use that restores every family as it was, a stopped
// backup, and a damaged copy that restore refuses.
#include "persistence/backup.hpp"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "fixtures/why.hpp"
#include "messages/error_code.hpp"
#include "persistence/backup_impl.hpp"
#include "persistence/keys.hpp"
#include "persistence/store.hpp"

using namespace dispatch;
namespace fs = std::filesystem;

namespace {

struct temp_dir {
  std::string path;
  temp_dir() {
    char name[] = "/tmp/dispatch-backup-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(name) != nullptr);
    path = fs::canonical(name).string();
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

std::string hexid(int n) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%024x", n);
  return buf;
}

/// A store with some of everything: events in several shards (ids chosen and not), a
/// dispatcher, a set-aside event, records of the built-in log.
struct filled_store {
  temp_dir dir;
  store_options opts;
  store_ptr db;
  uint64_t sequence = 1700000000000000;

  filled_store() {
    opts.data_dir = dir / "data";
    opts.sync = false;
    opts.block_cache_bytes = 4 << 20;
    opts.write_buffer_bytes = 8 << 20;
    fs::create_directories(dir / "copy"); // a backup's target: the runner makes it
    auto opened = store::open(opts);
    BOOST_REQUIRE_MESSAGE(opened, test::why(opened));
    db = *opened;
    dispatcher d;
    d.id = hexid(1);
    d.event_type = "order.created";
    d.name = "welcome";
    BOOST_REQUIRE(!db->write_dispatchers({d}, {}));
    append(200);
    set_aside_event aside;
    aside.shard = 1;
    aside.sequence = sequence;
    aside.event = event{hexid(999), "order.created", "{}", 1700000000000};
    aside.reason = "testing";
    BOOST_REQUIRE(!db->set_aside(aside));
    log_record record;
    record.id = hexid(5);
    record.received = 1700000000000;
    record.json = R"({"id":"x"})";
    BOOST_REQUIRE(!db->append_logs({record}));
  }

  /// Appends `n` events spread over the shards.
  void append(int n) {
    std::vector<accepted_event> batch;
    for (int i = 0; i < n; ++i) {
      accepted_event e;
      e.shard = static_cast<uint32_t>(i) % opts.shards;
      e.sequence = ++sequence;
      e.event = event{hexid(1000 + static_cast<int>(sequence % 1000000)), "order.created",
                      R"({"n":)" + std::to_string(i) + "}", 1700000000000};
      e.chosen_id = i % 2 == 0;
      batch.push_back(std::move(e));
    }
    BOOST_REQUIRE(!db->accept_events(batch, 1700000000000));
  }
};

/// Every key and value of every family of the database in `dir`, read-only.
std::map<std::string, std::map<std::string, std::string>> contents_of(const std::string& dir) {
  auto copy = open_read_only(dir);
  BOOST_REQUIRE_MESSAGE(copy, test::why(copy));
  std::map<std::string, std::map<std::string, std::string>> result;
  for (size_t i = 0; i < (*copy)->names.size(); ++i) {
    auto& family = result[(*copy)->names[i]];
    std::unique_ptr<rocksdb::Iterator> it{
      (*copy)->db->NewIterator(rocksdb::ReadOptions{}, (*copy)->handles[i])};
    for (it->SeekToFirst(); it->Valid(); it->Next())
      family[it->key().ToString()] = it->value().ToString();
  }
  return result;
}

backup_manifest manifest_of(const backup_part& part, const std::string& data_dir) {
  backup_manifest m;
  m.software = "test";
  m.data_dir = data_dir;
  m.started = 1700000000000;
  m.finished = 1700000001000;
  m.files = part.files;
  m.bytes = part.bytes;
  m.last_sequence = part.last_sequence;
  m.shards = part.shards;
  m.parts = {part};
  return m;
}

std::function<void(const std::string&)> quiet() {
  return [](const std::string&) {};
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out{path, std::ios::binary};
  out << text;
}

} // namespace

BOOST_AUTO_TEST_SUITE(backup)

BOOST_AUTO_TEST_CASE(targets_are_absolute_new_or_empty_and_outside_the_data_directory) {
  temp_dir dir;
  auto data = dir / "data";
  fs::create_directories(data);
  fs::create_directories(dir / "empty");
  fs::create_directories(dir / "full");
  write_file(dir / "full/x", "x");
  write_file(dir / "file", "x");
  fs::create_symlink(data, dir / "link-to-data");
  auto refused = [&](const std::string& to, error_code code, const std::string& says) {
    auto checked = check_backup_target(to, data);
    BOOST_TEST_CONTEXT(to) {
      BOOST_REQUIRE(!checked);
      BOOST_TEST((code_of(checked.error()) == code));
      BOOST_TEST(message_of(checked.error()).find(says) != std::string::npos,
                 message_of(checked.error()));
      BOOST_TEST(message_of(checked.error()).rfind("to: ", 0) == 0u, message_of(checked.error()));
    }
  };
  refused("", error_code::missing_required_fields, "required");
  refused("copy", error_code::field_format, "must be an absolute path");
  refused("./copy", error_code::field_format, "must be an absolute path");
  refused(dir / "a\nb", error_code::field_format, "control characters");
  refused(std::string(5000, '/'), error_code::field_format, "longer than");
  refused(dir / "full", error_code::field_format, "not empty");
  refused(dir / "file", error_code::field_format, "not a directory");
  refused(data, error_code::field_format, "inside the data directory");
  refused(data + "/", error_code::field_format, "inside the data directory");
  refused(data + "/sub/deeper", error_code::field_format, "inside the data directory");
  refused(dir / "empty/../data/x", error_code::field_format, "inside the data directory");
  refused(dir / "link-to-data/x", error_code::field_format, "inside the data directory");
  refused(dir / "missing/copy", error_code::field_format, "parent directory");
  auto fresh = check_backup_target(dir / "copy/", data);
  BOOST_REQUIRE_MESSAGE(fresh, test::why(fresh));
  BOOST_TEST(*fresh == dir / "copy");
  auto empty = check_backup_target(dir / "empty", data);
  BOOST_REQUIRE_MESSAGE(empty, test::why(empty));
  BOOST_TEST(*empty == dir / "empty");
  // A sibling whose name starts like the data directory's is not inside it.
  auto sibling = check_backup_target(dir / "data-copy", data);
  BOOST_TEST(static_cast<bool>(sibling), test::why(sibling));
}

BOOST_AUTO_TEST_CASE(a_copy_of_a_store_in_use_restores_every_family_as_it_was) {
  filled_store s;
  auto expected_last = s.sequence;
  // What the copy must hold: the store as it is now, every family.
  s.db.reset();
  auto before = contents_of(s.opts.data_dir);
  auto reopened = store::open(s.opts);
  BOOST_REQUIRE_MESSAGE(reopened, test::why(reopened));
  s.db = *reopened;
  BOOST_TEST(s.db->live_bytes() > 0u);
  backup_progress progress;
  std::atomic<size_t> reported{0};
  progress.on_copied = [&](uint64_t) { ++reported; };
  auto part = s.db->backup(s.dir / "copy/engine", progress);
  BOOST_REQUIRE_MESSAGE(part, test::why(part));
  BOOST_TEST(part->name == "engine");
  BOOST_TEST(part->files > 0u);
  BOOST_TEST(part->bytes > 0u);
  BOOST_TEST(part->last_sequence == expected_last);
  BOOST_TEST(part->shards == s.opts.shards);
  BOOST_TEST(part->schema == keys::schema_version);
  // Written after the backup: not in the copy.
  s.append(50);
  BOOST_REQUIRE(!write_backup_manifest(s.dir / "copy", manifest_of(*part, s.opts.data_dir)));
  std::vector<std::string> said;
  auto restored = restore_backup(s.dir / "copy", s.dir / "restored",
                                 [&](const std::string& line) { said.push_back(line); });
  BOOST_REQUIRE_MESSAGE(restored, test::why(restored));
  BOOST_TEST(restored->last_sequence == expected_last);
  BOOST_TEST(said.size() == 2u);
  auto after = contents_of(s.dir / "restored");
  BOOST_TEST(after.size() == before.size());
  for (auto& [family, entries] : before) {
    BOOST_TEST_CONTEXT(family) {
      BOOST_TEST(after[family].size() == entries.size());
      BOOST_TEST((after[family] == entries));
    }
  }
  BOOST_TEST(before[keys::event_log_family].size() == 200u);
  BOOST_TEST(!before[keys::seen_family].empty());
  BOOST_TEST(!before[keys::log_family].empty());
  // The restored directory opens as a store, and takes writes.
  store_options restored_opts = s.opts;
  restored_opts.data_dir = s.dir / "restored";
  auto opened = store::open(restored_opts);
  BOOST_REQUIRE_MESSAGE(opened, test::why(opened));
  BOOST_TEST((*opened)->last_log_sequence() == expected_last);
}

BOOST_AUTO_TEST_CASE(a_copy_taken_while_writers_go_on_is_consistent) {
  filled_store s;
  std::atomic<bool> stop{false};
  std::atomic<size_t> batches{0};
  std::thread writer{[&] {
    while (!stop) {
      s.append(20);
      ++batches;
    }
  }};
  backup_progress progress;
  auto part = s.db->backup(s.dir / "copy/engine", progress);
  stop = true;
  writer.join();
  BOOST_REQUIRE_MESSAGE(part, test::why(part));
  BOOST_TEST_MESSAGE(batches.load() << " batches written while the copy was taken");
  BOOST_REQUIRE(!write_backup_manifest(s.dir / "copy", manifest_of(*part, s.opts.data_dir)));
  auto restored = restore_backup(s.dir / "copy", s.dir / "restored", quiet());
  BOOST_REQUIRE_MESSAGE(restored, test::why(restored));
  // Every batch is all there or not at all, and the log has no hole: a point in time.
  auto after = contents_of(s.dir / "restored");
  auto& log = after[keys::event_log_family];
  BOOST_TEST((log.size() - 200) % 20 == 0u, log.size());
  std::vector<uint64_t> sequences;
  for (auto& [key, value] : log) sequences.push_back(keys::read_u64(key.data() + 4));
  std::sort(sequences.begin(), sequences.end());
  for (size_t i = 1; i < sequences.size(); ++i)
    BOOST_REQUIRE_MESSAGE(sequences[i] == sequences[i - 1] + 1,
                          "a hole after " << sequences[i - 1]);
  BOOST_TEST(sequences.back() == part->last_sequence);
}

BOOST_AUTO_TEST_CASE(a_stopped_backup_fails_and_an_in_memory_store_has_none) {
  filled_store s;
  backup_progress progress;
  progress.stop = true;
  auto part = s.db->backup(s.dir / "copy/engine", progress);
  BOOST_REQUIRE(!part);
  BOOST_TEST(message_of(part.error()).find("stopped") != std::string::npos,
             message_of(part.error()));
  store_options memory;
  memory.in_memory = true;
  memory.data_dir = "/in-memory";
  auto opened = store::open(memory);
  BOOST_REQUIRE_MESSAGE(opened, test::why(opened));
  backup_progress fresh;
  auto none = (*opened)->backup(s.dir / "mem/engine", fresh);
  BOOST_REQUIRE(!none);
  BOOST_TEST((code_of(none.error()) == error_code::conflict));
  BOOST_TEST(!fs::exists(s.dir / "mem"));
}

BOOST_AUTO_TEST_CASE(manifests_are_read_as_hostile_input) {
  temp_dir dir;
  backup_part part;
  part.name = "engine";
  part.files = 3;
  part.bytes = 1234;
  part.last_sequence = 42;
  part.shards = 4;
  part.schema = 3;
  fs::create_directories(dir / "good");
  auto written = manifest_of(part, "/var/lib/dispatchd");
  written.node = 7;
  BOOST_REQUIRE(!write_backup_manifest(dir / "good", written));
  BOOST_TEST(!fs::exists(dir / "good/backup.json.tmp"));
  auto read = read_backup_manifest(dir / "good");
  BOOST_REQUIRE_MESSAGE(read, test::why(read));
  BOOST_TEST(read->software == "test");
  BOOST_TEST(read->data_dir == "/var/lib/dispatchd");
  BOOST_TEST(read->last_sequence == 42u);
  BOOST_TEST(read->node == 7u);
  BOOST_REQUIRE(read->parts.size() == 1u);
  BOOST_TEST(read->parts[0].bytes == 1234u);
  BOOST_TEST(read->parts[0].schema == 3u);
  auto refused = [&](const std::string& text, const std::string& says) {
    fs::remove_all(dir / "bad");
    fs::create_directories(dir / "bad");
    if (!text.empty()) write_file(dir / "bad/backup.json", text);
    auto m = read_backup_manifest(dir / "bad");
    BOOST_TEST_CONTEXT(text) {
      BOOST_REQUIRE(!m);
      BOOST_TEST(message_of(m.error()).rfind("from: ", 0) == 0u, message_of(m.error()));
      BOOST_TEST(message_of(m.error()).find(says) != std::string::npos, message_of(m.error()));
    }
  };
  auto engine = std::string{R"({"name":"engine","files":1})"};
  refused("", "backup.json is missing");
  refused("not json", "backup.json");
  refused(std::string(70000, ' '), "larger than 64 KiB");
  refused(R"({"format":"dispatch-backup","version":1,"a":1,"a":2})", "duplicate");
  refused(std::string(100, '[') + std::string(100, ']'), "backup.json");
  refused(R"({"format":"other","version":1,"parts":[]})", "not a dispatch backup manifest");
  refused(R"({"format":"dispatch-backup","version":2,"parts":[]})", "version 2");
  refused(R"({"format":"dispatch-backup","version":1})", "lists no parts");
  refused(R"({"format":"dispatch-backup","version":1,"parts":[]})", "no engine part");
  refused(R"({"format":"dispatch-backup","version":1,"parts":[{"name":"../etc"},)" + engine + "]}",
          "unknown part");
  refused(R"({"format":"dispatch-backup","version":1,"parts":[{"name":"other"},)" + engine + "]}",
          "unknown part");
  refused(R"({"format":"dispatch-backup","version":1,"parts":[)" + engine + "," + engine + "]}",
          "twice");
  refused(R"({"format":"dispatch-backup","version":1,"parts":[7]})", "not an object");
}

BOOST_AUTO_TEST_CASE(a_damaged_copy_is_refused_and_nothing_is_restored) {
  filled_store s;
  backup_progress progress;
  auto part = s.db->backup(s.dir / "copy/engine", progress);
  BOOST_REQUIRE_MESSAGE(part, test::why(part));
  BOOST_REQUIRE(!write_backup_manifest(s.dir / "copy", manifest_of(*part, s.opts.data_dir)));
  // Into a directory that is not empty: refused, left alone.
  fs::create_directories(s.dir / "full");
  write_file(s.dir / "full/mine", "mine");
  auto into_full = restore_backup(s.dir / "copy", s.dir / "full", quiet());
  BOOST_REQUIRE(!into_full);
  BOOST_TEST(message_of(into_full.error()).rfind("data-dir: ", 0) == 0u,
             message_of(into_full.error()));
  BOOST_TEST(fs::exists(s.dir / "full/mine"));
  // One byte of one file changed since the copy was made.
  for (auto& entry : fs::recursive_directory_iterator(s.dir / "copy/engine/private")) {
    if (!entry.is_regular_file() || entry.path().extension() != ".log") continue;
    std::fstream file{entry.path(), std::ios::in | std::ios::out | std::ios::binary};
    file.seekg(static_cast<std::streamoff>(entry.file_size() / 2));
    auto byte = static_cast<char>(file.get());
    file.seekp(static_cast<std::streamoff>(entry.file_size() / 2));
    file.put(static_cast<char>(byte ^ 0x40));
  }
  auto damaged = restore_backup(s.dir / "copy", s.dir / "restored", quiet());
  BOOST_REQUIRE(!damaged);
  BOOST_TEST(message_of(damaged.error()).find("damaged") != std::string::npos,
             message_of(damaged.error()));
  BOOST_TEST(!fs::exists(s.dir / "restored"));
  // An empty directory given as the target stays, empty.
  fs::create_directories(s.dir / "empty");
  BOOST_REQUIRE(!restore_backup(s.dir / "copy", s.dir / "empty", quiet()));
  BOOST_TEST(fs::exists(s.dir / "empty"));
  BOOST_TEST(fs::is_empty(s.dir / "empty"));
}

BOOST_AUTO_TEST_SUITE_END()
