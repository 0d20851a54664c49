// Tests of the RocksDB store against a real database in a unique temporary directory: opening and
// its refusals, ingest, the delivery queues and their state changes, the log, retention, failures.
#include "persistence/store.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include <boost/test/unit_test.hpp>

#include <rocksdb/db.h>

#include "messages/error_code.hpp"
#include "persistence/keys.hpp"

using namespace dispatch;
namespace fs = std::filesystem;

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
    BOOST_REQUIRE_MESSAGE(opened, message_of(opened.error()));
    db = *opened;
  }
};

event make_event(const std::string& id, const std::string& content = "{}") {
  return event{id, "order.created", content, now};
}

delivery make_delivery(const std::string& id, action_kind kind, timestamp_ms due) {
  delivery d;
  d.id = id;
  d.kind = kind;
  d.event_id = "e-" + id;
  d.event_type = "order.created";
  d.dispatcher_id = "d1";
  d.action_id = "a1";
  d.created = now;
  d.next_attempt = due;
  d.task.function_name = "fn";
  d.mail.template_id = "tpl";
  return d;
}

std::vector<std::string> ids_of(const delivery_list& xs) {
  std::vector<std::string> out;
  for (auto& x : xs)
    out.push_back(x.id);
  return out;
}

// Writes one outcome the way the emitter does: `status` set, `finished` stamped when it ends.
caf::error write_outcome(const store_ptr& db, timestamp_ms previous_due, delivery d,
                         delivery_status status) {
  d.status = status;
  if (d.finished == 0 && (status == delivery_status::delivered || status == delivery_status::dead))
    d.finished = now;
  return db->write_outcomes({delivery_outcome{previous_due, std::move(d)}});
}

delivery_list due(const store_ptr& db, action_kind kind, size_t limit = 100,
                  std::function<bool(const std::string&)> skip = nullptr) {
  auto result = db->scan_due(kind, limit, skip ? skip : [](const std::string&) { return false; });
  BOOST_REQUIRE_MESSAGE(result, message_of(result.error()));
  return *result;
}

// Opens the directory with plain RocksDB (every family) and hands `f` the database.
void with_raw_db(const std::string& dir,
                 const std::function<void(rocksdb::DB&, std::map<std::string,
                                          rocksdb::ColumnFamilyHandle*>&)>& f) {
  std::vector<std::string> names;
  BOOST_REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions{}, dir, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (auto& name : names)
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions{});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  BOOST_REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions{}, dir, descriptors, &handles, &raw).ok());
  std::map<std::string, rocksdb::ColumnFamilyHandle*> by_name;
  for (size_t i = 0; i < names.size(); ++i)
    by_name[names[i]] = handles[i];
  f(*raw, by_name);
  for (auto* handle : handles)
    raw->DestroyColumnFamilyHandle(handle);
  delete raw;
}

std::string u32(uint32_t x) {
  std::string out;
  keys::append_u32(out, x);
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(store)

BOOST_FIXTURE_TEST_CASE(reopen_keeps_data, fixture) {
  dispatcher disp;
  disp.id = "d1";
  disp.event_type = "order.created";
  BOOST_REQUIRE(!db->write_dispatchers({disp}, {}));
  BOOST_REQUIRE(!db->accept_events({{2, 7, make_event("e1")}}, now));
  BOOST_REQUIRE(!db->commit_match(2, {}, {make_delivery("x", action_kind::mail, now)}));
  reopen();
  auto loaded = db->load_dispatchers();
  BOOST_REQUIRE(loaded);
  BOOST_REQUIRE_EQUAL(loaded->size(), 1u);
  BOOST_CHECK(loaded->front() == disp);
  auto inbox = db->scan_inbox(2, 0, 10);
  BOOST_REQUIRE(inbox);
  BOOST_REQUIRE_EQUAL(inbox->size(), 1u);
  BOOST_CHECK_EQUAL(inbox->front().sequence, 7u);
  BOOST_CHECK(inbox->front().event == make_event("e1"));
  BOOST_CHECK_EQUAL(db->inbox_size(2), 1u);
  BOOST_CHECK_EQUAL(db->last_inbox_sequence(), 7u);
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::mail), 1u);
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::task), 0u);
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

