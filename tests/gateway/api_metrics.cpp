// /health and /metrics over the HTTP API, plus the pure pieces behind them and behind routing:
// the Prometheus text, the histogram lines, the projection and the token compare.
#include <boost/test/unit_test.hpp>

#include <regex>

#include "api_fixture.hpp"
#include "gateway/auth.hpp"
#include "gateway/metrics_text.hpp"
#include "gateway/render.hpp"
#include "gateway/routes.hpp"

using namespace dispatch;
using namespace dispatch::test;

namespace {

struct started : api_fixture {
  started() { start(); }

  // The value of one series line (`name{labels}` exactly), or -1 when absent.
  double series(const std::string& text, const std::string& name) {
    std::istringstream lines{text};
    std::string line;
    while (std::getline(lines, line))
      if (line.compare(0, name.size() + 1, name + " ") == 0)
        return std::stod(line.substr(name.size() + 1));
    return -1;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(api_metrics, started)

BOOST_AUTO_TEST_CASE(health_is_ok_with_a_running_engine) {
  auto res = ok("GET", "/health");
  BOOST_TEST(res.body == R"({"status":"ok"})");
  BOOST_TEST(ok("GET", "/health/").status == 200u);
  // The SDK's per-service health() calls; "health" is not taken for a dispatcher id.
  for (auto target : {"/dispatchers/v1/health", "/events/v1/health", "/tasks/v1/health",
                      "/mail/v1/health", "/deliveries/v1/health"})
    BOOST_TEST(ok("GET", target).body == R"({"status":"ok"})", target);
}

BOOST_AUTO_TEST_CASE(metrics_show_the_expected_series_and_they_move) {
  auto before = ok("GET", "/metrics");
  BOOST_TEST(before.content_type.find("text/plain; version=0.0.4") == 0u);
  auto& text = before.body;
  for (auto name :
       {"dispatch_events_total{result=\"accepted\"}", "dispatch_events_total{result=\"duplicate\"}",
        "dispatch_events_total{result=\"rejected\"}", "dispatch_deliveries_created_total",
        "dispatch_delivery_outcomes_total{outcome=\"delivered\"}",
        "dispatch_delivery_outcomes_total{outcome=\"retry\"}", "dispatch_dead_letters_total",
        "dispatch_deliveries_replayed_total", "dispatch_restarts_total",
        "dispatch_storage_probes_total", "dispatch_queue_depth{queue=\"inbox\"}",
        "dispatch_queue_depth{queue=\"pending\"}", "dispatch_queue_depth{queue=\"in_flight\"}",
        "dispatch_http_requests_total", "dispatch_http_connections_open",
        "dispatch_http_request_duration_seconds_bucket{le=\"+Inf\"}",
        "dispatch_http_request_duration_seconds_count",
        "dispatch_delivery_latency_seconds_bucket{le=\"+Inf\"}",
        "dispatch_delivery_latency_seconds_count"})
    BOOST_TEST(series(text, name) >= 0, name);
  BOOST_TEST(text.find("# TYPE dispatch_http_request_duration_seconds histogram") != text.npos);
  BOOST_TEST(series(text, "dispatch_events_total{result=\"accepted\"}") == 0);
  BOOST_TEST(series(text, "dispatch_delivery_latency_seconds_count") == 0);
  create_task_dispatcher("counted");
  auto id = std::string{"bbbbbbbbbbbbbbbbbbbbbbbb"};
  ok("POST", "/events/v1/", R"({"type":"counted","id":")" + id + "\"}");
  ok("POST", "/events/v1/", R"({"type":"counted","id":")" + id + "\"}");
  auto requests_before = series(text, "dispatch_http_requests_total");
  auto answered_before = series(text, "dispatch_http_request_duration_seconds_bucket{le=\"+Inf\"}");
  BOOST_REQUIRE(eventually([&] {
    auto now = ok("GET", "/metrics").body;
    return series(now, "dispatch_delivery_outcomes_total{outcome=\"delivered\"}") == 1;
  }));
  auto after = ok("GET", "/metrics").body;
  BOOST_TEST(series(after, "dispatch_events_total{result=\"accepted\"}") == 1);
  BOOST_TEST(series(after, "dispatch_events_total{result=\"duplicate\"}") == 1);
  BOOST_TEST(series(after, "dispatch_deliveries_created_total") == 1);
  BOOST_TEST(series(after, "dispatch_delivery_latency_seconds_count") == 1);
  BOOST_TEST(series(after, "dispatch_delivery_latency_seconds_bucket{le=\"+Inf\"}") == 1);
  BOOST_TEST(series(after, "dispatch_delivery_latency_seconds_bucket{le=\"0.0001\"}") <= 1);
  // The server counts every request, this test's included.
  BOOST_TEST(series(after, "dispatch_http_requests_total") >= requests_before + 4);
  BOOST_TEST(series(after, "dispatch_http_responses_total{class=\"2xx\"}") >= 5);
  BOOST_TEST(series(after, "dispatch_http_connections_open") >= 1);
  auto answered = series(after, "dispatch_http_request_duration_seconds_bucket{le=\"+Inf\"}");
  BOOST_TEST(answered >= answered_before + 4);
  BOOST_TEST(series(after, "dispatch_http_request_duration_seconds_count") == answered);
  BOOST_TEST(series(after, "dispatch_http_request_duration_seconds_sum") > 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(api_units)

BOOST_AUTO_TEST_CASE(histogram_buckets_are_cumulative_and_end_with_inf) {
  latency_snapshot s;
  s.counts.assign(latency_bounds.size() + 1, 0);
  s.counts[0] = 2;     // <= 0.0001
  s.counts[12] = 1;    // <= 1
  s.counts.back() = 4; // beyond an hour
  s.count = 7;
  s.sum_seconds = 20000.5;
  auto text = histogram_text("x_seconds", "help", s);
  BOOST_TEST(text.find("x_seconds_bucket{le=\"0.0001\"} 2\n") != text.npos);
  BOOST_TEST(text.find("x_seconds_bucket{le=\"0.00025\"} 2\n") != text.npos);
  BOOST_TEST(text.find("x_seconds_bucket{le=\"1\"} 3\n") != text.npos);
  BOOST_TEST(text.find("x_seconds_bucket{le=\"3600\"} 3\n") != text.npos);
  BOOST_TEST(text.find("x_seconds_bucket{le=\"+Inf\"} 7\n") != text.npos);
  BOOST_TEST(text.find("x_seconds_sum 20000.5\n") != text.npos);
  BOOST_TEST(text.find("x_seconds_count 7\n") != text.npos);
  std::regex bucket{R"(x_seconds_bucket\{le="[^"]+"\} \d+)"};
  size_t buckets = 0;
  std::istringstream lines{text};
  for (std::string line; std::getline(lines, line);)
    buckets += std::regex_match(line, bucket) ? 1 : 0;
  BOOST_TEST(buckets == latency_bounds.size() + 1);
}

BOOST_AUTO_TEST_CASE(routes_split_and_match) {
  auto t = split("/dispatchers/v1/?eq(a,b)?x");
  BOOST_TEST(t.path == "/dispatchers/v1");
  BOOST_TEST(t.query == "eq(a,b)?x");
  BOOST_TEST(split("/").path == "/");
  auto m = match_route("POST", "/deliveries/v1/replay");
  BOOST_TEST((m.kind == match_kind::found && m.route == route_id::deliveries_replay));
  m = match_route("DELETE", "/deliveries/v1/replay");
  BOOST_TEST((m.kind == match_kind::wrong_method));
  BOOST_TEST(m.allowed == "POST");
  m = match_route("PUT", "/dispatchers/v1/a/actions/b");
  BOOST_TEST((m.kind == match_kind::found && m.route == route_id::action_update));
  BOOST_TEST(m.params == (std::vector<std::string>{"a", "b"}), boost::test_tools::per_element());
  BOOST_TEST((match_route("GET", "/dispatchers/v1/a/actions").kind == match_kind::wrong_method));
  BOOST_TEST((match_route("GET", "/dispatchers/v1/a/b").kind == match_kind::unknown_path));
}

BOOST_AUTO_TEST_CASE(projection_keeps_id_and_selected_branches_in_order) {
  std::string record = R"({"z":0,"id":"i","data":{"a":1,"event":{"type":"t","x":2}},"s":"new"})";
  BOOST_TEST(project(record, {}) == record);
  BOOST_TEST(project(record, {"s"}) == R"({"id":"i","s":"new"})");
  BOOST_TEST(project(record, {"data.event.type", "z"})
             == R"({"z":0,"id":"i","data":{"event":{"type":"t"}}})");
  BOOST_TEST(project(record, {"s.deeper", "missing"}) == R"({"id":"i"})");
  BOOST_TEST(project(record, {"data", "data.a"})
             == R"({"id":"i","data":{"a":1,"event":{"type":"t","x":2}}})");
  std::string with_array
    = R"({"id":"d","actions":[{"id":"a","type":"task","f":1},{"type":"mail"},2]})";
  BOOST_TEST(project(with_array, {"actions.type"})
             == R"({"id":"d","actions":[{"type":"task"},{"type":"mail"}]})");
}

BOOST_AUTO_TEST_CASE(tokens_compare_exactly) {
  BOOST_TEST(constant_time_equal("abc", "abc"));
  BOOST_TEST(!constant_time_equal("abc", "abd"));
  BOOST_TEST(!constant_time_equal("abc", "abcd"));
  BOOST_TEST(!constant_time_equal("", "a"));
  BOOST_TEST(bearer_accepted("Bearer t1", {"t0", "t1"}));
  BOOST_TEST(bearer_accepted("BEARER t1", {"t1"}));
  BOOST_TEST(!bearer_accepted("Bearer t1", {}));
  BOOST_TEST(!bearer_accepted("Bearer ", {""}));
  BOOST_TEST(!bearer_accepted("Token t1", {"t1"}));
}

BOOST_AUTO_TEST_SUITE_END()
