// How many actions the dispatchers of each event type have in all: the directory keeps it, ingest
// reads it to refuse an event whose deliveries would exceed `dispatch.limits.delivery-bytes-per-
// event` (each action delivers the whole event, and a webhook receives a copy per action).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>

namespace dispatch {

class fan_out_table {
public:
  /// Adds `delta` actions (negative: removes) to `type`'s count.
  void add(const std::string& type, int64_t delta) {
    std::unique_lock<std::shared_mutex> guard{mutex_};
    auto& count = actions_[type];
    count = delta < 0 && static_cast<uint64_t>(-delta) > count ? 0 : count + delta;
    if (count == 0) actions_.erase(type);
  }

  /// The actions an event of `type` has now (0: none).
  uint64_t actions_of(const std::string& type) const {
    std::shared_lock<std::shared_mutex> guard{mutex_};
    auto i = actions_.find(type);
    return i == actions_.end() ? 0 : i->second;
  }

  void clear() {
    std::unique_lock<std::shared_mutex> guard{mutex_};
    actions_.clear();
  }

private:
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, uint64_t> actions_;
};

using fan_out_ptr = std::shared_ptr<fan_out_table>;

} // namespace dispatch
