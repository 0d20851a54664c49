// Engines whose sinks are webhooks on a real HTTP server: a failure then a success, Retry-After
// honoured between attempts, a 4xx dead-lettered at once, a silent server retried, and the bodies
// the services receive (functionName, data.event, template_id, content.event).
#include <boost/test/unit_test.hpp>

#include <rapidjson/document.h>

#include <algorithm>

#include "fixtures/engine_fixture.hpp"
#include "fixtures/http_test_server.hpp"
#include "fixtures/shard_types.hpp"
#include "messages/error_code.hpp"
#include "messages/ids.hpp"
#include "fixtures/why.hpp"
#include "sinks/webhook_sink.hpp"

using namespace dispatch;
using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

struct webhook_engine_fixture : engine_fixture {
  http_test_server server;
  webhook_config hook;

  webhook_engine_fixture() {
    config.retry.initial = 20ms;
    config.retry.cap = 100ms;
    config.retry.max_attempts = 4;
    hook.url = server.url();
    hook.timeout = 1000ms;
    hook.headers = {{"Authorization", "Bearer test-token"}};
  }

  // The engine stops before the server it talks to.
  ~webhook_engine_fixture() { stop(); }

  /// Starts the engine with webhook sinks for tasks and mails, both on the test server.
  void start_with_webhooks() {
    sys_config = std::make_unique<test_system_config>();
    sys = std::make_unique<caf::actor_system>(*sys_config);
    auto tasks_hook = spawn_webhook_sink(*sys, action_kind::task, hook);
    auto mails_hook = spawn_webhook_sink(*sys, action_kind::mail, hook);
    BOOST_REQUIRE(tasks_hook && mails_hook);
    task_sink = *tasks_hook;
    mail_sink = *mails_hook;
    engine_sinks sinks;
    sinks.task = sink_binding{task_sink, true}; // the Task Service schedules
    sinks.mail = sink_binding{mail_sink, false};
    auto handle = spawn_engine(*sys, config, sinks);
    BOOST_REQUIRE_MESSAGE(handle, "spawn_engine: " << (handle ? "" : message_of(handle.error())));
    engine = *handle;
  }

  caf::expected<delivery_page> with_status(const std::string& status) {
    query q;
    q.where.op = filter_op::eq;
    q.where.path = "status";
    q.where.values.push_back(string_value(status));
    return call<delivery_page>(deliveries_atom::value, q);
  }

  /// Waits until exactly one delivery has `status`; returns it.
  delivery one_with_status(const std::string& status) {
    caf::expected<delivery_page> page{caf::error{}};
    auto found = eventually([&] {
      page = with_status(status);
      return page && page->page.total == 1;
    });
    BOOST_REQUIRE_MESSAGE(found, "no " << status << " delivery");
    return page->data.front();
  }
};

rapidjson::Document parsed(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.c_str(), json.size());
  BOOST_REQUIRE_MESSAGE(!doc.HasParseError() && doc.IsObject(), "not a JSON object: " << json);
  return doc;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(webhook_engine, webhook_engine_fixture)

BOOST_AUTO_TEST_CASE(a_server_error_then_success_is_delivered_after_two_attempts) {
  server.push(respond(500, R"({"code":1})"));
  start_with_webhooks();
  create(make_dispatcher("user.created", {task_action("sendWelcome", R"({"lang":"nl"})")}));
  auto ev = publish("user.created", R"({"name":"Zoë","age":7})");
  auto done = one_with_status("delivered");
  BOOST_TEST(done.attempts == 2u);
  auto got = server.requests();
  BOOST_REQUIRE_EQUAL(got.size(), 2u);
  for (auto& req : got) {
    BOOST_TEST(req.target == "/tasks/v1/");
    BOOST_TEST(req.header("Idempotency-Key") == done.id); // the same key on the redelivery
    BOOST_TEST(req.header("Authorization") == "Bearer test-token");
  }
  BOOST_TEST(got[0].body == got[1].body);
  auto body = parsed(got[1].body);
  BOOST_TEST(body["functionName"].GetString() == std::string{"sendWelcome"});
  BOOST_TEST(body["data"]["lang"].GetString() == std::string{"nl"});
  BOOST_TEST(body["data"]["event"]["type"].GetString() == std::string{"user.created"});
  BOOST_TEST(body["data"]["event"]["id"].GetString() == ev.id);
  BOOST_TEST(body["data"]["event"]["content"]["name"].GetString() == std::string{"Zoë"});
}

