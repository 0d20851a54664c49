// A token bucket on the engine's clock: how many deliveries may go to a sink now, and when the
// next one may. Thread-safe: the emitters of one kind (one per shard, each on its own thread when
// detached) share one bucket, so a sink-wide rate holds however the events spread over the shards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

#include "messages/clock.hpp"

namespace dispatch {

class rate_limiter {
public:
  /// `per_second` > 0 tokens a second, to a thousandth (a dispatcher's `rateLimit` may be 0.5).
  /// The bucket holds at most 50 ms worth of them (at least two): after a quiet spell a sink gets
  /// at most that burst above its rate. It starts with one.
  rate_limiter(double per_second, clock_ptr clock);

  double per_second() const { return static_cast<double>(milli_per_second_) / 1000; }
  /// The rate as the bucket counts it: in thousandths of a token a second.
  int64_t milli_per_second() const { return milli_per_second_; }

  /// Takes up to `wanted` tokens now; answers how many it took.
  size_t take(size_t wanted);

  /// Returns `unused` tokens taken but not spent (the deliveries they were for could not go):
  /// they stay for the next taker instead of lowering the rate.
  void give_back(size_t unused);

  /// When `wanted` (at least one, at most half a full bucket: waking for a batch, yet before the
  /// cap would waste credit) tokens will be there, in epoch ms: the time to try again after
  /// `take` gave fewer than needed.
  timestamp_ms ready_at(size_t wanted);

private:
  /// Adds what has accrued since the last refill (under the lock).
  void refill(timestamp_ms now);

  // Credit is counted in millionths of a token: at N/1000 tokens a second (the rate in thousandths)
  // a millisecond adds N of them, exactly.
  static constexpr int64_t token = 1000000;
  int64_t milli_per_second_;
  clock_ptr clock_;
  int64_t capacity_;
  std::mutex mtx_;
  int64_t credit_;
  timestamp_ms refilled_at_;
};

using rate_limiter_ptr = std::shared_ptr<rate_limiter>;

/// A bucket for `per_second`, or none (unlimited) when it is 0 (or less).
rate_limiter_ptr make_rate_limiter(double per_second, clock_ptr clock);

} // namespace dispatch
