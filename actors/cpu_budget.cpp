// The readers' CPU budget: a token bucket of CPU time, and the per-thread meter that charges it.
#include "actors/cpu_budget.hpp"

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <thread>
#include <utility>

namespace dispatch {

cpu_budget::cpu_budget(double cores, std::chrono::nanoseconds burst, clock::time_point start,
                       write_count writes)
    : cores_(cores), burst_ns_(static_cast<double>(burst.count())), balance_ns_(burst_ns_),
      last_(start), writes_(std::move(writes)), writes_seen_(writes_ ? writes_() : 0),
      written_(start - quiet_after) { // nothing written yet: quiet from the start
}

bool cpu_budget::writes_quiet(clock::time_point now) {
  if (!writes_) return false;
  auto seen = writes_();
  if (seen != writes_seen_) {
    writes_seen_ = seen;
    written_ = now;
  }
  return now - written_ >= quiet_after;
}

std::chrono::nanoseconds cpu_budget::charge(std::chrono::nanoseconds used, clock::time_point now) {
  std::lock_guard<std::mutex> guard{mutex_};
  if (writes_quiet(now)) {
    // Nothing to protect: the reads run free, and owe nothing once writes begin again.
    balance_ns_ = burst_ns_;
    last_ = std::max(last_, now);
    return std::chrono::nanoseconds{0};
  }
  if (now > last_) {
    auto elapsed = std::chrono::duration<double, std::nano>(now - last_).count();
    balance_ns_ = std::min(burst_ns_, balance_ns_ + elapsed * cores_);
    last_ = now;
  }
  balance_ns_ -= static_cast<double>(used.count());
  if (balance_ns_ >= 0) return std::chrono::nanoseconds{0};
  return std::chrono::nanoseconds{static_cast<int64_t>(-balance_ns_ / cores_)};
}

double default_reader_cores() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  auto cpus = ::sched_getaffinity(0, sizeof(allowed), &allowed) == 0
                ? CPU_COUNT(&allowed)
                : static_cast<int>(std::thread::hardware_concurrency());
  return std::max(0.25, static_cast<double>(cpus - 1) / 2);
}

std::chrono::nanoseconds thread_cpu_time() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return std::chrono::seconds{now.tv_sec} + std::chrono::nanoseconds{now.tv_nsec};
}

namespace {

/// What the calling thread charges its reads to, and its CPU clock at the last charge.
struct read_meter {
  std::shared_ptr<cpu_budget> budget;
  std::chrono::nanoseconds charged{0};
  uint32_t calls = 0;
};

thread_local read_meter this_thread_meter;

} // namespace

void meter_reads(std::shared_ptr<cpu_budget> budget) {
  this_thread_meter.budget = std::move(budget);
  this_thread_meter.charged = thread_cpu_time();
  this_thread_meter.calls = 0;
}

void settle_read() {
  auto& m = this_thread_meter;
  if (!m.budget) return;
  auto now = thread_cpu_time();
  auto wait = m.budget->charge(now - m.charged, cpu_budget::clock::now());
  m.charged = now;
  if (wait.count() > 0) std::this_thread::sleep_for(wait);
}

void pace_read() {
  auto& m = this_thread_meter;
  if (m.budget && ++m.calls % 64 == 0) settle_read();
}

} // namespace dispatch
