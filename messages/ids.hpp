// Identifiers: ObjectId-layout ids (24 lowercase hex), stable delivery ids, and the shard hash.
// `shard_of` and `delivery_id_of` are fixed by test vectors: persisted keys depend on them.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace dispatch {

/// True for exactly 24 hex characters (either case).
bool is_object_id(std::string_view text);

/// Lowercases an id; call only on text for which `is_object_id` holds.
std::string normalize_id(std::string_view text);

/// FNV-1a, 64 bit, over the bytes of `text`.
uint64_t fnv1a_64(std::string_view text, uint64_t basis = 0xcbf29ce484222325ULL);

/// The matcher shard owning an event type: FNV-1a-64 of the type modulo `shards`.
uint32_t shard_of(std::string_view event_type, uint32_t shards);

/// The delivery id of (event, dispatcher, action): 24 hex characters, the same on every redelivery.
std::string delivery_id_of(std::string_view event_id, std::string_view dispatcher_id,
                           std::string_view action_id);

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
