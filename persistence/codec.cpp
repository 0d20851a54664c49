// Errors of the store's value encoding: they name the family and the (readable) key so that an
// operator can find the broken record.
#include "persistence/codec.hpp"

#include "messages/error_code.hpp"
#include "messages/ids.hpp"
#include "persistence/keys.hpp"

namespace dispatch::codec {

caf::error corrupt_value(const char* family, const char* key, size_t key_size,
                         const std::string& reason) {
  return make_error(error_code::server, std::string{"store: family "} + family + ", key '"
                                          + keys::printable(key, key_size)
                                          + "': value does not decode (" + reason + ")");
}

caf::error encode_failed(const char* what, const caf::error& cause) {
  return make_error(error_code::server,
                    std::string{"store: cannot encode "} + what + ": " + caf::to_string(cause));
}

namespace {

constexpr char hex_digits[] = "0123456789abcdef";
constexpr uint8_t format_hex_id = 1;    // id as 12 bytes
constexpr uint8_t format_text_id = 2;   // id as length-prefixed text
constexpr size_t ordering_key_size = 8; // a stored delivery's ordering key trailer

void append_varint(std::string& out, uint64_t x) {
  while (x >= 0x80) {
    out.push_back(static_cast<char>((x & 0x7F) | 0x80));
    x >>= 7;
  }
  out.push_back(static_cast<char>(x));
}

bool read_varint(const char*& pos, const char* end, uint64_t& x) {
  x = 0;
  for (int shift = 0; shift < 64 && pos < end; shift += 7) {
    auto byte = static_cast<uint8_t>(*pos++);
    x |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

uint8_t hex_value(char c) {
  return static_cast<uint8_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
}

} // namespace

void encode_event(std::string& out, const event& ev) {
  out.reserve(out.size() + 22 + ev.type.size() + ev.content.size());
  if (is_object_id(ev.id)) {
    out.push_back(static_cast<char>(format_hex_id));
    for (size_t i = 0; i < 24; i += 2)
      out.push_back(static_cast<char>((hex_value(ev.id[i]) << 4) | hex_value(ev.id[i + 1])));
  } else {
    out.push_back(static_cast<char>(format_text_id));
    append_varint(out, ev.id.size());
    out += ev.id;
  }
  keys::append_u64(out, static_cast<uint64_t>(ev.creation_timestamp));
  append_varint(out, ev.type.size());
  out += ev.type;
  out += ev.content;
}

caf::error encode(std::string& out, const delivery& x) {
  if (auto err = encode<delivery>(out, x)) return err;
  // The ordering key rides after every field `inspect` writes (`replay_id` last): 8 bytes that
  // values written before it simply lack.
  if (x.ordering_key) keys::append_u64(out, *x.ordering_key);
  return caf::none;
}

caf::error decode(const char* family, const char* key, size_t key_size, const char* data,
                  size_t size, delivery& x) {
  // One pass over `inspect(delivery)`'s fields: `replay_id` comes last and is absent from values
  // written before it existed; the ordering key follows it, absent from values written before it
  // existed or of a dispatcher without `orderingKey`.
  caf::binary_deserializer source{nullptr, data, size};
  if (auto err = source(x.id, x.kind, x.event_id, x.event_type, x.dispatcher_id, x.action_id,
                        x.status, x.attempts, x.created, x.next_attempt, x.finished, x.last_error,
                        x.task, x.mail))
    return corrupt_value(family, key, key_size, caf::to_string(err));
  x.replay_id.clear();
  x.ordering_key = caf::none;
  if (source.remaining() != 0)
    if (auto err = source(x.replay_id))
      return corrupt_value(family, key, key_size, caf::to_string(err));
  if (source.remaining() == ordering_key_size)
    x.ordering_key = keys::read_u64(data + size - ordering_key_size);
  else if (source.remaining() != 0)
    return corrupt_value(family, key, key_size,
                         std::to_string(source.remaining()) + " trailing bytes");
  return caf::none;
}

caf::error decode_event(const char* family, const char* key, size_t key_size, const char* data,
                        size_t size, event& out) {
  auto fail = [&](const char* why) { return corrupt_value(family, key, key_size, why); };
  auto pos = data;
  auto end = data + size;
  if (pos == end) return fail("empty event");
  auto format = static_cast<uint8_t>(*pos++);
  if (format == format_hex_id) {
    if (end - pos < 12) return fail("event id cut short");
    out.id.resize(24);
    for (size_t i = 0; i < 12; ++i) {
      auto byte = static_cast<uint8_t>(pos[i]);
      out.id[2 * i] = hex_digits[byte >> 4];
      out.id[2 * i + 1] = hex_digits[byte & 0x0F];
    }
    pos += 12;
  } else if (format == format_text_id) {
    uint64_t n = 0;
    if (!read_varint(pos, end, n) || n > static_cast<uint64_t>(end - pos))
      return fail("event id cut short");
    out.id.assign(pos, n);
    pos += n;
  } else {
    return fail("unknown event format");
  }
  if (end - pos < 8) return fail("event time cut short");
  out.creation_timestamp = static_cast<timestamp_ms>(keys::read_u64(pos));
  pos += 8;
  uint64_t n = 0;
  if (!read_varint(pos, end, n) || n > static_cast<uint64_t>(end - pos))
    return fail("event type cut short");
  out.type.assign(pos, n);
  pos += n;
  out.content.assign(pos, static_cast<size_t>(end - pos));
  return caf::none;
}

} // namespace dispatch::codec