BOOST_FIXTURE_TEST_CASE(schema_mismatch_is_refused, fixture) {
  // A newer directory, and one of schema 1 (`seen` keyed by day, before it was keyed by id).
  for (auto version : {keys::schema_version + 1, 1u}) {
    db.reset();
    with_raw_db(opts.data_dir, [version](rocksdb::DB& raw, auto& families) {
      auto st = raw.Put({}, families.at(keys::meta_family), keys::schema_version_key,
                        u32(version));
      BOOST_REQUIRE(st.ok());
    });
    auto opened = dispatch::store::open(opts);
    BOOST_REQUIRE(!opened);
    BOOST_CHECK_EQUAL(message_of(opened.error()),
                      "data directory " + opts.data_dir + " has schema version "
                        + std::to_string(version) + "; this build reads "
                        + std::to_string(keys::schema_version));
  }
}

BOOST_FIXTURE_TEST_CASE(second_open_is_refused_while_in_use, fixture) {
  auto second = dispatch::store::open(opts);
  BOOST_REQUIRE(!second);
  BOOST_CHECK_EQUAL(message_of(second.error()),
                    "data directory " + opts.data_dir + " is in use by another process");
  db.reset(); // released: opening works again
  reopen();
}

BOOST_FIXTURE_TEST_CASE(dispatchers_write_erase_load, fixture) {
  dispatcher a, b, c;
  a.id = "a";
  b.id = "b";
  b.actions.resize(2);
  b.actions[1].kind = action_kind::mail;
  b.actions[1].recipients.to = {"x@example.com"};
  c.id = "c";
  BOOST_REQUIRE(!db->write_dispatchers({a, b}, {}));
  b.version = 2;
  BOOST_REQUIRE(!db->write_dispatchers({b, c}, {"a", "never-there"}));
  auto loaded = db->load_dispatchers();
  BOOST_REQUIRE(loaded);
  BOOST_REQUIRE_EQUAL(loaded->size(), 2u);
  BOOST_CHECK((*loaded)[0] == b);
  BOOST_CHECK((*loaded)[1] == c);
}

BOOST_FIXTURE_TEST_CASE(find_seen_within_the_window, fixture) {
  BOOST_REQUIRE(!db->accept_events({{0, 1, make_event("old", "{\"v\":1}")}}, now - 9 * day_ms));
  BOOST_REQUIRE(!db->accept_events({{0, 2, make_event("twice", "{\"v\":1}")}}, now - 2 * day_ms));
  BOOST_REQUIRE(!db->accept_events(
    {{1, 3, make_event("a")}, {1, 4, make_event("twice", "{\"v\":2}")}}, now));
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
  BOOST_REQUIRE(!db->accept_events({{0, 1, make_event("edge", "{\"v\":1}")}}, now - 6 * day_ms));
  BOOST_REQUIRE(!db->accept_events({{0, 2, make_event("out", "{\"v\":1}")}}, now - 7 * day_ms));
  auto found = db->find_seen({"edge", "out"}, 7, now);
  BOOST_REQUIRE(found);
  BOOST_CHECK((*found)[0] && (*found)[0]->content == "{\"v\":1}");
  BOOST_CHECK(!(*found)[1]);
  // Accepted again outside the window: the new one is what a duplicate is answered with.
  BOOST_REQUIRE(!db->accept_events({{0, 3, make_event("out", "{\"v\":2}")}}, now));
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
  BOOST_REQUIRE(!db->accept_events({{0, 1, make_event("old")}}, now - 7 * day_ms));
  BOOST_REQUIRE(!db->accept_events({{0, 2, make_event("kept")}}, now - 6 * day_ms));
  BOOST_REQUIRE(!db->apply_retention(now, 7, 0, 0));
  // Still in the memtable, yet hidden at once.
  auto found = db->find_seen({"old", "kept"}, 30, now);
  BOOST_REQUIRE(found);
  BOOST_CHECK(!(*found)[0]);
  BOOST_CHECK((*found)[1]);
  // The flush drops what retention let go, and only that; the floor outlives a reopen.
  BOOST_REQUIRE(!db->flush());
  db.reset();
  std::vector<std::string> left;
  with_raw_db(opts.data_dir, [&left](rocksdb::DB& raw, auto& families) {
    std::unique_ptr<rocksdb::Iterator> it{raw.NewIterator({}, families.at(keys::seen_family))};
    for (it->SeekToFirst(); it->Valid(); it->Next())
      left.push_back(it->key().ToString());
  });
  BOOST_CHECK((left == std::vector<std::string>{"kept"}));
  reopen();
  BOOST_REQUIRE(!db->accept_events({{0, 3, make_event("old")}}, now - 7 * day_ms));
  found = db->find_seen({"old", "kept"}, 30, now);
  BOOST_REQUIRE(found);
  BOOST_CHECK(!(*found)[0]);
  BOOST_CHECK((*found)[1]);
}

