// Retry arithmetic: exponential backoff with full jitter, bounded by attempts and age. Pure
// functions, computed in floating point and clamped, so that huge attempt counts cannot overflow.
#include "actors/backoff.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace dispatch {

namespace {

constexpr int64_t max_ms = std::numeric_limits<int64_t>::max();

// a + b for non-negative b, saturating instead of overflowing.
int64_t saturating_add(int64_t a, int64_t b) {
  return a > max_ms - b ? max_ms : a + b;
}

// `when`, or 0 when it falls beyond the age budget, which counts from the delivery's creation:
// an attempt past it is never made.
timestamp_ms within_age(const retry_policy& policy, timestamp_ms created, timestamp_ms when) {
  auto deadline = saturating_add(created, std::max<int64_t>(policy.max_age.count(), 0));
  return when > deadline ? 0 : std::max<timestamp_ms>(when, 1);
}

} // namespace

std::chrono::milliseconds backoff_ceiling(const retry_policy& policy, uint32_t attempts) {
  auto cap = std::max<int64_t>(policy.cap.count(), 0);
  auto initial = std::clamp<int64_t>(policy.initial.count(), 0, cap);
  auto exponent = attempts > 0 ? attempts - 1 : 0;
  // A multiplier at or below 1 (or NaN) does not grow: the ceiling stays at `initial`.
  if (!(policy.multiplier > 1.0) || exponent == 0 || initial == 0)
    return std::chrono::milliseconds{initial};
  // pow() may reach infinity for large exponents; the comparison below handles that too.
  auto grown = static_cast<double>(initial) * std::pow(policy.multiplier, exponent);
  if (!(grown < static_cast<double>(cap))) return std::chrono::milliseconds{cap};
  return std::chrono::milliseconds{static_cast<int64_t>(grown)};
}

std::chrono::milliseconds backoff_delay(const retry_policy& policy, uint32_t attempts,
                                        std::mt19937_64& rng) {
  auto ceiling = backoff_ceiling(policy, attempts).count();
  std::uniform_int_distribution<int64_t> draw{0, ceiling};
  return std::chrono::milliseconds{draw(rng)};
}

timestamp_ms next_attempt_time(const retry_policy& policy, uint32_t attempts, timestamp_ms created,
                               timestamp_ms now, int64_t retry_after_ms, std::mt19937_64& rng) {
  if (attempts >= policy.max_attempts) return 0;
  auto delay = std::max(backoff_delay(policy, attempts, rng).count(),
                        std::max<int64_t>(retry_after_ms, 0));
  return within_age(policy, created, saturating_add(now, delay));
}

timestamp_ms deferred_attempt_time(const retry_policy& policy, timestamp_ms created,
                                   timestamp_ms now, int64_t after_ms) {
  return within_age(policy, created, saturating_add(now, std::max<int64_t>(after_ms, 1)));
}

} // namespace dispatch
