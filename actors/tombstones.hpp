// The matcher's memory of removed dispatchers, so that an install that arrives after the removal
// it precedes cannot bring a dispatcher back. Bounded: every change takes the next version, so a
// removal more than `horizon` versions older than the newest is one no message in flight can still
// precede; those are forgotten, and at most about 2 * horizon removals are held.
#pragma once

#include <cstdint>
#include <iterator>
#include <string>
#include <unordered_map>

namespace dispatch {

class tombstones {
public:
  static constexpr uint64_t horizon = 4096;

  /// Remembers that `id` was removed at `version`.
  void record(const std::string& id, uint64_t version) {
    auto& known = removed_[id];
    if (version > known) known = version;
    if (version > newest_) newest_ = version;
    if (removed_.size() > 2 * horizon) forget_old();
  }

  /// The version `id` was removed at when that is not older than `version`: an install of
  /// `version` then lost to the removal.
  uint64_t removal_covering(const std::string& id, uint64_t version) const {
    auto i = removed_.find(id);
    return i != removed_.end() && i->second >= version ? i->second : 0;
  }

  size_t size() const { return removed_.size(); }

private:
  void forget_old() {
    for (auto i = removed_.begin(); i != removed_.end();)
      i = i->second + horizon < newest_ ? removed_.erase(i) : std::next(i);
  }

  std::unordered_map<std::string, uint64_t> removed_; // id -> version removed
  uint64_t newest_ = 0;
};

} // namespace dispatch
