// Retry arithmetic as pure functions: exponential backoff with full jitter, bounded by attempts and
// age. Tested with a seeded generator; the emitter passes its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

#include "config/engine_config.hpp"
#include "messages/clock.hpp"

namespace dispatch {

/// The upper bound of the delay before attempt `attempts + 1`, after `attempts` failures (>= 1):
/// min(cap, initial * multiplier^(attempts-1)).
std::chrono::milliseconds backoff_ceiling(const retry_policy& policy, uint32_t attempts);

/// A delay drawn uniformly from [0, backoff_ceiling] ("full jitter").
std::chrono::milliseconds backoff_delay(const retry_policy& policy, uint32_t attempts,
                                        std::mt19937_64& rng);

/// When to try again after the `attempts`-th failure of a delivery made at `created`, given the
/// sink's floor (`retry_after_ms`, e.g. from Retry-After): now + max(jittered delay, floor).
/// Returns 0 when the budget is spent: attempts reached the maximum, or the next attempt would fall
/// beyond the delivery's maximum age.
timestamp_ms next_attempt_time(const retry_policy& policy, uint32_t attempts, timestamp_ms created,
                               timestamp_ms now, int64_t retry_after_ms, std::mt19937_64& rng);

/// When to try again a delivery the sink deferred without trying it: now + max(after_ms, 1),
/// no attempt spent. Returns 0 when that falls beyond the delivery's maximum age.
timestamp_ms deferred_attempt_time(const retry_policy& policy, timestamp_ms created,
                                   timestamp_ms now, int64_t after_ms);

} // namespace dispatch
