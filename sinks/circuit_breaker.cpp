// The circuit breaker's transitions. Nothing here reads a clock: `now` comes from the caller.
#include "sinks/circuit_breaker.hpp"

#include <algorithm>

namespace dispatch {

circuit_breaker::circuit_breaker(uint32_t failures_to_open, std::chrono::milliseconds open_for)
    : failures_to_open_(failures_to_open), open_for_(std::max(open_for, open_for.zero())) {}

bool circuit_breaker::allow(time_point now) {
  switch (state_) {
    case state::closed:
      return true;
    case state::open:
      if (now - opened_at_ < open_for_) return false;
      state_ = state::half_open;
      return true;
    case state::half_open:
      return false;
  }
  return false;
}

std::chrono::milliseconds circuit_breaker::remaining(time_point now) const {
  if (state_ != state::open) return std::chrono::milliseconds{0};
  auto left = open_for_ - std::chrono::duration_cast<std::chrono::milliseconds>(now - opened_at_);
  return std::max(left, std::chrono::milliseconds{0});
}

void circuit_breaker::record_success() {
  state_ = state::closed;
  failures_ = 0;
}

void circuit_breaker::record_failure(time_point now) {
  switch (state_) {
    case state::closed:
      if (failures_ < UINT32_MAX) ++failures_;
      if (failures_to_open_ > 0 && failures_ >= failures_to_open_) {
        state_ = state::open;
        opened_at_ = now;
      }
      return;
    case state::half_open: // the probe failed: another full open period
      state_ = state::open;
      opened_at_ = now;
      return;
    case state::open: // a request from before the breaker opened: nothing new learned
      return;
  }
}

const char* to_string(circuit_breaker::state x) {
  switch (x) {
    case circuit_breaker::state::closed:
      return "closed";
    case circuit_breaker::state::open:
      return "open";
    case circuit_breaker::state::half_open:
      return "half-open";
  }
  return "?";
}

} // namespace dispatch
