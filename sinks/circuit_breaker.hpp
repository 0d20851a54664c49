// A circuit breaker for one sink, as a pure class: the caller passes the time, so tests drive it
// with a clock of their own. Closed -> open after N consecutive failures -> one probe -> closed.
#pragma once

#include <chrono>
#include <cstdint>

namespace dispatch {

class circuit_breaker {
public:
  /// Epoch milliseconds (`dispatch::clock::now()`), typed so that spans stay durations.
  using time_point = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;

  enum class state : uint8_t {
    closed,    // requests go out; failures are counted
    open,      // requests are refused until `open_for` has passed
    half_open, // one probe is out; everything else is refused until it answers
  };

  /// `failures_to_open` = 0 disables the breaker (it never opens).
  circuit_breaker(uint32_t failures_to_open = 5,
                  std::chrono::milliseconds open_for = std::chrono::seconds(30));

  /// Whether a request may go out at `now`. An open breaker whose time is up lets this one
  /// request through as the probe (and turns half-open).
  bool allow(time_point now);

  /// While open: how long until a probe may go. Zero otherwise.
  std::chrono::milliseconds remaining(time_point now) const;

  /// The endpoint answered (a success, or a permanent refusal: it is alive). Closes the breaker.
  void record_success();

  /// A retryable failure (5xx, 429, timeout, connection error). Opens the breaker after enough of
  /// them in a row, or at once when the probe failed. Failures of requests that went out before
  /// the breaker opened do not extend its open time.
  void record_failure(time_point now);

  state current() const { return state_; }
  uint32_t consecutive_failures() const { return failures_; }

private:
  uint32_t failures_to_open_;
  std::chrono::milliseconds open_for_;
  state state_ = state::closed;
  uint32_t failures_ = 0;
  time_point opened_at_{};
};

const char* to_string(circuit_breaker::state x);

} // namespace dispatch
