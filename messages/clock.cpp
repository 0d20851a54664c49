// The system clock and the actor-system clock behind `dispatch::clock`.
#include "messages/clock.hpp"

#include <caf/actor_clock.hpp>
#include <caf/actor_system.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

namespace dispatch {

namespace {

class system_time final : public clock {
public:
  timestamp_ms now() const noexcept override { return now_ms(); }
};

class steady_time final : public clock {
public:
  steady_time() : start_(std::chrono::steady_clock::now()), epoch_(now_ms()) {}

  timestamp_ms now() const noexcept override {
    using namespace std::chrono;
    return epoch_ + duration_cast<milliseconds>(steady_clock::now() - start_).count();
  }

private:
  std::chrono::steady_clock::time_point start_;
  timestamp_ms epoch_;
};

class actor_clock_time final : public clock {
public:
  explicit actor_clock_time(caf::actor_system& sys)
      : clock_(sys.clock()), start_(clock_.now()), epoch_(now_ms()) {}

  timestamp_ms now() const noexcept override {
    using namespace std::chrono;
    return epoch_ + duration_cast<milliseconds>(clock_.now() - start_).count();
  }

private:
  caf::actor_clock& clock_;
  caf::actor_clock::time_point start_;
  timestamp_ms epoch_;
};

} // namespace

clock_ptr wall_clock() {
  static const clock_ptr instance = std::make_shared<system_time>();
  return instance;
}

clock_ptr monotonic_clock() {
  static const clock_ptr instance = std::make_shared<steady_time>();
  return instance;
}

clock_ptr actor_system_time(caf::actor_system& sys) {
  return std::make_shared<actor_clock_time>(sys);
}

} // namespace dispatch
