// Publishing over the HTTP API, and reading back what the built-in log received: the stored event,
// duplicates, batches with bad entries, tasks via /tasks/v1 and mails via /mail/v1; the event
// archive (order, paging, totals, filters, retention) and replays from it.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <vector>

#include "api_fixture.hpp"

using namespace dispatch;
using namespace dispatch::test;

namespace {

struct started : api_fixture {
  started() { start(); }

  // Waits until a find on `target` counts `n` records; the last answer.
  api_response wait_for_total(const std::string& target, uint64_t n) {
    api_response last;
    eventually([&] {
      last = ok("GET", target);
      return last.json["page"]["total"].GetUint64() == n;
    });
    return last;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(api_events, started)

BOOST_AUTO_TEST_CASE(publish_answers_the_stored_event) {
  auto res = ok("POST", "/events/v1/", R"({"type":"user.created","content":{"userId":"u1"}})");
  BOOST_TEST(text(res.json, "id").size() == 24u);
  BOOST_TEST(text(res.json, "type") == "user.created");
  BOOST_TEST(dump(res.json["content"]) == R"({"userId":"u1"})");
  BOOST_TEST(res.json["creationTimestamp"].GetInt64() > 0);
  auto bare = ok("POST", "/events/v1", R"({"type":"t"})");
  BOOST_TEST(dump(bare.json["content"]) == "{}");
}

BOOST_AUTO_TEST_CASE(a_duplicate_id_is_answered_with_the_first_stored_event) {
  auto id = std::string{"aaaaaaaaaaaaaaaaaaaaaaaa"};
  auto first = ok("POST", "/events/v1/",
                  R"({"id":")" + id
                    + R"(","type":"t","content":{"n":1},"creationTimestamp":1000})");
  BOOST_TEST(first.json["creationTimestamp"].GetInt64() == 1000);
  auto second = ok("POST", "/events/v1/",
                   R"({"id":"AAAAAAAAAAAAAAAAAAAAAAAA","type":"t","content":{"n":2},)"
                   R"("creationTimestamp":2000})");
  BOOST_TEST(text(second.json, "id") == id);
  BOOST_TEST(second.json["creationTimestamp"].GetInt64() == 1000);
  BOOST_TEST(dump(second.json["content"]) == R"({"n":1})");
}

// Single POSTs in flight together are published as one batch (the publisher bridge): every
// request must still get its own answer, duplicates and fresh events mixed.
BOOST_AUTO_TEST_CASE(concurrent_single_posts_each_get_their_own_answer) {
  constexpr int n = 200;
  auto first = ok("POST", "/events/v1/",
                  R"({"id":"bbbbbbbbbbbbbbbbbbbbbbbb","type":"t","content":{"first":true},)"
                  R"("creationTimestamp":1000})");
  std::mutex m;
  std::condition_variable cv;
  std::vector<http_response> answers(n);
  int answered = 0;
  for (int i = 0; i < n; ++i) {
    http_request req;
    req.method = "POST";
    req.target = "/events/v1/";
    req.content_type = "application/json";
    // Every fifth one repeats the id stored above; the others are new, each with its own content.
    req.body = i % 5 == 0 ? R"({"id":"bbbbbbbbbbbbbbbbbbbbbbbb","type":"t","content":{"i":)"
                              + std::to_string(i) + "}}"
                          : R"({"type":"t","content":{"i":)" + std::to_string(i) + "}}";
    // Called from this thread without waiting: the requests are in flight together.
    handler(std::move(req), [&, i](http_response res) {
      std::lock_guard<std::mutex> guard{m};
      answers[i] = std::move(res);
      ++answered;
      cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> guard{m};
  BOOST_REQUIRE(cv.wait_for(guard, std::chrono::seconds(30), [&] { return answered == n; }));
  std::set<std::string> ids;
  for (int i = 0; i < n; ++i) {
    BOOST_REQUIRE_EQUAL(answers[i].status, 200u);
    rapidjson::Document doc;
    doc.Parse(answers[i].body.c_str());
    BOOST_REQUIRE(doc.IsObject());
    if (i % 5 == 0) {
      BOOST_TEST(dump(doc) == dump(first.json)); // the event as first stored
    } else {
      BOOST_TEST(dump(doc["content"]) == R"({"i":)" + std::to_string(i) + "}");
      ids.insert(text(doc, "id"));
    }
  }
  BOOST_TEST(ids.size() == size_t{n - n / 5}); // every new event got an id of its own
}

BOOST_AUTO_TEST_CASE(event_input_errors) {
  auto missing = call("POST", "/events/v1/", R"({"content":{}})");
  BOOST_TEST(missing.status == 400u);
  BOOST_TEST(missing.code() == 14u);
  auto bad_content = call("POST", "/events/v1/", R"({"type":"t","content":[1]})");
  BOOST_TEST(bad_content.code() == 15u);
  auto bad_id = call("POST", "/events/v1/", R"({"type":"t","id":"xyz"})");
  BOOST_TEST(bad_id.status == 400u);
  BOOST_TEST(bad_id.code() == 12u);
  auto bad_time = call("POST", "/events/v1/", R"({"type":"t","creationTimestamp":"yesterday"})");
  BOOST_TEST(bad_time.code() == 15u);
  auto iso = ok("POST", "/events/v1/",
                R"({"type":"t","creationTimestamp":"2030-01-02T03:04:05.678Z"})");
  BOOST_TEST(iso.json["creationTimestamp"].GetInt64() == 1893553445678);
}

BOOST_AUTO_TEST_CASE(batch_answers_in_input_order_with_the_bad_entry_in_its_slot) {
  auto res = ok("POST", "/events/v1/batch",
                R"([{"type":"a","content":{"i":0}},{"content":{}},"text",{"type":"b"}])");
  auto& out = res.json;
  BOOST_REQUIRE(out.IsArray());
  BOOST_REQUIRE(out.Size() == 4u);
  BOOST_TEST(text(out[0], "type") == "a");
  BOOST_TEST(text(out[0], "id").size() == 24u);
  BOOST_TEST(out[1]["index"].GetUint() == 1u);
  BOOST_TEST(out[1]["code"].GetUint() == 14u);
  BOOST_TEST(text(out[1], "name") == "MISSING_REQUIRED_FIELDS_EXCEPTION");
  BOOST_TEST(!text(out[1], "message").empty());
  BOOST_TEST(out[2]["index"].GetUint() == 2u);
  BOOST_TEST(out[2]["code"].GetUint() == 22u);
  BOOST_TEST(text(out[3], "type") == "b");
  BOOST_TEST(ok("POST", "/events/v1/batch", "[]").body == "[]");
  auto all_bad = ok("POST", "/events/v1/batch", R"([{}])");
  BOOST_TEST(all_bad.json[0]["code"].GetUint() == 14u);
  auto not_array = call("POST", "/events/v1/batch", R"({"type":"a"})");
  BOOST_TEST(not_array.status == 400u);
  BOOST_TEST(not_array.code() == 22u);
}

BOOST_AUTO_TEST_CASE(a_published_event_becomes_a_task_readable_via_tasks) {
  ok("POST", "/dispatchers/v1/",
     R"({"eventType":"user.created","actions":[{"type":"task","functionName":"welcome",)"
     R"("data":{"Plan":"gold"},"priority":3}]})");
  auto ev = ok("POST", "/events/v1/", R"({"type":"user.created","content":{"userId":"u7"}})");
  auto page = wait_for_total("/tasks/v1/", 1);
  auto& task = page.json["data"][0];
  BOOST_TEST(text(task, "id").size() == 24u);
  BOOST_TEST(text(task, "functionName") == "welcome");
  BOOST_TEST(text(task, "status") == "new");
  BOOST_TEST(task["priority"].GetInt64() == 3);
  BOOST_TEST(text(task["data"], "Plan") == "gold");
  BOOST_TEST(text(task["data"]["event"], "id") == text(ev.json, "id"));
  BOOST_TEST(text(task["data"]["event"]["content"], "userId") == "u7");
  // The projection keeps `id` and the selected branch only.
  auto selected = ok("GET", "/tasks/v1/?select(data.event.type)");
  auto& row = selected.json["data"][0];
  BOOST_TEST(dump(row)
             == R"({"id":")" + text(task, "id") + R"(","data":{"event":{"type":"user.created"}}})");
  auto filtered = ok("GET", "/tasks/v1/?eq(functionName,other)");
  BOOST_TEST(filtered.json["page"]["total"].GetUint64() == 0u);
  // The delivery is listed too, delivered.
  auto deliveries = wait_for_total("/deliveries/v1/?eq(status,delivered)", 1);
  BOOST_TEST(text(deliveries.json["data"][0], "id") == text(task, "id"));
}

BOOST_AUTO_TEST_CASE(a_published_event_becomes_a_mail_readable_via_mail) {
  ok(
    "POST", "/dispatchers/v1/",
    R"({"eventType":"order.paid","actions":[{"type":"mail","recipients":)"
    R"({"to":["buyer@example.com"],"cc":["shop@example.com"]},"templateId":"bbbbbbbbbbbbbbbbbbbbbbb1"}]})");
  ok("POST", "/events/v1/", R"({"type":"order.paid","content":{"orderId":"o1"}})");
  auto page = wait_for_total("/mail/v1/", 1);
  auto& mail = page.json["data"][0];
  BOOST_TEST(text(mail, "templateId") == "bbbbbbbbbbbbbbbbbbbbbbb1");
  BOOST_TEST(std::string{mail["recipients"]["to"][0].GetString()} == "buyer@example.com");
  BOOST_TEST(text(mail["content"]["event"]["content"], "orderId") == "o1");
  BOOST_TEST(ok("GET", "/tasks/v1").json["page"]["total"].GetUint64() == 0u);
}

// -- the event archive ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(the_archive_lists_every_event_newest_first_with_an_exact_total) {
  std::string batch = "[";
  for (int i = 0; i < 30; ++i)
    batch += std::string{i ? "," : ""} + R"({"type":")" + (i % 2 ? "b" : "a")
             + R"(","content":{"i":)" + std::to_string(i) + "}}";
  auto published = ok("POST", "/events/v1/batch", batch + "]");
  auto id_of = [&](int i) { return text(published.json[i], "id"); };
  auto page = ok("GET", "/events/v1/");
  BOOST_TEST(page.json["page"]["total"].GetUint64() == 30u);
  BOOST_REQUIRE(page.json["data"].Size() == 20u);
  for (rapidjson::SizeType k = 0; k < 20; ++k) // newest accepted first
    BOOST_TEST(text(page.json["data"][k], "id") == id_of(29 - static_cast<int>(k)));
  auto paged = ok("GET", "/events/v1/?limit(5,5)");
  BOOST_TEST(paged.json["page"]["total"].GetUint64() == 30u);
  BOOST_REQUIRE(paged.json["data"].Size() == 5u);
  BOOST_TEST(text(paged.json["data"][0], "id") == id_of(24));
  BOOST_TEST(text(paged.json["data"][4], "id") == id_of(20));
  // One type: its shard only, its total from the counts.
  auto typed = ok("GET", "/events/v1/?eq(type,a)&limit(3)");
  BOOST_TEST(typed.json["page"]["total"].GetUint64() == 15u);
  BOOST_REQUIRE(typed.json["data"].Size() == 3u);
  BOOST_TEST(text(typed.json["data"][0], "id") == id_of(28));
  BOOST_TEST(text(typed.json["data"][2], "id") == id_of(24));
  // Any other filter counts what it matches; a sort orders the whole archive.
  auto filtered = ok("GET", "/events/v1/?gt(content.i,25)");
  BOOST_TEST(filtered.json["page"]["total"].GetUint64() == 4u);
  BOOST_TEST(text(filtered.json["data"][0], "id") == id_of(29));
  auto sorted = ok("GET", "/events/v1/?sort(content.i)&limit(2)");
  BOOST_TEST(sorted.json["page"]["total"].GetUint64() == 30u);
  BOOST_TEST(text(sorted.json["data"][0], "id") == id_of(0));
  BOOST_TEST(text(sorted.json["data"][1], "id") == id_of(1));
  // By id (the SDK's findById), an id ingest made and one the publisher chose.
  auto one = ok("GET", "/events/v1/?eq(id," + id_of(7) + ")");
  BOOST_TEST(one.json["page"]["total"].GetUint64() == 1u);
  BOOST_TEST(dump(one.json["data"][0]) == dump(published.json[7]));
  auto chosen = ok("POST", "/events/v1/", R"({"id":"cccccccccccccccccccccccc","type":"a"})");
  auto found = ok("GET", "/events/v1/?eq(id,CCCCCCCCCCCCCCCCCCCCCCCC)");
  BOOST_TEST(found.json["page"]["total"].GetUint64() == 1u);
  BOOST_TEST(dump(found.json["data"][0]) == chosen.body);
  BOOST_TEST(
    ok("GET", "/events/v1/?eq(id,0123456789abcdef01234567)").json["page"]["total"].GetUint64()
    == 0u);
  BOOST_TEST(ok("GET", "/events/v1/").json["page"]["total"].GetUint64() == 31u);
  BOOST_TEST(ok("GET", "/events/v1/?eq(type,a)").json["page"]["total"].GetUint64() == 16u);
}

