// The token buckets of a shard's dispatchers that have a `rateLimit`: one per dispatcher, shared
// by the shard's task and mail emitters (a dispatcher's deliveries all come from its event type's
// shard), so the limit holds across its actions. The shard's matcher keeps it following the
// dispatchers it installs; the emitters read a copy of it, taken again when it changed.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "actors/rate_limit.hpp"

namespace dispatch {

class dispatcher_rates {
public:
  using table = std::unordered_map<std::string, rate_limiter_ptr>;

  explicit dispatcher_rates(clock_ptr clock) : clock_(std::move(clock)) {}

  /// Dispatcher `id` is limited to `per_second` (0: not limited; its bucket goes). A bucket whose
  /// rate stays is kept with its credit: a change of something else leaves the rate as it runs.
  void follow(const std::string& id, double per_second);

  /// The shard's dispatchers are these (with their rates, 0: none), and no others.
  void replace(const std::vector<std::pair<std::string, double>>& all);

  /// Changes with every change of the table: an emitter whose copy is older takes a new one.
  uint64_t version() const { return version_.load(std::memory_order_acquire); }

  /// A copy of the table (the buckets are shared, not copied) and the version it is.
  std::pair<table, uint64_t> snapshot() const;

private:
  /// Sets `id`'s bucket under the lock; true when that changed anything.
  bool set(const std::string& id, double per_second);

  clock_ptr clock_;
  mutable std::mutex mtx_;
  table buckets_;
  std::atomic<uint64_t> version_{0};
};

using dispatcher_rates_ptr = std::shared_ptr<dispatcher_rates>;

} // namespace dispatch
