// Publishing over the HTTP API, and reading back what the built-in log received: the stored event,
// duplicates, batches with bad entries, tasks via /tasks/v1 and mails via /mail/v1.
#include <boost/test/unit_test.hpp>

#include <condition_variable>
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

BOOST_AUTO_TEST_SUITE_END()
