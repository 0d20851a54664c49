// Identifiers: ObjectId-layout ids (24 lowercase hex), stable delivery ids, and the shard hash.
// `shard_of` and `delivery_id_of` are fixed by test vectors: persisted keys depend on them.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "messages/clock.hpp"

namespace dispatch {

/// True for exactly 24 hex characters (either case).
bool is_object_id(std::string_view text);

/// Lowercases an id; call only on text for which `is_object_id` holds.
std::string normalize_id(std::string_view text);

/// FNV-1a, 64 bit, over the bytes of `text`.
uint64_t fnv1a_64(std::string_view text, uint64_t basis = 0xcbf29ce484222325ULL);

/// The matcher shard owning an event type: FNV-1a-64 of the type modulo `shards`.
uint32_t shard_of(std::string_view event_type, uint32_t shards);

/// The delivery id of (event, dispatcher, action) as the first release (schema 2) made it: a hash,
/// 24 hex characters. Deliveries of a data directory migrated from schema 2 keep these ids.
std::string delivery_id_of(std::string_view event_id, std::string_view dispatcher_id,
                           std::string_view action_id);

/// Where a derived delivery comes from: its event's place in the log (shard, sequence) and its
/// ordinal among the deliveries derived from that event (dispatchers in id order, then actions in
/// their order).
struct delivery_position {
  uint64_t sequence = 0; // below 2^56
  uint32_t shard = 0;    // below 2^16
  uint32_t ordinal = 0;  // below 2^24
};

/// The id of the delivery at `pos`: 24 hex characters, sequence (7 bytes) · shard (2) · ordinal
/// (3). The same on every derivation, so it is stable across redeliveries and restarts, and it
/// leads back to its delivery.
std::string delivery_id_at(const delivery_position& pos);

/// The position a delivery id encodes; false for text that is not 24 hex characters.
bool position_of(std::string_view id, delivery_position& out);

/// The largest ordinal a position id can carry (deliveries per event, at most this plus one).
constexpr uint32_t max_delivery_ordinal = (1u << 24) - 1;

/// The first log sequence of the events accepted at `t`: sequences are the accept time in ms × 1000
/// plus a counter (`accepted_at` reads it back), so a time is a bound of sequences. 0 before 1970.
inline uint64_t first_sequence_at(timestamp_ms t) {
  return t <= 0 ? 0 : static_cast<uint64_t>(t) * 1000;
}

/// The id ingest gives an event published without one, in ObjectId layout: its first 4 bytes are
/// the accept time in seconds, the rest says where the event is in the log (a marker byte, the
/// shard, and the rest of the sequence), so the id leads back to the event without an index.
/// `shard` below 256.
std::string event_id_at(uint32_t shard, uint64_t sequence);

/// Where an id made by `event_id_at` says its event is; false for any other id (a publisher's id
/// that happens to carry the marker decodes too: compare the id of what is there).
bool logged_position_of(std::string_view id, uint32_t& shard, uint64_t& sequence);

/// Makes ObjectId-layout ids: 4 bytes of seconds, 5 bytes of node, 3 bytes of counter. Thread-safe.
class id_generator {
public:
  /// A generator whose node bytes are random (one per process is enough).
  id_generator();

  /// A generator with fixed node bytes (the cluster's node id), e.g. for tests.
  explicit id_generator(uint64_t node);

  /// A fresh id, stamped with the current time.
  std::string next();

private:
  std::array<uint8_t, 5> node_;
  std::atomic<uint32_t> counter_;
};

/// The process-wide generator used by the engine.
id_generator& default_id_generator();

} // namespace dispatch
