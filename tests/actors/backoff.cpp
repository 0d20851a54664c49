// Tests of the retry arithmetic: ceilings, full jitter, attempt and age budgets, Retry-After floors
// and overflow safety, with seeded generators so that every run draws the same numbers.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <limits>
#include <set>

#include "actors/backoff.hpp"

using namespace dispatch;
using std::chrono::milliseconds;

namespace {

retry_policy policy_of(int64_t initial, double multiplier, int64_t cap) {
  retry_policy p;
  p.initial = milliseconds{initial};
  p.multiplier = multiplier;
  p.cap = milliseconds{cap};
  p.max_attempts = 10;
  p.max_age = milliseconds{24 * 60 * 60 * 1000};
  return p;
}

constexpr timestamp_ms t0 = 1'800'000'000'000; // a plausible "now"

} // namespace

BOOST_AUTO_TEST_SUITE(backoff)

BOOST_AUTO_TEST_CASE(ceiling_doubles_then_caps) {
  auto p = policy_of(100, 2.0, 1000);
  BOOST_TEST(backoff_ceiling(p, 1).count() == 100);
  BOOST_TEST(backoff_ceiling(p, 2).count() == 200);
  BOOST_TEST(backoff_ceiling(p, 3).count() == 400);
  BOOST_TEST(backoff_ceiling(p, 4).count() == 800);
  BOOST_TEST(backoff_ceiling(p, 5).count() == 1000);
  BOOST_TEST(backoff_ceiling(p, 6).count() == 1000);
}

BOOST_AUTO_TEST_CASE(ceiling_of_attempt_zero_is_initial) {
  auto p = policy_of(100, 2.0, 1000);
  BOOST_TEST(backoff_ceiling(p, 0).count() == 100);
}

BOOST_AUTO_TEST_CASE(multiplier_at_most_one_does_not_grow) {
  auto p = policy_of(100, 1.0, 1000);
  BOOST_TEST(backoff_ceiling(p, 7).count() == 100);
  p.multiplier = 0.5;
  BOOST_TEST(backoff_ceiling(p, 7).count() == 100);
}

BOOST_AUTO_TEST_CASE(initial_above_cap_is_capped) {
  auto p = policy_of(5000, 2.0, 1000);
  BOOST_TEST(backoff_ceiling(p, 1).count() == 1000);
}

BOOST_AUTO_TEST_CASE(huge_attempt_counts_do_not_overflow) {
  auto p = policy_of(1000, 2.0, 5 * 60 * 1000);
  auto big = std::numeric_limits<uint32_t>::max();
  BOOST_TEST(backoff_ceiling(p, 64).count() == 5 * 60 * 1000);
  BOOST_TEST(backoff_ceiling(p, 1100).count() == 5 * 60 * 1000); // 2^1099 is beyond double
  BOOST_TEST(backoff_ceiling(p, big).count() == 5 * 60 * 1000);
  std::mt19937_64 rng{7};
  auto d = backoff_delay(p, big, rng).count();
  BOOST_TEST(d >= 0);
  BOOST_TEST(d <= 5 * 60 * 1000);
  p.max_attempts = big;
  auto next = next_attempt_time(p, big - 1, t0, t0, 0, rng);
  BOOST_TEST(next >= t0);
  BOOST_TEST(next <= t0 + 5 * 60 * 1000);
}

BOOST_AUTO_TEST_CASE(full_jitter_stays_within_zero_and_ceiling) {
  auto p = policy_of(100, 2.0, 1000);
  std::mt19937_64 rng{42};
  for (uint32_t attempts = 1; attempts <= 8; ++attempts) {
    auto ceiling = backoff_ceiling(p, attempts).count();
    std::set<int64_t> seen;
    for (int i = 0; i < 2000; ++i) {
      auto d = backoff_delay(p, attempts, rng).count();
      BOOST_TEST_REQUIRE(d >= 0);
      BOOST_TEST_REQUIRE(d <= ceiling);
      seen.insert(d);
    }
    // Not a constant: many distinct draws, spread over the lower and the upper half.
    BOOST_TEST(seen.size() > 20u);
    BOOST_TEST(*seen.begin() < ceiling / 2);
    BOOST_TEST(*seen.rbegin() > ceiling / 2);
  }
}

BOOST_AUTO_TEST_CASE(same_seed_draws_the_same_delays) {
  auto p = policy_of(100, 2.0, 10000);
  std::mt19937_64 a{9};
  std::mt19937_64 b{9};
  for (int i = 0; i < 50; ++i)
    BOOST_TEST(backoff_delay(p, 5, a).count() == backoff_delay(p, 5, b).count());
}

