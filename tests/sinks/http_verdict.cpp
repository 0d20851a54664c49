// Tests of the status and Retry-After classification: which statuses are delivered, retried or
// permanent, what the reasons say, and every Retry-After form (seconds, three date forms, junk).
#include <boost/test/unit_test.hpp>

#include "sinks/http_verdict.hpp"

using namespace dispatch;

namespace {

const std::string url = "http://127.0.0.1:1234/tasks/v1/";
const std::time_t now = 1700000000; // Tue, 14 Nov 2023 22:13:20 GMT

delivery_result verdict(long status, const std::string& body = "",
                        const std::string& retry_after = "") {
  return verdict_of_response(status, url, body, retry_after, now);
}

bool is(const delivery_result& r, sink_verdict v) {
  return r.verdict == v;
}

} // namespace

BOOST_AUTO_TEST_SUITE(http_verdict)

BOOST_AUTO_TEST_CASE(two_hundreds_are_delivered) {
  for (long status : {200L, 201L, 202L, 204L, 299L})
    BOOST_TEST(is(verdict(status), sink_verdict::delivered), "status " << status);
}

BOOST_AUTO_TEST_CASE(timeouts_throttling_and_server_errors_are_retried) {
  for (long status : {408L, 429L, 500L, 502L, 503L, 504L, 599L}) {
    auto r = verdict(status, "busy");
    BOOST_TEST(is(r, sink_verdict::retry), "status " << status);
    BOOST_TEST(r.reason == "HTTP " + std::to_string(status) + " from " + url);
    BOOST_TEST(r.retry_after_ms == 0);
  }
}

BOOST_AUTO_TEST_CASE(other_statuses_are_permanent_and_quote_the_body) {
  for (long status : {100L, 301L, 304L, 400L, 401L, 403L, 404L, 409L, 422L, 600L}) {
    auto r = verdict(status, R"({"code":15,"message":"bad field"})");
    BOOST_TEST(is(r, sink_verdict::permanent), "status " << status);
    BOOST_TEST(r.reason.find("HTTP " + std::to_string(status) + " from " + url)
               != std::string::npos);
    BOOST_TEST(r.reason.find("bad field") != std::string::npos);
  }
  BOOST_TEST(verdict(404).reason == "HTTP 404 from " + url); // no body, no colon
}

BOOST_AUTO_TEST_CASE(a_long_body_is_cut_and_control_characters_blanked) {
  auto r = verdict(400, std::string(100000, 'x'));
  BOOST_TEST(r.reason.size() < 300u);
  BOOST_TEST(r.reason.substr(r.reason.size() - 3) == "...");
  BOOST_TEST(quote_body("a\r\nb\tc\x7f") == "a  b c ");
  // A cut never splits a UTF-8 character: 199 ASCII bytes then a two-byte "é".
  auto quoted = quote_body(std::string(199, 'a') + "\xc3\xa9" + "tail");
  BOOST_TEST(quoted == std::string(199, 'a') + "...");
  BOOST_TEST(quote_body(std::string(200, 'a')) == std::string(200, 'a'));
}

BOOST_AUTO_TEST_CASE(retry_after_in_seconds_is_the_floor) {
  BOOST_TEST(verdict(429, "", "2").retry_after_ms == 2000);
  BOOST_TEST(verdict(503, "", " 120 ").retry_after_ms == 120000);
  BOOST_TEST(verdict(500, "", "0").retry_after_ms == 0);
  BOOST_TEST(retry_after_floor_ms("99999999999999999999999", now) == max_retry_after_ms);
  BOOST_TEST(retry_after_floor_ms("90000", now) == max_retry_after_ms); // 25 h: cut to a day
}

BOOST_AUTO_TEST_CASE(retry_after_as_an_http_date) {
  BOOST_TEST(retry_after_floor_ms("Tue, 14 Nov 2023 22:13:50 GMT", now) == 30000);   // RFC 1123
  BOOST_TEST(retry_after_floor_ms("Tuesday, 14-Nov-23 22:13:50 GMT", now) == 30000); // RFC 850
  BOOST_TEST(retry_after_floor_ms("Tue Nov 14 22:13:50 2023", now) == 30000);        // asctime
  BOOST_TEST(retry_after_floor_ms("Tue, 14 Nov 2023 22:13:20 GMT", now) == 0);       // now
  BOOST_TEST(retry_after_floor_ms("Mon, 13 Nov 2023 22:13:50 GMT", now) == 0);       // past
  BOOST_TEST(verdict(429, "", "Wed, 15 Nov 2023 22:13:20 GMT").retry_after_ms == 86400000);
}

BOOST_AUTO_TEST_CASE(junk_retry_after_is_ignored) {
  for (auto junk : {"", "   ", "soon", "1.5", "0x10", "2 seconds"})
    BOOST_TEST(retry_after_floor_ms(junk, now) == 0, "value '" << junk << "'");
  BOOST_TEST(verdict(429, "", "soon").retry_after_ms == 0);
  BOOST_TEST(is(verdict(429, "", "soon"), sink_verdict::retry));
}

BOOST_AUTO_TEST_CASE(a_retry_after_on_a_permanent_answer_changes_nothing) {
  auto r = verdict(400, "", "5");
  BOOST_TEST(is(r, sink_verdict::permanent));
  BOOST_TEST(r.retry_after_ms == 0);
}

BOOST_AUTO_TEST_SUITE_END()
