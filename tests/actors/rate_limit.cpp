// Tests of the token bucket as a plain class: the test owns the clock and steps it, so every
// count is exact.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "actors/rate_limit.hpp"

using namespace dispatch;

namespace {

/// A clock the test sets by hand.
struct stepped_clock : dispatch::clock {
  std::atomic<timestamp_ms> at{1'700'000'000'000};
  timestamp_ms now() const noexcept override { return at.load(); }
};

struct fixture {
  std::shared_ptr<stepped_clock> time = std::make_shared<stepped_clock>();

  /// Steps the clock `steps` times by `step_ms`, taking up to `wanted` after each step; answers
  /// how many were taken in all.
  size_t take_stepping(rate_limiter& bucket, int steps, timestamp_ms step_ms, size_t wanted) {
    size_t taken = 0;
    for (int i = 0; i < steps; ++i) {
      time->at += step_ms;
      taken += bucket.take(wanted);
    }
    return taken;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(rate_limit)

BOOST_FIXTURE_TEST_CASE(no_rate_means_no_bucket, fixture) {
  BOOST_TEST(!make_rate_limiter(0, time));
  BOOST_TEST(make_rate_limiter(1, time)->per_second() == 1.0);
}

BOOST_FIXTURE_TEST_CASE(starts_with_one_token_then_gives_the_rate_and_bursts_fifty_ms, fixture) {
  auto bucket = make_rate_limiter(1000, time);
  BOOST_TEST(bucket->take(500) == 1u);
  BOOST_TEST(bucket->take(1) == 0u);
  BOOST_TEST(bucket->ready_at(1) == time->at + 1);
  BOOST_TEST(bucket->ready_at(10) == time->at + 10);
  BOOST_TEST(bucket->ready_at(500) == time->at + 25); // never more than half a bucket
  // Over a stepped second, taking as often as we like, exactly the rate comes out.
  BOOST_TEST(take_stepping(*bucket, 1000, 1, 7) == 1000u);
  // Idle for an hour: the bucket holds a burst, not an hour's worth.
  time->at += 3'600'000;
  BOOST_TEST(bucket->take(100000) == 50u);
}

BOOST_FIXTURE_TEST_CASE(a_slow_rate_accrues_fractions_of_a_token, fixture) {
  auto bucket = make_rate_limiter(3, time); // one every 333.3 ms
  BOOST_TEST(bucket->take(5) == 1u);
  BOOST_TEST(bucket->ready_at(1) == time->at + 334);
  time->at += 333;
  BOOST_TEST(bucket->take(1) == 0u);
  time->at += 1;
  BOOST_TEST(bucket->take(1) == 1u);
  // 30 s taken in 100 ms steps: 90 tokens, with no drift from rounding and nothing lost to the
  // cap when a step comes after the token was due.
  BOOST_TEST(take_stepping(*bucket, 300, 100, 1) == 90u);
  // Idle: the bucket holds two tokens, the least it holds.
  time->at += 60'000;
  BOOST_TEST(bucket->take(10) == 2u);
}

BOOST_FIXTURE_TEST_CASE(takers_on_several_threads_share_one_rate, fixture) {
  // Four takers (the emitters of four shards) share 200 a second. At each of a series of fixed
  // clock times they all take at once, as fast as they can, until the bucket is dry: together
  // they get exactly what the bucket holds then, never a token twice.
  auto bucket = make_rate_limiter(200, time); // holds 10 tokens (50 ms) at most
  size_t expected = 0;
  size_t taken = 0;
  for (int round = 0; round < 200; ++round) {
    // A full bucket (10) after a quiet spell, or 0 to 9 tokens (one every 5 ms) after a drain.
    auto step = round % 3 == 0 ? 1000 : 5 * (round % 10);
    time->at += step;
    expected += round % 3 == 0 ? 10 : static_cast<size_t>(round % 10);
    std::atomic<size_t> got{0};
    std::vector<std::thread> takers;
    for (int i = 0; i < 4; ++i)
      takers.emplace_back([&] {
        // One token at a time: the four interleave as much as the scheduler lets them.
        while (bucket->take(1) == 1) ++got;
      });
    for (auto& t : takers) t.join();
    taken += got.load();
    BOOST_REQUIRE_EQUAL(taken, expected);
  }
  BOOST_TEST(bucket->take(1) == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_clock_stepping_back_adds_nothing_and_holds_nothing_back, fixture) {
  auto bucket = make_rate_limiter(10, time);
  BOOST_TEST(bucket->take(1) == 1u);
  time->at -= 60'000;
  BOOST_TEST(bucket->take(1) == 0u); // the step back itself adds nothing
  // Accrual goes on from the new time: a token 100 ms later, not 60 s and 100 ms later.
  time->at += 99;
  BOOST_TEST(bucket->take(1) == 0u);
  time->at += 1;
  BOOST_TEST(bucket->take(1) == 1u);
}

BOOST_FIXTURE_TEST_CASE(tokens_given_back_serve_the_next_taker, fixture) {
  auto bucket = make_rate_limiter(10, time); // holds two tokens at most
  BOOST_TEST(bucket->take(5) == 1u);
  bucket->give_back(1); // its delivery could not go
  BOOST_TEST(bucket->ready_at(1) == time->at);
  BOOST_TEST(bucket->take(5) == 1u);
  // Never more than the bucket holds, however much comes back.
  bucket->give_back(50);
  BOOST_TEST(bucket->take(50) == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
