// Tests of the RocksDB store (schema 3, the lean log) against a real database in a unique temporary
// directory: opening and its refusals, ingest into the event log, dispatcher versions, the emitters'
// progress, exception records and their state changes, deliveries derived from the log, the built-in
// log, retention, failures, and the migration of a directory written by the first release (schema 2).
#include "persistence/store.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>

#include <boost/test/unit_test.hpp>

#include <rocksdb/db.h>

#include "actors/event_archive.hpp"
#include "fixtures/log_capture.hpp"
#include "fixtures/why.hpp"
#include "messages/derive.hpp"
#include "messages/error_code.hpp"
#include "messages/ids.hpp"
#include "messages/rql.hpp"
#include "messages/cluster.hpp"
#include "persistence/codec.hpp"
#include "persistence/keys.hpp"

using namespace dispatch;
namespace fs = std::filesystem;

#define REQUIRE_OK(expr)                                                               \
  do {                                                                                 \
    auto require_ok_err_ = (expr);                                                     \
    BOOST_REQUIRE_MESSAGE(!require_ok_err_, #expr ": " + message_of(require_ok_err_)); \
  } while (false)

namespace {

constexpr timestamp_ms day_ms = 86400000;
constexpr timestamp_ms now = 20000 * day_ms + 3600000; // day 20000, 01:00 UTC

struct temp_dir {
  std::string path;
  temp_dir() {
    char name[] = "/tmp/dispatch-store-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(name) != nullptr);
    path = name;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

struct fixture {
  temp_dir dir;
  store_options opts;
  store_ptr db;
  fixture() {
    opts.data_dir = dir.path + "/data";
    opts.sync = false;
    opts.block_cache_bytes = 4 << 20;
    opts.write_buffer_bytes = 8 << 20;
    reopen();
  }
  void reopen() {
    db.reset();
    auto opened = dispatch::store::open(opts);
    BOOST_REQUIRE_MESSAGE(opened, test::why(opened));
    db = *opened;
  }
};

std::string hexid(int n) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%024x", n);
  return buf;
}

event make_event(const std::string& id, const std::string& content = "{}") {
  return event{id, "order.created", content, now};
}

// An accepted event whose id the publisher chose (it goes into `seen` too).
accepted_event chosen(uint32_t shard, uint64_t sequence, event ev) {
  return accepted_event{shard, sequence, std::move(ev), true};
}

// An accepted event whose id ingest generated (log only).
accepted_event generated(uint32_t shard, uint64_t sequence, event ev) {
  return accepted_event{shard, sequence, std::move(ev), false};
}

// A delivery as an exception record holds it (retrying once, due at `due`).
delivery make_record(const std::string& id, action_kind kind, timestamp_ms due,
                     delivery_status status = delivery_status::retrying) {
  delivery d;
  d.id = id;
  d.kind = kind;
  d.event_id = "e-" + id;
  d.event_type = "order.created";
  d.dispatcher_id = "d1";
  d.action_id = "a1";
  d.status = status;
  d.attempts = status == delivery_status::retrying ? 1 : 0;
  d.created = now;
  d.next_attempt = due;
  d.last_error = status == delivery_status::retrying ? "sink: 503" : "";
  d.task.function_name = "fn";
  d.mail.template_id = "tpl";
  return d;
}

// The first record of a delivery derived from the log (it failed, is held, or died at once).
caf::error record_first(const store_ptr& db, uint32_t shard, const delivery& d,
                        const progress* advance = nullptr) {
  return db->write_outcomes(d.kind, shard, {delivery_outcome{0, false, d}}, advance);
}

// Writes one outcome of a recorded delivery the way the emitter does: `status` set, `finished`
// stamped when it ends.
caf::error write_outcome(const store_ptr& db, uint32_t shard, timestamp_ms previous_due, delivery d,
                         delivery_status status) {
  d.status = status;
  if (d.finished == 0 && (status == delivery_status::delivered || status == delivery_status::dead))
    d.finished = now;
  auto kind = d.kind;
  return db->write_outcomes(kind, shard, {delivery_outcome{previous_due, true, std::move(d)}});
}

std::vector<std::string> ids_of(const delivery_list& xs) {
  std::vector<std::string> out;
  for (auto& x : xs) out.push_back(x.id);
  return out;
}

std::vector<std::string> sorted(std::vector<std::string> xs) {
  std::sort(xs.begin(), xs.end());
  return xs;
}

delivery_list due(const store_ptr& db, action_kind kind, uint32_t shard, size_t limit = 100,
                  std::function<bool(const std::string&)> skip = nullptr) {
  auto result = db->scan_due(
    kind, shard, limit, skip ? skip : [](const std::string&) { return false; });
  BOOST_REQUIRE_MESSAGE(result, test::why(result));
  return *result;
}

// Every delivery `for_each_delivery` visits in `scope`, in the order visited.
delivery_list list_all(const store_ptr& db, const delivery_scope& scope = {}) {
  delivery_list out;
  auto err = db->for_each_delivery(
    [&](const delivery& x) {
      out.push_back(x);
      return true;
    },
    scope);
  BOOST_REQUIRE_MESSAGE(!err, message_of(err));
  return out;
}

size_t count_id(const delivery_list& xs, const std::string& id) {
  return static_cast<size_t>(
    std::count_if(xs.begin(), xs.end(), [&](const delivery& x) { return x.id == id; }));
}

const delivery* find_id(const delivery_list& xs, const std::string& id) {
  for (auto& x : xs)
    if (x.id == id) return &x;
  return nullptr;
}

filter status_eq(const std::string& status) {
  return filter{filter_op::eq, "status", {string_value(status)}, {}};
}

filter id_eq(const std::string& id) {
  return filter{filter_op::eq, "id", {string_value(id)}, {}};
}

logged_event_list log_of(const store_ptr& db, uint32_t shard, uint64_t after = 0,
                         size_t limit = 1000) {
  auto result = db->scan_log(shard, after, limit);
  BOOST_REQUIRE_MESSAGE(result, test::why(result));
  return *result;
}

std::vector<uint64_t> sequences_of(const logged_event_list& xs) {
  std::vector<uint64_t> out;
  for (auto& x : xs) out.push_back(x.sequence);
  return out;
}

progress progress_of(const store_ptr& db, action_kind kind, uint32_t shard) {
  auto result = db->read_progress(kind, shard);
  BOOST_REQUIRE_MESSAGE(result, test::why(result));
  return *result;
}

std::vector<dispatcher_version> versions_of(const store_ptr& db, uint32_t shard) {
  auto result = db->load_dispatcher_versions(shard);
  BOOST_REQUIRE_MESSAGE(result, test::why(result));
  return *result;
}

bool same_versions(const std::vector<dispatcher_version>& xs,
                   const std::vector<dispatcher_version>& ys) {
  if (xs.size() != ys.size()) return false;
  for (size_t i = 0; i < xs.size(); ++i)
    if (xs[i].from != ys[i].from || xs[i].id != ys[i].id || xs[i].value != ys[i].value)
      return false;
  return true;
}

bool same_log(const logged_event_list& xs, const logged_event_list& ys) {
  if (xs.size() != ys.size()) return false;
  for (size_t i = 0; i < xs.size(); ++i)
    if (xs[i].sequence != ys[i].sequence || !(xs[i].event == ys[i].event)) return false;
  return true;
}

caf::optional<record_slot> slot_of(const store_ptr& db, const std::string& id) {
  auto result = db->find_record(id);
  BOOST_REQUIRE_MESSAGE(result, test::why(result));
  return *result;
}

caf::optional<delivery> waiting_of(const store_ptr& db, const std::string& id) {
  auto result = db->get_waiting(id);
  BOOST_REQUIRE_MESSAGE(result, test::why(result));
  return *result;
}

caf::optional<delivery> dead_letter_of(const store_ptr& db, const std::string& id) {
  auto result = db->get_dead_letter(id);
  BOOST_REQUIRE_MESSAGE(result, test::why(result));
  return *result;
}

std::vector<bool> records_of(const store_ptr& db, const std::vector<std::string>& ids) {
  auto result = db->has_record(ids);
  BOOST_REQUIRE_MESSAGE(result, test::why(result));
  return *result;
}

using raw_families = std::map<std::string, rocksdb::ColumnFamilyHandle*>;

// Opens the directory with plain RocksDB (every family) and hands `f` the database.
void with_raw_db(const std::string& dir,
                 const std::function<void(rocksdb::DB&, raw_families&)>& f) {
  std::vector<std::string> names;
  BOOST_REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions{}, dir, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (auto& name : names) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions{});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto opened = rocksdb::DB::Open(rocksdb::DBOptions{}, dir, descriptors, &handles, &raw);
  BOOST_REQUIRE_MESSAGE(opened.ok(), opened.ToString());
  raw_families by_name;
  for (size_t i = 0; i < names.size(); ++i) by_name[names[i]] = handles[i];
  f(*raw, by_name);
  for (auto* handle : handles) raw->DestroyColumnFamilyHandle(handle);
  delete raw;
}

// Every (key, value) of one family, read with plain RocksDB (the store must be closed).
std::vector<std::pair<std::string, std::string>> raw_entries(const std::string& dir,
                                                             const std::string& family) {
  std::vector<std::pair<std::string, std::string>> out;
  with_raw_db(dir, [&](rocksdb::DB& raw, raw_families& families) {
    auto handle = families.find(family);
    BOOST_REQUIRE_MESSAGE(handle != families.end(), "no family " + family);
    std::unique_ptr<rocksdb::Iterator> it{raw.NewIterator({}, handle->second)};
    for (it->SeekToFirst(); it->Valid(); it->Next())
      out.emplace_back(it->key().ToString(), it->value().ToString());
    BOOST_REQUIRE(it->status().ok());
  });
  return out;
}

std::vector<std::string> raw_keys(const std::string& dir, const std::string& family) {
  std::vector<std::string> out;
  for (auto& entry : raw_entries(dir, family)) out.push_back(entry.first);
  return out;
}

std::vector<std::string> families_of(const std::string& dir) {
  std::vector<std::string> names;
  auto st = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions{}, dir, &names);
  BOOST_REQUIRE_MESSAGE(st.ok(), st.ToString());
  std::sort(names.begin(), names.end());
  return names;
}

bool has(const std::vector<std::string>& xs, const std::string& x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

std::string u32(uint32_t x) {
  std::string out;
  keys::append_u32(out, x);
  return out;
}

std::string raw_meta(const std::string& dir, const char* key) {
  std::string value;
  with_raw_db(dir, [&](rocksdb::DB& raw, raw_families& families) {
    auto st = raw.Get({}, families.at(keys::meta_family), key, &value);
    BOOST_REQUIRE_MESSAGE(st.ok(), st.ToString());
  });
  return value;
}

// A dispatcher of "order.created" with a task action and then a mail action.
dispatcher order_dispatcher() {
  dispatcher disp;
  disp.id = hexid(0xd1);
  disp.event_type = "order.created";
  disp.creation_timestamp = now;
  disp.update_timestamp = now;
  disp.version = 1;
  action task;
  task.id = hexid(0xa1);
  task.kind = action_kind::task;
  task.function_name = "fn";
  action mail;
  mail.id = hexid(0xa2);
  mail.kind = action_kind::mail;
  mail.template_id = hexid(0x7e);
  mail.recipients.to = {"a@example.com"};
  disp.actions = {task, mail};
  return disp;
}

// A store with one dispatcher version (from sequence 1) and three events of its type at sequences
// 10, 11 and 12 in its shard; the task emitter has come to 11, the mail emitter has not started.
struct derived_fixture : fixture {
  uint32_t shard = 0;
  dispatcher disp;
  derived_fixture() {
    shard = shard_of("order.created", db->shards());
    disp = order_dispatcher();
    REQUIRE_OK(db->write_dispatcher_versions(shard, {dispatcher_version{1, disp.id, disp}}));
    std::vector<accepted_event> batch;
    for (uint64_t seq : {10, 11, 12}) batch.push_back(chosen(shard, seq, event_at(seq)));
    REQUIRE_OK(db->accept_events(batch, now));
    progress task{11, 2};
    REQUIRE_OK(db->write_outcomes(action_kind::task, shard, {}, &task));
  }
  static event event_at(uint64_t seq) {
    return event{hexid(0xe00 + static_cast<int>(seq)), "order.created",
                 "{\"n\":" + std::to_string(seq) + "}", now + static_cast<timestamp_ms>(seq)};
  }
  std::string id_at(uint64_t seq, uint32_t ordinal) const {
    return delivery_id_at(delivery_position{seq, shard, ordinal});
  }
  std::string task_id(uint64_t seq) const { return id_at(seq, 0); }
  std::string mail_id(uint64_t seq) const { return id_at(seq, 1); }
};

// -- the schema-2 directory of tests/data --------------------------------------------------------

constexpr timestamp_ms t0 = 1764547200000;         // 2025-12-01T00:00:00Z
constexpr timestamp_ms far_future = 4102444800000; // 2100-01-01
constexpr timestamp_ms year_2001 = 978307200000;
constexpr uint32_t deleted_shard = 0; // shard_of("user_deleted", 4)
constexpr uint32_t created_shard = 1; // shard_of("user_created", 4)

uint64_t seq2(int i) {
  return static_cast<uint64_t>(t0) * 1000 + static_cast<uint64_t>(i);
}

std::string event2(int i) {
  return hexid(0xe00 + i);
}

struct schema2_fixture {
  temp_dir dir;
  store_options opts;
  store_ptr db;
  // (event number, kind) -> the delivery id schema 2 gave it
  std::map<std::pair<int, action_kind>, std::string> ids;

  schema2_fixture() {
    auto cmd = "tar -xzf '" + std::string{DISPATCH_SOURCE_DIR} + "/tests/data/schema2.tar.gz' -C '"
               + dir.path + "'";
    BOOST_REQUIRE_EQUAL(std::system(cmd.c_str()), 0);
    opts.data_dir = dir.path + "/schema2";
    BOOST_REQUIRE(fs::exists(opts.data_dir + "/CURRENT"));
    opts.shards = 4;
    opts.sync = false;
    opts.block_cache_bytes = 4 << 20;
    opts.write_buffer_bytes = 8 << 20;
    std::ifstream in{std::string{DISPATCH_SOURCE_DIR} + "/tests/data/schema2-ids.txt"};
    BOOST_REQUIRE(in.good());
    std::string id, kind, event_id, dispatcher_id;
    while (in >> id >> kind >> event_id >> dispatcher_id) {
      auto n = std::stoi(event_id, nullptr, 16) - 0xe00;
      ids[{n, kind == "task" ? action_kind::task : action_kind::mail}] = id;
    }
    BOOST_REQUIRE_EQUAL(ids.size(), 14u);
  }

  void open() {
    db.reset();
    auto opened = dispatch::store::open(opts);
    BOOST_REQUIRE_MESSAGE(opened, test::why(opened));
    db = *opened;
  }

  std::string task(int n) const { return ids.at({n, action_kind::task}); }
  std::string mail(int n) const { return ids.at({n, action_kind::mail}); }
};

// What a reader can see of a store, to compare before and after a reopen.
struct snapshot {
  delivery_list deliveries;
  std::vector<logged_event_list> logs;
  std::vector<std::vector<dispatcher_version>> versions;
  std::vector<dispatcher> dispatchers;
  uint64_t waiting_tasks = 0;
  uint64_t waiting_mails = 0;
  uint64_t last_sequence = 0;
};

snapshot snapshot_of(const store_ptr& db) {
  snapshot out;
  out.deliveries = list_all(db);
  for (uint32_t shard = 0; shard < db->shards(); ++shard) {
    out.logs.push_back(log_of(db, shard));
    out.versions.push_back(versions_of(db, shard));
  }
  auto loaded = db->load_dispatchers();
  BOOST_REQUIRE_MESSAGE(loaded, test::why(loaded));
  out.dispatchers = *loaded;
  out.waiting_tasks = db->waiting_size(action_kind::task);
  out.waiting_mails = db->waiting_size(action_kind::mail);
  out.last_sequence = db->last_log_sequence();
  return out;
}

void check_same(const snapshot& x, const snapshot& y) {
  BOOST_CHECK(x.deliveries == y.deliveries);
  BOOST_REQUIRE_EQUAL(x.logs.size(), y.logs.size());
  for (size_t i = 0; i < x.logs.size(); ++i) {
    BOOST_CHECK_MESSAGE(same_log(x.logs[i], y.logs[i]), "log of shard " << i);
    BOOST_CHECK_MESSAGE(same_versions(x.versions[i], y.versions[i]), "versions of shard " << i);
  }
  BOOST_CHECK(x.dispatchers == y.dispatchers);
  BOOST_CHECK_EQUAL(x.waiting_tasks, y.waiting_tasks);
  BOOST_CHECK_EQUAL(x.waiting_mails, y.waiting_mails);
  BOOST_CHECK_EQUAL(x.last_sequence, y.last_sequence);
}

/// An event of type "t" set aside at log position (`shard`, `sequence`) at time `at`.
set_aside_event set_aside_at(uint32_t shard, uint64_t sequence, const std::string& id,
                             timestamp_ms at) {
  set_aside_event e;
  e.shard = shard;
  e.sequence = sequence;
  e.event.id = id;
  e.event.type = "t";
  e.reason = "why " + std::to_string(sequence);
  e.at = at;
  return e;
}

} // namespace

BOOST_AUTO_TEST_SUITE(store)

// -- opening ----------------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(set_aside_events_are_found_by_range_and_by_id, fixture) {
  auto aside = [&](uint32_t shard, uint64_t sequence, const std::string& id) {
    REQUIRE_OK(db->set_aside(set_aside_at(shard, sequence, id, now)));
  };
  aside(0, 5, event_id_at(0, 5));
  aside(0, 10, "65f0a1b2c3d4e5f60123abcd"); // a publisher's own id
  aside(1, 7, event_id_at(1, 7));
  auto range = [&](uint32_t shard, uint64_t after, uint64_t up_to) {
    auto found = db->set_aside_sequences(shard, after, up_to);
    BOOST_REQUIRE_MESSAGE(found, message_of(found.error()));
    return *found;
  };
  auto max = std::numeric_limits<uint64_t>::max();
  BOOST_TEST(range(0, 0, max) == (std::vector<uint64_t>{5, 10}), boost::test_tools::per_element());
  BOOST_TEST(range(0, 5, 10) == (std::vector<uint64_t>{10}), boost::test_tools::per_element());
  BOOST_TEST(range(0, 4, 5) == (std::vector<uint64_t>{5}), boost::test_tools::per_element());
  BOOST_TEST(range(0, 10, max).empty());
  BOOST_TEST(range(0, 5, 9).empty());
  BOOST_TEST(range(1, 0, max) == (std::vector<uint64_t>{7}), boost::test_tools::per_element());
  BOOST_TEST(range(2, 0, max).empty());
  for (auto& [id, sequence] : std::vector<std::pair<std::string, uint64_t>>{
         {event_id_at(0, 5), 5}, {"65f0a1b2c3d4e5f60123abcd", 10}, {event_id_at(1, 7), 7}}) {
    auto found = db->find_set_aside(id);
    BOOST_REQUIRE(found);
    BOOST_REQUIRE_MESSAGE(*found, id);
    BOOST_TEST((*found)->sequence == sequence);
    BOOST_TEST((*found)->reason == "why " + std::to_string(sequence));
  }
  auto missing = db->find_set_aside(event_id_at(0, 6));
  BOOST_REQUIRE(missing);
  BOOST_TEST(!*missing);
  // Marked replayed: still found (and still skipped by derivation), with the time.
  auto replayed = **db->find_set_aside(event_id_at(0, 5));
  replayed.replayed_at = now + 1;
  REQUIRE_OK(db->set_aside(replayed));
  BOOST_TEST((*db->find_set_aside(event_id_at(0, 5)))->replayed_at == now + 1);
  BOOST_TEST(range(0, 0, max).size() == 2u);
}

