// The README's story against a real dispatchd: a Task Service that fails turns deliveries into
// dead letters, which are replayed (one, or all by query) once it recovers; Retry-After is
// honoured.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fixtures/dispatchd_process.hpp"
#include "fixtures/http_client.hpp"
#include "fixtures/http_test_server.hpp"
#include "fixtures/temp_dir.hpp"

using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

constexpr unsigned max_attempts = 3;

/// dispatchd with its task sink at `task_service`, a short retry policy and a breaker that stays
/// out of the way (it would pause the sink for the failing attempts these tests provoke).
struct webhook_service {
  temp_dir dir;
  http_test_server task_service;
  dispatchd_process dispatchd;
  http_client client;

  explicit webhook_service(scripted_response first_default)
      : dispatchd{dispatchd_args(dir / "data",
                                 {"--dispatch.retry.initial=100",
                                  "--dispatch.retry.max-attempts=" + std::to_string(max_attempts),
                                  "--dispatch.sinks.breaker-failures=1000",
                                  "--dispatch.sinks.task.url=" + task_service.url()}),
                  dir / "run.log"},
        client{"127.0.0.1", dispatchd.port_of("127.0.0.1"), 30s} {
    task_service.set_default(std::move(first_default));
  }

  ~webhook_service() {
    dispatchd.signal(SIGTERM);
    BOOST_TEST(dispatchd.exit_status() == 0);
  }

