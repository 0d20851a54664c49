// The system clock and the actor-system clock behind `dispatch::clock`.
#include "messages/clock.hpp"

#include <chrono>
#include <utility>

#include <caf/actor_clock.hpp>
#include <caf/actor_system.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

namespace dispatch {

namespace {

class system_time final : public clock {
public:
  timestamp_ms now() const noexcept override { return now_ms(); }
};

/// The wall time when it was made, moved on by `Source`'s elapsed time (whatever the wall clock
/// does meanwhile): the steady clock, or an actor system's clock.
template <class Source>
class anchored_time final : public clock {
public:
  explicit anchored_time(Source source)
      : source_(std::move(source)), start_(source_.now()), epoch_(now_ms()) {}

  timestamp_ms now() const noexcept override {
    using namespace std::chrono;
    return epoch_ + duration_cast<milliseconds>(source_.now() - start_).count();
  }

private:
  Source source_;
  decltype(std::declval<Source&>().now()) start_;
  timestamp_ms epoch_;
};

/// An actor system's clock as a source (the test coordinator's when it runs one).
struct actor_clock_source {
  caf::actor_clock* clock;
  caf::actor_clock::time_point now() const { return clock->now(); }
};

} // namespace

clock_ptr wall_clock() {
  static const clock_ptr instance = std::make_shared<system_time>();
  return instance;
}

clock_ptr monotonic_clock() {
  static const clock_ptr instance = std::make_shared<anchored_time<std::chrono::steady_clock>>(
    std::chrono::steady_clock{});
  return instance;
}

clock_ptr actor_system_time(caf::actor_system& sys) {
  return std::make_shared<anchored_time<actor_clock_source>>(actor_clock_source{&sys.clock()});
}

} // namespace dispatch