BOOST_FIXTURE_TEST_CASE(reopen_keeps_data, fixture) {
  dispatcher disp;
  disp.id = "d1";
  disp.event_type = "order.created";
  REQUIRE_OK(db->write_dispatchers({disp}, {}));
  REQUIRE_OK(db->write_dispatcher_versions(2, {dispatcher_version{3, "d1", disp}}));
  REQUIRE_OK(db->accept_events({chosen(2, 7, make_event("e1"))}, now));
  auto x = make_record("x", action_kind::mail, now);
  progress p{7, 0};
  REQUIRE_OK(record_first(db, 2, x, &p));
  reopen();
  auto loaded = db->load_dispatchers();
  BOOST_REQUIRE(loaded);
  BOOST_REQUIRE_EQUAL(loaded->size(), 1u);
  BOOST_CHECK(loaded->front() == disp);
  auto versions = versions_of(db, 2);
  BOOST_REQUIRE_EQUAL(versions.size(), 1u);
  BOOST_CHECK_EQUAL(versions[0].from, 3u);
  BOOST_CHECK(versions[0].value == caf::optional<dispatcher>{disp});
  auto log = log_of(db, 2);
  BOOST_REQUIRE_EQUAL(log.size(), 1u);
  BOOST_CHECK_EQUAL(log.front().sequence, 7u);
  BOOST_CHECK(log.front().event == make_event("e1"));
  BOOST_CHECK_EQUAL(db->last_log_sequence(2), 7u);
  BOOST_CHECK_EQUAL(db->last_log_sequence(), 7u);
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::mail), 1u);
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::task), 0u);
  BOOST_CHECK((due(db, action_kind::mail, 2) == delivery_list{x}));
  auto read = progress_of(db, action_kind::mail, 2);
  BOOST_CHECK_EQUAL(read.cursor, 7u);
  auto seen = db->find_seen({"e1"}, 1, now);
  BOOST_REQUIRE(seen);
  BOOST_CHECK((*seen)[0] && *(*seen)[0] == make_event("e1"));
}

// The first release stored dispatchers without a format marker (CAF's encoding of the fields it
// had). Such values, in both families, still load, with the fields added since absent; a value
// written now carries the marker and its new fields.
BOOST_FIXTURE_TEST_CASE(dispatchers_of_the_first_release_still_decode, fixture) {
  auto old = order_dispatcher();
  auto shard = shard_of(old.event_type, db->shards());
  auto current = old;
  current.id = hexid(0xd2);
  current.filter = "gt(content.amount,100)";
  current.ordering_key = "content.userId";
  current.rate_limit = rate_limit{2.5};
  current.actions[0].templated = true;
  current.actions[0].data = R"({"u":"{{event.content.userId}}"})";
  REQUIRE_OK(db->write_dispatchers({current}, {}));
  REQUIRE_OK(db->write_dispatcher_versions(shard, {dispatcher_version{4, current.id, current}}));
  db.reset();
  std::string v1;
  REQUIRE_OK(codec::encode_dispatcher_v1(v1, old));
  BOOST_REQUIRE(v1[0] == '\x18'); // an old value starts with its id's length, 24
  with_raw_db(opts.data_dir, [&](rocksdb::DB& raw, raw_families& families) {
    BOOST_REQUIRE(raw.Put({}, families.at(keys::dispatchers_family), old.id, v1).ok());
    BOOST_REQUIRE(raw
                    .Put({}, families.at(keys::dispatcher_versions_family),
                         keys::version_key(shard, 3, old.id), v1)
                    .ok());
  });
  for (auto& [key, value] : raw_entries(opts.data_dir, keys::dispatchers_family))
    if (key == current.id) BOOST_TEST(value.substr(0, 2) == std::string("\xFF\x02", 2));
  reopen();
  auto loaded = db->load_dispatchers();
  BOOST_REQUIRE_MESSAGE(loaded, test::why(loaded));
  BOOST_REQUIRE_EQUAL(loaded->size(), 2u);
  BOOST_CHECK(loaded->at(0) == old);
  BOOST_CHECK(!loaded->at(0).filter && !loaded->at(0).rate_limit && !loaded->at(0).ordering_key);
  BOOST_CHECK(loaded->at(1) == current);
  auto versions = versions_of(db, shard);
  BOOST_REQUIRE_EQUAL(versions.size(), 2u);
  BOOST_CHECK(versions[0].value == caf::optional<dispatcher>{old});
  BOOST_CHECK(versions[1].value == caf::optional<dispatcher>{current});
  // A marked value of a format this release does not know is an error naming the record.
  db.reset();
  with_raw_db(opts.data_dir, [&](rocksdb::DB& raw, raw_families& families) {
    BOOST_REQUIRE(
      raw.Put({}, families.at(keys::dispatchers_family), old.id, std::string("\xFF\x07", 2)).ok());
  });
  reopen();
  auto refused = db->load_dispatchers();
  BOOST_REQUIRE(!refused);
  BOOST_TEST(message_of(refused.error()).find("unknown format 7") != std::string::npos);
}

// The cluster's replicated dispatcher log: an entry of the first release (its version, op, an
// unmarked dispatcher and the id, back to back) decodes; a current one round-trips.
BOOST_AUTO_TEST_CASE(cluster_log_entries_of_the_first_release_still_decode) {
  auto old = order_dispatcher();
  std::string head;
  std::string body;
  std::string tail;
  uint64_t version = 9;
  auto op = log_op::put;
  REQUIRE_OK(codec::encode(head, version, op));
  REQUIRE_OK(codec::encode_dispatcher_v1(body, old));
  REQUIRE_OK(codec::encode(tail, old.id));
  auto v1 = head + body + tail;
  log_entry entry;
  REQUIRE_OK(codec::decode_log_entry("log", "k", 1, v1.data(), v1.size(), entry));
  BOOST_CHECK_EQUAL(entry.version, 9u);
  BOOST_CHECK(entry.value == old);
  BOOST_CHECK_EQUAL(entry.id, old.id);
  entry.value.filter = "eq(type,order.created)";
  std::string now_encoded;
  REQUIRE_OK(codec::encode_log_entry(now_encoded, entry));
  log_entry again;
  REQUIRE_OK(codec::decode_log_entry("log", "k", 1, now_encoded.data(), now_encoded.size(), again));
  BOOST_CHECK(again.value == entry.value);
  BOOST_CHECK_EQUAL(again.version, 9u);
}

BOOST_FIXTURE_TEST_CASE(shard_count_mismatch_is_refused, fixture) {
  db.reset();
  opts.data_dir = dir.path + "/eight";
  opts.shards = 8;
  reopen();
  db.reset();
  opts.shards = 4;
  auto opened = dispatch::store::open(opts);
  BOOST_REQUIRE(!opened);
  BOOST_CHECK_EQUAL(message_of(opened.error()),
                    "data directory " + opts.data_dir
                      + " was created with 8 shards; this configuration asks for 4");
  BOOST_CHECK(code_of(opened.error()) == error_code::server);
}

BOOST_FIXTURE_TEST_CASE(newer_schema_is_refused, fixture) {
  db.reset();
  BOOST_CHECK_EQUAL(raw_meta(opts.data_dir, keys::schema_version_key), u32(4));
  with_raw_db(opts.data_dir, [](rocksdb::DB& raw, raw_families& families) {
    auto st = raw.Put({}, families.at(keys::meta_family), keys::schema_version_key, u32(5));
    BOOST_REQUIRE(st.ok());
  });
  auto opened = dispatch::store::open(opts);
  BOOST_REQUIRE(!opened);
  BOOST_CHECK_EQUAL(message_of(opened.error()),
                    "data directory " + opts.data_dir
                      + " has schema version 5, written by a newer release; this build reads up "
                        "to 4");
  BOOST_CHECK(code_of(opened.error()) == error_code::server);
  // Refused means untouched.
  BOOST_CHECK_EQUAL(raw_meta(opts.data_dir, keys::schema_version_key), u32(5));
}

BOOST_FIXTURE_TEST_CASE(older_schema_is_migrated_not_refused, fixture) {
  dispatcher disp = order_dispatcher();
  REQUIRE_OK(db->write_dispatchers({disp}, {}));
  REQUIRE_OK(db->accept_events({chosen(1, 5, make_event(hexid(1)))}, now));
  db.reset();
  with_raw_db(opts.data_dir, [](rocksdb::DB& raw, raw_families& families) {
    auto st = raw.Put({}, families.at(keys::meta_family), keys::schema_version_key, u32(2));
    BOOST_REQUIRE(st.ok());
  });
  reopen();
  // The data is still there, and every dispatcher got a version from sequence 0.
  BOOST_CHECK((sequences_of(log_of(db, 1)) == std::vector<uint64_t>{5}));
  auto shard = shard_of(disp.event_type, 4);
  auto versions = versions_of(db, shard);
  BOOST_REQUIRE_EQUAL(versions.size(), 1u);
  BOOST_CHECK_EQUAL(versions[0].from, 0u);
  BOOST_CHECK_EQUAL(versions[0].id, disp.id);
  BOOST_CHECK(versions[0].value == caf::optional<dispatcher>{disp});
  db.reset();
  BOOST_CHECK_EQUAL(raw_meta(opts.data_dir, keys::schema_version_key), u32(4));
}

BOOST_FIXTURE_TEST_CASE(second_open_is_refused_while_in_use, fixture) {
  auto second = dispatch::store::open(opts);
  BOOST_REQUIRE(!second);
  BOOST_CHECK_EQUAL(message_of(second.error()),
                    "data directory " + opts.data_dir + " is in use by another process");
  db.reset(); // released: opening works again
  reopen();
}

// -- dispatchers and their versions ------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(dispatchers_write_erase_load, fixture) {
  dispatcher a, b, c;
  a.id = "a";
  b.id = "b";
  b.actions.resize(2);
  b.actions[1].kind = action_kind::mail;
  b.actions[1].recipients.to = {"x@example.com"};
  c.id = "c";
  REQUIRE_OK(db->write_dispatchers({a, b}, {}));
  b.version = 2;
  REQUIRE_OK(db->write_dispatchers({b, c}, {"a", "never-there"}));
  auto loaded = db->load_dispatchers();
  BOOST_REQUIRE(loaded);
  BOOST_REQUIRE_EQUAL(loaded->size(), 2u);
  BOOST_CHECK((*loaded)[0] == b);
  BOOST_CHECK((*loaded)[1] == c);
}

BOOST_FIXTURE_TEST_CASE(pruning_keeps_the_versions_in_force_from_the_floor_on, fixture) {
  auto va = order_dispatcher();
  va.id = "a";
  auto va2 = va;
  va2.version = 2;
  auto va3 = va;
  va3.version = 3;
  auto vb = order_dispatcher();
  vb.id = "b";
  auto vc = order_dispatcher();
  vc.id = "c";
  REQUIRE_OK(db->write_dispatcher_versions(
    2, {dispatcher_version{1, "a", va}, dispatcher_version{5, "a", va2},
        dispatcher_version{20, "a", va3}, dispatcher_version{2, "b", vb},
        dispatcher_version{6, "b", caf::none}, dispatcher_version{30, "c", vc}}));
  REQUIRE_OK(db->prune_dispatcher_versions(2, 10));
  auto left = versions_of(db, 2);
  // a: in force at 10 is its version from 5 (1 is superseded), and 20 comes later; b: removed at
  // 6, nothing of it is in force from 10 on; c: only later.
  BOOST_REQUIRE_EQUAL(left.size(), 3u);
  BOOST_CHECK_EQUAL(left[0].from, 5u);
  BOOST_CHECK(left[0].value == caf::optional<dispatcher>{va2});
  BOOST_CHECK_EQUAL(left[1].from, 20u);
  BOOST_CHECK_EQUAL(left[2].from, 30u);
  BOOST_CHECK_EQUAL(left[2].id, "c");
  // What a timeline built from what is left says at and after the floor is what it said before.
  dispatcher_timeline timeline;
  for (auto& v : left) timeline.apply(v.from, v.id, v.value ? &*v.value : nullptr);
  BOOST_REQUIRE_EQUAL(timeline.at(va.event_type, 10).size(), 1u);
  BOOST_CHECK_EQUAL(timeline.at(va.event_type, 10)[0]->value.version, 2u);
  BOOST_CHECK_EQUAL(timeline.at(va.event_type, 25)[0]->value.version, 3u);
  BOOST_CHECK_EQUAL(timeline.at(va.event_type, 30).size(), 2u);
  // Pruning again changes nothing.
  REQUIRE_OK(db->prune_dispatcher_versions(2, 10));
  BOOST_CHECK_EQUAL(versions_of(db, 2).size(), 3u);
}

BOOST_FIXTURE_TEST_CASE(dispatcher_versions_come_in_from_order_with_removals, fixture) {
  BOOST_CHECK(versions_of(db, 2).empty());
  auto va = order_dispatcher();
  va.id = "a";
  auto vb = order_dispatcher();
  vb.id = "b";
  vb.actions.pop_back();
  auto vc = order_dispatcher();
  vc.id = "c";
  // Written out of order, one a removal; another shard's versions stay apart.
  REQUIRE_OK(db->write_dispatcher_versions(
    2, {dispatcher_version{700, "b", vb}, dispatcher_version{3, "a", va},
        dispatcher_version{700, "a", caf::none}, dispatcher_version{256, "b", vb}}));
  REQUIRE_OK(db->write_dispatcher_versions(1, {dispatcher_version{1, "c", vc}}));
  auto check = [&] {
    auto two = versions_of(db, 2);
    BOOST_REQUIRE_EQUAL(two.size(), 4u);
    BOOST_CHECK_EQUAL(two[0].from, 3u);
    BOOST_CHECK_EQUAL(two[0].id, "a");
    BOOST_CHECK(two[0].value == caf::optional<dispatcher>{va});
    BOOST_CHECK_EQUAL(two[1].from, 256u);
    BOOST_CHECK_EQUAL(two[1].id, "b");
    BOOST_CHECK(two[1].value == caf::optional<dispatcher>{vb});
    BOOST_CHECK_EQUAL(two[2].from, 700u);
    BOOST_CHECK_EQUAL(two[2].id, "a");
    BOOST_CHECK(!two[2].value); // the removal round-trips as an absent value
    BOOST_CHECK_EQUAL(two[3].from, 700u);
    BOOST_CHECK_EQUAL(two[3].id, "b");
    BOOST_CHECK(two[3].value == caf::optional<dispatcher>{vb});
    auto one = versions_of(db, 1);
    BOOST_REQUIRE_EQUAL(one.size(), 1u);
    BOOST_CHECK_EQUAL(one[0].from, 1u);
    BOOST_CHECK(one[0].value == caf::optional<dispatcher>{vc});
    BOOST_CHECK(versions_of(db, 0).empty());
    BOOST_CHECK(versions_of(db, 3).empty());
  };
  check();
  reopen();
  check();
  // The directory's current set is another family: untouched.
  auto loaded = db->load_dispatchers();
  BOOST_REQUIRE(loaded);
  BOOST_CHECK(loaded->empty());
}

// -- ingest -------------------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(accept_events_writes_the_log_and_seen_for_chosen_ids, fixture) {
  BOOST_CHECK_EQUAL(db->last_log_sequence(), 0u);
  auto a = event{hexid(0xa), "order.created", "{\"a\":1}", now};
  auto b = event{hexid(0xb), "order.paid", "{\"b\":2}", now + 1};
  auto c = event{"publisher-chosen", "order.created", "{\"c\":3}", now + 2};
  auto d = event{hexid(0xd), "order.created", "{}", now + 3};
  REQUIRE_OK(db->accept_events(
    {chosen(0, 5, a), generated(0, 9, b), chosen(3, 7, c), generated(1, 2, d)}, now));
  auto check = [&] {
    BOOST_CHECK_EQUAL(db->last_log_sequence(0), 9u);
    BOOST_CHECK_EQUAL(db->last_log_sequence(1), 2u);
    BOOST_CHECK_EQUAL(db->last_log_sequence(2), 0u);
    BOOST_CHECK_EQUAL(db->last_log_sequence(3), 7u);
    BOOST_CHECK_EQUAL(db->last_log_sequence(99), 0u);
    BOOST_CHECK_EQUAL(db->last_log_sequence(), 9u);
    auto zero = log_of(db, 0);
    BOOST_REQUIRE_EQUAL(zero.size(), 2u);
    BOOST_CHECK_EQUAL(zero[0].sequence, 5u);
    BOOST_CHECK(zero[0].event == a);
    BOOST_CHECK_EQUAL(zero[1].sequence, 9u);
    BOOST_CHECK(zero[1].event == b);
    BOOST_CHECK((sequences_of(log_of(db, 1)) == std::vector<uint64_t>{2}));
    BOOST_CHECK(log_of(db, 2).empty());
    BOOST_CHECK((sequences_of(log_of(db, 3)) == std::vector<uint64_t>{7}));
    for (auto [shard, seq, ev] : std::vector<std::tuple<uint32_t, uint64_t, event>>{
           {0, 5, a}, {0, 9, b}, {3, 7, c}, {1, 2, d}}) {
      auto got = db->get_logged(shard, seq);
      BOOST_REQUIRE_MESSAGE(got, test::why(got));
      BOOST_CHECK_MESSAGE(*got && **got == ev, "get_logged " << shard << "/" << seq);
    }
    for (auto [shard, seq] : std::vector<std::pair<uint32_t, uint64_t>>{{0, 6}, {2, 5}, {1, 9}}) {
      auto got = db->get_logged(shard, seq);
      BOOST_REQUIRE_MESSAGE(got, test::why(got));
      BOOST_CHECK_MESSAGE(!*got, "nothing at " << shard << "/" << seq);
    }
    // `seen` holds the ids the publishers chose, only those.
    auto found = db->find_seen({a.id, b.id, c.id, d.id}, 1, now);
    BOOST_REQUIRE(found);
    BOOST_CHECK((*found)[0] && *(*found)[0] == a);
    BOOST_CHECK(!(*found)[1]);
    BOOST_CHECK((*found)[2] && *(*found)[2] == c);
    BOOST_CHECK(!(*found)[3]);
  };
  check();
  db.reset();
  // One log entry per event, under shard · sequence; `seen` for the chosen ids alone.
  std::vector<std::string> expected_log{keys::log_entry_key(0, 5), keys::log_entry_key(0, 9),
                                        keys::log_entry_key(1, 2), keys::log_entry_key(3, 7)};
  BOOST_CHECK(raw_keys(opts.data_dir, keys::event_log_family) == expected_log);
  BOOST_CHECK((raw_keys(opts.data_dir, keys::seen_family) == std::vector<std::string>{a.id, c.id}));
  reopen(); // the last sequences are read back at open
  check();
}