  void create_dispatcher(const std::string& event_type, const std::string& function) {
    auto created = client.request("POST", "/dispatchers/v1/",
                                  R"({"eventType":")" + event_type
                                    + R"(","actions":[{"type":"task","functionName":")" + function
                                    + R"("}]})");
    BOOST_REQUIRE_MESSAGE(created.status == 200u, created.body);
  }

  std::string publish(const std::string& event_type) {
    auto id = fresh_object_id();
    auto published = client.request("POST", "/events/v1/",
                                    R"({"type":")" + event_type + R"(","id":")" + id + R"("})");
    BOOST_REQUIRE_MESSAGE(published.status == 200u, published.body);
    return id;
  }

  /// The deliveries matching `rql`, once there are `n` of them.
  rapidjson::Document deliveries_once(const std::string& rql, size_t n) {
    rapidjson::Document page;
    bool found = eventually([&] {
      page = json_of(client.request("GET", "/deliveries/v1/?" + rql));
      return page.IsObject() && page["data"].Size() == n;
    });
    BOOST_REQUIRE_MESSAGE(found, "no " << n << " deliveries for " << rql << ":\n"
                                       << dispatchd.log());
    return page;
  }

  std::string status_of(const std::string& delivery_id) {
    auto page = json_of(client.request("GET", "/deliveries/v1/?eq(id," + delivery_id + ")"));
    if (!page.IsObject() || page["data"].Size() != 1) return "(none)";
    return page["data"][0]["status"].GetString();
  }

  /// Requests the Task Service received carrying `Idempotency-Key: key`.
  std::vector<recorded_request> requests_for(const std::string& key) {
    std::vector<recorded_request> result;
    for (auto& request : task_service.requests())
      if (request.header("Idempotency-Key") == key) result.push_back(request);
    return result;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(service_webhooks)

BOOST_AUTO_TEST_CASE(a_failing_task_service_makes_a_dead_letter_that_replays) {
  webhook_service service{respond(500, R"({"error":"down"})")};
  service.create_dispatcher("signup", "welcome");
  auto event_id = service.publish("signup");
  auto dead = service.deliveries_once("eq(status,dead)", 1);
  auto& letter = dead["data"][0];
  std::string delivery_id = letter["id"].GetString();
  BOOST_TEST(std::string{letter["eventId"].GetString()} == event_id);
  BOOST_TEST(letter["attempts"].GetUint() == max_attempts);
  BOOST_REQUIRE(letter.HasMember("lastError"));
  BOOST_TEST(contains(letter["lastError"].GetString(), "500"), letter["lastError"].GetString());
  // Every attempt reached the Task Service under the same key.
  auto attempts = service.requests_for(delivery_id);
  BOOST_TEST(attempts.size() == max_attempts);
  BOOST_TEST(service.task_service.request_count() == max_attempts);
  // The service recovers; the operator replays the dead letter.
  service.task_service.set_default(respond(200, R"({"id":"5f0000000000000000000001"})"));
  auto replayed = service.client.request("POST", "/deliveries/v1/" + delivery_id + "/replay");
  BOOST_TEST(replayed.status == 200u, replayed.body);
  BOOST_TEST(eventually([&] { return service.status_of(delivery_id) == "delivered"; }),
             service.status_of(delivery_id));
  auto all = service.requests_for(delivery_id);
  BOOST_REQUIRE(all.size() == max_attempts + 1);
  auto& delivered = all.back();
  BOOST_TEST(delivered.method == "POST");
  BOOST_TEST(delivered.target == "/tasks/v1/");
  BOOST_TEST(contains(delivered.body, R"("functionName":"welcome")"), delivered.body);
  BOOST_TEST(contains(delivered.body, event_id), delivered.body);
  // Nothing more is dead; nothing is sent again.
  BOOST_TEST(
    json_of(service.client.request("GET", "/deliveries/v1/?eq(status,dead)"))["page"]["total"]
      .GetUint()
    == 0u);
  BOOST_REQUIRE(eventually([&] { return dispatchd_settled(service.client); }));
  BOOST_TEST(service.task_service.request_count() == max_attempts + 1);
}

BOOST_AUTO_TEST_CASE(dead_letters_replay_by_query) {
  webhook_service service{respond(503, R"({"error":"maintenance"})")};
  service.create_dispatcher("invoice", "bill");
  std::set<std::string> events;
  for (int i = 0; i < 4; ++i) events.insert(service.publish("invoice"));
  auto dead = service.deliveries_once("eq(status,dead)", events.size());
  std::set<std::string> dead_ids;
  for (auto& letter : dead["data"].GetArray()) {
    dead_ids.insert(letter["id"].GetString());
    BOOST_TEST(events.count(letter["eventId"].GetString()) == 1u);
    BOOST_TEST(contains(letter["lastError"].GetString(), "503"), letter["lastError"].GetString());
  }
  service.task_service.set_default(respond(200));
  auto replayed = service.client.request("POST", "/deliveries/v1/replay?eq(status,dead)");
  BOOST_TEST(replayed.status == 200u, replayed.body);
  BOOST_TEST(contains(replayed.body, R"({"affectedRecords":4})"), replayed.body);
  BOOST_TEST(eventually([&] {
    for (auto& id : dead_ids)
      if (service.status_of(id) != "delivered") return false;
    return true;
  }));
  for (auto& id : dead_ids) {
    auto sent = service.requests_for(id);
    BOOST_TEST(sent.size() == max_attempts + 1, id << " sent " << sent.size() << " times");
  }
  // A second bulk replay finds nothing to do.
  auto again = service.client.request("POST", "/deliveries/v1/replay?eq(status,dead)");
  BOOST_TEST(contains(again.body, R"({"affectedRecords":0})"), again.body);
}

BOOST_AUTO_TEST_CASE(retry_after_is_honoured) {
  webhook_service service{respond(200)};
  service.task_service.push(respond(429, R"({"error":"slow down"})", {{"Retry-After", "1"}}));
  service.create_dispatcher("burst", "throttled");
  service.publish("burst");
  BOOST_REQUIRE(service.task_service.wait_for_requests(2, dispatchd_deadline));
  auto requests = service.task_service.requests();
  auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(requests[1].arrival
                                                                   - requests[0].arrival);
  BOOST_TEST_MESSAGE("second attempt " << gap.count() << " ms after the first");
  // Not earlier than 1 s after the first (the second is scheduled after its answer came back).
  // The engine counts whole milliseconds: a due time truncated by one may show as 999 ms here.
  BOOST_TEST(gap.count() >= 998, gap.count() << " ms");
  auto key = requests[0].header("Idempotency-Key");
  BOOST_TEST(requests[1].header("Idempotency-Key") == key);
  BOOST_TEST(eventually([&] { return service.status_of(key) == "delivered"; }));
}

BOOST_AUTO_TEST_SUITE_END()
