// The dispatchers' buckets of one shard, kept by its matcher and read by its emitters.
#include "actors/dispatcher_rates.hpp"

#include <unordered_set>

namespace dispatch {

bool dispatcher_rates::set(const std::string& id, double per_second) {
  auto i = buckets_.find(id);
  if (!(per_second > 0)) {
    if (i == buckets_.end()) return false;
    buckets_.erase(i);
    return true;
  }
  auto fresh = make_rate_limiter(per_second, clock_);
  // Compared as the bucket counts it (thousandths): a PUT that keeps the rate keeps the credit.
  if (i != buckets_.end() && i->second->milli_per_second() == fresh->milli_per_second())
    return false;
  buckets_[id] = std::move(fresh);
  return true;
}

void dispatcher_rates::follow(const std::string& id, double per_second) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (set(id, per_second)) version_.fetch_add(1, std::memory_order_release);
}

void dispatcher_rates::replace(const std::vector<std::pair<std::string, double>>& all) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto changed = false;
  std::unordered_set<std::string> present;
  for (auto& [id, per_second] : all) {
    present.insert(id);
    changed = set(id, per_second) || changed;
  }
  for (auto i = buckets_.begin(); i != buckets_.end();)
    if (present.count(i->first) == 0) {
      i = buckets_.erase(i);
      changed = true;
    } else {
      ++i;
    }
  if (changed) version_.fetch_add(1, std::memory_order_release);
}

std::pair<dispatcher_rates::table, uint64_t> dispatcher_rates::snapshot() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return {buckets_, version_.load(std::memory_order_acquire)};
}

} // namespace dispatch
