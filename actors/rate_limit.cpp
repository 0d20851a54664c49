// The token bucket: credit accrues per millisecond of the injected clock, so a test that steps
// that clock sees deliveries at exact times.
#include "actors/rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace dispatch {

namespace {

/// How much time's worth of tokens the bucket holds.
constexpr int64_t burst_ms = 50;

} // namespace

rate_limiter::rate_limiter(double per_second, clock_ptr clock)
    : milli_per_second_(std::max<int64_t>(std::llround(per_second * 1000), 1)),
      clock_(std::move(clock)) {
  // Two tokens at least: an emitter that wakes a little late for its token keeps the credit that
  // accrued meanwhile instead of losing it to the cap (which would lower the rate). It starts with
  // one: the first delivery goes at once, the next when its token is due.
  capacity_ = std::max<int64_t>(2 * token, milli_per_second_ * burst_ms);
  credit_ = token;
  refilled_at_ = clock_->now();
}

void rate_limiter::refill(timestamp_ms now) {
  // A wall clock that stepped back adds nothing, and accrual starts again from where it is now:
  // waiting for it to pass the old time again would stall deliveries for the size of the step.
  if (now < refilled_at_) {
    refilled_at_ = now;
    return;
  }
  // Past what fills the bucket, more time adds nothing (and cannot overflow the product).
  auto elapsed = std::min<int64_t>(now - refilled_at_, capacity_ / milli_per_second_ + 1);
  credit_ = std::min(capacity_, credit_ + elapsed * milli_per_second_);
  refilled_at_ = now;
}

size_t rate_limiter::take(size_t wanted) {
  std::lock_guard<std::mutex> guard{mtx_};
  refill(clock_->now());
  auto taken = std::min<int64_t>(static_cast<int64_t>(std::min<size_t>(wanted, INT32_MAX)),
                                 credit_ / token);
  credit_ -= taken * token;
  return static_cast<size_t>(taken);
}

void rate_limiter::give_back(size_t unused) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto returned = static_cast<int64_t>(std::min<size_t>(unused, INT32_MAX)) * token;
  credit_ = std::min(capacity_, credit_ + returned);
}

timestamp_ms rate_limiter::ready_at(size_t wanted) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto now = clock_->now();
  refill(now);
  auto needed = std::min<int64_t>(
    std::max<int64_t>(static_cast<int64_t>(std::min<size_t>(wanted, INT32_MAX)), 1) * token,
    capacity_ / 2);
  if (credit_ >= needed) return now;
  // Whole milliseconds, rounded up: at the answer the credit is there.
  auto missing = needed - credit_;
  return now + (missing + milli_per_second_ - 1) / milli_per_second_;
}

rate_limiter_ptr make_rate_limiter(double per_second, clock_ptr clock) {
  if (!(per_second > 0)) return nullptr;
  return std::make_shared<rate_limiter>(per_second, std::move(clock));
}

} // namespace dispatch
