// A CPU budget for the readers (issue 14: reads never stall the write path). A low priority is
// not enough on a virtual machine: a vCPU kept busy is busy to the host whatever priority the
// guest gives the thread on it, and a synced write then waits for the disk (measured on a 2-vCPU
// VM: two SCHED_IDLE busy loops raise a publisher's p99 from 3 ms to 22-145 ms, one does not).
// So the readers together use at most a set number of cores' worth of CPU time: each reader
// thread meters its own CPU clock, charges what it used to the budget they share, and sleeps
// while the budget is overdrawn. A listing over the budget is slower, never refused.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>

namespace dispatch {

/// CPU time a group of threads may use together: `cores` CPU-seconds per wall second, of which at
/// most `burst` can be saved up while they are idle. Thread safe.
class cpu_budget {
public:
  using clock = std::chrono::steady_clock;

  /// The default burst: short, so that the budget holds over any window of a few milliseconds
  /// and a burst of reads cannot take every core at once for long.
  static constexpr std::chrono::milliseconds default_burst{10};

  explicit cpu_budget(double cores, std::chrono::nanoseconds burst = default_burst,
                      clock::time_point start = clock::now());

  /// Charges `used` CPU time at `now`: how long the charging thread must wait before it uses
  /// more (zero while the budget holds). The waits of threads that overdraw together add up, as
  /// the budget refills for all of them at `cores` a second.
  std::chrono::nanoseconds charge(std::chrono::nanoseconds used, clock::time_point now);

  double cores() const noexcept { return cores_; }

private:
  std::mutex mutex_;
  const double cores_;
  const double burst_ns_;
  double balance_ns_;      // CPU time that may still be used; negative: overdrawn by that much
  clock::time_point last_; // when the balance was last refilled
};

/// The cores the readers get when the configuration leaves it to the machine: half of the CPUs
/// this process may run on (its affinity mask) beyond the first, at least 0.25. Half, because a
/// listing costs CPU outside the readers too (the facade, CAF's messaging, the HTTP threads that
/// render the page: about 0.75 of the readers' time, measured), and the point is a core left idle.
double default_reader_cores();

/// The calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID).
std::chrono::nanoseconds thread_cpu_time();

/// Makes the reads of the calling thread charge `budget` (null: they charge nothing). The thread
/// keeps the budget until it ends; call it on a thread the caller has to itself (a detached
/// actor's), as the thread sleeps while the budget is overdrawn.
void meter_reads(std::shared_ptr<cpu_budget> budget);

/// A point in a read's loop where it may pause: every 64th call charges the thread's CPU time
/// since its last charge and sleeps while the budget is overdrawn. Nothing on a thread without a
/// budget (a test or a tool calling the read functions directly).
void pace_read();

/// Charges the calling thread's CPU time at once (between two reads), sleeping as `pace_read`.
void settle_read();

} // namespace dispatch