BOOST_FIXTURE_TEST_CASE(compact_events_round_trip_exactly, fixture) {
  std::string long_type(200, 't'); // a type length of two varint bytes
  std::string content_with_nul = std::string{"{\"x\":\"\xc3\xbc\"}"} + '\0' + "tail";
  std::vector<event> events{
    {hexid(0xabcdef), long_type, content_with_nul, -5},
    {"publisher/id with spaces", "", "", std::numeric_limits<timestamp_ms>::max()},
    {std::string(23, 'a'), "order.created", "{}", 0},
    {std::string(25, 'b'), "order.created", "{}", 1},
    {"0123456789abcdef0123456g", "order.created", "{}", 2}, // 24 characters, not all hex
    {"", "order.created", "{\"empty\":\"id\"}", 3},
    {"ffffffffffffffffffffffff", "x", std::string(300, 'c'), now},
  };
  std::vector<accepted_event> batch;
  for (size_t i = 0; i < events.size(); ++i) batch.push_back(generated(1, 100 + i, events[i]));
  REQUIRE_OK(db->accept_events(batch, now));
  auto check = [&] {
    auto log = log_of(db, 1);
    BOOST_REQUIRE_EQUAL(log.size(), events.size());
    for (size_t i = 0; i < events.size(); ++i) {
      BOOST_CHECK_EQUAL(log[i].sequence, 100 + i);
      BOOST_CHECK_EQUAL(log[i].event.id, events[i].id);
      BOOST_CHECK_EQUAL(log[i].event.type, events[i].type);
      BOOST_CHECK(log[i].event.content == events[i].content); // every byte
      BOOST_CHECK_EQUAL(log[i].event.creation_timestamp, events[i].creation_timestamp);
      auto got = db->get_logged(1, 100 + i);
      BOOST_REQUIRE(got);
      BOOST_CHECK(*got && **got == events[i]);
    }
  };
  check();
  db.reset();
  // Compact: a 24-hex id takes 12 bytes, any other id is kept as text.
  auto entries = raw_entries(opts.data_dir, keys::event_log_family);
  BOOST_REQUIRE_EQUAL(entries.size(), events.size());
  auto& hex = entries[0].second;
  BOOST_CHECK_EQUAL(hex.size(), 1 + 12 + 8 + 2 + long_type.size() + content_with_nul.size());
  BOOST_CHECK_EQUAL(static_cast<int>(hex[0]), 1);
  BOOST_CHECK(hex.find(hexid(0xabcdef)) == std::string::npos);
  auto& text = entries[1].second;
  BOOST_CHECK_EQUAL(static_cast<int>(text[0]), 2);
  BOOST_CHECK(text.find("publisher/id with spaces") != std::string::npos);
  BOOST_CHECK_EQUAL(entries[6].second.size(), 1 + 12 + 8 + 1 + 1 + 300u);
  reopen();
  check();
}

BOOST_FIXTURE_TEST_CASE(accept_events_refuses_an_unknown_shard_and_writes_nothing, fixture) {
  REQUIRE_OK(db->accept_events({chosen(0, 9, make_event(hexid(9)))}, now));
  auto err = db->accept_events(
    {chosen(0, 100, make_event(hexid(100))), chosen(9, 101, make_event(hexid(101)))}, now);
  BOOST_CHECK(err);
  BOOST_CHECK((sequences_of(log_of(db, 0)) == std::vector<uint64_t>{9}));
  BOOST_CHECK_EQUAL(db->last_log_sequence(0), 9u);
  auto found = db->find_seen({hexid(100)}, 1, now);
  BOOST_REQUIRE(found);
  BOOST_CHECK(!(*found)[0]);
  REQUIRE_OK(db->accept_events({}, now)); // nothing to do
}

BOOST_FIXTURE_TEST_CASE(find_seen_within_the_window, fixture) {
  REQUIRE_OK(db->accept_events({chosen(0, 1, make_event("old", "{\"v\":1}"))}, now - 9 * day_ms));
  REQUIRE_OK(db->accept_events({chosen(0, 2, make_event("twice", "{\"v\":1}"))}, now - 2 * day_ms));
  REQUIRE_OK(db->accept_events(
    {chosen(1, 3, make_event("a")), chosen(1, 4, make_event("twice", "{\"v\":2}"))}, now));
  auto found = db->find_seen({"a", "missing", "old", "twice"}, 7, now);
  BOOST_REQUIRE(found);
  BOOST_REQUIRE_EQUAL(found->size(), 4u);
  BOOST_CHECK((*found)[0] && *(*found)[0] == make_event("a"));
  BOOST_CHECK(!(*found)[1]);
  BOOST_CHECK(!(*found)[2]); // nine days ago: outside a seven-day window
  BOOST_REQUIRE((*found)[3]);
  BOOST_CHECK_EQUAL((*found)[3]->content, "{\"v\":2}"); // the newest day wins
  auto wider = db->find_seen({"old"}, 10, now);
  BOOST_REQUIRE(wider);
  BOOST_CHECK((*wider)[0]);
  auto none = db->find_seen({"a"}, 0, now);
  BOOST_REQUIRE(none);
  BOOST_CHECK(!(*none)[0]);
  auto empty = db->find_seen({}, 7, now);
  BOOST_REQUIRE(empty);
  BOOST_CHECK(empty->empty());
}

BOOST_FIXTURE_TEST_CASE(find_seen_window_edges_and_republish_after_it, fixture) {
  // Six days ago is the oldest day of a seven-day window; seven days ago is outside it.
  REQUIRE_OK(db->accept_events({chosen(0, 1, make_event("edge", "{\"v\":1}"))}, now - 6 * day_ms));
  REQUIRE_OK(db->accept_events({chosen(0, 2, make_event("out", "{\"v\":1}"))}, now - 7 * day_ms));
  auto found = db->find_seen({"edge", "out"}, 7, now);
  BOOST_REQUIRE(found);
  BOOST_CHECK((*found)[0] && (*found)[0]->content == "{\"v\":1}");
  BOOST_CHECK(!(*found)[1]);
  // Accepted again outside the window: the new one is what a duplicate is answered with.
  REQUIRE_OK(db->accept_events({chosen(0, 3, make_event("out", "{\"v\":2}"))}, now));
  found = db->find_seen({"out"}, 1, now);
  BOOST_REQUIRE(found);
  BOOST_REQUIRE((*found)[0]);
  BOOST_CHECK_EQUAL((*found)[0]->content, "{\"v\":2}");
  // Tomorrow with a one-day window it is gone; today's window of one day has it.
  found = db->find_seen({"out"}, 1, now + day_ms);
  BOOST_REQUIRE(found);
  BOOST_CHECK(!(*found)[0]);
}

BOOST_FIXTURE_TEST_CASE(seen_retention_holds_across_reopen_and_flush, fixture) {
  REQUIRE_OK(db->accept_events({chosen(0, 1, make_event("old"))}, now - 7 * day_ms));
  REQUIRE_OK(db->accept_events({chosen(0, 2, make_event("kept"))}, now - 6 * day_ms));
  // (History, and so the archive, kept a day: `seen` is kept its own seven.)
  REQUIRE_OK(db->apply_retention(now, 7, 1, 0));
  // Still in the memtable, yet hidden at once.
  auto found = db->find_seen({"old", "kept"}, 30, now);
  BOOST_REQUIRE(found);
  BOOST_CHECK(!(*found)[0]);
  BOOST_CHECK((*found)[1]);
  // The flush drops what retention let go, and only that; the floor outlives a reopen.
  REQUIRE_OK(db->flush());
  db.reset();
  BOOST_CHECK((raw_keys(opts.data_dir, keys::seen_family) == std::vector<std::string>{"kept"}));
  reopen();
  REQUIRE_OK(db->accept_events({chosen(0, 3, make_event("old"))}, now - 7 * day_ms));
  found = db->find_seen({"old", "kept"}, 30, now);
  BOOST_REQUIRE(found);
  BOOST_CHECK(!(*found)[0]);
  BOOST_CHECK((*found)[1]);
}

// `seen` finds the archived events of publisher-chosen ids: while the archive is kept for ever
// (history_days 0), so is `seen`, whatever seen_days says.
BOOST_FIXTURE_TEST_CASE(seen_is_kept_for_ever_while_the_archive_is, fixture) {
  auto long_ago = now - 30 * day_ms;
  auto sequence = first_sequence_of_day(day_of(long_ago)) + 1;
  REQUIRE_OK(db->accept_events({chosen(0, sequence, make_event("chosen-long-ago"))}, long_ago));
  REQUIRE_OK(db->apply_retention(now, 7, 0, 0, 7));
  auto found = db->find_archived("chosen-long-ago");
  BOOST_REQUIRE_MESSAGE(found, test::why(found));
  BOOST_REQUIRE(*found);
  BOOST_TEST((*found)->sequence == sequence);
  // A flush (which drops what retention let go) keeps it, and a reopen reads the same.
  REQUIRE_OK(db->flush());
  db.reset();
  BOOST_TEST(
    (raw_keys(opts.data_dir, keys::seen_family) == std::vector<std::string>{"chosen-long-ago"}));
  reopen();
  found = db->find_archived("chosen-long-ago");
  BOOST_REQUIRE_MESSAGE(found, test::why(found));
  BOOST_TEST(static_cast<bool>(*found));
  // The dedup window is seen_days all the same: past it, the id is not a duplicate.
  auto seen = db->find_seen({"chosen-long-ago"}, 7, now);
  BOOST_REQUIRE(seen);
  BOOST_TEST(!(*seen)[0]);
}

BOOST_FIXTURE_TEST_CASE(scan_log_by_shard_and_after, fixture) {
  BOOST_CHECK_EQUAL(db->last_log_sequence(), 0u);
  std::vector<accepted_event> batch;
  for (uint64_t seq : {1, 3, 5, 300})
    batch.push_back(generated(0, seq, make_event("s0-" + std::to_string(seq))));
  for (uint64_t seq : {2, 4})
    batch.push_back(generated(1, seq, make_event("s1-" + std::to_string(seq))));
  REQUIRE_OK(db->accept_events(batch, now));
  auto sequences = [&](uint32_t shard, uint64_t after, size_t limit) {
    return sequences_of(log_of(db, shard, after, limit));
  };
  BOOST_CHECK((sequences(0, 0, 10) == std::vector<uint64_t>{1, 3, 5, 300}));
  BOOST_CHECK((sequences(0, 3, 10) == std::vector<uint64_t>{5, 300}));
  BOOST_CHECK((sequences(0, 0, 2) == std::vector<uint64_t>{1, 3}));
  BOOST_CHECK(sequences(0, 0, 0).empty());
  BOOST_CHECK((sequences(1, 0, 10) == std::vector<uint64_t>{2, 4}));
  BOOST_CHECK(sequences(2, 0, 10).empty());
  BOOST_CHECK(sequences(0, UINT64_MAX, 10).empty());
  BOOST_CHECK(sequences(0, 300, 10).empty());
  BOOST_CHECK_EQUAL(log_of(db, 0, 0, 10)[3].event.id, "s0-300");
  BOOST_CHECK_EQUAL(db->last_log_sequence(0), 300u);
  BOOST_CHECK_EQUAL(db->last_log_sequence(1), 4u);
  BOOST_CHECK_EQUAL(db->last_log_sequence(), 300u);
  BOOST_CHECK(db->accept_events({generated(9, 1, make_event("x"))}, now)); // no shard 9
}

// -- emitters' progress -----------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(progress_starts_at_zero_and_is_kept_per_kind_and_shard, fixture) {
  auto is = [](const progress& p, uint64_t cursor, uint64_t delivered) {
    return p.cursor == cursor && p.delivered == delivered;
  };
  BOOST_CHECK(is(progress_of(db, action_kind::task, 0), 0, 0));
  BOOST_CHECK(is(progress_of(db, action_kind::mail, 3), 0, 0));
  progress p{42, 40};
  REQUIRE_OK(db->write_outcomes(action_kind::task, 0, {}, &p));
  BOOST_CHECK(is(progress_of(db, action_kind::task, 0), 42, 40));
  BOOST_CHECK(is(progress_of(db, action_kind::mail, 0), 0, 0));
  BOOST_CHECK(is(progress_of(db, action_kind::task, 1), 0, 0));
  progress q{7, 1};
  REQUIRE_OK(db->write_outcomes(action_kind::mail, 1, {}, &q));
  BOOST_CHECK(is(progress_of(db, action_kind::mail, 1), 7, 1));
  BOOST_CHECK(is(progress_of(db, action_kind::task, 0), 42, 40));
  BOOST_CHECK(is(progress_of(db, action_kind::task, 1), 0, 0));
  progress later{50, 45};
  REQUIRE_OK(db->write_outcomes(action_kind::task, 0, {}, &later));
  REQUIRE_OK(db->write_outcomes(action_kind::task, 2, {}, nullptr)); // nothing to write
  BOOST_CHECK(is(progress_of(db, action_kind::task, 2), 0, 0));
  reopen();
  BOOST_CHECK(is(progress_of(db, action_kind::task, 0), 50, 45));
  BOOST_CHECK(is(progress_of(db, action_kind::mail, 1), 7, 1));
  BOOST_CHECK(is(progress_of(db, action_kind::mail, 0), 0, 0));
  BOOST_CHECK(is(progress_of(db, action_kind::task, 1), 0, 0));
  BOOST_CHECK(is(progress_of(db, action_kind::task, 2), 0, 0));
  db.reset();
  BOOST_CHECK_EQUAL(raw_keys(opts.data_dir, keys::progress_family).size(), 2u);
}

BOOST_FIXTURE_TEST_CASE(unfinished_events_start_after_the_slower_cursor, fixture) {
  std::vector<accepted_event> batch;
  for (uint64_t seq : {1, 2, 3, 4})
    batch.push_back(generated(0, seq, make_event("s0-" + std::to_string(seq))));
  for (uint64_t seq : {5, 6})
    batch.push_back(generated(2, seq, make_event("s2-" + std::to_string(seq))));
  REQUIRE_OK(db->accept_events(batch, now));
  progress task{3, 3};
  progress mail{2, 2};
  REQUIRE_OK(db->write_outcomes(action_kind::task, 0, {}, &task));
  REQUIRE_OK(db->write_outcomes(action_kind::mail, 0, {}, &mail));
  std::vector<std::string> visited;
  REQUIRE_OK(db->for_each_unfinished_event([&](const event& x) {
    visited.push_back(x.id);
    return true;
  }));
  BOOST_CHECK((visited == std::vector<std::string>{"s0-3", "s0-4", "s2-5", "s2-6"}));
  size_t n = 0;
  REQUIRE_OK(db->for_each_unfinished_event([&](const event&) { return ++n < 1; }));
  BOOST_CHECK_EQUAL(n, 1u);
}

