// Per-key ordering: who holds each key, and who waits behind it.
#include "actors/key_order.hpp"

namespace dispatch {

key_order::verdict key_order::admit(ordering_key k, delivery& d) {
  auto i = keys_.find(k);
  if (i == keys_.end()) {
    if (keys_.size() >= max_keys_) return verdict::refused;
    keys_.emplace(k, key_state{d.id, 0});
    return verdict::go;
  }
  ++i->second.waiting;
  waiting_.emplace(std::make_pair(k, ++arrivals_), std::move(d));
  return verdict::waiting;
}

void key_order::hold(ordering_key k, const std::string& id) {
  auto i = keys_.find(k);
  if (i == keys_.end())
    keys_.emplace(k, key_state{id, 0});
  else if (i->second.holder.empty())
    i->second.holder = id;
}

bool key_order::holds(ordering_key k, const std::string& id) const {
  auto i = keys_.find(k);
  return i != keys_.end() && i->second.holder == id;
}

std::optional<delivery> key_order::release(ordering_key k, const std::string& id) {
  auto i = keys_.find(k);
  if (i == keys_.end() || i->second.holder != id) return std::nullopt;
  if (i->second.waiting == 0) {
    keys_.erase(i);
    return std::nullopt;
  }
  auto next = waiting_.lower_bound(std::make_pair(k, uint64_t{0}));
  auto d = std::move(next->second);
  waiting_.erase(next);
  --i->second.waiting;
  i->second.holder = d.id;
  return d;
}

bool key_order::forget(ordering_key k, const std::string& id) {
  auto i = keys_.find(k);
  if (i == keys_.end() || i->second.waiting == 0) return false;
  auto first = waiting_.lower_bound(std::make_pair(k, uint64_t{0}));
  for (auto j = first; j != waiting_.end() && j->first.first == k; ++j)
    if (j->second.id == id) {
      waiting_.erase(j);
      --i->second.waiting;
      return true;
    }
  return false;
}

} // namespace dispatch