BOOST_FIXTURE_TEST_CASE(scan_inbox_by_shard_and_after, fixture) {
  BOOST_CHECK_EQUAL(db->last_inbox_sequence(), 0u);
  std::vector<accepted_event> batch;
  for (uint64_t seq : {1, 3, 5, 300})
    batch.push_back({0, seq, make_event("s0-" + std::to_string(seq))});
  for (uint64_t seq : {2, 4})
    batch.push_back({1, seq, make_event("s1-" + std::to_string(seq))});
  BOOST_REQUIRE(!db->accept_events(batch, now));
  auto sequences = [&](uint32_t shard, uint64_t after, size_t limit) {
    auto xs = db->scan_inbox(shard, after, limit);
    BOOST_REQUIRE(xs);
    std::vector<uint64_t> out;
    for (auto& x : *xs)
      out.push_back(x.sequence);
    return out;
  };
  BOOST_CHECK((sequences(0, 0, 10) == std::vector<uint64_t>{1, 3, 5, 300}));
  BOOST_CHECK((sequences(0, 3, 10) == std::vector<uint64_t>{5, 300}));
  BOOST_CHECK((sequences(0, 0, 2) == std::vector<uint64_t>{1, 3}));
  BOOST_CHECK((sequences(1, 0, 10) == std::vector<uint64_t>{2, 4}));
  BOOST_CHECK(sequences(2, 0, 10).empty());
  BOOST_CHECK(sequences(0, UINT64_MAX, 10).empty());
  BOOST_CHECK_EQUAL(db->inbox_size(0), 4u);
  BOOST_CHECK_EQUAL(db->inbox_size(1), 2u);
  BOOST_CHECK_EQUAL(db->last_inbox_sequence(), 300u);
  BOOST_CHECK(db->accept_events({{9, 1, make_event("x")}}, now)); // no shard 9
}

