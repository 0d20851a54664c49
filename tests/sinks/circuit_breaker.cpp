// Tests of the circuit breaker as a pure class: the test owns the clock, so every transition
// (open after N failures, refuse while open, one probe, close or reopen) is checked exactly.
#include <boost/test/unit_test.hpp>

#include "sinks/circuit_breaker.hpp"

using namespace dispatch;
using namespace std::chrono_literals;

namespace {

using state = dispatch::circuit_breaker::state;
using time_point = dispatch::circuit_breaker::time_point;

const time_point t0 = time_point{} + 1h;

} // namespace

BOOST_AUTO_TEST_SUITE(breaker)

BOOST_AUTO_TEST_CASE(stays_closed_below_the_threshold_and_a_success_resets_the_count) {
  dispatch::circuit_breaker b{3, 1000ms};
  b.record_failure(t0);
  b.record_failure(t0);
  BOOST_TEST(b.allow(t0));
  BOOST_TEST(b.consecutive_failures() == 2u);
  b.record_success();
  BOOST_TEST(b.consecutive_failures() == 0u);
  b.record_failure(t0);
  b.record_failure(t0);
  BOOST_TEST((b.current() == state::closed)); // not consecutive: never three in a row
  BOOST_TEST(b.allow(t0));
  BOOST_TEST(b.remaining(t0).count() == 0);
}

BOOST_AUTO_TEST_CASE(opens_after_n_failures_and_refuses_until_its_time_is_up) {
  dispatch::circuit_breaker b{3, 1000ms};
  for (int i = 0; i < 3; ++i) b.record_failure(t0);
  BOOST_TEST((b.current() == state::open));
  BOOST_TEST(!b.allow(t0));
  BOOST_TEST(b.remaining(t0).count() == 1000);
  BOOST_TEST(!b.allow(t0 + 999ms));
  BOOST_TEST(b.remaining(t0 + 400ms).count() == 600);
  BOOST_TEST((b.current() == state::open));
}

BOOST_AUTO_TEST_CASE(lets_one_probe_through_and_a_successful_probe_closes_it) {
  dispatch::circuit_breaker b{2, 1000ms};
  b.record_failure(t0);
  b.record_failure(t0);
  BOOST_TEST(b.allow(t0 + 1000ms)); // the probe
  BOOST_TEST((b.current() == state::half_open));
  BOOST_TEST(!b.allow(t0 + 1001ms)); // only one at a time
  BOOST_TEST(!b.allow(t0 + 5000ms));
  BOOST_TEST(b.remaining(t0 + 1001ms).count() == 0);
  b.record_success();
  BOOST_TEST((b.current() == state::closed));
  BOOST_TEST(b.allow(t0 + 1002ms));
  BOOST_TEST(b.allow(t0 + 1003ms));
}

BOOST_AUTO_TEST_CASE(a_failed_probe_reopens_it_for_a_full_period) {
  dispatch::circuit_breaker b{2, 1000ms};
  b.record_failure(t0);
  b.record_failure(t0);
  BOOST_TEST(b.allow(t0 + 1500ms));
  b.record_failure(t0 + 1800ms);
  BOOST_TEST((b.current() == state::open));
  BOOST_TEST(!b.allow(t0 + 2700ms));
  BOOST_TEST(b.remaining(t0 + 2700ms).count() == 100);
  BOOST_TEST(b.allow(t0 + 2800ms));
}

BOOST_AUTO_TEST_CASE(late_failures_while_open_do_not_extend_it) {
  dispatch::circuit_breaker b{2, 1000ms};
  b.record_failure(t0);
  b.record_failure(t0);
  b.record_failure(t0 + 900ms); // a request that went out before it opened
  BOOST_TEST(b.remaining(t0 + 900ms).count() == 100);
  BOOST_TEST(b.allow(t0 + 1000ms));
}

BOOST_AUTO_TEST_CASE(zero_failures_disables_it) {
  dispatch::circuit_breaker b{0, 1000ms};
  for (int i = 0; i < 1000; ++i) b.record_failure(t0);
  BOOST_TEST((b.current() == state::closed));
  BOOST_TEST(b.allow(t0));
}

BOOST_AUTO_TEST_CASE(a_zero_open_time_probes_at_once) {
  dispatch::circuit_breaker b{1, 0ms};
  b.record_failure(t0);
  BOOST_TEST((b.current() == state::open));
  BOOST_TEST(b.allow(t0));
  BOOST_TEST((b.current() == state::half_open));
  BOOST_TEST(!b.allow(t0));
}

BOOST_AUTO_TEST_CASE(states_have_names) {
  BOOST_TEST(std::string{to_string(state::closed)} == "closed");
  BOOST_TEST(std::string{to_string(state::open)} == "open");
  BOOST_TEST(std::string{to_string(state::half_open)} == "half-open");
}

BOOST_AUTO_TEST_SUITE_END()
