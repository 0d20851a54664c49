// Tests of the webhook sink under load and failure: the circuit breaker (opens, answers without a
// request, probes, closes; on the fixture's hand-moved clock), connection reuse, a burst of
// concurrent deliveries, invalid configuration, and stopping with requests in flight.
#include <boost/test/unit_test.hpp>

#include <set>

#include "webhook_fixture.hpp"

using namespace dispatch;
using namespace dispatch::test;

BOOST_FIXTURE_TEST_SUITE(webhook_breaker, sink_fixture)

BOOST_AUTO_TEST_CASE(the_breaker_opens_answers_at_once_and_closes_after_a_good_probe) {
  config.breaker_failures = 3;
  config.breaker_open = 500ms;
  server.set_default(respond(500, "down"));
  auto sink = spawn();
  for (int i = 0; i < 3; ++i)
    BOOST_REQUIRE(is(deliver(sink, make_delivery(action_kind::task)), sink_verdict::retry));
  BOOST_REQUIRE_EQUAL(server.request_count(), 3u);
  // Open: answered without a request (deferred: no attempt spent), with the time it stays open
  // as the floor.
  auto refused = deliver(sink, make_delivery(action_kind::task));
  BOOST_TEST(is(refused, sink_verdict::deferred));
  BOOST_TEST(contains(refused.reason, "circuit open"), refused.reason);
  BOOST_TEST(contains(refused.reason, "HTTP 500"), refused.reason);
  BOOST_TEST(refused.retry_after_ms == 500); // no time has passed
  for (int i = 0; i < 20; ++i)
    BOOST_TEST(is(deliver(sink, make_delivery(action_kind::task)), sink_verdict::deferred));
  BOOST_TEST(server.request_count() == 3u);
  // Not a millisecond early ...
  server.set_default(respond(200));
  time->advance(499ms);
  auto almost = deliver(sink, make_delivery(action_kind::task));
  BOOST_TEST(is(almost, sink_verdict::deferred));
  BOOST_TEST(almost.retry_after_ms == 1);
  BOOST_TEST(server.request_count() == 3u);
  // ... and at the open time one probe goes out; it succeeds and the breaker closes.
  time->advance(1ms);
  BOOST_TEST(is(deliver(sink, make_delivery(action_kind::task)), sink_verdict::delivered));
  BOOST_TEST(server.request_count() == 4u);
  for (int i = 0; i < 3; ++i)
    BOOST_TEST(is(deliver(sink, make_delivery(action_kind::task)), sink_verdict::delivered));
  BOOST_TEST(server.request_count() == 7u);
}

BOOST_AUTO_TEST_CASE(a_failed_probe_opens_the_breaker_again) {
  config.breaker_failures = 2;
  config.breaker_open = 300ms;
  config.timeout = 300ms;
  server.push(2, respond(503));
  server.push(never_answer()); // the probe times out
  auto sink = spawn();
  deliver(sink, make_delivery(action_kind::task));
  deliver(sink, make_delivery(action_kind::task));
  time->advance(300ms);
  auto probe = deliver(sink, make_delivery(action_kind::task));
  BOOST_TEST(contains(probe.reason, "timeout after 300 ms"), probe.reason);
  BOOST_TEST(server.request_count() == 3u);
  // Open for a whole period again, counted from the probe's failure.
  auto refused = deliver(sink, make_delivery(action_kind::task));
  BOOST_TEST(contains(refused.reason, "circuit open: timeout"), refused.reason);
  BOOST_TEST(refused.retry_after_ms == 300);
  BOOST_TEST(server.request_count() == 3u);
}

BOOST_AUTO_TEST_CASE(a_half_open_breaker_lets_only_the_probe_through) {
  config.breaker_failures = 1;
  config.breaker_open = 200ms;
  server.push(respond(500));
  server.push(respond_after(500ms, 200)); // the probe, slow
  auto sink = spawn();
  deliver(sink, make_delivery(action_kind::task));
  time->advance(200ms);
  auto probe = self->request(sink, 10s, deliver_atom::value,
                             delivery_list{make_delivery(action_kind::task)});
  BOOST_REQUIRE(server.wait_for_requests(2));
  auto meanwhile = deliver(sink, make_delivery(action_kind::task));
  BOOST_TEST(contains(meanwhile.reason, "half-open"), meanwhile.reason);
  delivery_result probed = retry_later("no answer");
  probe.receive([&](const delivery_result_list& r) { probed = r.at(0); }, [](const caf::error&) {});
  BOOST_TEST(is(probed, sink_verdict::delivered));
  BOOST_TEST(server.request_count() == 2u);
}

BOOST_AUTO_TEST_CASE(client_errors_do_not_count_as_failures) {
  config.breaker_failures = 2;
  config.breaker_open = 10s;
  server.push(respond(500));
  server.push(respond(400));
  server.push(respond(500));
  server.push(respond(404));
  server.push(respond(500));
  auto sink = spawn();
  for (int i = 0; i < 5; ++i) deliver(sink, make_delivery(action_kind::task));
  BOOST_TEST(is(deliver(sink, make_delivery(action_kind::task)), sink_verdict::delivered));
  BOOST_TEST(server.request_count() == 6u);
}

