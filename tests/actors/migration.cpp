// Upgrading a data directory: tests/data/schema2.tar.gz was written by the first release (schema
// 2, the 8-entry schema; tests/data/make_schema2.cpp says what it holds). An engine started on it
// migrates it in place to the lean log and then delivers, lists, replays and purges as if it had
// written it itself; every delivery id a client held keeps working.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include "fixtures/engine_fixture.hpp"
#include "fixtures/shard_types.hpp"
#include "fixtures/why.hpp"
#include "messages/ids.hpp"

using namespace dispatch;
using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

/// One line of tests/data/schema2-ids.txt: a delivery the schema-2 directory holds.
struct old_delivery {
  std::string id;
  std::string kind;
  std::string event_id;
};

std::string event_id(int n) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%024x", 0xe00 + n);
  return buf;
}

query by(const std::string& path, const std::string& value) {
  query q;
  q.where.op = filter_op::eq;
  q.where.path = path;
  q.where.values.push_back(string_value(value));
  q.limit = 50;
  return q;
}

struct migrated_engine : engine_fixture {
  std::map<std::string, old_delivery> by_event_and_kind; // "<event id>/<kind>" -> delivery

  migrated_engine() {
    auto source = std::string{DISPATCH_SOURCE_DIR} + "/tests/data";
    auto command = "tar -xzf " + source + "/schema2.tar.gz -C " + dir.path();
    BOOST_REQUIRE_EQUAL(std::system(command.c_str()), 0);
    config.data_dir = dir.path() + "/schema2";
    config.shards = 4;
    // Its records are from 2025-12-01: keep them however long ago that is.
    config.history_days = 100000;
    config.seen_days = 100000;
    config.log_days = 100000;
    std::ifstream ids{source + "/schema2-ids.txt"};
    old_delivery d;
    while (ids >> d.id >> d.kind >> d.event_id) {
      std::string dispatcher;
      ids >> dispatcher;
      by_event_and_kind[d.event_id + "/" + d.kind] = d;
    }
    BOOST_REQUIRE_EQUAL(by_event_and_kind.size(), 14u);
  }

  std::string old_id(int event, const std::string& kind) {
    return by_event_and_kind.at(event_id(event) + "/" + kind).id;
  }

  caf::optional<delivery> find(const std::string& id) {
    auto page = call<delivery_page>(deliveries_atom::value, by("id", id));
    BOOST_REQUIRE_MESSAGE(page, why(page));
    if (page->data.empty()) return caf::none;
    BOOST_REQUIRE_EQUAL(page->data.size(), 1u);
    return page->data.front();
  }

  bool is(const std::string& id, delivery_status status) {
    auto d = find(id);
    return d && d->status == status;
  }

  /// One event type per shard, each with a dispatcher of a task and a mail: an event of each
  /// passes through every emitter.
  std::vector<std::string> create_markers() {
    auto types = one_type_per_shard("marker_", config.shards);
    for (auto& type : types)
      create(make_dispatcher(
        type, {task_action("mark"), mail_action("m@example.com", "5e9f1b2c3d4e5f6a7b8c9d0e")}));
    return types;
  }
};

bool has_event(const sink_record& sink, const std::string& event_id) {
  for (auto& r : sink.snapshot())
    if (r.value.event_id == event_id) return true;
  return false;
}

