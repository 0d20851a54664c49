// Key encoding of the store's column families. Big-endian everywhere: RocksDB compares keys
// bytewise, so this is what makes "next due delivery" the first key of a kind prefix.
#include "persistence/keys.hpp"

#include <cstdio>

namespace dispatch::keys {

void append_u16(std::string& out, uint16_t x) {
  out.push_back(static_cast<char>(x >> 8));
  out.push_back(static_cast<char>(x & 0xFF));
}

uint16_t read_u16(const char* data) {
  return static_cast<uint16_t>((static_cast<uint8_t>(data[0]) << 8)
                               | static_cast<uint8_t>(data[1]));
}

void append_u32(std::string& out, uint32_t x) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((x >> shift) & 0xFF));
}

void append_u64(std::string& out, uint64_t x) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((x >> shift) & 0xFF));
}

uint32_t read_u32(const char* data) {
  uint32_t x = 0;
  for (int i = 0; i < 4; ++i) x = (x << 8) | static_cast<uint8_t>(data[i]);
  return x;
}

uint64_t read_u64(const char* data) {
  uint64_t x = 0;
  for (int i = 0; i < 8; ++i) x = (x << 8) | static_cast<uint8_t>(data[i]);
  return x;
}

// Flipping the sign bit maps int64 order onto uint64 order (two's complement).
uint64_t due_field(timestamp_ms due) {
  return static_cast<uint64_t>(due) ^ (uint64_t{1} << 63);
}

timestamp_ms due_from_field(uint64_t field) {
  return static_cast<timestamp_ms>(field ^ (uint64_t{1} << 63));
}

std::string log_entry_key(uint32_t shard, uint64_t sequence) {
  std::string key;
  key.reserve(12);
  append_u32(key, shard);
  append_u64(key, sequence);
  return key;
}

std::string shard_prefix(uint32_t shard) {
  std::string key;
  append_u32(key, shard);
  return key;
}

std::string set_aside_key(uint32_t shard, uint64_t sequence) {
  std::string key{set_aside_prefix};
  append_u32(key, shard);
  append_u64(key, sequence);
  return key;
}

std::string event_count_key(uint32_t shard, uint32_t day) {
  std::string key;
  key.reserve(8);
  append_u32(key, shard);
  append_u32(key, day);
  return key;
}

std::string replay_key(const std::string& replay_id) {
  return std::string{replay_prefix} + replay_id;
}

std::string version_key(uint32_t shard, uint64_t from, const std::string& dispatcher_id) {
  auto key = log_entry_key(shard, from);
  key += dispatcher_id;
  return key;
}

std::string progress_key(action_kind kind, uint32_t shard) {
  auto key = kind_prefix(kind);
  append_u32(key, shard);
  return key;
}

std::string progress_day_key(action_kind kind, uint32_t shard, uint32_t day) {
  auto key = progress_key(kind, shard);
  append_u32(key, day);
  return key;
}

std::string counted_from_key(action_kind kind, uint32_t shard) {
  return "counted_from/" + progress_key(kind, shard);
}

std::string created_span_key(uint32_t shard, uint32_t minute) {
  std::string key = created_span_prefix;
  append_u32(key, shard);
  append_u32(key, minute);
  return key;
}

std::string record_time_key(action_kind kind, timestamp_ms created, const std::string& id) {
  auto key = kind_prefix(kind);
  key.reserve(9 + id.size());
  append_u64(key, due_field(created));
  key += id;
  return key;
}

std::string exception_prefix(action_kind kind, uint32_t shard) {
  auto key = kind_prefix(kind);
  append_u16(key, static_cast<uint16_t>(shard));
  return key;
}

std::string exception_due_prefix(action_kind kind, uint32_t shard, timestamp_ms due) {
  auto key = exception_prefix(kind, shard);
  append_u64(key, due_field(due));
  return key;
}

std::string exception_key(action_kind kind, uint32_t shard, timestamp_ms due,
                          const std::string& delivery_id) {
  auto key = exception_due_prefix(kind, shard, due);
  key += delivery_id;
  return key;
}

bool parse_exception_key(const char* data, size_t size, action_kind& kind, uint32_t& shard,
                         timestamp_ms& due, std::string& id) {
  if (size < 11 || static_cast<uint8_t>(data[0]) > static_cast<uint8_t>(action_kind::mail))
    return false;
  kind = static_cast<action_kind>(data[0]);
  shard = read_u16(data + 1);
  due = due_from_field(read_u64(data + 3));
  id.assign(data + 11, size - 11);
  return true;
}

bool parse_legacy_delivery_key(const char* data, size_t size, action_kind& kind, timestamp_ms& due,
                               std::string& id) {
  if (size < 9 || static_cast<uint8_t>(data[0]) > static_cast<uint8_t>(action_kind::mail))
    return false;
  kind = static_cast<action_kind>(data[0]);
  due = due_from_field(read_u64(data + 1));
  id.assign(data + 9, size - 9);
  return true;
}

std::string kind_prefix(action_kind kind) {
  return std::string(1, static_cast<char>(kind));
}

std::string next_kind_prefix(action_kind kind) {
  return std::string(1, static_cast<char>(static_cast<uint8_t>(kind) + 1));
}

std::string history_key(uint32_t day, const std::string& delivery_id) {
  std::string key;
  key.reserve(4 + delivery_id.size());
  append_u32(key, day);
  key += delivery_id;
  return key;
}

std::string day_prefix(uint32_t day) {
  std::string key;
  append_u32(key, day);
  return key;
}

std::string log_key(action_kind kind, uint32_t day, const std::string& delivery_id) {
  auto key = log_day_prefix(kind, day);
  key += delivery_id;
  return key;
}

std::string log_day_prefix(action_kind kind, uint32_t day) {
  auto key = kind_prefix(kind);
  append_u32(key, day);
  return key;
}

std::string past_prefix(const char* prefix) {
  std::string upper{prefix};
  upper.back() = static_cast<char>(upper.back() + 1);
  return upper;
}

std::string printable(const char* data, size_t size) {
  std::string out;
  out.reserve(size);
  for (size_t i = 0; i < size; ++i) {
    auto c = static_cast<unsigned char>(data[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[5];
      std::snprintf(buf, sizeof(buf), "\\x%02X", c);
      out += buf;
    }
  }
  return out;
}

} // namespace dispatch::keys
