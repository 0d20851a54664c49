// Latency histograms with fixed, Prometheus-style buckets: a recorder that any thread may update
// (relaxed atomics) and the snapshot that travels in messages and renders as `_bucket` lines.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace dispatch {

/// Upper bounds of the buckets, in seconds (the last, +Inf, is implicit). They span a request
/// answered in microseconds and a delivery that waited out retries for an hour.
inline constexpr std::array<double, 20> latency_bounds = {
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
  0.25,   0.5,     1,      2.5,   5,      10,    30,   60,    300,  3600};

struct latency_snapshot {
  std::vector<uint64_t> counts; // per bucket, not cumulative; latency_bounds.size() + 1 entries
  uint64_t count = 0;
  double sum_seconds = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, latency_snapshot& x) {
  return f(caf::meta::type_name("dispatch.latency_snapshot"), x.counts, x.count, x.sum_seconds);
}

class latency_recorder {
public:
  void record(std::chrono::microseconds elapsed) {
    auto us = elapsed.count() < 0 ? 0 : elapsed.count();
    double seconds = static_cast<double>(us) / 1e6;
    size_t i = 0;
    while (i < latency_bounds.size() && seconds > latency_bounds[i]) ++i;
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_us_.fetch_add(static_cast<uint64_t>(us), std::memory_order_relaxed);
  }

  latency_snapshot snapshot() const {
    latency_snapshot s;
    s.counts.reserve(counts_.size());
    for (auto& c : counts_) s.counts.push_back(c.load(std::memory_order_relaxed));
    s.count = count_.load(std::memory_order_relaxed);
    s.sum_seconds = static_cast<double>(sum_us_.load(std::memory_order_relaxed)) / 1e6;
    return s;
  }

private:
  std::array<std::atomic<uint64_t>, latency_bounds.size() + 1> counts_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_us_{0};
};

} // namespace dispatch
