// Per-key ordering for an emitter: of the deliveries that share an ordering key, one at a time
// holds the key (at the sink, or retrying), and the later ones wait behind it in the order they
// were admitted (the emitter admits in log order, which is accepted order). A retrying holder
// keeps its key; it is released when its delivery finishes (delivered, dead, purged), and the
// next waiting one takes the key. Other keys are never held back.
//
// Memory: a key costs an entry only while something holds it; a key whose holder finished with
// nothing waiting is forgotten at once, so a million distinct keys passing through leave nothing
// behind. Beyond `max_keys` held keys a new key is refused (`admit` answers `refused`): the caller
// keeps the delivery and stops taking more until a key is released (back-pressure, never a
// broken order). The waiting deliveries are held here and counted by `waiting()`, so the caller
// can count them against its own memory cap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "messages/delivery.hpp"

namespace dispatch {

/// An ordering key: a hash of the dispatcher and the key's value (see `ordering_key_of`). Two
/// keys that collide share one order, which holds back more than needed but breaks nothing.
using ordering_key = uint64_t;

class key_order {
public:
  explicit key_order(size_t max_keys) : max_keys_(max_keys == 0 ? 1 : max_keys) {}

  enum class verdict {
    go,      // the key was free (`d` holds it now), or `d` holds it already: send it
    waiting, // the key is held: `d` waits here, in order, and comes out of `release`
    refused, // a new key beyond `max_keys`: `d` was not taken; try again after a release
  };

  /// A delivery of key `k` asks to go, with a `tag` of the caller's that comes back with it from
  /// `release` (the emitter's log segment). Call in accepted order for each key. The holder itself
  /// (one that `release` handed the key to) goes: the caller asks without looking first.
  verdict admit(ordering_key k, delivery& d, uint64_t tag = 0);

  /// Marks `k` held by `id` without a delivery to send (a recorded delivery found at start, or
  /// one retrying): later ones of `k` wait behind it. Never refused: the holder exists already.
  void hold(ordering_key k, const std::string& id);

  /// Puts `d` in line behind the holder of `k` (which must be held by another), with its tag;
  /// `recorded`: it has an exception record (it comes back from `release` so marked).
  void wait(ordering_key k, delivery d, uint64_t tag, bool recorded);

  /// Whether `k` is held (by anyone).
  bool held(ordering_key k) const { return keys_.count(k) > 0; }

  /// Whether `id` holds `k`.
  bool holds(ordering_key k, const std::string& id) const;

  /// A waiting delivery with its caller's tag.
  struct entry {
    delivery value;
    uint64_t tag = 0;
    bool recorded = false; // a recorded delivery (due, but its key was held): tag is its due time
  };

  /// The holder `id` of `k` finished: the key goes to the next waiting delivery, which is
  /// returned to be sent, or is forgotten when none waits. Ignored when `id` does not hold `k`.
  std::optional<entry> release(ordering_key k, const std::string& id);

  /// As `release`, for a holder known by id only (a recorded delivery read back from the store
  /// carries no key).
  std::optional<entry> release(const std::string& id);

  /// Removes the waiting delivery `id` (purged) and answers its tag; none when it was not here.
  /// Looks through every waiting one: purging is rare.
  std::optional<uint64_t> forget(const std::string& id);

  size_t keys() const { return keys_.size(); }
  /// Holders known by id: one per held key.
  size_t holders() const { return holders_.size(); }
  size_t waiting() const { return waiting_.size(); }
  size_t max_keys() const { return max_keys_; }

private:
  size_t max_keys_;
  uint64_t arrivals_ = 0;                                 // orders the waiting ones of a key
  std::unordered_map<ordering_key, std::string> keys_;    // held key -> its holder's id
  std::unordered_map<std::string, ordering_key> holders_; // holder id -> its key
  std::map<std::pair<ordering_key, uint64_t>, entry> waiting_;
};

} // namespace dispatch
