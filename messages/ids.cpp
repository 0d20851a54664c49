// Identifiers: ObjectIds, delivery ids and the shard hash.
#include "messages/ids.hpp"

#include <chrono>
#include <random>

namespace dispatch {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

void append_hex(std::string& out, uint8_t byte) {
  out.push_back(hex_digits[byte >> 4]);
  out.push_back(hex_digits[byte & 0x0f]);
}

} // namespace

bool is_object_id(std::string_view text) {
  if (text.size() != 24) return false;
  for (auto c : text)
    if (!is_hex(c)) return false;
  return true;
}

std::string normalize_id(std::string_view text) {
  std::string out(text);
  for (auto& c : out)
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

uint64_t fnv1a_64(std::string_view text, uint64_t basis) {
  uint64_t hash = basis;
  for (auto c : text) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

uint32_t shard_of(std::string_view event_type, uint32_t shards) {
  return shards == 0 ? 0 : static_cast<uint32_t>(fnv1a_64(event_type) % shards);
}

std::string delivery_id_of(std::string_view event_id, std::string_view dispatcher_id,
                           std::string_view action_id) {
  // 96 bits from two FNV-1a-64 passes with different bases over "event/dispatcher/action".
  std::string key;
  key.reserve(event_id.size() + dispatcher_id.size() + action_id.size() + 2);
  key.append(event_id).append("/").append(dispatcher_id).append("/").append(action_id);
  auto high = fnv1a_64(key);
  auto low = fnv1a_64(key, high ^ 0x9e3779b97f4a7c15ULL);
  std::string out;
  out.reserve(24);
  for (int shift = 56; shift >= 0; shift -= 8) append_hex(out, static_cast<uint8_t>(high >> shift));
  for (int shift = 24; shift >= 0; shift -= 8) append_hex(out, static_cast<uint8_t>(low >> shift));
  return out;
}

std::string delivery_id_at(const delivery_position& pos) {
  std::string out;
  out.reserve(24);
  for (int shift = 48; shift >= 0; shift -= 8)
    append_hex(out, static_cast<uint8_t>(pos.sequence >> shift));
  for (int shift = 8; shift >= 0; shift -= 8)
    append_hex(out, static_cast<uint8_t>(pos.shard >> shift));
  for (int shift = 16; shift >= 0; shift -= 8)
    append_hex(out, static_cast<uint8_t>(pos.ordinal >> shift));
  return out;
}

namespace {

constexpr uint8_t logged_marker = 0xd5;

uint64_t hex_field(std::string_view id, size_t first, size_t digits) {
  uint64_t x = 0;
  for (size_t i = first; i < first + digits; ++i) {
    auto c = id[i];
    auto v = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
    x = (x << 4) | static_cast<uint64_t>(v);
  }
  return x;
}

} // namespace

std::string event_id_at(uint32_t shard, uint64_t sequence) {
  auto seconds = sequence / 1000000;
  auto rest = sequence - seconds * 1000000;
  std::string out;
  out.reserve(24);
  for (int shift = 24; shift >= 0; shift -= 8)
    append_hex(out, static_cast<uint8_t>(seconds >> shift));
  append_hex(out, logged_marker);
  append_hex(out, static_cast<uint8_t>(shard));
  for (int shift = 40; shift >= 0; shift -= 8) append_hex(out, static_cast<uint8_t>(rest >> shift));
  return out;
}

bool logged_position_of(std::string_view id, uint32_t& shard, uint64_t& sequence) {
  if (!is_object_id(id) || hex_field(id, 8, 2) != logged_marker) return false;
  shard = static_cast<uint32_t>(hex_field(id, 10, 2));
  sequence = hex_field(id, 0, 8) * 1000000 + hex_field(id, 12, 12);
  return true;
}

bool position_of(std::string_view id, delivery_position& out) {
  if (!is_object_id(id)) return false;
  out.sequence = hex_field(id, 0, 14);
  out.shard = static_cast<uint32_t>(hex_field(id, 14, 4));
  out.ordinal = static_cast<uint32_t>(hex_field(id, 18, 6));
  return true;
}

id_generator::id_generator() : counter_(0) {
  std::random_device rd;
  std::mt19937_64 gen{(static_cast<uint64_t>(rd()) << 32) ^ rd()};
  auto node = gen();
  for (size_t i = 0; i < node_.size(); ++i) node_[i] = static_cast<uint8_t>(node >> (8 * i));
  counter_ = static_cast<uint32_t>(gen());
}

id_generator::id_generator(uint64_t node) : counter_(0) {
  for (size_t i = 0; i < node_.size(); ++i)
    node_[i] = static_cast<uint8_t>(node >> (8 * (node_.size() - 1 - i)));
}

std::string id_generator::next() {
  using namespace std::chrono;
  auto secs = static_cast<uint32_t>(
    duration_cast<seconds>(system_clock::now().time_since_epoch()).count());
  auto count = counter_.fetch_add(1, std::memory_order_relaxed) & 0xffffffu;
  std::string out;
  out.reserve(24);
  for (int shift = 24; shift >= 0; shift -= 8) append_hex(out, static_cast<uint8_t>(secs >> shift));
  for (auto b : node_) append_hex(out, b);
  for (int shift = 16; shift >= 0; shift -= 8)
    append_hex(out, static_cast<uint8_t>(count >> shift));
  return out;
}

id_generator& default_id_generator() {
  static id_generator instance;
  return instance;
}

} // namespace dispatch
