// Deliveries over the HTTP API: listing with status, replay of a dead letter (one, and by RQL),
// purge, and the answers for unknown and malformed ids.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "api_fixture.hpp"

using namespace dispatch;
using namespace dispatch::test;

namespace {

// Deliveries go to recording sinks that fail permanently, so each one becomes a dead letter.
struct dead_letters : api_fixture {
  dead_letters() {
    tasks->script = always_permanent();
    start(true);
  }

  // Publishes `n` events of a type with one task action; waits until all are dead letters.
  void make_dead(int n) {
    create_task_dispatcher("doomed");
    for (int i = 0; i < n; ++i)
      ok("POST", "/events/v1/", R"({"type":"doomed","content":{"i":)" + std::to_string(i) + "}}");
    BOOST_REQUIRE(eventually([&] { return dead_count() == static_cast<uint64_t>(n); }));
  }

  uint64_t dead_count() {
    return ok("GET", "/deliveries/v1/?eq(status,dead)").json["page"]["total"].GetUint64();
  }
};

const char* unknown_id = "0123456789abcdef01234567";

} // namespace

BOOST_FIXTURE_TEST_SUITE(api_deliveries, dead_letters)

BOOST_AUTO_TEST_CASE(a_dead_letter_is_listed_with_its_status_and_error) {
  make_dead(1);
  auto page = ok("GET", "/deliveries/v1/?eq(status,dead)");
  auto& d = page.json["data"][0];
  BOOST_TEST(text(d, "id").size() == 24u);
  BOOST_TEST(text(d, "type") == "task");
  BOOST_TEST(text(d, "eventType") == "doomed");
  BOOST_TEST(text(d, "status") == "dead");
  BOOST_TEST(d["attempts"].GetUint() >= 1u);
  BOOST_TEST(!text(d, "lastError").empty());
  auto selected = ok("GET", "/deliveries/v1/?select(status)");
  auto& row = selected.json["data"][0];
  BOOST_TEST(row.HasMember("id"));
  BOOST_TEST(row.HasMember("status"));
  BOOST_TEST(!row.HasMember("eventType"));
}

BOOST_AUTO_TEST_CASE(replay_one_dead_letter_sends_it_again) {
  make_dead(1);
  auto id = text(ok("GET", "/deliveries/v1/").json["data"][0], "id");
  auto before = tasks->attempts_of(id);
  tasks->script = always_deliver();
  auto replayed = ok("POST", "/deliveries/v1/" + id + "/replay");
  BOOST_TEST(text(replayed.json, "id") == id);
  BOOST_TEST(text(replayed.json, "status") != "dead");
  BOOST_REQUIRE(eventually([&] {
    auto page = ok("GET", "/deliveries/v1/?eq(id," + id + ")");
    return text(page.json["data"][0], "status") == "delivered";
  }));
  BOOST_TEST(tasks->attempts_of(id) == before + 1);
  // Not a dead letter any more: replaying it again is unknown.
  auto again = call("POST", "/deliveries/v1/" + id + "/replay");
  BOOST_TEST(again.status == 404u);
  BOOST_TEST(again.code() == 16u);
}

BOOST_AUTO_TEST_CASE(replay_by_rql_answers_how_many) {
  make_dead(3);
  tasks->script = always_deliver();
  auto none = ok("POST", "/deliveries/v1/replay?eq(eventType,other)");
  BOOST_TEST(none.body == R"({"affectedRecords":0})");
  auto all = ok("POST", "/deliveries/v1/replay/?eq(eventType,doomed)");
  BOOST_TEST(all.body == R"({"affectedRecords":3})");
  BOOST_TEST(eventually([&] { return dead_count() == 0; }));
  auto bad = call("POST", "/deliveries/v1/replay?eq(status");
  BOOST_TEST(bad.status == 400u);
  BOOST_TEST(bad.code() == 19u);
}

BOOST_AUTO_TEST_CASE(purge_forgets_a_delivery) {
  make_dead(2);
  auto id = text(ok("GET", "/deliveries/v1/").json["data"][0], "id");
  BOOST_TEST(ok("DELETE", "/deliveries/v1/" + id).body == R"({"affectedRecords":1})");
  BOOST_TEST(ok("GET", "/deliveries/v1/").json["page"]["total"].GetUint64() == 1u);
  auto again = call("DELETE", "/deliveries/v1/" + id + "/");
  BOOST_TEST(again.status == 404u);
  BOOST_TEST(again.code() == 16u);
}

