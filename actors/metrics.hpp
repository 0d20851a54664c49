// The engine's counters, shared by its actors (relaxed atomics: each is written by one role and read
// by `stats`). A snapshot of it is the `engine_stats` message.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "messages/stats.hpp"

namespace dispatch {

struct engine_metrics {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> duplicates{0};
  std::atomic<uint64_t> rejected{0};
  std::atomic<uint64_t> matched{0};
  std::atomic<uint64_t> set_aside{0}; // events whose deliveries could not be derived
  std::atomic<uint64_t> deliveries_created{0};
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> retries{0};
  std::atomic<uint64_t> dead_letters{0};
  std::atomic<uint64_t> replayed{0};
  std::atomic<uint64_t> restarts{0};
  std::atomic<uint64_t> storage_probes{0}; // synced probe writes of the health check
  std::atomic<int64_t> inbox_depth{0};     // accepted, not yet matched
  std::atomic<int64_t> pending_depth{0};   // deliveries waiting, all kinds
  std::atomic<int64_t> in_flight{0};       // deliveries at a sink
  std::atomic<bool> storage_ok{true};      // false after a failed write, until a probe succeeds
  latency_recorder delivery_latency;       // match -> delivered

  engine_stats snapshot() const;
};

using metrics_ptr = std::shared_ptr<engine_metrics>;

inline engine_stats engine_metrics::snapshot() const {
  auto clamp = [](int64_t x) { return x < 0 ? uint64_t{0} : static_cast<uint64_t>(x); };
  engine_stats s;
  s.accepted = accepted.load(std::memory_order_relaxed);
  s.duplicates = duplicates.load(std::memory_order_relaxed);
  s.rejected = rejected.load(std::memory_order_relaxed);
  s.matched = matched.load(std::memory_order_relaxed);
  s.set_aside = set_aside.load(std::memory_order_relaxed);
  s.deliveries_created = deliveries_created.load(std::memory_order_relaxed);
  s.delivered = delivered.load(std::memory_order_relaxed);
  s.retries = retries.load(std::memory_order_relaxed);
  s.dead_letters = dead_letters.load(std::memory_order_relaxed);
  s.replayed = replayed.load(std::memory_order_relaxed);
  s.restarts = restarts.load(std::memory_order_relaxed);
  s.storage_probes = storage_probes.load(std::memory_order_relaxed);
  s.inbox_depth = clamp(inbox_depth.load(std::memory_order_relaxed));
  s.pending_depth = clamp(pending_depth.load(std::memory_order_relaxed));
  s.in_flight = clamp(in_flight.load(std::memory_order_relaxed));
  s.delivery_latency = delivery_latency.snapshot();
  return s;
}

} // namespace dispatch