BOOST_FIXTURE_TEST_CASE(commit_match_moves_events_into_deliveries, fixture) {
  BOOST_REQUIRE(!db->accept_events({{0, 1, make_event("e1")}, {0, 2, make_event("e2")}}, now));
  auto task = make_delivery("t1", action_kind::task, now);
  auto mail = make_delivery("m1", action_kind::mail, now + 5);
  BOOST_REQUIRE(!db->commit_match(0, {1}, {task, mail}));
  auto inbox = db->scan_inbox(0, 0, 10);
  BOOST_REQUIRE(inbox);
  BOOST_REQUIRE_EQUAL(inbox->size(), 1u);
  BOOST_CHECK_EQUAL(inbox->front().sequence, 2u);
  BOOST_CHECK_EQUAL(db->inbox_size(0), 1u);
  auto tasks = due(db, action_kind::task);
  BOOST_REQUIRE_EQUAL(tasks.size(), 1u);
  BOOST_CHECK(tasks.front() == task);
  BOOST_CHECK((ids_of(due(db, action_kind::mail)) == std::vector<std::string>{"m1"}));
  auto slot = db->find_waiting("m1");
  BOOST_REQUIRE(slot && *slot);
  BOOST_CHECK((*slot)->kind == action_kind::mail);
  BOOST_CHECK_EQUAL((*slot)->due, now + 5);
  auto got = db->get_waiting("t1");
  BOOST_REQUIRE(got && *got);
  BOOST_CHECK(**got == task);
  // The same delivery matched again keeps its place.
  BOOST_REQUIRE(!db->commit_match(0, {}, {make_delivery("t1", action_kind::task, now + 99)}));
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::task), 1u);
  BOOST_CHECK_EQUAL(db->inbox_size(0), 1u);
  BOOST_CHECK_EQUAL((*db->find_waiting("t1"))->due, now);
  BOOST_CHECK(!*db->find_waiting("nope"));
  // Deliveries of events with new ids are written without the lookup, like any other.
  BOOST_REQUIRE(!db->commit_match(0, {}, {make_delivery("t2", action_kind::task, now + 7)},
                                  match_ids::new_ids));
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::task), 2u);
  BOOST_CHECK_EQUAL((*db->find_waiting("t2"))->due, now + 7);
  BOOST_CHECK((ids_of(due(db, action_kind::task)) == std::vector<std::string>{"t1", "t2"}));
}

BOOST_FIXTURE_TEST_CASE(scan_due_orders_by_due_time_and_skips, fixture) {
  delivery_list batch;
  for (auto [id, at] : std::vector<std::pair<std::string, timestamp_ms>>{
         {"c", 300}, {"a", 100}, {"neg", -5}, {"b", 200}})
    batch.push_back(make_delivery(id, action_kind::task, at));
  batch.push_back(make_delivery("mail", action_kind::mail, 0));
  BOOST_REQUIRE(!db->commit_match(0, {}, batch));
  using ids = std::vector<std::string>;
  BOOST_CHECK((ids_of(due(db, action_kind::task)) == ids{"neg", "a", "b", "c"}));
  BOOST_CHECK((ids_of(due(db, action_kind::task, 2)) == ids{"neg", "a"}));
  auto skip_a = [](const std::string& id) { return id == "a" || id == "neg"; };
  BOOST_CHECK((ids_of(due(db, action_kind::task, 2, skip_a)) == ids{"b", "c"}));
  // After the head is finished and scanned past, an earlier delivery is still found first.
  BOOST_REQUIRE(!write_outcome(db, -5, make_delivery("neg", action_kind::task, -5),
                               delivery_status::delivered));
  BOOST_CHECK_EQUAL(due(db, action_kind::task).front().id, "a");
  BOOST_REQUIRE(!db->commit_match(0, {}, {make_delivery("early", action_kind::task, 50)}));
  BOOST_CHECK_EQUAL(due(db, action_kind::task).front().id, "early");
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::task), 4u);
}

BOOST_FIXTURE_TEST_CASE(reschedule_moves_a_delivery, fixture) {
  BOOST_REQUIRE(!db->commit_match(0, {}, {make_delivery("a", action_kind::task, 100),
                                          make_delivery("b", action_kind::task, 200)}));
  auto moved = make_delivery("a", action_kind::task, 500);
  moved.status = delivery_status::retrying;
  moved.attempts = 1;
  moved.last_error = "503";
  BOOST_REQUIRE(!write_outcome(db, 100, moved, delivery_status::retrying));
  auto queue = due(db, action_kind::task);
  BOOST_REQUIRE((ids_of(queue) == std::vector<std::string>{"b", "a"}));
  BOOST_CHECK(queue[1] == moved);
  BOOST_CHECK_EQUAL((*db->find_waiting("a"))->due, 500);
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::task), 2u);
  // Purged, it is gone from the queue. (An answer to a purged delivery still at its sink is the
  // emitter's to ignore: it never writes that outcome.)
  BOOST_REQUIRE(*db->purge("b"));
  BOOST_CHECK((ids_of(due(db, action_kind::task)) == std::vector<std::string>{"a"}));
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::task), 1u);
}