// -- exception records ------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(derived_failure_gets_an_exception_record_and_leaves_it_when_delivered,
                        fixture) {
  auto id = delivery_id_at(delivery_position{100, 2, 0});
  auto other = delivery_id_at(delivery_position{100, 2, 1});
  auto failed = make_record(id, action_kind::task, now + 5000);
  progress first{100, 7};
  REQUIRE_OK(
    db->write_outcomes(action_kind::task, 2, {delivery_outcome{0, false, failed}}, &first));
  // The record and the progress, written together.
  auto p = progress_of(db, action_kind::task, 2);
  BOOST_CHECK_EQUAL(p.cursor, 100u);
  BOOST_CHECK_EQUAL(p.delivered, 7u);
  BOOST_CHECK_EQUAL(progress_of(db, action_kind::mail, 2).cursor, 0u);
  auto waiting = waiting_of(db, id);
  BOOST_CHECK(waiting && *waiting == failed);
  BOOST_CHECK((due(db, action_kind::task, 2) == delivery_list{failed}));
  BOOST_CHECK(due(db, action_kind::task, 0).empty());
  BOOST_CHECK(due(db, action_kind::mail, 2).empty());
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::task), 1u);
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::mail), 0u);
  BOOST_CHECK((records_of(db, {id, other}) == std::vector<bool>{true, false}));
  auto slot = slot_of(db, id);
  BOOST_REQUIRE(slot);
  BOOST_CHECK(slot->place == record_place::waiting);
  BOOST_CHECK(slot->kind == action_kind::task);
  BOOST_CHECK_EQUAL(slot->shard, 2u);
  BOOST_CHECK_EQUAL(slot->field, now + 5000);
  BOOST_CHECK(!slot_of(db, other));
  BOOST_CHECK((list_all(db) == delivery_list{failed}));
  // A held one gets its first record too.
  auto held_id = delivery_id_at(delivery_position{101, 2, 0});
  auto held = make_record(held_id, action_kind::task, now + 10 * day_ms, delivery_status::held);
  REQUIRE_OK(record_first(db, 2, held));
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::task), 2u);
  BOOST_CHECK((ids_of(due(db, action_kind::task, 2)) == std::vector<std::string>{id, held_id}));
  BOOST_CHECK(slot_of(db, held_id)->field == now + 10 * day_ms);
  // Retrying once more, then delivered: it leaves the exceptions for history.
  auto delivered = failed;
  delivered.status = delivery_status::delivered;
  delivered.attempts = 2;
  delivered.finished = now + 6000;
  progress second{101, 8};
  REQUIRE_OK(db->write_outcomes(action_kind::task, 2,
                                {delivery_outcome{now + 5000, true, delivered}}, &second));
  p = progress_of(db, action_kind::task, 2);
  BOOST_CHECK_EQUAL(p.cursor, 101u);
  BOOST_CHECK_EQUAL(p.delivered, 8u);
  BOOST_CHECK(!waiting_of(db, id));
  BOOST_CHECK((ids_of(due(db, action_kind::task, 2)) == std::vector<std::string>{held_id}));
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::task), 1u);
  BOOST_CHECK((records_of(db, {id}) == std::vector<bool>{true}));
  slot = slot_of(db, id);
  BOOST_REQUIRE(slot);
  BOOST_CHECK(slot->place == record_place::finished);
  BOOST_CHECK_EQUAL(slot->shard, 2u);
  BOOST_CHECK_EQUAL(slot->field, static_cast<int64_t>(day_of(now + 6000)));
  auto listed = list_all(db);
  BOOST_REQUIRE_EQUAL(listed.size(), 2u);
  BOOST_CHECK(listed[0] == held);
  BOOST_CHECK(listed[1] == delivered); // from history
  auto only_delivered = list_all(db, scope_of(status_eq("delivered")));
  BOOST_CHECK((only_delivered == delivery_list{delivered}));
  // The counts are exact after a reopen too.
  reopen();
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::task), 1u);
  BOOST_CHECK(slot_of(db, id)->place == record_place::finished);
}

BOOST_FIXTURE_TEST_CASE(derived_death_at_first_attempt_goes_to_dead_letters_and_history, fixture) {
  auto id = delivery_id_at(delivery_position{200, 1, 1});
  auto dead = make_record(id, action_kind::mail, now, delivery_status::dead);
  dead.attempts = 1;
  dead.last_error = "550 mailbox unavailable";
  dead.finished = now;
  progress p{200, 0};
  REQUIRE_OK(db->write_outcomes(action_kind::mail, 1, {delivery_outcome{0, false, dead}}, &p));
  BOOST_CHECK_EQUAL(progress_of(db, action_kind::mail, 1).cursor, 200u);
  auto letter = dead_letter_of(db, id);
  BOOST_CHECK(letter && *letter == dead);
  BOOST_CHECK(!waiting_of(db, id));
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::mail), 0u);
  BOOST_CHECK(due(db, action_kind::mail, 1).empty());
  auto slot = slot_of(db, id);
  BOOST_REQUIRE(slot);
  BOOST_CHECK(slot->place == record_place::dead);
  BOOST_CHECK(slot->kind == action_kind::mail);
  BOOST_CHECK_EQUAL(slot->shard, 1u);
  BOOST_CHECK_EQUAL(slot->field, static_cast<int64_t>(day_of(now)));
  // Listed once (as a dead letter; its history copy is not listed again).
  BOOST_CHECK((list_all(db) == delivery_list{dead}));
  BOOST_CHECK((ids_of(list_all(db, scope_of(status_eq("dead")))) == std::vector<std::string>{id}));
  BOOST_CHECK(list_all(db, scope_of(status_eq("delivered"))).empty());
  BOOST_CHECK((list_all(db, scope_of(id_eq(id))) == delivery_list{dead}));
  db.reset();
  auto history = raw_keys(opts.data_dir, keys::history_family);
  BOOST_CHECK((history == std::vector<std::string>{keys::history_key(day_of(now), id)}));
  BOOST_CHECK((raw_keys(opts.data_dir, keys::dead_letters_family) == std::vector<std::string>{id}));
  reopen();
  // Revived: waiting again with a fresh budget, gone from the dead letters and history.
  auto revived = dead;
  revived.status = delivery_status::pending;
  revived.attempts = 0;
  revived.last_error.clear();
  revived.finished = 0;
  revived.next_attempt = now + 1;
  REQUIRE_OK(db->revive(revived, 1));
  BOOST_CHECK(!dead_letter_of(db, id));
  auto back = waiting_of(db, id);
  BOOST_CHECK(back && *back == revived);
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::mail), 1u);
  BOOST_CHECK((due(db, action_kind::mail, 1) == delivery_list{revived}));
  slot = slot_of(db, id);
  BOOST_REQUIRE(slot);
  BOOST_CHECK(slot->place == record_place::waiting);
  BOOST_CHECK_EQUAL(slot->field, now + 1);
  BOOST_CHECK((list_all(db) == delivery_list{revived}));
  db.reset();
  BOOST_CHECK(raw_keys(opts.data_dir, keys::history_family).empty());
  BOOST_CHECK(raw_keys(opts.data_dir, keys::dead_letters_family).empty());
}

BOOST_FIXTURE_TEST_CASE(scan_due_orders_by_due_time_and_skips, fixture) {
  std::vector<delivery_outcome> batch;
  for (auto [id, at] : std::vector<std::pair<std::string, timestamp_ms>>{
         {"c", 300}, {"a", 100}, {"neg", -5}, {"b", 200}})
    batch.push_back(delivery_outcome{0, false, make_record(id, action_kind::task, at)});
  REQUIRE_OK(db->write_outcomes(action_kind::task, 0, batch));
  REQUIRE_OK(record_first(db, 0, make_record("mail", action_kind::mail, 0)));
  using ids = std::vector<std::string>;
  BOOST_CHECK((ids_of(due(db, action_kind::task, 0)) == ids{"neg", "a", "b", "c"}));
  BOOST_CHECK((ids_of(due(db, action_kind::task, 0, 2)) == ids{"neg", "a"}));
  auto skip_a = [](const std::string& id) { return id == "a" || id == "neg"; };
  BOOST_CHECK((ids_of(due(db, action_kind::task, 0, 2, skip_a)) == ids{"b", "c"}));
  BOOST_CHECK((ids_of(due(db, action_kind::mail, 0)) == ids{"mail"}));
  // After the head is finished and scanned past, an earlier delivery is still found first.
  REQUIRE_OK(write_outcome(db, 0, -5, make_record("neg", action_kind::task, -5),
                           delivery_status::delivered));
  BOOST_CHECK_EQUAL(due(db, action_kind::task, 0).front().id, "a");
  REQUIRE_OK(record_first(db, 0, make_record("early", action_kind::task, 50)));
  BOOST_CHECK_EQUAL(due(db, action_kind::task, 0).front().id, "early");
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::task), 4u);
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::mail), 1u);
}

BOOST_FIXTURE_TEST_CASE(scan_due_reads_one_shard_only, fixture) {
  REQUIRE_OK(record_first(db, 0, make_record("a0", action_kind::task, 10)));
  REQUIRE_OK(record_first(db, 1, make_record("a1", action_kind::task, 5)));
  REQUIRE_OK(record_first(db, 1, make_record("b1", action_kind::task, 1)));
  REQUIRE_OK(record_first(db, 2, make_record("a2", action_kind::task, 0)));
  REQUIRE_OK(record_first(db, 1, make_record("m1", action_kind::mail, 0)));
  using ids = std::vector<std::string>;
  BOOST_CHECK((ids_of(due(db, action_kind::task, 1)) == ids{"b1", "a1"}));
  BOOST_CHECK((ids_of(due(db, action_kind::task, 1, 1)) == ids{"b1"}));
  BOOST_CHECK((ids_of(due(db, action_kind::task, 0)) == ids{"a0"}));
  BOOST_CHECK((ids_of(due(db, action_kind::task, 2)) == ids{"a2"}));
  BOOST_CHECK(due(db, action_kind::task, 3).empty());
  BOOST_CHECK((ids_of(due(db, action_kind::mail, 1)) == ids{"m1"}));
  BOOST_CHECK(due(db, action_kind::mail, 0).empty());
  BOOST_CHECK(due(db, action_kind::mail, 2).empty());
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::task), 4u);
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::mail), 1u);
  BOOST_CHECK_EQUAL(slot_of(db, "a2")->shard, 2u);
  std::vector<std::string> all;
  REQUIRE_OK(db->for_each_waiting([&](const delivery& x) {
    all.push_back(x.id);
    return true;
  }));
  BOOST_CHECK((sorted(all) == ids{"a0", "a1", "a2", "b1", "m1"}));
}

BOOST_FIXTURE_TEST_CASE(reschedule_moves_a_delivery, fixture) {
  REQUIRE_OK(record_first(db, 0, make_record("a", action_kind::task, 100)));
  REQUIRE_OK(record_first(db, 0, make_record("b", action_kind::task, 200)));
  auto moved = make_record("a", action_kind::task, 500);
  moved.attempts = 2;
  moved.last_error = "503";
  REQUIRE_OK(write_outcome(db, 0, 100, moved, delivery_status::retrying));
  auto queue = due(db, action_kind::task, 0);
  BOOST_REQUIRE((ids_of(queue) == std::vector<std::string>{"b", "a"}));
  BOOST_CHECK(queue[1] == moved);
  BOOST_CHECK_EQUAL(slot_of(db, "a")->field, 500);
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::task), 2u);
  // Purged, it is gone from the queue. (An answer to a purged delivery still at its sink is the
  // emitter's to ignore: it never writes that outcome.)
  BOOST_REQUIRE(*db->purge("b") == dispatch::store::purged::waiting);
  BOOST_CHECK((ids_of(due(db, action_kind::task, 0)) == std::vector<std::string>{"a"}));
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::task), 1u);
  BOOST_CHECK(slot_of(db, "b")->place == record_place::purged);
  BOOST_CHECK(!waiting_of(db, "b"));
}

BOOST_FIXTURE_TEST_CASE(finish_revive_and_purge, fixture) {
  REQUIRE_OK(record_first(db, 0, make_record("ok", action_kind::task, 10)));
  REQUIRE_OK(record_first(db, 0, make_record("bad", action_kind::mail, 20)));
  auto done = make_record("ok", action_kind::task, 10);
  done.finished = now;
  REQUIRE_OK(write_outcome(db, 0, 10, done, delivery_status::delivered));
  auto dead = make_record("bad", action_kind::mail, 20);
  dead.attempts = 5;
  dead.last_error = "550 mailbox unavailable";
  dead.finished = now;
  REQUIRE_OK(write_outcome(db, 0, 20, dead, delivery_status::dead));
  BOOST_CHECK(due(db, action_kind::task, 0).empty());
  BOOST_CHECK(due(db, action_kind::mail, 0).empty());
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::mail), 0u);
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::task), 0u);
  BOOST_CHECK(!waiting_of(db, "bad"));
  auto letter = dead_letter_of(db, "bad");
  BOOST_REQUIRE(letter);
  BOOST_CHECK(letter->status == delivery_status::dead);
  BOOST_CHECK_EQUAL(letter->last_error, "550 mailbox unavailable");
  BOOST_CHECK(!dead_letter_of(db, "ok"));
  BOOST_CHECK(slot_of(db, "bad")->place == record_place::dead);
  BOOST_CHECK(slot_of(db, "ok")->place == record_place::finished);
  auto revived = dead;
  revived.attempts = 0;
  revived.status = delivery_status::pending;
  revived.next_attempt = now;
  revived.finished = 0;
  REQUIRE_OK(db->revive(revived, 0));
  BOOST_CHECK(!dead_letter_of(db, "bad"));
  BOOST_CHECK((due(db, action_kind::mail, 0) == delivery_list{revived}));
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::mail), 1u);
  BOOST_CHECK(*db->purge("bad") == dispatch::store::purged::waiting); // revived: waiting again
  BOOST_CHECK(due(db, action_kind::mail, 0).empty());
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::mail), 0u);
  BOOST_CHECK(*db->purge("bad") == dispatch::store::purged::nothing);
  BOOST_CHECK(*db->purge("ok") == dispatch::store::purged::finished); // from history
  BOOST_CHECK(*db->purge("ok") == dispatch::store::purged::nothing);
  BOOST_CHECK(*db->purge("never-there") == dispatch::store::purged::nothing);
  BOOST_CHECK(list_all(db).empty());
}

BOOST_FIXTURE_TEST_CASE(for_each_delivery_visits_every_state, fixture) {
  REQUIRE_OK(record_first(db, 0, make_record("w", action_kind::task, 5)));
  REQUIRE_OK(record_first(db, 0, make_record("x", action_kind::mail, 6)));
  REQUIRE_OK(record_first(db, 0, make_record("d", action_kind::task, 7)));
  REQUIRE_OK(record_first(db, 0, make_record("old", action_kind::task, 8)));
  REQUIRE_OK(record_first(db, 0, make_record("dl", action_kind::mail, 9)));
  auto old = make_record("old", action_kind::task, 8);
  old.finished = now - 3 * day_ms;
  REQUIRE_OK(write_outcome(db, 0, 8, old, delivery_status::delivered));
  auto done = make_record("d", action_kind::task, 7);
  done.finished = now;
  REQUIRE_OK(write_outcome(db, 0, 7, done, delivery_status::delivered));
  REQUIRE_OK(
    write_outcome(db, 0, 9, make_record("dl", action_kind::mail, 9), delivery_status::dead));
  // And one derived from the log, listed last.
  auto disp = order_dispatcher();
  auto shard = shard_of(disp.event_type, db->shards());
  REQUIRE_OK(db->write_dispatcher_versions(shard, {dispatcher_version{1, disp.id, disp}}));
  REQUIRE_OK(db->accept_events({chosen(shard, 50, make_event(hexid(0x50)))}, now));
  auto derived_task = delivery_id_at(delivery_position{50, shard, 0});
  auto derived_mail = delivery_id_at(delivery_position{50, shard, 1});
  std::vector<std::string> seen;
  std::vector<delivery_status> states;
  REQUIRE_OK(db->for_each_delivery([&](const delivery& x) {
    seen.push_back(x.id);
    states.push_back(x.status);
    return true;
  }));
  BOOST_CHECK(
    (seen == std::vector<std::string>{"w", "x", "dl", "d", "old", derived_task, derived_mail}));
  BOOST_REQUIRE_EQUAL(states.size(), 7u);
  BOOST_CHECK(states[0] == delivery_status::retrying);
  BOOST_CHECK(states[2] == delivery_status::dead);
  BOOST_CHECK(states[3] == delivery_status::delivered);
  BOOST_CHECK(states[4] == delivery_status::delivered);
  BOOST_CHECK(states[5] == delivery_status::pending);
  BOOST_CHECK(states[6] == delivery_status::pending);
  size_t visits = 0;
  REQUIRE_OK(db->for_each_delivery([&](const delivery&) { return ++visits < 3; }));
  BOOST_CHECK_EQUAL(visits, 3u);
  visits = 0;
  REQUIRE_OK(db->for_each_delivery([&](const delivery&) { return ++visits < 6; }));
  BOOST_CHECK_EQUAL(visits, 6u); // stops inside the derived ones too
}

BOOST_FIXTURE_TEST_CASE(status_and_id_filters_read_only_what_can_match, fixture) {
  REQUIRE_OK(record_first(db, 0, make_record("w", action_kind::task, 5)));
  REQUIRE_OK(record_first(db, 0, make_record("d", action_kind::task, 7)));
  REQUIRE_OK(record_first(db, 0, make_record("dl", action_kind::mail, 9)));
  auto done = make_record("d", action_kind::task, 7);
  done.finished = now;
  REQUIRE_OK(write_outcome(db, 0, 7, done, delivery_status::delivered));
  REQUIRE_OK(
    write_outcome(db, 0, 9, make_record("dl", action_kind::mail, 9), delivery_status::dead));
  auto listed = [&](const filter& where) { return ids_of(list_all(db, scope_of(where))); };
  auto status_is = [](std::vector<std::string> statuses, filter_op op = filter_op::in) {
    filter f{op, "status", {}, {}};
    for (auto& s : statuses) f.values.push_back(string_value(s));
    return f;
  };
  using ids = std::vector<std::string>;
  BOOST_CHECK(listed(status_is({"dead"}, filter_op::eq)) == ids{"dl"});
  BOOST_CHECK(listed(status_is({"delivered"}, filter_op::eq)) == ids{"d"});
  BOOST_CHECK(listed(status_is({"pending", "held", "retrying"})) == ids{"w"});
  BOOST_CHECK(listed(status_is({"pending", "delivered"})) == (ids{"w", "d"}));
  BOOST_CHECK(listed(status_is({"no-such-status"}, filter_op::eq)).empty());
  // and: every child narrows; or: any child widens; other filters keep every place.
  filter by_type{filter_op::eq, "type", {string_value("mail")}, {}};
  BOOST_CHECK(listed(filter{filter_op::and_, "", {}, {by_type, status_is({"dead"})}}) == ids{"dl"});
  BOOST_CHECK(listed(filter{filter_op::or_, "", {}, {status_is({"dead"}), by_type}})
              == (ids{"w", "dl", "d"}));
  BOOST_CHECK(listed(status_is({"dead"}, filter_op::ne)) == (ids{"w", "dl", "d"}));
  BOOST_CHECK(listed(filter{filter_op::eq, "status", {number_value(1)}, {}})
              == (ids{"w", "dl", "d"}));
  BOOST_CHECK(listed(filter{}) == (ids{"w", "dl", "d"}));
  // Named ids are looked up wherever they are, each once; with a status, only in its place.
  filter by_id{filter_op::in,
               "id",
               {string_value("d"), string_value("w"), string_value("d"), string_value("nobody")},
               {}};
  BOOST_CHECK(sorted(listed(by_id)) == (ids{"d", "w"}));
  BOOST_CHECK(listed(filter{filter_op::eq, "id", {string_value("dl")}, {}}) == ids{"dl"});
  BOOST_CHECK(listed(filter{filter_op::and_, "", {}, {by_id, status_is({"delivered"})}})
              == ids{"d"});
  filter only_w{filter_op::eq, "id", {string_value("w")}, {}};
  filter only_dl{filter_op::eq, "id", {string_value("dl")}, {}};
  BOOST_CHECK(listed(filter{filter_op::and_, "", {}, {only_w, only_dl}}).empty());
  BOOST_CHECK(sorted(listed(filter{filter_op::or_, "", {}, {only_w, only_dl}}))
              == (ids{"dl", "w"}));
  BOOST_CHECK(listed(filter{filter_op::or_, "", {}, {only_w, by_type}}) == (ids{"w", "dl", "d"}));
  // An id filter with a value that is not text narrows nothing (no partial id list).
  filter mixed{filter_op::in, "id", {string_value("w"), number_value(1)}, {}};
  BOOST_CHECK(listed(mixed) == (ids{"w", "dl", "d"}));
}