BOOST_AUTO_TEST_CASE(next_attempt_lies_between_now_and_now_plus_ceiling) {
  auto p = policy_of(100, 2.0, 1000);
  std::mt19937_64 rng{1};
  for (int i = 0; i < 500; ++i) {
    auto next = next_attempt_time(p, 3, t0, t0 + 10, 0, rng);
    BOOST_TEST_REQUIRE(next >= t0 + 10);
    BOOST_TEST_REQUIRE(next <= t0 + 10 + 400);
  }
}

BOOST_AUTO_TEST_CASE(attempts_limit_spends_the_budget) {
  auto p = policy_of(100, 2.0, 1000);
  p.max_attempts = 3;
  std::mt19937_64 rng{3};
  BOOST_TEST(next_attempt_time(p, 1, t0, t0, 0, rng) != 0);
  BOOST_TEST(next_attempt_time(p, 2, t0, t0, 0, rng) != 0);
  BOOST_TEST(next_attempt_time(p, 3, t0, t0, 0, rng) == 0);
  BOOST_TEST(next_attempt_time(p, 4, t0, t0, 0, rng) == 0);
}

BOOST_AUTO_TEST_CASE(age_limit_spends_the_budget) {
  auto p = policy_of(100, 2.0, 1000);
  p.max_age = milliseconds{60'000};
  std::mt19937_64 rng{4};
  // Made a minute ago: any retry, however soon, falls beyond the age budget.
  BOOST_TEST(next_attempt_time(p, 1, t0 - 60'000, t0, 0, rng) == 0);
  // Made just now: a retry within a second is inside the budget.
  BOOST_TEST(next_attempt_time(p, 1, t0, t0, 0, rng) != 0);
  // A Retry-After floor that pushes the next attempt beyond the age budget also spends it.
  BOOST_TEST(next_attempt_time(p, 1, t0, t0, 120'000, rng) == 0);
}

// A deferred delivery (not tried) waits the sink's time, whatever its attempts; only age ends it.
BOOST_AUTO_TEST_CASE(a_deferral_waits_its_time_within_the_age_budget) {
  auto p = policy_of(100, 2.0, 1000);
  p.max_age = milliseconds{60'000};
  BOOST_TEST(deferred_attempt_time(p, t0, t0, 500) == t0 + 500);
  BOOST_TEST(deferred_attempt_time(p, t0, t0, 0) == t0 + 1); // never "at once" in a loop
  BOOST_TEST(deferred_attempt_time(p, t0, t0, -7) == t0 + 1);
  BOOST_TEST(deferred_attempt_time(p, t0, t0, 60'000) == t0 + 60'000); // the last moment of its age
  BOOST_TEST(deferred_attempt_time(p, t0, t0, 60'001) == 0);
  BOOST_TEST(deferred_attempt_time(p, t0 - 60'000, t0, 1) == 0);
  p.max_age = milliseconds{std::numeric_limits<int64_t>::max()};
  BOOST_TEST(deferred_attempt_time(p, t0, t0, std::numeric_limits<int64_t>::max())
             == std::numeric_limits<int64_t>::max());
}

BOOST_AUTO_TEST_CASE(retry_after_floor_is_respected) {
  auto p = policy_of(100, 2.0, 1000);
  std::mt19937_64 rng{5};
  for (int i = 0; i < 200; ++i)
    BOOST_TEST_REQUIRE(next_attempt_time(p, 1, t0, t0, 5000, rng) == t0 + 5000);
  // A floor below the jittered delay does not shorten it: the draw is still within the ceiling.
  for (int i = 0; i < 200; ++i) {
    auto next = next_attempt_time(p, 4, t0, t0, 10, rng);
    BOOST_TEST_REQUIRE(next >= t0 + 10);
    BOOST_TEST_REQUIRE(next <= t0 + 800);
  }
}

BOOST_AUTO_TEST_CASE(negative_or_huge_retry_after_is_harmless) {
  auto p = policy_of(100, 2.0, 1000);
  p.max_age = milliseconds{std::numeric_limits<int64_t>::max()};
  std::mt19937_64 rng{6};
  auto next = next_attempt_time(p, 1, t0, t0, -5000, rng);
  BOOST_TEST(next >= t0);
  BOOST_TEST(next <= t0 + 100);
  auto far = next_attempt_time(p, 1, t0, t0, std::numeric_limits<int64_t>::max(), rng);
  BOOST_TEST(far == std::numeric_limits<int64_t>::max()); // saturates instead of wrapping
}

BOOST_AUTO_TEST_SUITE_END()