BOOST_AUTO_TEST_CASE(retry_after_is_honoured_between_attempts) {
  server.push(respond(429, "{}", {{"Retry-After", "2"}}));
  start_with_webhooks();
  create(make_dispatcher("t", {task_action("f")}));
  publish("t");
  BOOST_REQUIRE(server.wait_for_requests(2, 20s));
  auto got = server.requests();
  auto gap = got[1].arrival - got[0].arrival;
  // Not before its floor (the emitter counts whole milliseconds: allow one for truncation) ...
  BOOST_TEST((gap >= 1999ms),
             "second attempt after only "
               << std::chrono::duration_cast<std::chrono::milliseconds>(gap).count() << " ms");
  BOOST_TEST((gap < 15s)); // ... and not forgotten
  BOOST_TEST(one_with_status("delivered").attempts == 2u);
}

BOOST_AUTO_TEST_CASE(a_client_error_is_dead_lettered_at_once) {
  server.push(respond(400, R"({"code":15,"message":"functionName: unknown function"})"));
  start_with_webhooks();
  create(make_dispatcher("t", {task_action("f")}));
  publish("t");
  auto dead = one_with_status("dead");
  BOOST_TEST(dead.attempts == 1u);
  BOOST_TEST(dead.last_error.find("HTTP 400") != std::string::npos, dead.last_error);
  BOOST_TEST(dead.last_error.find("unknown function") != std::string::npos, dead.last_error);
  wait_until_settled(); // the dead letter was the last of it: nothing more is sent
  BOOST_TEST(server.request_count() == 1u);
}

BOOST_AUTO_TEST_CASE(a_server_that_never_answers_is_retried) {
  hook.timeout = 300ms;
  server.push(never_answer());
  start_with_webhooks();
  create(make_dispatcher("t", {task_action("f")}));
  publish("t");
  auto done = one_with_status("delivered");
  BOOST_TEST(done.attempts == 2u);
  BOOST_TEST(server.request_count() == 2u);
}

BOOST_AUTO_TEST_CASE(a_spent_budget_keeps_the_last_status_as_the_error) {
  server.set_default(respond(503, "maintenance"));
  start_with_webhooks();
  create(make_dispatcher("t", {task_action("f")}));
  publish("t");
  auto dead = one_with_status("dead");
  BOOST_TEST(dead.attempts == 4u); // max_attempts
  BOOST_TEST(dead.last_error == "HTTP 503 from " + server.url() + "/tasks/v1/");
  BOOST_TEST(server.request_count() == 4u);
}

BOOST_AUTO_TEST_CASE(a_mail_reaches_the_mail_service) {
  start_with_webhooks();
  create(make_dispatcher("t", {mail_action("a@example.com", "5e9f1b2c3d4e5f6a7b8c9d0e")}));
  auto ev = publish("t", R"({"x":1})");
  auto done = one_with_status("delivered");
  auto got = server.requests();
  BOOST_REQUIRE_EQUAL(got.size(), 1u);
  BOOST_TEST(got[0].target == "/mail/v1/");
  BOOST_TEST(got[0].header("Idempotency-Key") == done.id);
  auto body = parsed(got[0].body);
  BOOST_TEST(body["template_id"].GetString() == std::string{"5e9f1b2c3d4e5f6a7b8c9d0e"});
  BOOST_TEST(body["recipients"]["to"][0].GetString() == std::string{"a@example.com"});
  BOOST_TEST(body["content"]["event"]["id"].GetString() == ev.id);
  BOOST_TEST(body["content"]["event"]["content"]["x"].GetInt() == 1);
}