// -- deliveries derived from the log ----------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(derived_deliveries_are_listed_from_the_log_and_progress, derived_fixture) {
  BOOST_CHECK_EQUAL(shard, shard_of("order.created", 4));
  auto listed = list_all(db);
  BOOST_REQUIRE_EQUAL(listed.size(), 6u);
  std::vector<std::string> expected;
  for (uint64_t seq : {10, 11, 12}) {
    expected.push_back(task_id(seq));
    expected.push_back(mail_id(seq));
  }
  BOOST_CHECK(sorted(ids_of(listed)) == sorted(expected));
  for (uint64_t seq : {10, 11, 12}) {
    auto ev = event_at(seq);
    auto* task = find_id(listed, task_id(seq));
    BOOST_REQUIRE_MESSAGE(task, "task of " << seq);
    BOOST_CHECK_EQUAL(count_id(listed, task_id(seq)), 1u);
    BOOST_CHECK(task->kind == action_kind::task);
    BOOST_CHECK_EQUAL(task->event_id, ev.id);
    BOOST_CHECK_EQUAL(task->event_type, "order.created");
    BOOST_CHECK_EQUAL(task->dispatcher_id, disp.id);
    BOOST_CHECK_EQUAL(task->action_id, disp.actions[0].id);
    BOOST_CHECK_EQUAL(task->task.function_name, "fn");
    if (seq <= 11) {
      BOOST_CHECK_MESSAGE(task->status == delivery_status::delivered, "task of " << seq);
      BOOST_CHECK_EQUAL(task->attempts, 1u);
    } else {
      BOOST_CHECK_MESSAGE(task->status == delivery_status::pending, "task of " << seq);
      BOOST_CHECK_EQUAL(task->attempts, 0u);
    }
    auto* mail = find_id(listed, mail_id(seq));
    BOOST_REQUIRE_MESSAGE(mail, "mail of " << seq);
    BOOST_CHECK_EQUAL(count_id(listed, mail_id(seq)), 1u);
    BOOST_CHECK(mail->kind == action_kind::mail);
    BOOST_CHECK_EQUAL(mail->event_id, ev.id);
    BOOST_CHECK_EQUAL(mail->dispatcher_id, disp.id);
    BOOST_CHECK_EQUAL(mail->action_id, disp.actions[1].id);
    BOOST_CHECK_EQUAL(mail->mail.template_id, hexid(0x7e));
    BOOST_CHECK(mail->mail.recipients.to == string_list{"a@example.com"});
    BOOST_CHECK_MESSAGE(mail->status == delivery_status::pending, "mail of " << seq);
  }
  // A filter on status reads only what can match.
  auto delivered = ids_of(list_all(db, scope_of(status_eq("delivered"))));
  BOOST_CHECK(sorted(delivered) == sorted({task_id(10), task_id(11)}));
  auto pending = ids_of(list_all(db, scope_of(status_eq("pending"))));
  BOOST_CHECK(sorted(pending) == sorted({task_id(12), mail_id(10), mail_id(11), mail_id(12)}));
  BOOST_CHECK(list_all(db, scope_of(status_eq("dead"))).empty());
  // A derived id is found by key, exactly it.
  auto one = list_all(db, scope_of(id_eq(task_id(12))));
  BOOST_REQUIRE_EQUAL(one.size(), 1u);
  BOOST_CHECK(one[0] == *find_id(listed, task_id(12)));
  auto done = list_all(db, scope_of(id_eq(task_id(10))));
  BOOST_REQUIRE_EQUAL(done.size(), 1u);
  BOOST_CHECK(done[0].status == delivery_status::delivered);
  BOOST_CHECK(list_all(db, scope_of(filter{
                             filter_op::and_, "", {}, {id_eq(task_id(10)), status_eq("pending")}}))
                .empty());
  BOOST_CHECK(list_all(db, scope_of(id_eq(id_at(10, 2)))).empty()); // no third action
  BOOST_CHECK(list_all(db, scope_of(id_eq(id_at(13, 0)))).empty()); // no such event
  BOOST_CHECK(list_all(db, scope_of(id_eq(hexid(0xe0a)))).empty()); // an event id
  // Derived deliveries have no record and are not waiting.
  BOOST_CHECK((records_of(db, {task_id(10), mail_id(12)}) == std::vector<bool>{false, false}));
  BOOST_CHECK(!slot_of(db, task_id(12)));
  BOOST_CHECK(!waiting_of(db, task_id(12)));
  BOOST_CHECK(due(db, action_kind::task, shard).empty());
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::task), 0u);
  // The mail emitter catching up makes its deliveries delivered.
  progress mail{12, 3};
  REQUIRE_OK(db->write_outcomes(action_kind::mail, shard, {}, &mail));
  auto mails = list_all(db, scope_of(status_eq("delivered")));
  BOOST_CHECK_EQUAL(mails.size(), 5u);
}

BOOST_FIXTURE_TEST_CASE(derived_delivery_with_a_record_is_listed_once_from_it, derived_fixture) {
  auto listed = list_all(db);
  auto failing = *find_id(listed, task_id(12));
  failing.status = delivery_status::retrying;
  failing.attempts = 1;
  failing.last_error = "sink: 503";
  failing.next_attempt = now + 60000;
  progress p{12, 2}; // the emitter passes it: it has a record now
  REQUIRE_OK(
    db->write_outcomes(action_kind::task, shard, {delivery_outcome{0, false, failing}}, &p));
  listed = list_all(db);
  BOOST_CHECK_EQUAL(listed.size(), 6u);
  BOOST_CHECK_EQUAL(count_id(listed, task_id(12)), 1u);
  auto* shown = find_id(listed, task_id(12));
  BOOST_REQUIRE(shown);
  BOOST_CHECK(*shown == failing);
  BOOST_CHECK((list_all(db, scope_of(id_eq(task_id(12)))) == delivery_list{failing}));
  BOOST_CHECK((due(db, action_kind::task, shard) == delivery_list{failing}));
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::task), 1u);
  BOOST_CHECK((records_of(db, {task_id(12), task_id(11)}) == std::vector<bool>{true, false}));
  auto delivered_ids = ids_of(list_all(db, scope_of(status_eq("delivered"))));
  BOOST_CHECK(sorted(delivered_ids) == sorted({task_id(10), task_id(11)}));
  // Delivered on its second attempt: listed once, from history.
  auto done = failing;
  done.status = delivery_status::delivered;
  done.attempts = 2;
  done.finished = now + 61000;
  REQUIRE_OK(
    db->write_outcomes(action_kind::task, shard, {delivery_outcome{now + 60000, true, done}}));
  listed = list_all(db);
  BOOST_CHECK_EQUAL(listed.size(), 6u);
  BOOST_CHECK_EQUAL(count_id(listed, task_id(12)), 1u);
  BOOST_REQUIRE(find_id(listed, task_id(12)));
  BOOST_CHECK(*find_id(listed, task_id(12)) == done);
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::task), 0u);
  BOOST_CHECK((list_all(db, scope_of(id_eq(task_id(12)))) == delivery_list{done}));
}

BOOST_FIXTURE_TEST_CASE(purging_a_derived_delivery, derived_fixture) {
  auto before = list_all(db);
  BOOST_REQUIRE_EQUAL(before.size(), 6u);
  auto purged = db->purge(mail_id(10));
  BOOST_REQUIRE_MESSAGE(purged, test::why(purged));
  BOOST_CHECK(*purged
              == dispatch::store::purged::finished); // derived: no record, never counted waiting
  auto after = list_all(db);
  BOOST_CHECK_EQUAL(after.size(), 5u);
  BOOST_CHECK_EQUAL(count_id(after, mail_id(10)), 0u);
  BOOST_CHECK(list_all(db, scope_of(id_eq(mail_id(10)))).empty());
  BOOST_CHECK(list_all(db, scope_of(status_eq("pending"))).size() == 3u);
  auto slot = slot_of(db, mail_id(10));
  BOOST_REQUIRE(slot);
  BOOST_CHECK(slot->place == record_place::purged);
  BOOST_CHECK(slot->kind == action_kind::mail);
  BOOST_CHECK_EQUAL(slot->shard, shard);
  // An emitter catching up sees it has a record (purged) and skips it.
  BOOST_CHECK((records_of(db, {mail_id(10)}) == std::vector<bool>{true}));
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::mail), 0u);
  purged = db->purge(mail_id(10));
  BOOST_REQUIRE(purged);
  BOOST_CHECK(*purged == dispatch::store::purged::nothing);
  // A delivered derived one can be purged too; ids that derive nothing cannot.
  BOOST_CHECK(*db->purge(task_id(10)) == dispatch::store::purged::finished);
  BOOST_CHECK_EQUAL(list_all(db).size(), 4u);
  BOOST_CHECK(*db->purge(id_at(10, 2)) == dispatch::store::purged::nothing);
  BOOST_CHECK(*db->purge(id_at(99, 0)) == dispatch::store::purged::nothing);
  BOOST_CHECK(*db->purge(hexid(0xe0a)) == dispatch::store::purged::nothing);
  BOOST_CHECK(!slot_of(db, id_at(10, 2)));
  // A recorded one: purged from its record, gone everywhere.
  auto failing = *find_id(before, task_id(12));
  failing.status = delivery_status::retrying;
  failing.attempts = 1;
  failing.next_attempt = now + 5;
  REQUIRE_OK(record_first(db, shard, failing));
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::task), 1u);
  BOOST_CHECK(*db->purge(task_id(12)) == dispatch::store::purged::waiting);
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::task), 0u);
  BOOST_CHECK(due(db, action_kind::task, shard).empty());
  auto left = list_all(db);
  BOOST_CHECK_EQUAL(left.size(), 3u);
  BOOST_CHECK_EQUAL(count_id(left, task_id(12)), 0u);
  reopen();
  BOOST_CHECK_EQUAL(list_all(db).size(), 3u);
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::task), 0u);
}

// The newest-first walk and the counts of a listing from keys, through records, a purge that
// takes a delivered delivery out of its emitter's day count, a revive, a reopen, and an upgrade
// from schema 3 (no record times, no day counts: built and counted from the cursors at open).
BOOST_FIXTURE_TEST_CASE(counts_and_the_newest_walk_follow_records_cursors_and_an_upgrade,
                        derived_fixture) {
  auto day = day_of(accepted_at(10));
  progress task{11, 2, {{day, 2}}}; // 10 and 11 delivered without a record
  REQUIRE_OK(db->write_outcomes(action_kind::task, shard, {}, &task));
  auto newest = [&](const delivery_selection& which = {}, size_t depth = ~size_t{0}) {
    std::vector<std::string> ids;
    REQUIRE_OK(db->for_each_delivery_newest(
      which,
      [&](const delivery& d) {
        ids.push_back(d.id + ":" + to_string(d.status));
        return ids.size() < depth;
      },
      depth));
    return ids;
  };
  auto count_of = [&](const delivery_selection& which) {
    auto n = db->delivery_count(which);
    BOOST_REQUIRE_MESSAGE(n, test::why(n));
    return *n;
  };
  auto count = [&](action_kind kind) {
    delivery_selection which;
    which.task = kind == action_kind::task;
    which.mail = kind == action_kind::mail;
    return count_of(which);
  };
  // Every selection of kinds and statuses (one status, the waiting ones, two places), all
  // times or from the second oldest creation time on, walks and counts what a full read filtered
  // the same way holds, in the same order, also when the walk is cut after 2.
  auto same_as_a_full_read = [&] {
    auto all = list_all(db);
    BOOST_CHECK_EQUAL(count(action_kind::task) + count(action_kind::mail), all.size());
    std::sort(all.begin(), all.end(), [](const delivery& a, const delivery& b) {
      return std::tie(a.created, a.id) > std::tie(b.created, b.id);
    });
    std::vector<std::array<bool, 5>> statuses{{{true, true, true, true, true}}};
    for (size_t i = 0; i < 5; ++i) {
      std::array<bool, 5> one{};
      one[i] = true;
      statuses.push_back(one);
    }
    statuses.push_back({{true, true, true, false, false}});  // waiting
    statuses.push_back({{true, false, false, false, true}}); // pending and dead
    statuses.push_back({{false, false, true, true, false}}); // retrying and delivered
    std::set<timestamp_ms> times;
    for (auto& d : all) times.insert(d.created);
    std::vector<timestamp_ms> froms{std::numeric_limits<timestamp_ms>::min()};
    if (times.size() > 1) froms.push_back(*std::next(times.begin()));
    for (auto kinds : {std::pair{true, true}, std::pair{true, false}, std::pair{false, true}})
      for (auto& wanted : statuses)
        for (auto from : froms) {
          delivery_selection which;
          std::tie(which.task, which.mail) = kinds;
          which.statuses = wanted;
          which.from = from;
          std::vector<std::string> read;
          for (auto& d : all)
            if (which.has(d.kind) && which.has(d.status) && d.created >= from)
              read.push_back(d.id + ":" + to_string(d.status));
          auto walked = newest(which);
          BOOST_CHECK_EQUAL_COLLECTIONS(read.begin(), read.end(), walked.begin(), walked.end());
          BOOST_CHECK_EQUAL(count_of(which), read.size());
          auto cut = newest(which, 2);
          read.resize(std::min<size_t>(read.size(), 2));
          BOOST_CHECK_EQUAL_COLLECTIONS(read.begin(), read.end(), cut.begin(), cut.end());
        }
  };
  // Created in the same millisecond: by id, newest position first.
  BOOST_CHECK((newest()
               == std::vector<std::string>{mail_id(12) + ":pending", task_id(12) + ":pending",
                                           mail_id(11) + ":pending", task_id(11) + ":delivered",
                                           mail_id(10) + ":pending", task_id(10) + ":delivered"}));
  BOOST_CHECK_EQUAL(count(action_kind::task), 3u);
  BOOST_CHECK_EQUAL(count(action_kind::mail), 3u);
  // A first record past the cursor, and a dead letter with the cursor moving over it.
  auto retrying = make_record(mail_id(12), action_kind::mail, now + 5000);
  retrying.created = accepted_at(12);
  REQUIRE_OK(record_first(db, shard, retrying));
  auto dead = make_record(task_id(12), action_kind::task, 0, delivery_status::dead);
  dead.created = accepted_at(12);
  dead.finished = now;
  progress passed{12, 2, {{day, 2}}};
  REQUIRE_OK(
    db->write_outcomes(action_kind::task, shard, {delivery_outcome{0, false, dead}}, &passed));
  BOOST_CHECK_EQUAL(count(action_kind::task), 3u);
  BOOST_CHECK_EQUAL(count(action_kind::mail), 3u);
  same_as_a_full_read();
  // Purged by its emitter, a delivered one leaves its day's count in the same batch.
  progress less{12, 1, {{day, 1}}};
  BOOST_CHECK(*db->purge(task_id(10), &less) == dispatch::store::purged::finished);
  BOOST_CHECK_EQUAL(progress_of(db, action_kind::task, shard).days.at(day), 1u);
  BOOST_CHECK_EQUAL(count(action_kind::task), 2u);
  // Revived, the dead letter is created anew: the newest of all.
  dead.status = delivery_status::pending;
  dead.attempts = 0;
  dead.created = now + 100;
  dead.next_attempt = now + 100;
  REQUIRE_OK(db->revive(dead, shard));
  BOOST_CHECK_EQUAL(newest().front(), task_id(12) + ":pending");
  BOOST_CHECK_EQUAL(count(action_kind::task), 2u);
  same_as_a_full_read();
  auto before = newest();
  reopen();
  BOOST_CHECK((newest() == before));
  BOOST_CHECK_EQUAL(count(action_kind::task), 2u);
  BOOST_CHECK_EQUAL(count(action_kind::mail), 3u);
  // As schema 3 left it: no record times, no day counts.
  db.reset();
  with_raw_db(opts.data_dir, [](rocksdb::DB& raw, raw_families& families) {
    auto* times = families.at(keys::record_times_family);
    std::unique_ptr<rocksdb::Iterator> it{raw.NewIterator({}, times)};
    for (it->SeekToFirst(); it->Valid(); it->Next())
      BOOST_REQUIRE(raw.Delete({}, times, it->key()).ok());
    auto* progress = families.at(keys::progress_family);
    it.reset(raw.NewIterator({}, progress));
    for (it->SeekToFirst(); it->Valid(); it->Next())
      if (it->key().size() > 5) BOOST_REQUIRE(raw.Delete({}, progress, it->key()).ok());
    BOOST_REQUIRE(
      raw.Put({}, families.at(keys::meta_family), keys::schema_version_key, u32(3)).ok());
  });
  reopen();
  BOOST_CHECK((newest() == before));
  BOOST_CHECK_EQUAL(count(action_kind::task), 2u);
  BOOST_CHECK_EQUAL(count(action_kind::mail), 3u);
  same_as_a_full_read();
  db.reset();
  BOOST_CHECK_EQUAL(raw_meta(opts.data_dir, keys::schema_version_key), u32(4));
}