BOOST_FIXTURE_TEST_CASE(finish_revive_and_purge, fixture) {
  BOOST_REQUIRE(!db->commit_match(0, {}, {make_delivery("ok", action_kind::task, 10),
                                          make_delivery("bad", action_kind::mail, 20)}));
  auto done = make_delivery("ok", action_kind::task, 10);
  done.finished = now;
  BOOST_REQUIRE(!write_outcome(db, 10, done, delivery_status::delivered));
  auto dead = make_delivery("bad", action_kind::mail, 20);
  dead.attempts = 5;
  dead.last_error = "550 mailbox unavailable";
  dead.finished = now;
  BOOST_REQUIRE(!write_outcome(db, 20, dead, delivery_status::dead));
  BOOST_CHECK(due(db, action_kind::task).empty());
  BOOST_CHECK(due(db, action_kind::mail).empty());
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::mail), 0u);
  BOOST_CHECK(!*db->find_waiting("bad"));
  auto letter = db->get_dead_letter("bad");
  BOOST_REQUIRE(letter && *letter);
  BOOST_CHECK((*letter)->status == delivery_status::dead);
  BOOST_CHECK_EQUAL((*letter)->last_error, "550 mailbox unavailable");
  BOOST_CHECK(!*db->get_dead_letter("ok"));
  auto revived = dead;
  revived.attempts = 0;
  revived.status = delivery_status::pending;
  revived.next_attempt = now;
  revived.finished = 0;
  BOOST_REQUIRE(!db->revive(revived));
  BOOST_CHECK(!*db->get_dead_letter("bad"));
  BOOST_CHECK((due(db, action_kind::mail) == delivery_list{revived}));
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::mail), 1u);
  BOOST_CHECK(*db->purge("bad"));
  BOOST_CHECK(due(db, action_kind::mail).empty());
  BOOST_CHECK_EQUAL(db->waiting_size(action_kind::mail), 0u);
  BOOST_CHECK(*db->purge("ok")); // from history
  BOOST_CHECK(!*db->purge("ok"));
  size_t visited = 0;
  BOOST_REQUIRE(!db->for_each_delivery([&](const delivery&) { return ++visited, true; }));
  BOOST_CHECK_EQUAL(visited, 0u);
}

BOOST_FIXTURE_TEST_CASE(for_each_delivery_visits_every_state, fixture) {
  BOOST_REQUIRE(!db->commit_match(0, {}, {make_delivery("w", action_kind::task, 5),
                                          make_delivery("x", action_kind::mail, 6),
                                          make_delivery("d", action_kind::task, 7),
                                          make_delivery("old", action_kind::task, 8),
                                          make_delivery("dl", action_kind::mail, 9)}));
  auto old = make_delivery("old", action_kind::task, 8);
  old.finished = now - 3 * day_ms;
  BOOST_REQUIRE(!write_outcome(db, 8, old, delivery_status::delivered));
  auto done = make_delivery("d", action_kind::task, 7);
  done.finished = now;
  BOOST_REQUIRE(!write_outcome(db, 7, done, delivery_status::delivered));
  BOOST_REQUIRE(!write_outcome(db, 9, make_delivery("dl", action_kind::mail, 9),
                               delivery_status::dead));
  std::vector<std::string> seen;
  std::vector<delivery_status> states;
  BOOST_REQUIRE(!db->for_each_delivery([&](const delivery& x) {
    seen.push_back(x.id);
    states.push_back(x.status);
    return true;
  }));
  BOOST_CHECK((seen == std::vector<std::string>{"w", "x", "dl", "d", "old"}));
  BOOST_CHECK(states[2] == delivery_status::dead);
  BOOST_CHECK(states[3] == delivery_status::delivered);
  size_t visits = 0;
  BOOST_REQUIRE(!db->for_each_delivery([&](const delivery&) { return ++visits < 3; }));
  BOOST_CHECK_EQUAL(visits, 3u);
}