BOOST_AUTO_TEST_CASE(a_sink_rate_holds_at_the_webhook_across_shards) {
  // 20 a second for the task sink, events of types on different shards (one emitter each):
  // together they arrive at the webhook at the sink's rate, not 20 a second per shard. Without
  // the limit the 40 arrive within milliseconds. Only loose lower bounds on time here: the exact
  // spacing is the emitter suite's (on its test clock), the measured precision the bench's
  // (`dispatch-bench --scenario rate`).
  config.task_sink_rate = 20;
  start_with_webhooks();
  auto types = one_type_per_shard("rated.", config.shards, 4);
  for (auto& type : types) create(make_dispatcher(type, {task_action("f")}));
  for (int i = 0; i < 40; ++i) publish(types[i % types.size()]);
  // Meanwhile the ones over the rate wait as pending: none retrying, none dead.
  auto waiting = with_status("pending");
  BOOST_REQUIRE_MESSAGE(waiting, why(waiting));
  BOOST_TEST(waiting->page.total > 0u);
  BOOST_REQUIRE(server.wait_for_requests(40, 30s));
  auto got = server.requests();
  std::vector<std::chrono::steady_clock::time_point> arrivals;
  for (auto& r : got) arrivals.push_back(r.arrival);
  std::sort(arrivals.begin(), arrivals.end());
  auto span = std::chrono::duration_cast<std::chrono::milliseconds>(arrivals.back()
                                                                    - arrivals.front());
  // 39 gaps of 50 ms after the first: 1.95 s are sent; a burst of one token allows nothing
  // faster (the slack is for arrivals that the network or a busy machine brings closer).
  BOOST_TEST(span.count() >= 1500, "40 deliveries in " << span.count() << " ms");
  // In no second did much more than the rate arrive (21 may, with the one-token burst; 30 take
  // 1.45 s to send, which no jitter brings within a second).
  for (size_t i = 0; i + 29 < arrivals.size(); ++i)
    BOOST_TEST((arrivals[i + 29] - arrivals[i] >= 1000ms), "30 arrivals within a second at " << i);
  wait_until_settled();
  auto retried = with_status("retrying");
  BOOST_REQUIRE(retried);
  BOOST_TEST(retried->page.total == 0u);
  BOOST_TEST(server.request_count() == 40u);
}

BOOST_AUTO_TEST_CASE(templated_task_data_reaches_the_task_service_filled_from_the_event) {
  // The Task Service gets `data` filled from each event: a whole template as the typed value at
  // its path, one inside a longer string as text, a key whose path is absent left out.
  start_with_webhooks();
  auto a = task_action("invoice", R"~({"userId":"{{event.content.userId}}",)~"
                                  R"~("amount":"{{event.content.amount}}",)~"
                                  R"~("items":"{{ event.content.items }}",)~"
                                  R"~("paid":"{{event.content.paid}}",)~"
                                  R"~("subject":"Order {{event.id}} of {{event.content.userId}})~"
                                  R"~( ({{event.content.amount}}; {{event.content.nowhere}})",)~"
                                  R"~("coupon":"{{event.content.coupon}}","plain":"as is"})~");
  a.templated = true;
  create(make_dispatcher("order_paid", {a}));
  auto ev = publish("order_paid",
                    R"~({"userId":"u-42","amount":120.5,"items":[{"sku":"A"}],"paid":true})~");
  one_with_status("delivered");
  auto got = server.requests();
  BOOST_REQUIRE_EQUAL(got.size(), 1u);
  BOOST_TEST(got[0].target == "/tasks/v1/");
  auto body = parsed(got[0].body);
  BOOST_TEST(body["functionName"].GetString() == std::string{"invoice"});
  auto& data = body["data"];
  BOOST_REQUIRE(data.IsObject());
  BOOST_TEST(data["userId"].GetString() == std::string{"u-42"});
  BOOST_REQUIRE(data["amount"].IsNumber()); // the number, not its text
  BOOST_TEST(data["amount"].GetDouble() == 120.5);
  BOOST_REQUIRE(data["items"].IsArray());
  BOOST_TEST(data["items"][0]["sku"].GetString() == std::string{"A"});
  BOOST_REQUIRE(data["paid"].IsBool());
  BOOST_TEST(data["paid"].GetBool());
  BOOST_TEST(data["subject"].GetString() == "Order " + ev.id + " of u-42 (120.5; )");
  BOOST_TEST(!data.HasMember("coupon")); // its path is absent from the event
  BOOST_TEST(data["plain"].GetString() == std::string{"as is"});
  // The event still rides along, as for any task.
  BOOST_TEST(data["event"]["id"].GetString() == ev.id);
}