BOOST_AUTO_TEST_CASE(the_task_log_lists_newest_first_with_an_exact_total) {
  create_task_dispatcher("signup");
  std::vector<std::string> events;
  for (int i = 0; i < 4; ++i)
    events.push_back(text(
      ok("POST", "/events/v1/", R"({"type":"signup","content":{"n":)" + std::to_string(i) + "}}")
        .json,
      "id"));
  auto page = wait_for_total("/tasks/v1/", 4);
  // Newest first: the last event's task leads.
  BOOST_REQUIRE(page.json["data"].Size() == 4u);
  for (unsigned i = 0; i < 4; ++i)
    BOOST_TEST(text(page.json["data"][i]["data"]["event"], "id") == events[3 - i]);
  // A page further on, its total still every record.
  auto second = ok("GET", "/tasks/v1/?limit(2,2)");
  BOOST_TEST(second.json["page"]["total"].GetUint64() == 4u);
  BOOST_REQUIRE(second.json["data"].Size() == 2u);
  BOOST_TEST(text(second.json["data"][0]["data"]["event"], "id") == events[1]);
  BOOST_TEST(text(second.json["data"][1]["data"]["event"], "id") == events[0]);
  // Past the end: no rows, the same total.
  auto past = ok("GET", "/tasks/v1/?limit(5,10)");
  BOOST_TEST(past.json["page"]["total"].GetUint64() == 4u);
  BOOST_TEST(past.json["data"].Size() == 0u);
  // A filter counts its own matches, in the same order.
  auto filtered = ok("GET", "/tasks/v1/?eq(data.event.content.n,2)");
  BOOST_TEST(filtered.json["page"]["total"].GetUint64() == 1u);
  BOOST_TEST(text(filtered.json["data"][0]["data"]["event"], "id") == events[2]);
}

