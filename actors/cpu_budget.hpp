// A CPU budget for the readers (issue 14: reads never stall the write path). A low priority is
// not enough on a virtual machine: a vCPU kept busy is busy to the host whatever priority the
// guest gives the thread on it, and a synced write then waits for the disk (measured on a 2-vCPU
// VM: two SCHED_IDLE busy loops raise a publisher's p99 from 3 ms to 22-145 ms, one does not).
// So the readers together use at most a set number of cores' worth of CPU time: each reader
// thread meters its own CPU clock, charges what it used to the budget they share, and sleeps
// while the budget is overdrawn. A listing over the budget is slower, never refused. The budget
// holds while the engine writes; on a node where nothing was written for a second, listings run
// at full speed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

namespace dispatch {

/// CPU time a group of threads may use together: `cores` CPU-seconds per wall second, of which at
/// most `burst` can be saved up while they are idle. Thread safe.
///
/// The budget protects writes: given a count of the writes done (`write_count`), it holds only
/// while that count moves. Once nothing was written for `quiet_after`, the threads take what
/// they want (a listing on an idle node runs at full speed), until the next write.
class cpu_budget {
public:
  using clock = std::chrono::steady_clock;
  using write_count = std::function<uint64_t()>;

  /// The default burst: short, so that the budget holds over any window of a few milliseconds
  /// and a burst of reads cannot take every core at once for long.
  static constexpr std::chrono::milliseconds default_burst{10};

  /// How long no write must have been seen before the budget stops holding.
  static constexpr std::chrono::seconds quiet_after{1};

  /// Without `writes`, the budget always holds.
  explicit cpu_budget(double cores, std::chrono::nanoseconds burst = default_burst,
                      clock::time_point start = clock::now(), write_count writes = {});

  /// Charges `used` CPU time at `now`: how long the charging thread must wait before it uses
  /// more (zero while the budget holds, or while nothing is written). The waits of threads that
  /// overdraw together add up, as the budget refills for all of them at `cores` a second.
  std::chrono::nanoseconds charge(std::chrono::nanoseconds used, clock::time_point now);

private:
  /// Whether nothing was written for `quiet_after` up to `now` (under the lock).
  bool writes_quiet(clock::time_point now);

  std::mutex mutex_;
  const double cores_;
  const double burst_ns_;
  double balance_ns_;      // CPU time that may still be used; negative: overdrawn by that much
  clock::time_point last_; // when the balance was last refilled
  write_count writes_;
  uint64_t writes_seen_ = 0;
  clock::time_point written_; // when `writes_seen_` last moved
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
