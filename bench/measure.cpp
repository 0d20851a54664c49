// Reading the process's own counters from getrusage and /proc, and summarizing latency samples.
// Everything here degrades to 0 (and says so through the caller) rather than failing a run.
#include "bench/measure.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace dispatch::bench {

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto secs = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return secs(usage.ru_utime) + secs(usage.ru_stime);
}

namespace {

/// The number after `key` in a "key: value" file of /proc, or 0.
uint64_t proc_field(const char* path, const std::string& key) {
  std::ifstream in{path};
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, key.size(), key) == 0) {
      std::istringstream rest{line.substr(key.size())};
      uint64_t value = 0;
      rest >> value;
      return value;
    }
  return 0;
}

} // namespace

uint64_t written_bytes() {
  return proc_field("/proc/self/io", "wchar:");
}

uint64_t directory_bytes(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  uint64_t total = 0;
  if (!fs::exists(dir, ec)) return 0;
  // Files come and go while RocksDB compacts: skip what vanished between listing and stat.
  for (fs::recursive_directory_iterator it{dir, ec}, end; !ec && it != end; it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      auto size = it->file_size(size_ec);
      if (!size_ec) total += size;
    }
  }
  return total;
}

double load_average() {
  std::ifstream in{"/proc/loadavg"};
  double one_minute = 0;
  in >> one_minute;
  return one_minute;
}

double quantile_ms(const std::vector<uint32_t>& sorted_us, double q) {
  if (sorted_us.empty()) return 0;
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted_us.size())));
  rank = std::clamp<size_t>(rank, 1, sorted_us.size());
  return sorted_us[rank - 1] / 1000.0;
}

latency_summary summarize(std::vector<uint32_t>& samples_us) {
  std::sort(samples_us.begin(), samples_us.end());
  latency_summary s;
  s.samples = samples_us.size();
  s.p50_ms = quantile_ms(samples_us, 0.5);
  s.p90_ms = quantile_ms(samples_us, 0.9);
  s.p99_ms = quantile_ms(samples_us, 0.99);
  s.p999_ms = quantile_ms(samples_us, 0.999);
  s.max_ms = quantile_ms(samples_us, 1.0);
  return s;
}

} // namespace dispatch::bench
