// Per-key ordering: who holds each key, and who waits behind it.
#include "actors/key_order.hpp"

namespace dispatch {

key_order::verdict key_order::admit(ordering_key k, delivery& d, uint64_t tag) {
  auto i = keys_.find(k);
  if (i == keys_.end()) {
    if (keys_.size() >= max_keys_) return verdict::refused;
    keys_.emplace(k, d.id);
    holders_[d.id] = k;
    return verdict::go;
  }
  if (i->second == d.id) return verdict::go;
  wait(k, std::move(d), tag, false);
  return verdict::waiting;
}

void key_order::wait(ordering_key k, delivery d, uint64_t tag, bool recorded) {
  waiting_.emplace(std::make_pair(k, ++arrivals_), entry{std::move(d), tag, recorded});
}

void key_order::hold(ordering_key k, const std::string& id) {
  if (keys_.emplace(k, id).second) holders_[id] = k; // held already: the holder stays
}

bool key_order::holds(ordering_key k, const std::string& id) const {
  auto i = keys_.find(k);
  return i != keys_.end() && i->second == id;
}

std::optional<key_order::entry> key_order::release(ordering_key k, const std::string& id) {
  auto i = keys_.find(k);
  if (i == keys_.end() || i->second != id) return std::nullopt;
  holders_.erase(id);
  auto next = waiting_.lower_bound(std::make_pair(k, uint64_t{0}));
  if (next == waiting_.end() || next->first.first != k) {
    keys_.erase(i);
    return std::nullopt;
  }
  auto e = std::move(next->second);
  waiting_.erase(next);
  i->second = e.value.id;
  holders_[e.value.id] = k;
  return e;
}

std::optional<key_order::entry> key_order::release(const std::string& id) {
  auto h = holders_.find(id);
  if (h == holders_.end()) return std::nullopt;
  return release(h->second, id);
}

std::optional<uint64_t> key_order::forget(const std::string& id) {
  for (auto j = waiting_.begin(); j != waiting_.end(); ++j)
    if (j->second.value.id == id) {
      auto tag = j->second.tag;
      waiting_.erase(j);
      return tag;
    }
  return std::nullopt;
}

} // namespace dispatch