BOOST_FIXTURE_TEST_CASE(dispatcher_version_change_applies_from_its_sequence, derived_fixture) {
  // From 12 on, the task action calls another function and a second task action is added; from 13
  // on, the dispatcher is gone.
  auto v2 = disp;
  v2.version = 2;
  v2.actions[0].function_name = "fn-v2";
  action extra;
  extra.id = hexid(0xa3);
  extra.kind = action_kind::task;
  extra.function_name = "fn2";
  v2.actions.push_back(extra);
  REQUIRE_OK(db->write_dispatcher_versions(
    shard, {dispatcher_version{12, disp.id, v2}, dispatcher_version{13, disp.id, caf::none}}));
  REQUIRE_OK(db->accept_events({chosen(shard, 13, event_at(13))}, now));
  auto listed = list_all(db);
  std::vector<std::string> expected{id_at(10, 0), id_at(10, 1), id_at(11, 0), id_at(11, 1),
                                    id_at(12, 0), id_at(12, 1), id_at(12, 2)};
  BOOST_CHECK(sorted(ids_of(listed)) == sorted(expected));
  for (uint64_t seq : {10, 11}) {
    auto* task = find_id(listed, id_at(seq, 0));
    BOOST_REQUIRE(task);
    BOOST_CHECK_EQUAL(task->task.function_name, "fn");
    BOOST_CHECK(task->status == delivery_status::delivered);
  }
  auto* changed = find_id(listed, id_at(12, 0));
  BOOST_REQUIRE(changed);
  BOOST_CHECK_EQUAL(changed->task.function_name, "fn-v2");
  auto* added = find_id(listed, id_at(12, 2));
  BOOST_REQUIRE(added);
  BOOST_CHECK(added->kind == action_kind::task);
  BOOST_CHECK_EQUAL(added->action_id, hexid(0xa3));
  BOOST_CHECK_EQUAL(added->task.function_name, "fn2");
  BOOST_CHECK(added->status == delivery_status::pending);
  auto* mail = find_id(listed, id_at(12, 1));
  BOOST_REQUIRE(mail);
  BOOST_CHECK(mail->kind == action_kind::mail);
  // Lookups by id agree with the listing.
  BOOST_CHECK_EQUAL(list_all(db, scope_of(id_eq(id_at(12, 2)))).size(), 1u);
  BOOST_CHECK(list_all(db, scope_of(id_eq(id_at(11, 2)))).empty());
  BOOST_CHECK(list_all(db, scope_of(id_eq(id_at(13, 0)))).empty());
  auto by_key = list_all(db, scope_of(id_eq(id_at(10, 0))));
  BOOST_REQUIRE_EQUAL(by_key.size(), 1u);
  BOOST_CHECK_EQUAL(by_key[0].task.function_name, "fn");
}

// -- built-in log sink ------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(log_appends_and_overwrites_per_day, fixture) {
  REQUIRE_OK(db->append_logs({log_record{"t1", action_kind::task, now - day_ms, "{\"n\":1}"}}));
  REQUIRE_OK(db->append_logs({log_record{"t1", action_kind::task, now, "{\"n\":2}"},
                              log_record{"m1", action_kind::mail, now, "{}"}}));
  REQUIRE_OK(db->append_logs({log_record{"t1", action_kind::task, now + 1, "{\"n\":3}"}}));
  REQUIRE_OK(db->append_logs({}));
  std::vector<log_record> records;
  REQUIRE_OK(db->for_each_log(action_kind::task, [&](const log_record& r) {
    records.push_back(r);
    return true;
  }));
  BOOST_REQUIRE_EQUAL(records.size(), 2u);
  BOOST_CHECK_EQUAL(records[0].json, "{\"n\":1}"); // oldest day first
  BOOST_CHECK_EQUAL(records[0].received, now - day_ms);
  BOOST_CHECK_EQUAL(records[1].json, "{\"n\":3}"); // the same day's redelivery overwrote
  BOOST_CHECK_EQUAL(records[1].received, now + 1);
  BOOST_CHECK_EQUAL(records[1].id, "t1");
  BOOST_CHECK(records[1].kind == action_kind::task);
  size_t mails = 0;
  REQUIRE_OK(db->for_each_log(action_kind::mail, [&](const log_record& r) {
    BOOST_CHECK_EQUAL(r.id, "m1");
    BOOST_CHECK(r.kind == action_kind::mail);
    return ++mails, true;
  }));
  BOOST_CHECK_EQUAL(mails, 1u);
  // Within one batch too, the last record of a day wins.
  REQUIRE_OK(db->append_logs({log_record{"m2", action_kind::mail, now, "{\"v\":1}"},
                              log_record{"m2", action_kind::mail, now + 2, "{\"v\":2}"}}));
  std::vector<std::string> jsons;
  REQUIRE_OK(db->for_each_log(action_kind::mail, [&](const log_record& r) {
    jsons.push_back(r.id + r.json);
    return true;
  }));
  BOOST_CHECK((jsons == std::vector<std::string>{"m1{}", "m2{\"v\":2}"}));
  size_t visits = 0;
  REQUIRE_OK(
    db->for_each_log(action_kind::mail, [&](const log_record&) { return ++visits, false; }));
  BOOST_CHECK_EQUAL(visits, 1u);
}

// Listing newest first from the keys: the totals come from counts kept by every write, and
// the walks read only as far as their page.
BOOST_FIXTURE_TEST_CASE(log_counts_follow_appends_overwrites_retention_and_reopen, fixture) {
  auto newest = [&](action_kind kind) {
    std::vector<std::string> ids;
    REQUIRE_OK(db->for_each_log(
      kind,
      [&](const log_record& r) {
        ids.push_back(r.id);
        return true;
      },
      true));
    return ids;
  };
  REQUIRE_OK(db->append_logs({log_record{"t1", action_kind::task, now - 3 * day_ms, "{}"},
                              log_record{"t2", action_kind::task, now - day_ms, "{}"}}));
  // The same day's redelivery replaces its record, in a later batch and within one.
  REQUIRE_OK(db->append_logs({log_record{"t2", action_kind::task, now - day_ms + 5, "{}"},
                              log_record{"t3", action_kind::task, now, "{}"},
                              log_record{"t3", action_kind::task, now + 1, "{}"},
                              log_record{"m1", action_kind::mail, now, "{}"}}));
  BOOST_CHECK_EQUAL(db->log_size(action_kind::task), 3u);
  BOOST_CHECK_EQUAL(db->log_size(action_kind::mail), 1u);
  BOOST_CHECK((newest(action_kind::task) == std::vector<std::string>{"t3", "t2", "t1"}));
  size_t visits = 0;
  REQUIRE_OK(db->for_each_log(
    action_kind::task, [&](const log_record&) { return ++visits, false; }, true));
  BOOST_CHECK_EQUAL(visits, 1u);
  // Retention drops whole days: the counts lose them too, and a reopen counts the same.
  REQUIRE_OK(db->apply_retention(now, 7, 7, 2));
  BOOST_CHECK_EQUAL(db->log_size(action_kind::task), 2u);
  BOOST_CHECK((newest(action_kind::task) == std::vector<std::string>{"t3", "t2"}));
  reopen();
  BOOST_CHECK_EQUAL(db->log_size(action_kind::task), 2u);
  BOOST_CHECK_EQUAL(db->log_size(action_kind::mail), 1u);
  REQUIRE_OK(db->append_logs({log_record{"t4", action_kind::task, now + 2, "{}"}}));
  BOOST_CHECK_EQUAL(db->log_size(action_kind::task), 3u);
  BOOST_CHECK((newest(action_kind::task) == std::vector<std::string>{"t4", "t3", "t2"}));
}

BOOST_FIXTURE_TEST_CASE(dead_letter_count_follows_outcomes_revive_purge_and_reopen, fixture) {
  auto newest = [&] {
    std::vector<std::string> ids;
    REQUIRE_OK(db->for_each_dead_letter_newest([&](const delivery& d) {
      ids.push_back(d.id);
      return true;
    }));
    return ids;
  };
  // Two die at their first attempt (derived, no record before), one after a retry.
  auto first = make_record(hexid(1), action_kind::task, now, delivery_status::dead);
  first.finished = now;
  auto second = make_record(hexid(2), action_kind::mail, now, delivery_status::dead);
  second.finished = now;
  REQUIRE_OK(record_first(db, 0, first));
  REQUIRE_OK(record_first(db, 0, second));
  auto third = make_record(hexid(3), action_kind::task, now + 10);
  REQUIRE_OK(record_first(db, 0, third));
  BOOST_CHECK_EQUAL(db->dead_letter_count(), 2u);
  REQUIRE_OK(write_outcome(db, 0, now + 10, third, delivery_status::dead));
  BOOST_CHECK_EQUAL(db->dead_letter_count(), 3u);
  // Written dead again (an emitter repeating itself after a crash): still one dead letter.
  REQUIRE_OK(record_first(db, 0, first));
  BOOST_CHECK_EQUAL(db->dead_letter_count(), 3u);
  BOOST_CHECK((newest() == std::vector<std::string>{hexid(3), hexid(2), hexid(1)}));
  // A replay revives it (waiting again), a purge removes it.
  auto revived = make_record(hexid(2), action_kind::mail, now, delivery_status::pending);
  REQUIRE_OK(db->revive(revived, 0));
  BOOST_CHECK_EQUAL(db->dead_letter_count(), 2u);
  auto purged = db->purge(hexid(3));
  BOOST_REQUIRE(purged);
  BOOST_CHECK_EQUAL(db->dead_letter_count(), 1u);
  auto again = db->purge(hexid(3));
  BOOST_REQUIRE(again);
  BOOST_CHECK_EQUAL(db->dead_letter_count(), 1u);
  // Retention never drops a dead letter, and the count read at open agrees.
  REQUIRE_OK(db->apply_retention(now + 30 * day_ms, 1, 1, 1));
  BOOST_CHECK_EQUAL(db->dead_letter_count(), 1u);
  reopen();
  BOOST_CHECK_EQUAL(db->dead_letter_count(), 1u);
  BOOST_CHECK((newest() == std::vector<std::string>{hexid(1)}));
}

// -- retention ----------------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(retention_drops_old_days_only, fixture) {
  auto today = day_of(now);
  auto old_seq = first_sequence_of_day(today - 7) + 1;
  auto kept_seq = first_sequence_of_day(today - 1) + 1;
  REQUIRE_OK(db->accept_events({chosen(0, old_seq, make_event("old"))}, now - 7 * day_ms));
  REQUIRE_OK(db->accept_events({chosen(0, kept_seq, make_event("kept"))}, now - 6 * day_ms));
  // Old events of shards whose emitters have not passed them (2: neither; 3: the mail emitter).
  REQUIRE_OK(db->accept_events({generated(2, old_seq + 1, make_event("behind-2")),
                                generated(3, old_seq + 2, make_event("behind-3"))},
                               now - 7 * day_ms));
  for (auto kind : {action_kind::task, action_kind::mail}) {
    progress passed{kept_seq, 2};
    REQUIRE_OK(db->write_outcomes(kind, 0, {}, &passed));
  }
  progress task_only{kept_seq, 1};
  REQUIRE_OK(db->write_outcomes(action_kind::task, 3, {}, &task_only));
  REQUIRE_OK(record_first(db, 0, make_record("h-old", action_kind::task, 1)));
  REQUIRE_OK(record_first(db, 0, make_record("h-new", action_kind::task, 2)));
  auto h_old = make_record("h-old", action_kind::task, 1);
  h_old.finished = now - 3 * day_ms;
  auto h_new = make_record("h-new", action_kind::task, 2);
  h_new.finished = now - 2 * day_ms;
  REQUIRE_OK(write_outcome(db, 0, 1, h_old, delivery_status::delivered));
  REQUIRE_OK(write_outcome(db, 0, 2, h_new, delivery_status::delivered));
  for (auto kind : {action_kind::task, action_kind::mail}) {
    REQUIRE_OK(db->append_logs({log_record{"l-old", kind, now - 2 * day_ms, "{}"},
                                log_record{"l-new", kind, now - day_ms, "{}"}}));
  }
  // Set aside: an old event both emitters passed, a kept one, an old one an emitter is behind.
  auto aside = [&](uint32_t shard, uint64_t sequence, const std::string& id) {
    REQUIRE_OK(db->set_aside(set_aside_at(shard, sequence, id, now - 7 * day_ms)));
  };
  aside(0, old_seq, "old");
  aside(0, kept_seq, "kept");
  aside(2, old_seq + 1, "behind-2");
  REQUIRE_OK(db->apply_retention(now, 7, 3, 2));
  std::vector<std::string> still_aside;
  REQUIRE_OK(db->for_each_set_aside([&](const set_aside_event& e) {
    still_aside.push_back(e.event.id);
    return true;
  }));
  BOOST_CHECK((still_aside == std::vector<std::string>{"kept", "behind-2"}));
  auto found = db->find_seen({"old", "kept"}, 30, now);
  BOOST_REQUIRE(found);
  BOOST_CHECK(!(*found)[0]);
  BOOST_CHECK((*found)[1]);
  BOOST_CHECK((ids_of(list_all(db)) == std::vector<std::string>{"h-new"}));
  for (auto kind : {action_kind::task, action_kind::mail}) {
    std::vector<std::string> logged;
    REQUIRE_OK(db->for_each_log(kind, [&](const log_record& r) {
      logged.push_back(r.id);
      return true;
    }));
    BOOST_CHECK((logged == std::vector<std::string>{"l-new"}));
  }
  // The event log keeps history's days, and never drops what an emitter has not passed.
  BOOST_CHECK((sequences_of(log_of(db, 0)) == std::vector<uint64_t>{kept_seq}));
  BOOST_CHECK((sequences_of(log_of(db, 2)) == std::vector<uint64_t>{old_seq + 1}));
  BOOST_CHECK((sequences_of(log_of(db, 3)) == std::vector<uint64_t>{old_seq + 2}));
  reopen();
  BOOST_CHECK((ids_of(list_all(db)) == std::vector<std::string>{"h-new"}));
  BOOST_CHECK((sequences_of(log_of(db, 0)) == std::vector<uint64_t>{kept_seq}));
}

// An emitter that lags (here the mail emitter) keeps its shard's events in the log past history's
// retention. The marks of the deliveries of those events that have a record (purged, dead) must
// outlive the retention as long as the event does, or the delivery is derived again: a purged one
// is listed (and sent) again, a dead one is listed twice.
BOOST_FIXTURE_TEST_CASE(retention_keeps_the_records_of_events_still_in_the_log, derived_fixture) {
  auto real_now = now_ms();
  // The mail of 11 is purged; the task of 12 dies at its first attempt.
  BOOST_REQUIRE(*db->purge(mail_id(11)) == dispatch::store::purged::finished);
  auto dead = *find_id(list_all(db), task_id(12));
  dead.status = delivery_status::dead;
  dead.attempts = 1;
  dead.last_error = "sink: 400 Bad Request";
  dead.finished = real_now;
  progress p{12, 2};
  REQUIRE_OK(db->write_outcomes(action_kind::task, shard, {delivery_outcome{0, false, dead}}, &p));
  auto before = list_all(db);
  BOOST_REQUIRE_EQUAL(before.size(), 5u);
  BOOST_CHECK_EQUAL(count_id(before, mail_id(11)), 0u);
  BOOST_CHECK_EQUAL(count_id(before, task_id(12)), 1u);
  // Three days later, with one day of history, after a flush (which applies the compaction
  // filters).
  REQUIRE_OK(db->apply_retention(real_now + 3 * day_ms, 0, 1, 0));
  REQUIRE_OK(db->flush());
  // The mail emitter has not passed any event: the log keeps them all.
  BOOST_CHECK((sequences_of(log_of(db, shard)) == std::vector<uint64_t>{10, 11, 12}));
  auto after = list_all(db);
  BOOST_CHECK_MESSAGE(count_id(after, mail_id(11)) == 0, "the purged mail of 11 is listed again");
  BOOST_CHECK_MESSAGE(count_id(after, task_id(12)) == 1,
                      "the dead task of 12 is listed " << count_id(after, task_id(12)) << " times");
  BOOST_CHECK_EQUAL(after.size(), 5u);
  // An emitter catching up must still see their records.
  BOOST_CHECK((records_of(db, {mail_id(11), task_id(12)}) == std::vector<bool>{true, true}));
  auto again = db->purge(mail_id(11));
  BOOST_REQUIRE(again);
  BOOST_CHECK_MESSAGE(*again == dispatch::store::purged::nothing,
                      "purging the purged mail of 11 again finds it");
}

// -- modes and failures -------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(in_memory_mode_writes_no_files, fixture) {
  db.reset();
  opts.data_dir = dir.path + "/memory";
  opts.in_memory = true;
  {
    test::log_capture log;
    reopen();
    BOOST_CHECK_MESSAGE(!log.contains("ERROR"), "opening in memory logged an error:\n"
                                                  << log.text());
  }
  REQUIRE_OK(db->accept_events({chosen(0, 1, make_event("e1"))}, now));
  progress p{1, 0};
  REQUIRE_OK(record_first(db, 0, make_record("t", action_kind::task, 1), &p));
  REQUIRE_OK(db->append_logs({log_record{"t", action_kind::task, now, "{}"}}));
  REQUIRE_OK(db->flush());
  BOOST_CHECK_EQUAL(due(db, action_kind::task, 0).size(), 1u);
  BOOST_CHECK_EQUAL(log_of(db, 0).size(), 1u);
  BOOST_CHECK_EQUAL(progress_of(db, action_kind::task, 0).cursor, 1u);
  size_t files = 0;
  if (fs::exists(opts.data_dir))
    for (auto& entry : fs::recursive_directory_iterator(opts.data_dir))
      files += entry.is_regular_file() ? 1 : 0;
  BOOST_CHECK_EQUAL(files, 0u);
}

