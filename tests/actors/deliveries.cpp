// Deliveries end to end through the engine: retries with backoff, dead letters, replay, purge,
// listing by status, and tasks held until their startTimestamp (also across a restart).
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "fixtures/engine_fixture.hpp"
#include "messages/json.hpp"

using namespace dispatch;
using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

query by_status(const std::string& status) {
  query q;
  q.where.op = filter_op::eq;
  q.where.path = "status";
  q.where.values.push_back(string_value(status));
  return q;
}

struct delivery_engine : engine_fixture {
  delivery_engine() {
    config.retry.initial = 20ms;
    config.retry.cap = 100ms;
    config.retry.max_attempts = 4;
  }

  /// Waits until exactly `n` deliveries have `status`; their page (the test fails otherwise).
  caf::expected<delivery_page> wait_for(const std::string& status, uint64_t n) {
    caf::expected<delivery_page> page{caf::error{}};
    BOOST_REQUIRE(eventually([&] {
      page = call<delivery_page>(deliveries_atom::value, by_status(status));
      return page && page->page.total == n;
    }));
    return page;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(deliveries, delivery_engine)

BOOST_AUTO_TEST_CASE(a_sink_failing_k_times_gets_one_success_after_k_plus_1_attempts) {
  tasks->script = fail_times(3, 100); // Retry-After floor: 100 ms between attempts
  start();
  create(make_dispatcher("t", {task_action("f")}));
  publish("t");
  BOOST_REQUIRE(eventually([&] { return tasks->size() == 4; }));
  wait_until_settled(); // no fifth attempt comes
  auto got = tasks->snapshot();
  BOOST_REQUIRE_EQUAL(got.size(), 4u);
  for (size_t i = 1; i < got.size(); ++i) {
    BOOST_CHECK_EQUAL(got[i].value.id, got[0].value.id);
    BOOST_CHECK_GE(got[i].at - got[i - 1].at, 100); // never before its lower bound
  }
  BOOST_REQUIRE(eventually([&] {
    auto page = call<delivery_page>(deliveries_atom::value, by_status("delivered"));
    return page && page->page.total == 1 && page->data[0].attempts == 4;
  }));
  auto stats = call<engine_stats>(stats_atom::value);
  BOOST_REQUIRE(stats);
  BOOST_CHECK_EQUAL(stats->delivered, 1u);
  BOOST_CHECK_EQUAL(stats->retries, 3u);
}

// A sink that defers (an open circuit: no request made) costs the delivery time, not attempts:
// six deferrals with a budget of four attempts still end in one delivery, on the first attempt.
BOOST_AUTO_TEST_CASE(deferrals_spend_no_attempts) {
  tasks->script = defer_times(6, 30);
  start();
  create(make_dispatcher("t", {task_action("f")}));
  publish("t");
  auto done = wait_for("delivered", 1);
  BOOST_CHECK_EQUAL(done->data.front().attempts, 1u);
  auto got = tasks->snapshot();
  BOOST_REQUIRE_EQUAL(got.size(), 7u);
  for (size_t i = 1; i < got.size(); ++i)
    BOOST_CHECK_GE(got[i].at - got[i - 1].at, 30); // never before the sink's time
  auto dead = call<delivery_page>(deliveries_atom::value, by_status("dead"));
  BOOST_REQUIRE(dead);
  BOOST_CHECK_EQUAL(dead->page.total, 0u);
}

BOOST_AUTO_TEST_CASE(a_permanent_failure_is_dead_lettered_at_once_and_replay_delivers) {
  tasks->script = always_permanent();
  start();
  create(make_dispatcher("t", {task_action("f")}));
  publish("t");
  auto dead = wait_for("dead", 1);
  BOOST_CHECK_EQUAL(tasks->size(), 1u);
  auto letter = dead->data.front();
  BOOST_CHECK_EQUAL(letter.attempts, 1u);
  BOOST_CHECK_NE(letter.last_error.find("scripted permanent failure"), std::string::npos);
  // Replay with a sink that now works.
  {
    std::lock_guard<std::mutex> guard{tasks->mtx};
    tasks->script = always_deliver();
  }
  auto replayed = call<delivery>(replay_atom::value, letter.id);
  BOOST_REQUIRE(replayed);
  BOOST_CHECK_EQUAL(replayed->attempts, 0u);
  BOOST_REQUIRE(eventually([&] { return tasks->size() == 2; }));
  BOOST_REQUIRE(eventually([&] {
    auto page = call<delivery_page>(deliveries_atom::value, by_status("delivered"));
    return page && page->page.total == 1;
  }));
  // Replaying something that is not a dead letter is an unknown resource.
  auto again = call<delivery>(replay_atom::value, letter.id);
  BOOST_REQUIRE(!again);
  BOOST_CHECK(code_of(again.error()) == error_code::resource_unknown);
}

BOOST_AUTO_TEST_CASE(a_spent_budget_is_dead_lettered_and_replay_by_query_works) {
  tasks->script = always_retry();
  start();
  create(make_dispatcher("t", {task_action("f")}));
  publish("t");
  publish("t");
  BOOST_REQUIRE(eventually([&] {
    auto page = call<delivery_page>(deliveries_atom::value, by_status("dead"));
    return page && page->page.total == 2;
  }));
  auto dead = call<delivery_page>(deliveries_atom::value, by_status("dead"));
  BOOST_REQUIRE(dead);
  for (auto& d : dead->data) BOOST_CHECK_EQUAL(d.attempts, 4u); // max_attempts
  BOOST_CHECK_EQUAL(tasks->size(), 8u);
  {
    std::lock_guard<std::mutex> guard{tasks->mtx};
    tasks->script = always_deliver();
  }
  auto count = call<uint64_t>(replay_atom::value, by_status("dead"));
  BOOST_REQUIRE(count);
  BOOST_CHECK_EQUAL(*count, 2u);
  BOOST_REQUIRE(eventually([&] {
    auto page = call<delivery_page>(deliveries_atom::value, by_status("delivered"));
    return page && page->page.total == 2;
  }));
}

BOOST_AUTO_TEST_CASE(replay_by_query_walks_any_number_of_dead_letters_in_batches) {
  // 1,200 dead letters of two types (the batches hold 500): the query picks one type's 800.
  tasks->script = always_permanent();
  start();
  create(make_dispatcher("t", {task_action("f")}));
  create(make_dispatcher("u", {task_action("g")}));
  event_list events;
  for (int i = 0; i < 1200; ++i) {
    event ev;
    ev.type = i % 3 == 0 ? "u" : "t";
    ev.content = R"({"n":)" + std::to_string(i) + "}";
    events.push_back(std::move(ev));
  }
  auto published = call<publish_outcome_list>(publish_atom::value, events);
  BOOST_REQUIRE(published);
  wait_for("dead", 1200);
  {
    std::lock_guard<std::mutex> guard{tasks->mtx};
    tasks->script = always_deliver();
  }
  query q;
  q.where.op = filter_op::eq;
  q.where.path = "eventType";
  q.where.values.push_back(string_value("t"));
  auto count = call<uint64_t>(replay_atom::value, q);
  BOOST_REQUIRE(count);
  BOOST_CHECK_EQUAL(*count, 800u);
  wait_for("delivered", 800);
  wait_for("dead", 400);
  // Each replayed dead letter reached the sink once more, under its own id.
  BOOST_CHECK_EQUAL(tasks->distinct(), 1200u);
  BOOST_CHECK_EQUAL(tasks->size(), 2000u);
}

BOOST_AUTO_TEST_CASE(purge_forgets_a_delivery) {
  tasks->script = always_permanent();
  start();
  create(make_dispatcher("t", {task_action("f")}));
  publish("t");
  auto dead = wait_for("dead", 1);
  auto id = dead->data.front().id;
  auto purged = call<uint32_t>(purge_atom::value, id);
  BOOST_REQUIRE(purged);
  BOOST_CHECK_EQUAL(*purged, 1u);
  auto all = call<delivery_page>(deliveries_atom::value, query{});
  BOOST_REQUIRE(all);
  BOOST_CHECK_EQUAL(all->page.total, 0u);
  auto again = call<uint32_t>(purge_atom::value, id);
  BOOST_REQUIRE(!again);
  BOOST_CHECK(code_of(again.error()) == error_code::resource_unknown);
}

// Once `seen` no longer remembers an id (retention), the same event published again is accepted
// and matched again: its delivery, still waiting for a retry, keeps its attempts and its place.
// (Ids the engine generates skip that check: this one was chosen by the publisher.)
BOOST_AUTO_TEST_CASE(an_event_id_published_again_after_retention_is_a_new_event) {
  tasks->script = fail_times(1, 60000); // the retry waits a minute
  start();
  create(make_dispatcher("t", {task_action("f")}));
  const std::string id = "0123456789abcdef01234567";
  publish("t", R"({"n":1})", id);
  auto waiting = wait_for("retrying", 1);
  auto first = waiting->data.front();
  BOOST_CHECK_EQUAL(first.attempts, 1u);
  // Retention as it would run two days later forgets the id (history, and so the archive, kept a
  // day: an archive kept for ever keeps the ids that find its events).
  stop();
  BOOST_REQUIRE(!open_store()->apply_retention(now_ms() + 2 * 86400000, 1, 1, 0));
  start();
  auto again = publish("t", R"({"n":2})", id);
  BOOST_CHECK_EQUAL(again.id, id);
  BOOST_CHECK_EQUAL(again.content, R"({"n":2})"); // accepted as new, not a duplicate
  BOOST_REQUIRE(eventually([&] {
    auto s = call<engine_stats>(stats_atom::value);
    return s && s->accepted == 1 && s->inbox_depth == 0;
  }));
  // Past its window the id is forgotten: the event is a new one, with a delivery of its own that
  // goes out at once (and fails its first attempt too, by the sink's script), while the first
  // one keeps waiting for its retry as it was.
  BOOST_REQUIRE(eventually([&] { return tasks->size() == 2; }));
  auto received = tasks->snapshot();
  BOOST_CHECK_NE(received[1].value.id, first.id);
  auto retrying = wait_for("retrying", 2);
  auto kept = std::find_if(retrying->data.begin(), retrying->data.end(),
                           [&](const delivery& d) { return d.id == first.id; });
  BOOST_REQUIRE(kept != retrying->data.end());
  BOOST_CHECK_EQUAL(kept->attempts, 1u);
  BOOST_CHECK_EQUAL(kept->next_attempt, first.next_attempt);
  BOOST_CHECK_EQUAL(kept->task.data.str().find(R"("n":1)") != std::string::npos, true);
}

BOOST_AUTO_TEST_CASE(listing_filters_sorts_and_pages) {
  tasks->script = always_permanent();
  start();
  create(make_dispatcher("t", {task_action("f")}));
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(publish("t").id);
  BOOST_REQUIRE(eventually([&] {
    auto page = call<delivery_page>(deliveries_atom::value, by_status("dead"));
    return page && page->page.total == 5;
  }));
  auto q = by_status("dead");
  q.sort.push_back(sort_key{"eventId", true});
  q.offset = 1;
  q.limit = 2;
  auto page = call<delivery_page>(deliveries_atom::value, q);
  BOOST_REQUIRE(page);
  BOOST_CHECK_EQUAL(page->page.total, 5u);
  BOOST_CHECK_EQUAL(page->page.offset, 1u);
  BOOST_REQUIRE_EQUAL(page->data.size(), 2u);
  std::sort(ids.rbegin(), ids.rend());
  BOOST_CHECK_EQUAL(page->data[0].event_id, ids[1]);
  BOOST_CHECK_EQUAL(page->data[1].event_id, ids[2]);
  // Without a sort order the window is taken as the records are read; the total stays exact.
  auto unsorted = by_status("dead");
  unsorted.offset = 4;
  page = call<delivery_page>(deliveries_atom::value, unsorted);
  BOOST_REQUIRE(page);
  BOOST_CHECK_EQUAL(page->page.total, 5u);
  BOOST_CHECK_EQUAL(page->data.size(), 1u);
  auto none = call<delivery_page>(deliveries_atom::value, by_status("pending"));
  BOOST_REQUIRE(none);
  BOOST_CHECK_EQUAL(none->page.total, 0u);
}

BOOST_AUTO_TEST_CASE(a_window_reads_past_the_page_size_for_a_merge) {
  start();
  create(make_dispatcher("t", {task_action("f")}));
  std::vector<std::string> ids;
  for (int i = 0; i < 60; ++i) ids.push_back(publish("t").id);
  std::sort(ids.rbegin(), ids.rend());
  wait_for("delivered", 60);
  auto q = by_status("delivered");
  q.sort.push_back(sort_key{"eventId", true});
  q.offset = 5;
  q.limit = 20;
  // A page of the API is clamped to 50 records; a window is the first `depth` in the query's
  // order, whatever its offset and limit say.
  auto window = call<delivery_page>(deliveries_atom::value, q, uint32_t{55});
  BOOST_REQUIRE(window);
  BOOST_CHECK_EQUAL(window->page.total, 60u);
  BOOST_CHECK_EQUAL(window->page.offset, 0u);
  BOOST_REQUIRE_EQUAL(window->data.size(), 55u);
  for (size_t i = 0; i < window->data.size(); ++i)
    BOOST_CHECK_EQUAL(window->data[i].event_id, ids[i]);
  q.offset = 0;
  q.limit = 60;
  auto page = call<delivery_page>(deliveries_atom::value, q);
  BOOST_REQUIRE(page);
  BOOST_CHECK_EQUAL(page->data.size(), size_t{max_page_size});
  // The archive's window: the newest events first, every one counted.
  auto events = call<json_page>(events_atom::value, query{}, uint32_t{55});
  BOOST_REQUIRE(events);
  BOOST_CHECK_EQUAL(events->page.total, 60u);
  BOOST_CHECK_EQUAL(events->data.size(), 55u);
}

BOOST_AUTO_TEST_CASE(a_held_task_arrives_not_before_its_start_timestamp) {
  start();
  auto act = task_action("later");
  auto start_at = now_ms() + 1500;
  act.start_timestamp = start_at;
  create(make_dispatcher("t", {act}));
  publish("t");
  BOOST_REQUIRE(eventually([&] {
    auto page = call<delivery_page>(deliveries_atom::value, by_status("held"));
    return page && page->page.total == 1;
  }));
  BOOST_REQUIRE(eventually([&] { return tasks->size() == 1; }, 10s));
  auto got = tasks->snapshot().front();
  BOOST_CHECK_GE(got.at, start_at);
  BOOST_CHECK_LE(got.at, start_at + 5000);
  BOOST_CHECK(got.value.task.start_timestamp == start_at);
}

BOOST_AUTO_TEST_CASE(a_held_task_survives_a_restart) {
  start();
  auto act = task_action("later");
  // Far enough ahead that a restart on a loaded machine is over before it is due.
  auto start_at = now_ms() + 4000;
  act.start_timestamp = start_at;
  create(make_dispatcher("t", {act}));
  publish("t");
  BOOST_REQUIRE(eventually([&] {
    auto page = call<delivery_page>(deliveries_atom::value, by_status("held"));
    return page && page->page.total == 1;
  }));
  restart();
  BOOST_CHECK_EQUAL(tasks->size(), 0u);
  BOOST_REQUIRE(eventually([&] { return tasks->size() == 1; }, 15s));
  auto got = tasks->snapshot().front();
  BOOST_CHECK_GE(got.at, start_at);
  BOOST_CHECK_LE(got.at, start_at + 5000);
}

BOOST_AUTO_TEST_CASE(a_scheduling_sink_gets_the_task_at_once) {
  start(true); // the task sink schedules tasks itself
  auto act = task_action("later");
  auto start_at = now_ms() + 60000;
  act.start_timestamp = start_at;
  create(make_dispatcher("t", {act}));
  publish("t");
  BOOST_REQUIRE(eventually([&] { return tasks->size() == 1; }, 10s));
  BOOST_CHECK(tasks->snapshot().front().value.task.start_timestamp == start_at);
}

BOOST_AUTO_TEST_CASE(events_are_listed_while_a_delivery_still_holds_them) {
  start();
  auto held = task_action("later");
  held.start_timestamp = now_ms() + 60000;
  create(make_dispatcher("held", {held}));
  create(make_dispatcher("now", {task_action("f")}));
  auto waiting = publish("held", R"({"user":"é","n":1})");
  auto done = publish("now", R"({"n":2})");
  BOOST_REQUIRE(eventually([&] { return tasks->size() == 1; }));
  BOOST_REQUIRE(eventually([&] {
    auto page = call<delivery_page>(deliveries_atom::value, by_status("delivered"));
    return page && page->page.total == 1;
  }));
  // Both stay in the archive, the held one and the done one, newest first.
  auto page = call<json_page>(events_atom::value, query{});
  BOOST_REQUIRE(page);
  BOOST_CHECK_EQUAL(page->page.total, 2u);
  BOOST_CHECK_EQUAL(page->data.at(1), to_json(waiting));
  query by_type;
  by_type.where.op = filter_op::eq;
  by_type.where.path = "type";
  by_type.where.values.push_back(string_value("now"));
  page = call<json_page>(events_atom::value, by_type);
  BOOST_REQUIRE(page);
  BOOST_CHECK_EQUAL(page->page.total, 1u);
  BOOST_CHECK_EQUAL(page->data.at(0), to_json(done));
  BOOST_CHECK(done.id != waiting.id);
}

BOOST_AUTO_TEST_CASE(delivery_latency_counts_every_delivered_delivery) {
  start();
  create(make_dispatcher("t", {task_action("f"), task_action("g")}));
  publish("t");
  publish("t");
  BOOST_REQUIRE(eventually([&] {
    auto stats = call<engine_stats>(stats_atom::value);
    return stats && stats->delivered == 4;
  }));
  auto stats = call<engine_stats>(stats_atom::value);
  BOOST_REQUIRE(stats);
  const auto& histogram = stats->delivery_latency;
  BOOST_CHECK_EQUAL(histogram.count, 4u);
  BOOST_REQUIRE_EQUAL(histogram.counts.size(), latency_bounds.size() + 1);
  uint64_t sum = 0;
  for (auto n : histogram.counts) sum += n;
  BOOST_CHECK_EQUAL(sum, 4u);
  BOOST_CHECK_LT(histogram.sum_seconds, 60.0);
}

BOOST_AUTO_TEST_SUITE_END()