BOOST_AUTO_TEST_CASE(a_dispatchers_rate_holds_at_the_webhook_while_another_flows) {
  // Two dispatchers of one event type: one limited to 20 a second, one not. The limited one's 30
  // arrive at the webhook at its rate; the other's do not wait for them. Only loose bounds on
  // time here: the exact spacing is the dispatcher_rates suite's (on its test clock), the
  // measured rate the bench's (`dispatch-bench --scenario dispatcher-rate`).
  start_with_webhooks();
  auto limited = make_dispatcher("rated", {task_action("limited")});
  limited.rate_limit = rate_limit{20};
  create(limited);
  create(make_dispatcher("rated", {task_action("unlimited")}));
  for (int i = 0; i < 30; ++i) publish("rated");
  // Meanwhile the limited ones over the rate wait as pending, spending no attempt.
  auto waiting = with_status("pending");
  BOOST_REQUIRE_MESSAGE(waiting, why(waiting));
  BOOST_TEST(waiting->page.total > 0u);
  for (auto& d : waiting->data) BOOST_TEST(d.attempts == 0u);
  BOOST_REQUIRE(server.wait_for_requests(60, 30s));
  std::vector<std::chrono::steady_clock::time_point> limited_at;
  std::vector<std::chrono::steady_clock::time_point> unlimited_at;
  for (auto& r : server.requests()) {
    auto body = parsed(r.body);
    (body["functionName"].GetString() == std::string{"limited"} ? limited_at : unlimited_at)
      .push_back(r.arrival);
  }
  BOOST_REQUIRE_EQUAL(limited_at.size(), 30u);
  BOOST_REQUIRE_EQUAL(unlimited_at.size(), 30u);
  std::sort(limited_at.begin(), limited_at.end());
  std::sort(unlimited_at.begin(), unlimited_at.end());
  auto span = std::chrono::duration_cast<std::chrono::milliseconds>(limited_at.back()
                                                                    - limited_at.front());
  // 29 gaps of 50 ms after the first: 1.45 s are sent (the slack is for arrivals a busy machine
  // brings closer); without the limit the 30 arrive within milliseconds.
  BOOST_TEST(span.count() >= 1100, "30 deliveries in " << span.count() << " ms");
  // In no second did much more than the rate arrive (25 take 1.2 s to send).
  for (size_t i = 0; i + 24 < limited_at.size(); ++i)
    BOOST_TEST((limited_at[i + 24] - limited_at[i] >= 1000ms), "25 arrivals within 1 s at " << i);
  // The unlimited dispatcher's were all there before the limited one's last.
  BOOST_TEST((unlimited_at.back() < limited_at.back()));
  wait_until_settled();
  auto retried = with_status("retrying");
  BOOST_REQUIRE(retried);
  BOOST_TEST(retried->page.total == 0u);
  BOOST_TEST(server.request_count() == 60u);
}

BOOST_AUTO_TEST_SUITE_END()