BOOST_AUTO_TEST_CASE(dead_letters_are_listed_newest_first_with_exact_totals) {
  make_dead(4);
  auto ids_of = [](const api_response& page) {
    std::vector<std::string> ids;
    for (auto& d : page.json["data"].GetArray()) ids.push_back(text(d, "id"));
    return ids;
  };
  // Newest first: the general path sorted by id, reversed.
  auto oldest = ids_of(ok("GET", "/deliveries/v1/?eq(status,dead)&sort(id)"));
  BOOST_REQUIRE(oldest.size() == 4u);
  auto newest = ids_of(ok("GET", "/deliveries/v1/?eq(status,dead)"));
  BOOST_TEST(newest == std::vector<std::string>(oldest.rbegin(), oldest.rend()),
             boost::test_tools::per_element());
  BOOST_TEST(ids_of(ok("GET", "/deliveries/v1/?eq(status,dead)&sort(-id)")) == newest,
             boost::test_tools::per_element());
  auto middle = ok("GET", "/deliveries/v1/?eq(status,dead)&limit(2,1)");
  BOOST_TEST(middle.json["page"]["total"].GetUint64() == 4u);
  BOOST_TEST(ids_of(middle) == std::vector<std::string>(newest.begin() + 1, newest.begin() + 3),
             boost::test_tools::per_element());
  // A purge and a replay that delivers each leave the dead letters; the total follows.
  ok("DELETE", "/deliveries/v1/" + newest[0]);
  BOOST_TEST(dead_count() == 3u);
  tasks->script = always_deliver();
  ok("POST", "/deliveries/v1/" + newest[2] + "/replay");
  BOOST_TEST(dead_count() == 2u);
  BOOST_REQUIRE(eventually([&] {
    auto page = ok("GET", "/deliveries/v1/?eq(id," + newest[2] + ")");
    return text(page.json["data"][0], "status") == "delivered";
  }));
  auto rest = std::vector<std::string>{newest[1], newest[3]};
  BOOST_TEST(ids_of(ok("GET", "/deliveries/v1/?eq(status,dead)")) == rest,
             boost::test_tools::per_element());
  // Failing again, a replayed delivery dies again: a dead letter once more, counted once.
  tasks->script = always_permanent();
  ok("POST", "/deliveries/v1/" + newest[1] + "/replay");
  BOOST_REQUIRE(eventually([&] {
    auto page = ok("GET", "/deliveries/v1/?eq(id," + newest[1] + ")");
    return text(page.json["data"][0], "status") == "dead";
  }));
  BOOST_TEST(dead_count() == 2u);
  // After a restart the count is read again from the store.
  stop();
  start(true);
  BOOST_TEST(dead_count() == 2u);
  BOOST_TEST(ids_of(ok("GET", "/deliveries/v1/?eq(status,dead)")) == rest,
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(events_held_and_unmatched_are_listed_from_the_archive) {
  // The first attempt asks for a retry in a minute: the delivery waits, holding its event.
  tasks->script = fail_times(1, 60000);
  create_task_dispatcher("held");
  auto published = ok("POST", "/events/v1/", R"({"type":"held","content":{"k":"v"}})");
  auto unmatched = ok("POST", "/events/v1/", R"({"type":"unmatched"})"); // matched by nothing
  auto id = text(published.json, "id");
  BOOST_REQUIRE(eventually([&] { return tasks->size() == 1; }));
  auto page = ok("GET", "/events/v1/");
  BOOST_TEST(page.json["page"]["total"].GetUint64() == 2u);
  BOOST_TEST(dump(page.json["data"][0]) == unmatched.body); // newest first
  auto& row = page.json["data"][1];
  BOOST_TEST(dump(row) == published.body);
  BOOST_TEST(text(row, "id") == id);
  auto selected = ok("GET", "/events/v1?select(type)&eq(type,held)");
  BOOST_TEST(dump(selected.json["data"][0]) == R"({"id":")" + id + R"(","type":"held"})");
  BOOST_TEST(ok("GET", "/events/v1/?eq(type,unmatched)").json["page"]["total"].GetUint64() == 1u);
  BOOST_TEST(call("GET", "/events/v1/?eq(type").code() == 19u);
}

BOOST_AUTO_TEST_CASE(unknown_and_malformed_delivery_ids) {
  auto unknown = call("POST", std::string{"/deliveries/v1/"} + unknown_id + "/replay");
  BOOST_TEST(unknown.status == 404u);
  BOOST_TEST(unknown.code() == 16u);
  BOOST_TEST(call("DELETE", std::string{"/deliveries/v1/"} + unknown_id).code() == 16u);
  auto bad = call("DELETE", "/deliveries/v1/1234");
  BOOST_TEST(bad.status == 400u);
  BOOST_TEST(bad.code() == 12u);
  BOOST_TEST(call("POST", "/deliveries/v1/zzzzzzzzzzzzzzzzzzzzzzzz/replay").code() == 12u);
}

BOOST_AUTO_TEST_SUITE_END()
