// What dispatch-bench reads from the process and the disk: CPU time, peak RSS, bytes written, a
// data directory's size, and latency percentiles from recorded samples.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace dispatch::bench {

/// CPU seconds (user + system) the whole process used so far (getrusage).
double cpu_seconds();

/// Bytes this process handed to write(2) and friends so far (`wchar` of /proc/self/io); 0 when
/// unreadable. RocksDB writes its WAL and tables with write(2), so the growth measures what a
/// scenario wrote, compactions included.
uint64_t written_bytes();

/// The size of every regular file under `dir` (like `du --apparent-size`); 0 when missing.
uint64_t directory_bytes(const std::string& dir);

/// The 1-minute load average (/proc/loadavg): how busy the shared machine was; 0 when unreadable.
double load_average();

/// Nanoseconds on the steady clock: what events carry as their publish time.
inline uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count());
}

/// Latency percentiles of a set of samples (microseconds in, milliseconds out).
struct latency_summary {
  uint64_t samples = 0;
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double p999_ms = 0;
  double max_ms = 0;
};

/// Sorts `samples_us` in place and summarizes it.
latency_summary summarize(std::vector<uint32_t>& samples_us);

/// The sample at quantile q (0..1) of sorted samples, in milliseconds.
double quantile_ms(const std::vector<uint32_t>& sorted_us, double q);

} // namespace dispatch::bench