/// What a sink received from its `from`-th delivery on, a line each, for failure messages.
std::string received_since(const sink_record& sink, size_t from) {
  auto all = sink.snapshot();
  std::string lines;
  for (size_t i = from; i < all.size(); ++i)
    lines += all[i].value.event_type + " " + all[i].value.id + "\n";
  return lines;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(migration, migrated_engine)

BOOST_AUTO_TEST_CASE(a_schema_2_directory_is_migrated_and_everything_in_it_goes_on) {
  start();
  // The waiting deliveries are delivered under their old ids: the retrying task of e04, the
  // pending tasks of e06 and e08, and the six pending mails.
  std::set<std::string> due{old_id(4, "task"), old_id(6, "task"), old_id(8, "task")};
  for (int e = 3; e <= 8; ++e) due.insert(old_id(e, "mail"));
  BOOST_REQUIRE(eventually([&] {
    for (auto& id : due)
      if (tasks->attempts_of(id) + mails->attempts_of(id) == 0) return false;
    return true;
  }));
  for (auto& id : due)
    BOOST_REQUIRE_MESSAGE(eventually([&] { return is(id, delivery_status::delivered); }),
                          id << " is not listed as delivered");
  auto retried = find(old_id(4, "task"));
  BOOST_REQUIRE(retried);
  BOOST_TEST(retried->attempts == 3u); // two before the upgrade, one after
  // The four events that were accepted but not matched yet are matched now: a task and a mail
  // each, with ids of the lean log.
  for (int e = 9; e <= 12; ++e) {
    BOOST_REQUIRE_MESSAGE(
      eventually([&] {
        auto page = call<delivery_page>(deliveries_atom::value, by("eventId", event_id(e)));
        return page && page->page.total == 2
               && std::all_of(page->data.begin(), page->data.end(), [](const delivery& d) {
                    return d.status == delivery_status::delivered;
                  });
      }),
      "the deliveries of event " << event_id(e) << " never arrived");
  }
  // The held tasks wait for 2100, listed as held under their old ids.
  for (int e : {1, 2}) {
    auto held = find(old_id(e, "task"));
    BOOST_REQUIRE(held);
    BOOST_TEST((held->status == delivery_status::held));
    BOOST_TEST(tasks->attempts_of(old_id(e, "task")) == 0u);
  }
  // History and dead letters under their old ids.
  for (int e : {3, 7}) BOOST_TEST(is(old_id(e, "task"), delivery_status::delivered));
  auto dead = find(old_id(5, "task"));
  BOOST_REQUIRE(dead);
  BOOST_TEST((dead->status == delivery_status::dead));
  BOOST_TEST(dead->attempts == 3u);
  BOOST_TEST(dead->last_error == "sink: 400 Bad Request");
  // The built-in log's records are still read back.
  auto logged = call<json_page>(log_atom::value, action_kind::task, query{});
  BOOST_REQUIRE(logged);
  BOOST_TEST(logged->page.total == 2u);
  // A dead letter is replayed by its old id and delivered.
  auto revived = call<delivery>(replay_atom::value, old_id(5, "task"));
  BOOST_REQUIRE_MESSAGE(revived, why(revived));
  BOOST_REQUIRE(eventually([&] { return is(old_id(5, "task"), delivery_status::delivered); }));
  BOOST_TEST(tasks->attempts_of(old_id(5, "task")) == 1u);
  // A held task is purged by its old id; a second purge finds nothing.
  auto purged = call<uint32_t>(purge_atom::value, old_id(1, "task"));
  BOOST_REQUIRE_MESSAGE(purged, why(purged));
  BOOST_TEST(!find(old_id(1, "task")));
  auto again = call<uint32_t>(purge_atom::value, old_id(1, "task"));
  BOOST_REQUIRE(!again);
  BOOST_TEST((code_of(again.error()) == error_code::resource_unknown));
  // A publisher-chosen id seen before the upgrade is still a duplicate.
  event repeat{event_id(1), "user_created", "{}", 0};
  auto outcome = call<publish_outcome_list>(publish_atom::value, event_list{repeat});
  BOOST_REQUIRE(outcome);
  BOOST_REQUIRE_EQUAL(outcome->size(), 1u);
  BOOST_TEST(outcome->front().duplicate);
  // The dispatchers are all there.
  auto found = call<dispatcher_page>(find_atom::value, query{});
  BOOST_REQUIRE(found);
  BOOST_TEST(found->page.total == 3u);
}

BOOST_AUTO_TEST_CASE(a_migrated_directory_opens_again_as_it_is) {
  start();
  // Listed as delivered: the outcome (or the cursor past it) is written.
  BOOST_REQUIRE(eventually([&] {
    auto page = call<delivery_page>(deliveries_atom::value, by("status", "delivered"));
    // e03, e07 from history; e04, e06, e08 tasks; six mails; two per new event e09..e12
    return page && page->page.total == 2 + 3 + 6 + 8;
  }));
  auto markers = create_markers();
  stop();
  auto tasks_before = tasks->size();
  auto mails_before = mails->size();
  start();
  // Nothing is delivered twice. What a restarted emitter would send again goes out before a
  // marker event published now: due records are sent before anything from the log, and the log
  // is read in order. Once every emitter's marker delivery has arrived (a sink handles an
  // emitter's batches in the order sent), anything sent again would have arrived too.
  std::vector<std::string> marker_ids;
  for (auto& type : markers) marker_ids.push_back(publish(type).id);
  BOOST_REQUIRE(eventually([&] {
    for (auto& id : marker_ids)
      if (!has_event(*tasks, id) || !has_event(*mails, id)) return false;
    return true;
  }));
  BOOST_TEST(tasks->size() - tasks_before == markers.size(),
             "tasks since the restart:\n"
               << received_since(*tasks, tasks_before));
  BOOST_TEST(mails->size() - mails_before == markers.size(),
             "mails since the restart:\n"
               << received_since(*mails, mails_before));
  // Nothing is lost: the held tasks still wait, the dead letter is still dead, the new events'
  // deliveries are still delivered.
  BOOST_TEST(is(old_id(2, "task"), delivery_status::held));
  BOOST_TEST(is(old_id(5, "task"), delivery_status::dead));
  auto page = call<delivery_page>(deliveries_atom::value, by("eventId", event_id(12)));
  BOOST_REQUIRE(page);
  BOOST_TEST(page->page.total == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