BOOST_FIXTURE_TEST_CASE(corrupt_values_are_errors, fixture) {
  REQUIRE_OK(db->accept_events({chosen(0, 1, make_event("e1"))}, now));
  REQUIRE_OK(record_first(db, 0, make_record("t", action_kind::task, 1)));
  db.reset();
  with_raw_db(opts.data_dir, [](rocksdb::DB& raw, raw_families& families) {
    std::string garbage = "\xff\xff\xff\x7f garbage";
    auto put = [&](const char* family, const std::string& key, const std::string& value) {
      BOOST_REQUIRE(raw.Put({}, families.at(family), key, value).ok());
    };
    put(keys::dispatchers_family, "bad-one", garbage);
    put(keys::seen_family, "e1", garbage);
    put(keys::exceptions_family, keys::exception_key(action_kind::task, 0, 1, "t"), "");
    put(keys::event_log_family, keys::log_entry_key(0, 1), "\x07junk");
    put(keys::progress_family, keys::progress_key(action_kind::task, 0), "short");
    put(keys::delivery_index_family, "x", "bad");
    put(keys::dispatcher_versions_family, keys::version_key(0, 1, "dv"), garbage);
  });
  reopen();
  auto contains = [](const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
  };
  auto loaded = db->load_dispatchers();
  BOOST_REQUIRE(!loaded);
  auto text = message_of(loaded.error());
  BOOST_CHECK_MESSAGE(contains(text, "dispatchers"), text);
  BOOST_CHECK_MESSAGE(contains(text, "bad-one"), text);
  auto found = db->find_seen({"e1"}, 1, now);
  BOOST_REQUIRE(!found);
  BOOST_CHECK(contains(message_of(found.error()), "seen"));
  auto queue = db->scan_due(action_kind::task, 0, 10, [](const std::string&) { return false; });
  BOOST_REQUIRE(!queue);
  BOOST_CHECK_MESSAGE(contains(message_of(queue.error()), "exceptions"), message_of(queue.error()));
  BOOST_CHECK(db->for_each_delivery([](const delivery&) { return true; }));
  BOOST_CHECK(db->for_each_waiting([](const delivery&) { return true; }));
  BOOST_CHECK(!db->get_waiting("t"));
  auto log = db->scan_log(0, 0, 10);
  BOOST_REQUIRE(!log);
  BOOST_CHECK_MESSAGE(contains(message_of(log.error()), "event_log"), message_of(log.error()));
  BOOST_CHECK(!db->get_logged(0, 1));
  auto p = db->read_progress(action_kind::task, 0);
  BOOST_REQUIRE(!p);
  BOOST_CHECK_MESSAGE(contains(message_of(p.error()), "progress"), message_of(p.error()));
  auto slot = db->find_record("x");
  BOOST_REQUIRE(!slot);
  BOOST_CHECK_MESSAGE(contains(message_of(slot.error()), "delivery_index"),
                      message_of(slot.error()));
  auto versions = db->load_dispatcher_versions(0);
  BOOST_REQUIRE(!versions);
  BOOST_CHECK_MESSAGE(contains(message_of(versions.error()), "dispatcher_versions"),
                      message_of(versions.error()));
}

BOOST_AUTO_TEST_CASE(full_disk_gives_no_space_errors) {
  temp_dir dir;
  auto mount = "mount -t tmpfs -o size=2m tmpfs " + dir.path + " 2>/dev/null";
  if (std::system(mount.c_str()) != 0) {
    BOOST_TEST_MESSAGE("skipped: cannot mount a tmpfs (needs root and mount rights)");
    return;
  }
  caf::error failure;
  {
    store_options opts;
    opts.data_dir = dir.path + "/data";
    opts.block_cache_bytes = 1 << 20;
    opts.write_buffer_bytes = 1 << 20;
    auto opened = dispatch::store::open(opts);
    BOOST_REQUIRE_MESSAGE(opened, test::why(opened));
    auto db = *opened;
    std::string content = "{\"blob\":\"" + std::string(64 * 1024, 'x') + "\"}";
    for (uint64_t seq = 1; seq < 1000 && !failure; ++seq)
      failure = db->accept_events({chosen(0, seq, make_event("e" + std::to_string(seq), content))},
                                  now);
    BOOST_CHECK(failure);
    BOOST_CHECK_MESSAGE(message_of(failure).find("no space") != std::string::npos,
                        message_of(failure));
    // Take what little room the failed write left, so that the disk is really full.
    auto filler = dir.path + "/filler";
    {
      std::ofstream out{filler, std::ios::binary};
      std::string chunk(4096, 'f');
      while (out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()))) out.flush();
    }
    auto probe = db->probe_write();
    BOOST_CHECK(probe);
    BOOST_CHECK_MESSAGE(message_of(probe).find("no space") != std::string::npos, message_of(probe));
    std::filesystem::remove(filler);
  }
  auto umount = "umount " + dir.path;
  BOOST_CHECK_EQUAL(std::system(umount.c_str()), 0);
}

// -- migration from schema 2 --------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(schema2_directory_is_migrated_in_place, schema2_fixture) {
  BOOST_CHECK_EQUAL(raw_meta(opts.data_dir, keys::schema_version_key), u32(2));
  open();
  BOOST_CHECK_EQUAL(db->shards(), 4u);
  db.reset();
  BOOST_CHECK_EQUAL(raw_meta(opts.data_dir, keys::schema_version_key), u32(4));
  BOOST_CHECK_EQUAL(raw_meta(opts.data_dir, keys::shard_count_key), u32(4));
  auto families = families_of(opts.data_dir);
  BOOST_CHECK(!has(families, keys::legacy_inbox_family));
  BOOST_CHECK(!has(families, keys::legacy_deliveries_family));
  for (auto* name :
       {keys::event_log_family, keys::exceptions_family, keys::progress_family,
        keys::dispatcher_versions_family, keys::delivery_index_family, keys::dead_letters_family,
        keys::history_family, keys::seen_family, keys::log_family})
    BOOST_CHECK_MESSAGE(has(families, name), name);
  // The unmatched events are in the log in the compact form.
  auto entries = raw_entries(opts.data_dir, keys::event_log_family);
  BOOST_REQUIRE_EQUAL(entries.size(), 4u);
  for (int i = 9; i <= 12; ++i) {
    auto& entry = entries[static_cast<size_t>(i - 9)];
    BOOST_CHECK(entry.first == keys::log_entry_key(deleted_shard, seq2(i)));
    BOOST_CHECK_EQUAL(static_cast<int>(entry.second[0]), 1);
  }
}

BOOST_FIXTURE_TEST_CASE(schema2_unmatched_events_move_into_the_log, schema2_fixture) {
  open();
  auto log = log_of(db, deleted_shard);
  BOOST_REQUIRE_EQUAL(log.size(), 4u);
  for (int i = 9; i <= 12; ++i) {
    auto& entry = log[static_cast<size_t>(i - 9)];
    BOOST_CHECK_EQUAL(entry.sequence, seq2(i));
    BOOST_CHECK_EQUAL(entry.event.id, event2(i));
    BOOST_CHECK_EQUAL(entry.event.type, "user_deleted");
    BOOST_CHECK_EQUAL(entry.event.content, "{\"userId\":" + std::to_string(i) + "}");
    BOOST_CHECK_EQUAL(entry.event.creation_timestamp, t0 + i);
  }
  BOOST_CHECK_EQUAL(event2(10), "000000000000000000000e0a");
  for (uint32_t shard = 1; shard < 4; ++shard) BOOST_CHECK(log_of(db, shard).empty());
  BOOST_CHECK_EQUAL(db->last_log_sequence(deleted_shard), seq2(12));
  BOOST_CHECK_EQUAL(db->last_log_sequence(created_shard), 0u);
  BOOST_CHECK_EQUAL(db->last_log_sequence(), seq2(12));
  auto one = db->get_logged(deleted_shard, seq2(10));
  BOOST_REQUIRE(one);
  BOOST_CHECK(*one && (*one)->id == event2(10));
  // Matched events (e01..e08) left the inbox in schema 2 already.
  auto gone = db->get_logged(deleted_shard, seq2(8));
  BOOST_REQUIRE(gone);
  BOOST_CHECK(!*gone);
  // The emitters start from the beginning.
  for (uint32_t shard = 0; shard < 4; ++shard)
    for (auto kind : {action_kind::task, action_kind::mail})
      BOOST_CHECK_EQUAL(progress_of(db, kind, shard).cursor, 0u);
  std::vector<std::string> unfinished;
  REQUIRE_OK(db->for_each_unfinished_event([&](const event& x) {
    unfinished.push_back(x.id);
    return true;
  }));
  BOOST_CHECK(
    (unfinished == std::vector<std::string>{event2(9), event2(10), event2(11), event2(12)}));
}

BOOST_FIXTURE_TEST_CASE(schema2_dispatchers_get_versions_from_zero, schema2_fixture) {
  open();
  auto loaded = db->load_dispatchers();
  BOOST_REQUIRE(loaded);
  BOOST_REQUIRE_EQUAL(loaded->size(), 3u);
  std::map<std::string, dispatcher> by_id;
  for (auto& d : *loaded) by_id[d.id] = d;
  BOOST_CHECK_EQUAL(by_id.at(hexid(0xd1)).event_type, "user_created");
  auto deleted = versions_of(db, deleted_shard);
  BOOST_REQUIRE_EQUAL(deleted.size(), 2u);
  BOOST_CHECK_EQUAL(deleted[0].from, 0u);
  BOOST_CHECK_EQUAL(deleted[0].id, hexid(0xd2));
  BOOST_CHECK(deleted[0].value == caf::optional<dispatcher>{by_id.at(hexid(0xd2))});
  BOOST_CHECK_EQUAL(deleted[1].from, 0u);
  BOOST_CHECK_EQUAL(deleted[1].id, hexid(0xd3));
  BOOST_CHECK(deleted[1].value == caf::optional<dispatcher>{by_id.at(hexid(0xd3))});
  auto created = versions_of(db, created_shard);
  BOOST_REQUIRE_EQUAL(created.size(), 1u);
  BOOST_CHECK_EQUAL(created[0].from, 0u);
  BOOST_CHECK_EQUAL(created[0].id, hexid(0xd1));
  BOOST_CHECK(created[0].value == caf::optional<dispatcher>{by_id.at(hexid(0xd1))});
  BOOST_CHECK(versions_of(db, 2).empty());
  BOOST_CHECK(versions_of(db, 3).empty());
}

BOOST_FIXTURE_TEST_CASE(schema2_waiting_deliveries_become_exception_records, schema2_fixture) {
  open();
  struct expected_waiting {
    std::string id;
    int event;
    action_kind kind;
    uint32_t shard;
    delivery_status status;
    timestamp_ms due;
    uint32_t attempts;
  };
  std::vector<expected_waiting> expected{
    {task(1), 1, action_kind::task, created_shard, delivery_status::held, far_future, 0},
    {task(2), 2, action_kind::task, created_shard, delivery_status::held, far_future, 0},
    {task(4), 4, action_kind::task, deleted_shard, delivery_status::retrying, year_2001, 2},
    {task(6), 6, action_kind::task, deleted_shard, delivery_status::pending, t0 + 200, 0},
    {task(8), 8, action_kind::task, deleted_shard, delivery_status::pending, t0 + 200, 0},
  };
  for (int i = 3; i <= 8; ++i)
    expected.push_back(
      {mail(i), i, action_kind::mail, deleted_shard, delivery_status::pending, t0 + 200, 0});
  for (auto& x : expected) {
    auto got = waiting_of(db, x.id);
    BOOST_REQUIRE_MESSAGE(got, "waiting " << x.id);
    BOOST_CHECK_EQUAL(got->id, x.id);
    BOOST_CHECK(got->kind == x.kind);
    BOOST_CHECK_EQUAL(got->event_id, event2(x.event));
    BOOST_CHECK_MESSAGE(got->status == x.status, "status of " << x.id);
    BOOST_CHECK_EQUAL(got->next_attempt, x.due);
    BOOST_CHECK_EQUAL(got->attempts, x.attempts);
    auto slot = slot_of(db, x.id);
    BOOST_REQUIRE_MESSAGE(slot, "record of " << x.id);
    BOOST_CHECK(slot->place == record_place::waiting);
    BOOST_CHECK(slot->kind == x.kind);
    BOOST_CHECK_EQUAL(slot->shard, x.shard);
    BOOST_CHECK_EQUAL(slot->field, x.due);
  }
  BOOST_CHECK_EQUAL(waiting_of(db, task(4))->last_error, "sink: 503 Service Unavailable");
  // Each in its shard's queue, in due-time order (ties by id).
  auto queue_of = [&](action_kind kind, uint32_t shard) {
    std::vector<std::pair<timestamp_ms, std::string>> xs;
    for (auto& x : expected)
      if (x.kind == kind && x.shard == shard) xs.emplace_back(x.due, x.id);
    std::sort(xs.begin(), xs.end());
    std::vector<std::string> ids;
    for (auto& x : xs) ids.push_back(x.second);
    return ids;
  };
  BOOST_CHECK(ids_of(due(db, action_kind::task, created_shard))
              == queue_of(action_kind::task, created_shard));
  BOOST_CHECK(
    (ids_of(due(db, action_kind::task, deleted_shard))
     == std::vector<std::string>{task(4), std::min(task(6), task(8)), std::max(task(6), task(8))}));
  BOOST_CHECK(ids_of(due(db, action_kind::task, deleted_shard))
              == queue_of(action_kind::task, deleted_shard));
  BOOST_CHECK(ids_of(due(db, action_kind::mail, deleted_shard))
              == queue_of(action_kind::mail, deleted_shard));
  BOOST_CHECK_EQUAL(due(db, action_kind::mail, deleted_shard).size(), 6u);
  BOOST_CHECK(due(db, action_kind::mail, created_shard).empty());
  BOOST_CHECK(due(db, action_kind::task, 2).empty());
  BOOST_CHECK(due(db, action_kind::task, 3).empty());
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::task), 5u);
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::mail), 6u);
  size_t waiting = 0;
  REQUIRE_OK(db->for_each_waiting([&](const delivery&) { return ++waiting, true; }));
  BOOST_CHECK_EQUAL(waiting, 11u);
}

BOOST_FIXTURE_TEST_CASE(schema2_dead_letters_history_log_and_seen_are_kept, schema2_fixture) {
  open();
  // The dead task of e05.
  auto letter = dead_letter_of(db, task(5));
  BOOST_REQUIRE(letter);
  BOOST_CHECK(letter->status == delivery_status::dead);
  BOOST_CHECK_EQUAL(letter->attempts, 3u);
  BOOST_CHECK_EQUAL(letter->last_error, "sink: 400 Bad Request");
  BOOST_CHECK_EQUAL(letter->event_id, event2(5));
  BOOST_CHECK(
    (ids_of(list_all(db, scope_of(status_eq("dead")))) == std::vector<std::string>{task(5)}));
  BOOST_CHECK_EQUAL(list_all(db, scope_of(id_eq(task(5)))).size(), 1u);
  // History: the delivered tasks of e03 and e07.
  auto delivered = list_all(db, scope_of(status_eq("delivered")));
  BOOST_CHECK(sorted(ids_of(delivered)) == sorted({task(3), task(7)}));
  for (auto& d : delivered) {
    BOOST_CHECK(d.status == delivery_status::delivered);
    BOOST_CHECK_EQUAL(d.attempts, 1u);
    BOOST_CHECK_EQUAL(d.finished, t0 + 300);
  }
  auto e03 = list_all(db, scope_of(id_eq(task(3))));
  BOOST_REQUIRE_EQUAL(e03.size(), 1u);
  BOOST_CHECK(e03[0].status == delivery_status::delivered);
  // The built-in log's two task records.
  std::vector<log_record> records;
  REQUIRE_OK(db->for_each_log(action_kind::task, [&](const log_record& r) {
    records.push_back(r);
    return true;
  }));
  BOOST_REQUIRE_EQUAL(records.size(), 2u);
  std::vector<std::string> logged;
  for (auto& r : records) {
    logged.push_back(r.id);
    BOOST_CHECK_EQUAL(r.received, t0 + 300);
    BOOST_CHECK_EQUAL(r.json, "{\"id\":\"" + r.id + "\",\"functionName\":\"erase\"}");
  }
  BOOST_CHECK(sorted(logged) == sorted({task(3), task(5)}));
  size_t mails = 0;
  REQUIRE_OK(db->for_each_log(action_kind::mail, [&](const log_record&) { return ++mails, true; }));
  BOOST_CHECK_EQUAL(mails, 0u);
  // `seen` (the events are from 2025-12-01: a window reaching back to them).
  auto found = db->find_seen({event2(1), event2(12), hexid(0xe0d)}, 100000, now_ms());
  BOOST_REQUIRE_MESSAGE(found, test::why(found));
  BOOST_REQUIRE((*found)[0]);
  BOOST_CHECK((*(*found)[0] == event{event2(1), "user_created", "{\"userId\":1}", t0 + 1}));
  BOOST_CHECK((*found)[1] && (*found)[1]->content == "{\"userId\":12}");
  BOOST_CHECK(!(*found)[2]);
  // Every delivery listed once: 11 waiting, 1 dead, 2 in history, 8 derived from e09..e12.
  auto all = list_all(db);
  BOOST_CHECK_EQUAL(all.size(), 22u);
  std::set<std::string> distinct;
  for (auto& d : all) distinct.insert(d.id);
  BOOST_CHECK_EQUAL(distinct.size(), all.size());
  // The dead task can be revived.
  auto revived = *letter;
  revived.status = delivery_status::pending;
  revived.attempts = 0;
  revived.last_error.clear();
  revived.finished = 0;
  revived.next_attempt = now_ms();
  REQUIRE_OK(db->revive(revived, deleted_shard));
  BOOST_CHECK(!dead_letter_of(db, task(5)));
  auto back = waiting_of(db, task(5));
  BOOST_CHECK(back && *back == revived);
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::task), 6u);
  BOOST_CHECK_EQUAL(count_id(due(db, action_kind::task, deleted_shard), task(5)), 1u);
  BOOST_CHECK(list_all(db, scope_of(status_eq("dead"))).empty());
  all = list_all(db);
  BOOST_CHECK_EQUAL(all.size(), 22u);
  BOOST_CHECK_EQUAL(count_id(all, task(5)), 1u);
}

BOOST_FIXTURE_TEST_CASE(schema2_events_still_in_the_log_derive_deliveries, schema2_fixture) {
  open();
  auto pending = list_all(db, scope_of(status_eq("pending")));
  for (int i = 9; i <= 12; ++i) {
    auto task_id = delivery_id_at(delivery_position{seq2(i), deleted_shard, 0});
    auto mail_id = delivery_id_at(delivery_position{seq2(i), deleted_shard, 1});
    auto* task = find_id(pending, task_id);
    BOOST_REQUIRE_MESSAGE(task, "task of e" << i);
    BOOST_CHECK(task->kind == action_kind::task);
    BOOST_CHECK_EQUAL(task->event_id, event2(i));
    BOOST_CHECK_EQUAL(task->dispatcher_id, hexid(0xd2));
    BOOST_CHECK_EQUAL(task->task.function_name, "erase");
    auto* mail = find_id(pending, mail_id);
    BOOST_REQUIRE_MESSAGE(mail, "mail of e" << i);
    BOOST_CHECK(mail->kind == action_kind::mail);
    BOOST_CHECK_EQUAL(mail->dispatcher_id, hexid(0xd3));
    BOOST_CHECK_EQUAL(list_all(db, scope_of(id_eq(mail_id))).size(), 1u);
  }
}

