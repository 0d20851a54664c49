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
  BOOST_TEST(make_rate_limiter(1, time)->per_second() == 1u);
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
  // Four takers (the emitters of four shards) share 200 a second. The clock moves 10 s in 1 ms
  // steps, each once the takers drained what the step added: together they get exactly the
  // first token plus 2000, never a token twice.
  auto bucket = make_rate_limiter(200, time);
  std::atomic<size_t> taken{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> takers;
  for (int i = 0; i < 4; ++i)
    takers.emplace_back([&] {
      while (!done.load()) {
        taken += bucket->take(3);
        std::this_thread::yield();
      }
    });
  auto drained = [&](size_t expected) {
    for (int spins = 0; spins < 10'000'000; ++spins) {
      if (taken.load() >= expected) return true;
      std::this_thread::yield();
    }
    return false;
  };
  auto all_drained = drained(1);
  for (int ms = 1; ms <= 10000 && all_drained; ++ms) {
    time->at += 1;
    all_drained = drained(1 + static_cast<size_t>(ms) / 5); // a token every 5 ms
  }
  done = true;
  for (auto& t : takers) t.join();
  BOOST_TEST(all_drained);
  BOOST_TEST(taken.load() == 2001u);
  BOOST_TEST(bucket->take(1) == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_clock_stepping_back_adds_nothing, fixture) {
  auto bucket = make_rate_limiter(10, time);
  BOOST_TEST(bucket->take(1) == 1u);
  time->at -= 60'000;
  BOOST_TEST(bucket->take(1) == 0u);
  time->at += 60'000 + 100;
  BOOST_TEST(bucket->take(1) == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