BOOST_AUTO_TEST_CASE(an_event_stays_listed_after_its_deliveries_finished) {
  create_task_dispatcher("signup");
  auto ev = ok("POST", "/events/v1/", R"({"type":"signup","content":{"user":"u1"}})");
  wait_for_total("/tasks/v1/", 1);
  auto listed = ok("GET", "/events/v1/?eq(type,signup)");
  BOOST_TEST(listed.json["page"]["total"].GetUint64() == 1u);
  BOOST_TEST(dump(listed.json["data"][0]) == ev.body);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

/// The wall clock moved by an offset the test sets (accept times, sequences and retention read it).
class shifted_clock final : public dispatch::clock {
public:
  timestamp_ms now() const noexcept override { return now_ms() + offset.load(); }
  std::atomic<int64_t> offset{0};
};

constexpr int64_t day_ms = 86400000;

struct archive : api_fixture {
  std::shared_ptr<shifted_clock> time = std::make_shared<shifted_clock>();

  archive() { config.clock = time; }

  uint64_t total(const std::string& target) {
    return ok("GET", target).json["page"]["total"].GetUint64();
  }

  void restart() {
    stop();
    start();
  }

  // Publishes `n` events of `type` with content {"n": i} in one batch.
  void publish(const std::string& type, int n) {
    std::string batch = "[";
    for (int i = 0; i < n; ++i)
      batch += std::string{i ? "," : ""} + R"({"type":")" + type + R"(","content":{"n":)"
               + std::to_string(i) + "}}";
    ok("POST", "/events/v1/batch", batch + "]");
  }

  // The replay's listing entry once `done(entry)` holds.
  api_response wait_for_replay(const std::string& id,
                               const std::function<bool(const rapidjson::Value&)>& done) {
    api_response last;
    BOOST_REQUIRE(eventually(
      [&] {
        last = ok("GET", "/events/v1/replays/?eq(id," + id + ")");
        return last.json["page"]["total"].GetUint64() == 1 && done(last.json["data"][0]);
      },
      std::chrono::seconds(60)));
    return last;
  }
};

bool is_done(const rapidjson::Value& x) {
  return text(x, "status") == "done";
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(api_archive, archive)

BOOST_AUTO_TEST_CASE(retention_drops_the_archived_days_past_event_days) {
  // The archive keeps the longer of the two: event days govern here, not history's one day.
  config.history_days = 1;
  config.event_days = 7;
  time->offset = -10 * day_ms;
  start();
  create_task_dispatcher("old");
  publish("old", 3);
  time->offset = -6 * day_ms; // the oldest day seven days keep
  publish("week", 2);
  time->offset = -1 * day_ms;
  publish("yesterday", 1);
  time->offset = 0;
  publish("new", 2);
  BOOST_TEST(total("/events/v1/") == 8u);
  BOOST_REQUIRE(eventually([&] { return total("/tasks/v1/") == 3; }));
  // Retention runs at start (and hourly): once the emitters' cursors passed the old events
  // (written with their outcomes), a start drops their days, from the counts too.
  BOOST_REQUIRE(eventually(
    [&] {
      restart();
      return total("/events/v1/") == 5;
    },
    std::chrono::seconds(60)));
  BOOST_TEST(total("/events/v1/?eq(type,old)") == 0u);
  BOOST_TEST(total("/events/v1/?eq(type,week)") == 2u);
  BOOST_TEST(total("/events/v1/?eq(type,yesterday)") == 1u);
  BOOST_TEST(total("/events/v1/?eq(type,new)") == 2u);
  BOOST_TEST(ok("GET", "/events/v1/").json["data"].Size() == 5u);
  // Listed, not only counted: the walk finds them too.
  BOOST_TEST(total("/events/v1/?ge(content.n,0)") == 5u);
}

BOOST_AUTO_TEST_CASE(a_replay_dispatches_a_time_range_again_with_new_ids) {
  start();
  auto first = create_task_dispatcher("order", "first");
  auto second = create_task_dispatcher("order", "second");
  auto from = now_ms() - 1000;
  publish("order", 3);
  publish("other", 2);
  BOOST_REQUIRE(eventually([&] { return total("/tasks/v1/") == 6; }));
  std::set<std::string> originals;
  auto before = ok("GET", "/tasks/v1/?limit(50)");
  for (auto& t : before.json["data"].GetArray()) originals.insert(text(t, "id"));
  auto to = now_ms() + 1000;
  auto started = ok("POST", "/events/v1/replay",
                    R"({"from":)" + std::to_string(from) + R"(,"to":)" + std::to_string(to)
                      + R"x(,"filter":"eq(type,order)","dispatcherIds":[")x" + first + R"("]})");
  auto id = text(started.json, "id");
  BOOST_TEST(id.size() == 24u);
  BOOST_TEST(text(started.json, "status") == "running");
  BOOST_TEST(started.json["from"].GetInt64() == from);
  BOOST_TEST(started.json["to"].GetInt64() == to);
  BOOST_TEST(started.json["matched"].GetUint64() == 0u);
  BOOST_TEST(started.json["dispatched"].GetUint64() == 0u);
  auto done = wait_for_replay(id, is_done);
  BOOST_TEST(done.json["data"][0]["matched"].GetUint64() == 3u);
  BOOST_TEST(done.json["data"][0]["dispatched"].GetUint64() == 3u); // the named dispatcher only
  BOOST_REQUIRE(eventually([&] { return total("/tasks/v1/?eq(replayId," + id + ")") == 3; }));
  auto again = ok("GET", "/tasks/v1/?eq(replayId," + id + ")");
  for (auto& t : again.json["data"].GetArray()) {
    BOOST_TEST(!originals.count(text(t, "id"))); // a new id
    BOOST_TEST(text(t["data"]["event"], "type") == "order");
  }
  BOOST_TEST(total("/tasks/v1/") == 9u);
  auto replayed = ok("GET", "/deliveries/v1/?eq(replayId," + id + ")");
  BOOST_TEST(replayed.json["page"]["total"].GetUint64() == 3u);
  BOOST_TEST(text(replayed.json["data"][0], "dispatcherId") == first);
  // An event's deliveries include those a replay made of it (their ids are new).
  auto event_id = text(replayed.json["data"][0], "eventId");
  auto of_event = ok("GET", "/deliveries/v1/?eq(eventId," + event_id + ")");
  BOOST_TEST(of_event.json["page"]["total"].GetUint64() == 3u); // first, second, first again
  // A content filter narrows it further; both dispatchers of now.
  auto narrow = ok("POST", "/events/v1/replay",
                   R"({"from":"1970-01-01T00:00:00Z","to":)" + std::to_string(to)
                     + R"x(,"filter":"eq(content.n,1)"})x");
  auto narrowed = wait_for_replay(text(narrow.json, "id"), is_done);
  BOOST_TEST(narrowed.json["data"][0]["matched"].GetUint64() == 2u); // order n=1, other n=1
  BOOST_TEST(narrowed.json["data"][0]["dispatched"].GetUint64() == 2u);
  BOOST_TEST(total("/events/v1/replays/") == 2u);
  (void)second;
}

BOOST_AUTO_TEST_CASE(bad_replay_bodies_name_the_field) {
  start();
  auto refused = [&](const std::string& body, unsigned code, const std::string& field) {
    auto res = call("POST", "/events/v1/replay", body);
    BOOST_TEST(res.status == (code == 16 ? 404u : 400u), body);
    BOOST_TEST(res.code() == code, body);
    BOOST_TEST(text(res.json, "message").rfind(field + ":", 0) == 0u, text(res.json, "message"));
  };
  refused(R"({"to":1000})", 14, "from");
  refused(R"({"from":1000})", 14, "to");
  refused(R"({"from":"yesterday","to":1000})", 15, "from");
  refused(R"({"from":2000,"to":1000})", 15, "to");
  refused(R"({"from":0,"to":1000,"filter":"eq(type"})", 19, "filter");
  // Filter terms only: a page's limit, sort or projection means nothing to a replay.
  refused(R"x({"from":0,"to":1000,"filter":"limit(5)"})x", 19, "filter");
  refused(R"x({"from":0,"to":1000,"filter":"eq(type,a)&skipCount()"})x", 19, "filter");
  refused(R"x({"from":0,"to":1000,"filter":"sort(-id)"})x", 19, "filter");
  refused(R"({"from":0,"to":1000,"filter":7})", 15, "filter");
  refused(R"({"from":0,"to":1000,"dispatcherIds":["nope"]})", 12, "dispatcherIds[0]");
  refused(R"({"from":0,"to":1000,"dispatcherIds":["0123456789abcdef01234567"]})", 16,
          "dispatcherIds[0]");
  BOOST_TEST(call("POST", "/events/v1/replay").code() == 13u);
  BOOST_TEST(call("DELETE", "/events/v1/replays/0123456789abcdef01234567").status == 404u);
  BOOST_TEST(call("GET", "/events/v1/replays/?eq(status").code() == 19u);
}

BOOST_AUTO_TEST_CASE(a_replay_can_be_cancelled) {
  config.replay_rate = 10; // one event per step, ten a second
  start();
  create_task_dispatcher("slow");
  publish("slow", 50);
  auto started = ok("POST", "/events/v1/replay",
                    R"({"from":0,"to":)" + std::to_string(now_ms() + 1000) + "}");
  auto id = text(started.json, "id");
  auto cancelled = ok("DELETE", "/events/v1/replays/" + id);
  BOOST_TEST(text(cancelled.json, "status") == "cancelled");
  BOOST_TEST(cancelled.json["finishedTimestamp"].GetInt64() > 0);
  auto matched = cancelled.json["matched"].GetUint64();
  auto dispatched = cancelled.json["dispatched"].GetUint64();
  BOOST_TEST(matched < 50u);
  // Time passes for the replayer: a second replay of three later events takes three steps of its
  // own, each one a chance for the cancelled one to step again.
  auto mark = now_ms();
  publish("later", 3);
  auto second = ok("POST", "/events/v1/replay",
                   R"({"from":)" + std::to_string(mark) + R"(,"to":)"
                     + std::to_string(now_ms() + 1000) + R"x(,"filter":"eq(type,later)"})x");
  auto after = wait_for_replay(text(second.json, "id"), is_done);
  BOOST_TEST(after.json["data"][0]["matched"].GetUint64() == 3u);
  // It stays cancelled: at most the step under way when it was cancelled still counts.
  auto listed = ok("GET", "/events/v1/replays/?eq(status,cancelled)");
  BOOST_REQUIRE(listed.json["page"]["total"].GetUint64() == 1u);
  BOOST_TEST(text(listed.json["data"][0], "id") == id);
  BOOST_TEST(listed.json["data"][0]["matched"].GetUint64() <= matched + 1);
  BOOST_TEST(listed.json["data"][0]["dispatched"].GetUint64() <= dispatched + 1);
  BOOST_TEST(text(ok("DELETE", "/events/v1/replays/" + id).json, "status") == "cancelled");
}

BOOST_AUTO_TEST_CASE(a_replay_resumes_where_it_was_after_a_restart) {
  config.replay_rate = 10;
  start();
  create_task_dispatcher("resumed");
  publish("resumed", 60); // six seconds of steps: a restart comes well before the end
  BOOST_REQUIRE(eventually([&] { return total("/tasks/v1/") == 60; }));
  auto started = ok("POST", "/events/v1/replay",
                    R"({"from":0,"to":)" + std::to_string(now_ms() + 1000) + "}");
  auto id = text(started.json, "id");
  auto under_way = wait_for_replay(
    id, [](const rapidjson::Value& x) { return x["matched"].GetUint64() >= 3; });
  BOOST_TEST(text(under_way.json["data"][0], "status") == "running");
  restart();
  // Read back as it was written, still running: what comes next is the resumed replay's work.
  auto at_restart = ok("GET", "/events/v1/replays/?eq(id," + id + ")");
  BOOST_TEST(text(at_restart.json["data"][0], "status") == "running");
  BOOST_TEST(at_restart.json["data"][0]["matched"].GetUint64() >= 3u);
  BOOST_TEST(at_restart.json["data"][0]["matched"].GetUint64() < 60u);
  auto done = wait_for_replay(id, is_done);
  BOOST_TEST(done.json["data"][0]["matched"].GetUint64() == 60u);    // each event once
  BOOST_TEST(done.json["data"][0]["dispatched"].GetUint64() == 60u); // one delivery each
  BOOST_REQUIRE(eventually([&] { return total("/tasks/v1/?eq(replayId," + id + ")") == 60; }));
}

BOOST_AUTO_TEST_SUITE_END()