BOOST_FIXTURE_TEST_CASE(status_and_id_filters_read_only_what_can_match, fixture) {
  BOOST_REQUIRE(!db->commit_match(0, {}, {make_delivery("w", action_kind::task, 5),
                                          make_delivery("d", action_kind::task, 7),
                                          make_delivery("dl", action_kind::mail, 9)}));
  auto done = make_delivery("d", action_kind::task, 7);
  done.finished = now;
  BOOST_REQUIRE(!write_outcome(db, 7, done, delivery_status::delivered));
  BOOST_REQUIRE(!write_outcome(db, 9, make_delivery("dl", action_kind::mail, 9),
                               delivery_status::dead));
  auto listed = [&](const filter& where) {
    std::vector<std::string> ids;
    BOOST_REQUIRE(!db->for_each_delivery(
      [&](const delivery& x) { return ids.push_back(x.id), true; }, scope_of(where)));
    return ids;
  };
  auto status_is = [](std::vector<std::string> statuses, filter_op op = filter_op::in) {
    filter f{op, "status", {}, {}};
    for (auto& s : statuses)
      f.values.push_back(string_value(s));
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
  BOOST_CHECK(listed(filter{filter_op::or_, "", {}, {status_is({"dead"}), by_type}}) ==
              (ids{"w", "dl", "d"}));
  BOOST_CHECK(listed(status_is({"dead"}, filter_op::ne)) == (ids{"w", "dl", "d"}));
  BOOST_CHECK(listed(filter{filter_op::eq, "status", {number_value(1)}, {}}) ==
              (ids{"w", "dl", "d"}));
  BOOST_CHECK(listed(filter{}) == (ids{"w", "dl", "d"}));
  // Named ids are looked up wherever they are, each once; with a status, only in its place.
  filter by_id{filter_op::in, "id", {string_value("d"), string_value("w"), string_value("d"),
                                     string_value("nobody")}, {}};
  BOOST_CHECK(listed(by_id) == (ids{"w", "d"}));
  BOOST_CHECK(listed(filter{filter_op::eq, "id", {string_value("dl")}, {}}) == ids{"dl"});
  BOOST_CHECK(listed(filter{filter_op::and_, "", {}, {by_id, status_is({"delivered"})}}) ==
              ids{"d"});
  filter only_w{filter_op::eq, "id", {string_value("w")}, {}};
  filter only_dl{filter_op::eq, "id", {string_value("dl")}, {}};
  BOOST_CHECK(listed(filter{filter_op::and_, "", {}, {only_w, only_dl}}).empty());
  BOOST_CHECK(listed(filter{filter_op::or_, "", {}, {only_w, only_dl}}) == (ids{"w", "dl"}));
  BOOST_CHECK(listed(filter{filter_op::or_, "", {}, {only_w, by_type}}) == (ids{"w", "dl", "d"}));
  // An id filter with a value that is not text narrows nothing (no partial id list).
  filter mixed{filter_op::in, "id", {string_value("w"), number_value(1)}, {}};
  BOOST_CHECK(listed(mixed) == (ids{"w", "dl", "d"}));
}

BOOST_FIXTURE_TEST_CASE(log_appends_and_overwrites_per_day, fixture) {
  BOOST_REQUIRE(!db->append_log(action_kind::task, "t1", "{\"n\":1}", now - day_ms));
  BOOST_REQUIRE(!db->append_log(action_kind::task, "t1", "{\"n\":2}", now));
  BOOST_REQUIRE(!db->append_log(action_kind::task, "t1", "{\"n\":3}", now + 1));
  BOOST_REQUIRE(!db->append_log(action_kind::mail, "m1", "{}", now));
  std::vector<log_record> records;
  BOOST_REQUIRE(!db->for_each_log(action_kind::task, [&](const log_record& r) {
    records.push_back(r);
    return true;
  }));
  BOOST_REQUIRE_EQUAL(records.size(), 2u);
  BOOST_CHECK_EQUAL(records[0].json, "{\"n\":1}"); // oldest day first
  BOOST_CHECK_EQUAL(records[1].json, "{\"n\":3}"); // the same day's redelivery overwrote
  BOOST_CHECK_EQUAL(records[1].received, now + 1);
  BOOST_CHECK_EQUAL(records[1].id, "t1");
  BOOST_CHECK(records[1].kind == action_kind::task);
  size_t mails = 0;
  BOOST_REQUIRE(!db->for_each_log(action_kind::mail, [&](const log_record& r) {
    BOOST_CHECK_EQUAL(r.id, "m1");
    return ++mails, true;
  }));
  BOOST_CHECK_EQUAL(mails, 1u);
}

BOOST_FIXTURE_TEST_CASE(retention_drops_old_days_only, fixture) {
  BOOST_REQUIRE(!db->accept_events({{0, 1, make_event("old")}}, now - 7 * day_ms));
  BOOST_REQUIRE(!db->accept_events({{0, 2, make_event("kept")}}, now - 6 * day_ms));
  BOOST_REQUIRE(!db->commit_match(0, {}, {make_delivery("h-old", action_kind::task, 1),
                                          make_delivery("h-new", action_kind::task, 2)}));
  auto h_old = make_delivery("h-old", action_kind::task, 1);
  h_old.finished = now - 3 * day_ms;
  auto h_new = make_delivery("h-new", action_kind::task, 2);
  h_new.finished = now - 2 * day_ms;
  BOOST_REQUIRE(!write_outcome(db, 1, h_old, delivery_status::delivered));
  BOOST_REQUIRE(!write_outcome(db, 2, h_new, delivery_status::delivered));
  for (auto kind : {action_kind::task, action_kind::mail}) {
    BOOST_REQUIRE(!db->append_log(kind, "l-old", "{}", now - 2 * day_ms));
    BOOST_REQUIRE(!db->append_log(kind, "l-new", "{}", now - day_ms));
  }
  BOOST_REQUIRE(!db->apply_retention(now, 7, 3, 2));
  auto found = db->find_seen({"old", "kept"}, 30, now);
  BOOST_REQUIRE(found);
  BOOST_CHECK(!(*found)[0]);
  BOOST_CHECK((*found)[1]);
  std::vector<std::string> history;
  BOOST_REQUIRE(!db->for_each_delivery([&](const delivery& x) {
    history.push_back(x.id);
    return true;
  }));
  BOOST_CHECK((history == std::vector<std::string>{"h-new"}));
  for (auto kind : {action_kind::task, action_kind::mail}) {
    std::vector<std::string> logged;
    BOOST_REQUIRE(!db->for_each_log(kind, [&](const log_record& r) {
      logged.push_back(r.id);
      return true;
    }));
    BOOST_CHECK((logged == std::vector<std::string>{"l-new"}));
  }
  // The inbox is not subject to retention: unmatched events stay.
  BOOST_CHECK_EQUAL(db->inbox_size(0), 2u);
  BOOST_CHECK_EQUAL(db->scan_inbox(0, 0, 10)->size(), 2u);
}

BOOST_FIXTURE_TEST_CASE(in_memory_mode_writes_no_files, fixture) {
  db.reset();
  opts.data_dir = dir.path + "/memory";
  opts.in_memory = true;
  reopen();
  BOOST_REQUIRE(!db->accept_events({{0, 1, make_event("e1")}}, now));
  BOOST_REQUIRE(!db->commit_match(0, {1}, {make_delivery("t", action_kind::task, 1)}));
  BOOST_REQUIRE(!db->flush());
  BOOST_CHECK_EQUAL(due(db, action_kind::task).size(), 1u);
  size_t files = 0;
  if (fs::exists(opts.data_dir))
    for (auto& entry : fs::recursive_directory_iterator(opts.data_dir))
      files += entry.is_regular_file() ? 1 : 0;
  BOOST_CHECK_EQUAL(files, 0u);
}

BOOST_FIXTURE_TEST_CASE(corrupt_values_are_errors, fixture) {
  BOOST_REQUIRE(!db->accept_events({{0, 1, make_event("e1")}}, now));
  BOOST_REQUIRE(!db->commit_match(0, {}, {make_delivery("t", action_kind::task, 1)}));
  db.reset();
  with_raw_db(opts.data_dir, [](rocksdb::DB& raw, auto& families) {
    std::string garbage = "\xff\xff\xff\x7f garbage";
    BOOST_REQUIRE(raw.Put({}, families.at(keys::dispatchers_family), "bad-one", garbage).ok());
    BOOST_REQUIRE(raw.Put({}, families.at(keys::seen_family), "e1",
                          garbage)
                    .ok());
    BOOST_REQUIRE(raw.Put({}, families.at(keys::deliveries_family),
                          keys::delivery_key(action_kind::task, 1, "t"), "")
                    .ok());
  });
  reopen();
  auto loaded = db->load_dispatchers();
  BOOST_REQUIRE(!loaded);
  auto text = message_of(loaded.error());
  BOOST_CHECK_MESSAGE(text.find("dispatchers") != std::string::npos, text);
  BOOST_CHECK_MESSAGE(text.find("bad-one") != std::string::npos, text);
  auto found = db->find_seen({"e1"}, 1, now);
  BOOST_REQUIRE(!found);
  BOOST_CHECK(message_of(found.error()).find("seen") != std::string::npos);
  auto queue = db->scan_due(action_kind::task, 10, [](const std::string&) { return false; });
  BOOST_REQUIRE(!queue);
  BOOST_CHECK(message_of(queue.error()).find("deliveries") != std::string::npos);
  BOOST_CHECK(db->for_each_delivery([](const delivery&) { return true; }));
  BOOST_CHECK(!db->get_waiting("t"));
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
    BOOST_REQUIRE_MESSAGE(opened, message_of(opened.error()));
    auto db = *opened;
    std::string content = "{\"blob\":\"" + std::string(64 * 1024, 'x') + "\"}";
    for (uint64_t seq = 1; seq < 1000 && !failure; ++seq)
      failure = db->accept_events({{0, seq, make_event("e" + std::to_string(seq), content)}}, now);
    BOOST_CHECK(failure);
    BOOST_CHECK_MESSAGE(message_of(failure).find("no space") != std::string::npos,
                        message_of(failure));
    // Take what little room the failed write left, so that the disk is really full.
    auto filler = dir.path + "/filler";
    {
      std::ofstream out{filler, std::ios::binary};
      std::string chunk(4096, 'f');
      while (out.write(chunk.data(), static_cast<std::streamsize>(chunk.size())))
        out.flush();
    }
    auto probe = db->probe_write();
    BOOST_CHECK(probe);
    BOOST_CHECK_MESSAGE(message_of(probe).find("no space") != std::string::npos, message_of(probe));
    std::filesystem::remove(filler);
  }
  auto umount = "umount " + dir.path;
  BOOST_CHECK_EQUAL(std::system(umount.c_str()), 0);
}

BOOST_AUTO_TEST_SUITE_END()