BOOST_AUTO_TEST_CASE(connections_are_kept_alive_and_reused) {
  auto sink = spawn();
  for (int i = 0; i < 10; ++i)
    BOOST_REQUIRE(is(deliver(sink, make_delivery(action_kind::task)), sink_verdict::delivered));
  BOOST_TEST(server.request_count() == 10u);
  BOOST_TEST(server.connection_count() <= 2u);
  std::set<uint64_t> used;
  for (auto& req : server.requests()) used.insert(req.connection);
  BOOST_TEST(used.size() <= 2u);
}

BOOST_AUTO_TEST_CASE(a_burst_of_concurrent_deliveries_is_all_answered) {
  config.max_connections = 8;
  server.set_default(respond_after(5ms, 202));
  auto sink = spawn();
  constexpr size_t burst = 200;
  using handle = decltype(self->request(sink, 30s, deliver_atom::value, delivery_list{}));
  std::vector<handle> waiting;
  std::set<std::string> ids;
  // Half one delivery per request, half in batches of 10: every delivery gets its answer.
  for (size_t i = 0; i < burst;) {
    delivery_list batch;
    for (size_t n = i < burst / 2 ? 1 : 10; n > 0 && i < burst; --n, ++i) {
      batch.push_back(make_delivery(action_kind::task));
      ids.insert(batch.back().id);
    }
    waiting.push_back(self->request(sink, 30s, deliver_atom::value, std::move(batch)));
  }
  size_t delivered_count = 0;
  for (auto& w : waiting)
    w.receive(
      [&](const delivery_result_list& rs) {
        for (auto& r : rs)
          if (is(r, sink_verdict::delivered)) ++delivered_count;
      },
      [](const caf::error& err) { BOOST_TEST_MESSAGE("error: " << message_of(err)); });
  BOOST_TEST(delivered_count == burst);
  auto got = server.requests();
  BOOST_TEST(got.size() == burst);
  std::set<std::string> keys;
  for (auto& req : got) keys.insert(req.header("Idempotency-Key"));
  BOOST_TEST((keys == ids));
  BOOST_TEST(server.connection_count() <= 8u); // max_connections holds, the rest waited
}

BOOST_AUTO_TEST_CASE(invalid_configuration_is_refused_naming_the_key) {
  auto refused = [&](webhook_config c, action_kind kind, const std::string& key) {
    auto sink = spawn_webhook_sink(sys, kind, c);
    BOOST_TEST(!sink, "accepted " << c.url);
    if (!sink) BOOST_TEST(contains(message_of(sink.error()), key), message_of(sink.error()));
  };
  auto with_url = [&](std::string url) {
    auto c = config;
    c.url = std::move(url);
    return c;
  };
  refused(with_url(""), action_kind::task, "dispatch.sinks.task.url: required");
  refused(with_url("ftp://example.com"), action_kind::mail, "dispatch.sinks.mail.url");
  refused(with_url("example.com/x"), action_kind::task, "dispatch.sinks.task.url");
  refused(with_url("file:///etc/passwd"), action_kind::task, "dispatch.sinks.task.url");
  refused(with_url("http://"), action_kind::task, "dispatch.sinks.task.url");
  refused(with_url("http://h/base?x=1"), action_kind::task, "dispatch.sinks.task.url");
  auto c = config;
  c.headers = {{"Authorization", "Bearer x"}, {"Bad Name", "v"}};
  refused(c, action_kind::task, "dispatch.sinks.task.headers[1]");
  c.headers = {{"X-Split", "a\r\nInjected: yes"}};
  refused(c, action_kind::task, "dispatch.sinks.task.headers[0]");
  c = config;
  c.timeout = 0ms;
  refused(c, action_kind::task, "dispatch.sinks.timeout");
  c = config;
  c.clock = nullptr;
  refused(c, action_kind::task, "webhook_config.clock");
  auto fine = spawn_webhook_sink(sys, action_kind::task, with_url("HTTPS://Example.com/"));
  BOOST_TEST(static_cast<bool>(fine));
}

BOOST_AUTO_TEST_CASE(a_sink_stopped_with_requests_in_flight_lets_go_of_them) {
  server.set_default(never_answer());
  config.timeout = 10s;
  auto sink = spawn();
  for (int i = 0; i < 5; ++i)
    self->send(sink, deliver_atom::value, delivery_list{make_delivery(action_kind::task)});
  BOOST_REQUIRE(server.wait_for_requests(5));
  caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
  // A stopped sink answers nothing more; its thread is gone (the actor system's end waits for it).
  auto after = self->request(sink, 1s, deliver_atom::value,
                             delivery_list{make_delivery(action_kind::task)});
  bool answered = false;
  after.receive([&](const delivery_result_list&) { answered = true; }, [](const caf::error&) {});
  BOOST_TEST(!answered);
}

BOOST_AUTO_TEST_CASE(a_sink_nobody_references_stops_by_itself) {
  server.set_default(never_answer());
  // Its promises reference the sink (CAF 0.17): it stops once the request has timed out.
  config.timeout = 300ms;
  {
    auto sink = spawn_webhook_sink(sys, action_kind::task, config);
    BOOST_REQUIRE(sink);
    self->send(*sink, deliver_atom::value, delivery_list{make_delivery(action_kind::task)});
    BOOST_REQUIRE(server.wait_for_requests(1));
  }
  // The actor system's destructor (end of the test) waits for every actor: it would hang if the
  // HTTP thread kept the sink alive.
}

BOOST_AUTO_TEST_SUITE_END()
