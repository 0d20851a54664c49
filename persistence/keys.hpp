// Key encoding of the store's column families: fixed-width big-endian fields so that RocksDB's
// bytewise order is numeric order (shard then sequence, kind then due time, day then id).
#pragma once

#include <cstdint>
#include <string>

#include "messages/clock.hpp"
#include "messages/dispatcher.hpp"

namespace dispatch::keys {

// -- column family names (also what a raw RocksDB handle opens in tests and tools) ----------------

constexpr const char* meta_family = "meta";
constexpr const char* dispatchers_family = "dispatchers";
constexpr const char* inbox_family = "inbox";
constexpr const char* seen_family = "seen";
constexpr const char* deliveries_family = "deliveries";
constexpr const char* delivery_index_family = "delivery_index";
constexpr const char* dead_letters_family = "dead_letters";
constexpr const char* history_family = "history";
constexpr const char* log_family = "log";

// -- meta --------------------------------------------------------------------------------------

constexpr const char* schema_version_key = "schema_version"; // value: u32 big-endian
constexpr const char* shard_count_key = "shards";            // value: u32 big-endian
constexpr const char* probe_key = "probe";                   // written and deleted by health
constexpr const char* seen_floor_key = "seen_floor";         // value: u32 big-endian day
// 2: `seen` keyed by event id alone (the day moved into the value).
constexpr uint32_t schema_version = 2;

// -- fixed-width fields ------------------------------------------------------------------------

void append_u32(std::string& out, uint32_t x);
void append_u64(std::string& out, uint64_t x);

/// Reads a big-endian field at `pos`; the caller checks the size.
uint32_t read_u32(const char* data);
uint64_t read_u64(const char* data);

/// A due time as an unsigned, order-preserving field (negative times sort first, never wrap).
uint64_t due_field(timestamp_ms due);
timestamp_ms due_from_field(uint64_t field);

// -- keys --------------------------------------------------------------------------------------

/// inbox: shard(4) · sequence(8).
std::string inbox_key(uint32_t shard, uint64_t sequence);
std::string inbox_prefix(uint32_t shard);

/// seen: the event id itself (one key per id, one lookup per duplicate check); the value holds
/// the day it was accepted and the event (see store.cpp).

/// deliveries: kind(1) · due(8) · delivery id.
std::string delivery_key(action_kind kind, timestamp_ms due, const std::string& delivery_id);
std::string kind_prefix(action_kind kind);
/// The prefix after every key of `kind` (an exclusive upper bound).
std::string next_kind_prefix(action_kind kind);
/// The kind·due prefix of deliveries of `kind` due at `due` or later.
std::string due_prefix(action_kind kind, timestamp_ms due);
/// Splits a delivery key; false when it is malformed.
bool parse_delivery_key(const char* data, size_t size, action_kind& kind, timestamp_ms& due,
                        std::string& id);

/// delivery_index value: kind(1) · due(8).
std::string slot_value(action_kind kind, timestamp_ms due);
bool parse_slot_value(const char* data, size_t size, action_kind& kind, timestamp_ms& due);

/// history: day(4) · delivery id.
std::string history_key(uint32_t day, const std::string& delivery_id);
std::string day_prefix(uint32_t day);

/// log: kind(1) · day(4) · delivery id.
std::string log_key(action_kind kind, uint32_t day, const std::string& delivery_id);
std::string log_day_prefix(action_kind kind, uint32_t day);

/// A key made readable for error messages: printable bytes as they are, others as \xNN.
std::string printable(const char* data, size_t size);

} // namespace dispatch::keys