BOOST_FIXTURE_TEST_CASE(schema2_second_open_changes_nothing, schema2_fixture) {
  open();
  auto first = snapshot_of(db);
  BOOST_CHECK_EQUAL(first.deliveries.size(), 22u);
  BOOST_CHECK_EQUAL(first.waiting_tasks, 5u);
  BOOST_CHECK_EQUAL(first.waiting_mails, 6u);
  db.reset();
  auto families = families_of(opts.data_dir);
  auto index = raw_entries(opts.data_dir, keys::delivery_index_family);
  auto exceptions = raw_entries(opts.data_dir, keys::exceptions_family);
  auto versions = raw_entries(opts.data_dir, keys::dispatcher_versions_family);
  auto log = raw_entries(opts.data_dir, keys::event_log_family);
  open();
  check_same(first, snapshot_of(db));
  db.reset();
  BOOST_CHECK(families_of(opts.data_dir) == families);
  BOOST_CHECK(raw_entries(opts.data_dir, keys::delivery_index_family) == index);
  BOOST_CHECK(raw_entries(opts.data_dir, keys::exceptions_family) == exceptions);
  BOOST_CHECK(raw_entries(opts.data_dir, keys::dispatcher_versions_family) == versions);
  BOOST_CHECK(raw_entries(opts.data_dir, keys::event_log_family) == log);
  BOOST_CHECK_EQUAL(raw_meta(opts.data_dir, keys::schema_version_key), u32(4));
}

// The store flushes on an orderly shutdown: right after the migration (the same process that
// dropped the old families) that must work as well as after any other open.
BOOST_FIXTURE_TEST_CASE(schema2_flush_works_right_after_the_migration, schema2_fixture) {
  open();
  auto err = db->flush();
  BOOST_CHECK_MESSAGE(!err, "flush after the migration: " + message_of(err));
  REQUIRE_OK(db->probe_write());
  open();
  auto again = db->flush();
  BOOST_CHECK_MESSAGE(!again, "flush after reopening: " + message_of(again));
}

// A migration killed while moving the inbox resumes: here two of the four unmatched events had
// moved already (they are simply gone from the inbox); the other two arrive, the rest migrates.
BOOST_FIXTURE_TEST_CASE(schema2_migration_resumes_with_a_partly_emptied_inbox, schema2_fixture) {
  with_raw_db(opts.data_dir, [](rocksdb::DB& raw, raw_families& families) {
    auto* inbox = families.at(keys::legacy_inbox_family);
    for (int i : {9, 10})
      BOOST_REQUIRE(raw.Delete({}, inbox, keys::log_entry_key(deleted_shard, seq2(i))).ok());
  });
  BOOST_CHECK_EQUAL(raw_meta(opts.data_dir, keys::schema_version_key), u32(2));
  open();
  auto check = [&] {
    auto log = log_of(db, deleted_shard);
    BOOST_REQUIRE_EQUAL(log.size(), 2u);
    BOOST_CHECK_EQUAL(log[0].sequence, seq2(11));
    BOOST_CHECK_EQUAL(log[0].event.id, event2(11));
    BOOST_CHECK_EQUAL(log[0].event.content, "{\"userId\":11}");
    BOOST_CHECK_EQUAL(log[1].sequence, seq2(12));
    BOOST_CHECK_EQUAL(log[1].event.id, event2(12));
    BOOST_CHECK_EQUAL(db->waiting_size(action_kind::task), 5u);
    BOOST_CHECK_EQUAL(db->waiting_size(action_kind::mail), 6u);
    BOOST_CHECK_EQUAL(versions_of(db, deleted_shard).size(), 2u);
    BOOST_CHECK_EQUAL(versions_of(db, created_shard).size(), 1u);
    BOOST_CHECK(dead_letter_of(db, task(5)));
    BOOST_CHECK_EQUAL(list_all(db).size(), 11u + 1 + 2 + 4);
  };
  check();
  auto first = snapshot_of(db);
  open(); // idempotent
  check();
  check_same(first, snapshot_of(db));
  db.reset();
  BOOST_CHECK_EQUAL(raw_meta(opts.data_dir, keys::schema_version_key), u32(4));
  auto families = families_of(opts.data_dir);
  BOOST_CHECK(!has(families, keys::legacy_inbox_family));
  BOOST_CHECK(!has(families, keys::legacy_deliveries_family));
}

// -- the event archive --------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(the_archive_is_walked_newest_first_and_counted_exactly, fixture) {
  auto today = day_of(now);
  auto old_day = first_sequence_of_day(today - 9);
  auto new_day = first_sequence_of_day(today - 1);
  // Types live in the shard of their name: "a" and "b" in shard 0, "c" in shard 1.
  auto type_in = [&](uint32_t shard, int skip) {
    for (int i = 0;; ++i) {
      auto name = "type-" + std::to_string(i);
      if (shard_of(name, opts.shards) == shard && skip-- == 0) return name;
    }
  };
  auto a = type_in(0, 0);
  auto b = type_in(0, 1);
  auto c = type_in(1, 0);
  auto typed = [](const std::string& id, const std::string& type) {
    return event{id, type, "{}", now};
  };
  auto n1 = event_id_at(0, new_day + 1);
  REQUIRE_OK(db->accept_events(
    {generated(1, old_day + 1, typed("o0", c)), generated(0, old_day + 1, typed("o1", a)),
     generated(1, old_day + 2, typed("o2", c)), generated(0, old_day + 3, typed("o3", b))},
    now - 9 * day_ms));
  REQUIRE_OK(db->accept_events({generated(0, new_day + 1, typed(n1, a)),
                                generated(1, new_day + 2, typed("n2", c)),
                                chosen(0, new_day + 3, typed("cccccccccccccccccccccccc", a))},
                               now));
  auto walk = [&](const archive_range& range) {
    std::vector<std::string> ids;
    REQUIRE_OK(db->for_each_archived(range, [&](const archived_event& x) {
      ids.push_back(x.event.id);
      return true;
    }));
    return ids;
  };
  auto count = [&](const std::string* type) {
    auto n = db->count_archived(type);
    BOOST_REQUIRE_MESSAGE(n, test::why(n));
    return *n;
  };
  // Newest first across the shards, by sequence; o0 and o1 share one: the higher shard first,
  // as oldest first is the same order reversed.
  auto all = walk({});
  BOOST_TEST((
    all == std::vector<std::string>{"cccccccccccccccccccccccc", "n2", n1, "o3", "o2", "o0", "o1"}));
  archive_range whole_oldest_first;
  whole_oldest_first.newest_first = false;
  BOOST_TEST((walk(whole_oldest_first) == std::vector<std::string>(all.rbegin(), all.rend())));
  archive_range oldest_first;
  oldest_first.shards = {0};
  oldest_first.lower = new_day;
  oldest_first.newest_first = false;
  BOOST_TEST((walk(oldest_first) == std::vector<std::string>{n1, "cccccccccccccccccccccccc"}));
  std::string nope = "nope";
  BOOST_TEST(count(nullptr) == 7u);
  BOOST_TEST(count(&a) == 3u);
  BOOST_TEST(count(&b) == 1u);
  BOOST_TEST(count(&c) == 3u);
  BOOST_TEST(count(&nope) == 0u);
  // By id: a generated one from its position, a publisher's through `seen`.
  auto found = db->find_archived(n1);
  BOOST_REQUIRE(found && *found);
  BOOST_TEST((*found)->sequence == new_day + 1);
  found = db->find_archived("cccccccccccccccccccccccc");
  BOOST_REQUIRE(found && *found);
  BOOST_TEST((*found)->event.type == a);
  found = db->find_archived(event_id_at(0, new_day + 2));
  BOOST_REQUIRE(found);
  BOOST_TEST(!*found);
  // Retention: shard 0's emitters passed everything; shard 1's stand after o0, part of its day.
  for (auto kind : {action_kind::task, action_kind::mail}) {
    progress passed{new_day + 3, 0};
    REQUIRE_OK(db->write_outcomes(kind, 0, {}, &passed));
    progress behind{old_day + 1, 0};
    REQUIRE_OK(db->write_outcomes(kind, 1, {}, &behind));
  }
  REQUIRE_OK(db->apply_retention(now, 7, 7, 7, 7));
  BOOST_TEST((walk({}) == std::vector<std::string>{"cccccccccccccccccccccccc", "n2", n1, "o2"}));
  BOOST_TEST(count(nullptr) == 4u);
  BOOST_TEST(count(&a) == 2u);
  BOOST_TEST(count(&b) == 0u);
  BOOST_TEST(count(&c) == 2u); // o0 went, from a day cut in part: subtracted
  reopen();
  BOOST_TEST(count(nullptr) == 4u);
  BOOST_TEST(count(&c) == 2u);
}

// A time range of the archive reads only the minutes whose events' creation times can meet it (a
// publisher may set any time: each shard and minute keeps its earliest and latest), across a
// reopen, retention, and a directory whose events predate these spans (read whatever they hold).
BOOST_FIXTURE_TEST_CASE(a_time_range_of_the_archive_reads_the_minutes_that_can_hold_it, fixture) {
  auto today = day_of(now);
  constexpr int64_t hour = 3600000;
  auto start_of = [](uint32_t day) { return static_cast<timestamp_ms>(day) * day_ms; };
  uint32_t a = today - 5, b = today - 3, c = today - 1;
  auto at = [&](uint32_t day, uint64_t n) { return first_sequence_of_day(day) + n; };
  auto ev = [](const std::string& id, timestamp_ms created) {
    return event{id, "t", "{}", created};
  };
  // Day c of shard 0 also has an event published with an old time (that of day a).
  REQUIRE_OK(db->accept_events({generated(0, at(a, 1), ev("a1", start_of(a) + hour)),
                                generated(1, at(a, 2), ev("a2", start_of(a) + 2 * hour))},
                               start_of(a) + 2 * hour));
  REQUIRE_OK(
    db->accept_events({generated(0, at(b, 1), ev("b1", start_of(b) + hour))}, start_of(b) + hour));
  REQUIRE_OK(db->accept_events({generated(0, at(c, 1), ev("c1", start_of(c) + hour)),
                                generated(0, at(c, 2), ev("c2", start_of(a) + 3 * hour))},
                               start_of(c) + hour));
  auto bounded = [&](timestamp_ms from, timestamp_ms to) {
    archive_range range;
    REQUIRE_OK(db->bound_by_creation(range, from, to));
    return range;
  };
  // The listing with the range equals the whole archive filtered, newest first, exact total.
  auto listed = [&](timestamp_ms from, timestamp_ms to) {
    auto q = parse_rql("ge(creationTimestamp," + std::to_string(from) + ")&lt(creationTimestamp,"
                       + std::to_string(to) + ")");
    BOOST_REQUIRE(q);
    auto page = list_archive(db, *q, max_page_size);
    BOOST_REQUIRE_MESSAGE(page, test::why(page));
    std::vector<std::string> ids;
    for (auto& json : page->data) ids.push_back(json.substr(json.find("\"id\":\"") + 6, 2));
    BOOST_CHECK_EQUAL(page->page.total, ids.size());
    std::vector<std::string> read;
    REQUIRE_OK(db->for_each_archived({}, [&](const archived_event& x) {
      if (x.event.creation_timestamp >= from && x.event.creation_timestamp < to)
        read.push_back(x.event.id);
      return true;
    }));
    BOOST_CHECK_EQUAL_COLLECTIONS(ids.begin(), ids.end(), read.begin(), read.end());
    return ids;
  };
  auto check = [&](bool spans_kept) {
    // Day b's time: b's minute and c's (whose span reaches back to day a) can hold it.
    auto day_b = bounded(start_of(b), start_of(b + 1));
    BOOST_CHECK_EQUAL(day_b.lower, spans_kept ? first_sequence_of_day(b) : 0u);
    BOOST_CHECK_GE(day_b.upper, first_sequence_at(start_of(c) + 60000));
    if (spans_kept) BOOST_CHECK_EQUAL(day_b.upper, first_sequence_at(start_of(c) + 60000));
    BOOST_CHECK((listed(start_of(b), start_of(b + 1)) == std::vector<std::string>{"b1"}));
    // Between a2 and c2's times: only day c's minute meets it.
    auto late = bounded(start_of(a) + 2 * hour + 1, start_of(a) + 3 * hour + 1);
    BOOST_CHECK_EQUAL(late.lower, spans_kept ? first_sequence_of_day(c) : 0u);
    BOOST_CHECK((listed(start_of(a) + 2 * hour + 1, start_of(a) + 3 * hour + 1)
                 == std::vector<std::string>{"c2"}));
    BOOST_CHECK(
      (listed(start_of(a), start_of(a + 1)) == std::vector<std::string>{"c2", "a2", "a1"}));
    // A time no event has: nothing to read.
    auto none = bounded(start_of(today + 5), start_of(today + 6));
    BOOST_CHECK(!spans_kept || none.upper <= none.lower);
    BOOST_CHECK(listed(start_of(today + 5), start_of(today + 6)).empty());
  };
  check(true);
  reopen();
  check(true);
  // A directory of the release before the spans: what it accepted can hold any time, and is read.
  db.reset();
  with_raw_db(opts.data_dir, [](rocksdb::DB& raw, raw_families& families) {
    auto* meta = families.at(keys::meta_family);
    std::unique_ptr<rocksdb::Iterator> it{raw.NewIterator({}, meta)};
    for (it->Seek(keys::created_span_prefix);
         it->Valid() && it->key().starts_with(keys::created_span_prefix); it->Next())
      BOOST_REQUIRE(raw.Delete({}, meta, it->key()).ok());
    BOOST_REQUIRE(raw.Delete({}, meta, keys::created_spans_from_key).ok());
  });
  reopen();
  check(false);
  // Retention lets day a go (and its span); what is left is bounded again by what it holds.
  for (uint32_t shard = 0; shard < opts.shards; ++shard)
    for (auto kind : {action_kind::task, action_kind::mail}) {
      progress passed{at(c, 2), 0};
      REQUIRE_OK(db->write_outcomes(kind, shard, {}, &passed));
    }
  REQUIRE_OK(db->apply_retention(now, 4, 4, 4, 4));
  BOOST_CHECK(listed(start_of(a), start_of(a) + 2 * hour + 1).empty());
  BOOST_CHECK((listed(start_of(a), start_of(c + 1)) == std::vector<std::string>{"c2", "c1", "b1"}));
}

BOOST_FIXTURE_TEST_CASE(a_day_of_many_types_counts_one_type_by_reading_it, fixture) {
  auto day = first_sequence_of_day(day_of(now));
  std::vector<accepted_event> batch;
  auto add = [&](int i, const std::string& type) {
    batch.push_back(generated(shard_of(type, opts.shards), day + batch.size() + 1,
                              event{hexid(i), type, "{}", now}));
  };
  // More types per shard than a day's count keeps apart (about 300 in each of the 4 shards).
  for (int i = 0; i < 1200; ++i) add(i, "type-" + std::to_string(i));
  add(5000, "type-7");
  REQUIRE_OK(db->accept_events(batch, now));
  std::string seven = "type-7";
  auto n = db->count_archived(&seven);
  BOOST_REQUIRE(n);
  BOOST_TEST(*n == 2u);
  auto all = db->count_archived();
  BOOST_REQUIRE(all);
  BOOST_TEST(*all == 1201u);
  // The day's count of type-7's shard no longer tells types apart (else the count above would
  // not have read the day): total(8) · overflow(1), nothing after.
  db.reset();
  auto key = keys::event_count_key(shard_of(seven, opts.shards), day_of(now));
  auto counts = raw_entries(opts.data_dir, keys::event_counts_family);
  auto entry = std::find_if(counts.begin(), counts.end(),
                            [&](const auto& x) { return x.first == key; });
  BOOST_REQUIRE(entry != counts.end());
  BOOST_TEST(entry->second.size() == 9u);
  BOOST_TEST(static_cast<int>(entry->second[8]) == 1);
  reopen();
  n = db->count_archived(&seven);
  BOOST_REQUIRE(n);
  BOOST_TEST(*n == 2u);
}

BOOST_AUTO_TEST_CASE(a_delivery_written_before_replay_ids_still_decodes) {
  // The layout before `replay_id`: every other field, in order.
  auto old = make_record("old", action_kind::task, 5);
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  BOOST_REQUIRE(!sink(old.id, old.kind, old.event_id, old.event_type, old.dispatcher_id,
                      old.action_id, old.status, old.attempts, old.created, old.next_attempt,
                      old.finished, old.last_error, old.task, old.mail));
  delivery read;
  read.replay_id = "stale";
  REQUIRE_OK(codec::decode("f", "k", 1, buf.data(), buf.size(), read));
  BOOST_CHECK(read == old);
  BOOST_TEST(read.replay_id.empty());
  auto replayed = old;
  replayed.replay_id = "65f000000000000000000009";
  std::string now_written;
  REQUIRE_OK(codec::encode(now_written, replayed));
  REQUIRE_OK(codec::decode("f", "k", 1, now_written.data(), now_written.size(), read));
  BOOST_TEST(read.replay_id == replayed.replay_id);
  auto cut = codec::decode("f", "k", 1, buf.data(), buf.size() - 1, read); // a byte short
  BOOST_CHECK(static_cast<bool>(cut));
}

BOOST_AUTO_TEST_CASE(a_delivery_keeps_its_ordering_key_and_one_written_without_decodes) {
  // Written before deliveries carried their key: every field `inspect` writes, nothing after.
  auto old = make_record("old", action_kind::task, 5);
  old.replay_id = "65f000000000000000000009";
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  BOOST_REQUIRE(!sink(old));
  delivery read;
  read.ordering_key = uint64_t{1};
  REQUIRE_OK(codec::decode("f", "k", 1, buf.data(), buf.size(), read));
  BOOST_CHECK(read == old);
  BOOST_TEST(!read.ordering_key);
  // Written now: the key comes back, and a key of 0 is a key too.
  for (uint64_t key : {uint64_t{0}, uint64_t{0x0123456789abcdef}}) {
    auto keyed = old;
    keyed.ordering_key = key;
    std::string value;
    REQUIRE_OK(codec::encode(value, keyed));
    BOOST_TEST(value.size() == buf.size() + 8u);
    REQUIRE_OK(codec::decode("f", "k", 1, value.data(), value.size(), read));
    BOOST_CHECK(read == keyed);
    BOOST_REQUIRE(read.ordering_key);
    BOOST_TEST(*read.ordering_key == key);
    auto cut = codec::decode("f", "k", 1, value.data(), value.size() - 3, read); // torn trailer
    BOOST_CHECK(static_cast<bool>(cut));
  }
}

BOOST_AUTO_TEST_SUITE_END()
