// Wall-clock time in epoch milliseconds (the unit of every persisted timestamp and due time), and
// the clock the engine's actors read it from: the system's, or one a test steps by hand.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

namespace caf {
class actor_system;
} // namespace caf

namespace dispatch {

using timestamp_ms = int64_t;

/// The system clock now. Actors read `engine_config::now()` instead, so that tests can inject time.
inline timestamp_ms now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// Where the engine's actors read the time: event and dispatcher timestamps, due times, backoff,
/// holds, sink deadlines and retention. Thread-safe: every actor of an engine shares one.
class clock {
public:
  virtual ~clock() = default;
  virtual timestamp_ms now() const noexcept = 0;
};

using clock_ptr = std::shared_ptr<const clock>;

/// The system clock (the default).
clock_ptr wall_clock();

/// The wall time when first asked, moved on by the steady clock: it never jumps when the system
/// clock is set. For spans only (a circuit breaker's open window), not for persisted times.
clock_ptr monotonic_clock();

/// A clock that moves with `sys`'s actor clock from the wall time it was made at. Under CAF's
/// test coordinator (`scheduler.policy=testing`) that clock stands still until the test advances
/// it, and timers fire as it passes them: epoch times and timers then move together, exactly.
/// `sys` must outlive the clock.
clock_ptr actor_system_time(caf::actor_system& sys);

} // namespace dispatch
