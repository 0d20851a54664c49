// Value encoding of the store: message types through CAF's binary serializer (they all have
// inspect()). A value that does not decode is an error naming its family and key, never a crash.
#pragma once

#include <string>
#include <vector>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/error.hpp>

#include "messages/delivery.hpp"
#include "messages/dispatcher.hpp"
#include "messages/event.hpp"

namespace dispatch {
struct log_entry;
}

namespace dispatch::codec {

/// The error for a stored value that failed to decode.
caf::error corrupt_value(const char* family, const char* key, size_t key_size,
                         const std::string& reason);

/// The error for a value that failed to encode (a bug, but never a crash).
caf::error encode_failed(const char* what, const caf::error& cause);

/// Serializes `xs...` into `out` (cleared first).
template <class... Ts>
caf::error encode(std::string& out, const Ts&... xs) {
  thread_local std::vector<char> buf; // reused: one allocation per thread, not per value
  buf.clear();
  caf::binary_serializer sink{nullptr, buf};
  // CAF 0.17's serializer takes non-const references (one `inspect` serves both directions);
  // serializing only reads them.
  if (auto err = sink(const_cast<Ts&>(xs)...)) return encode_failed("value", err);
  out.assign(buf.begin(), buf.end());
  return caf::none;
}

/// Deserializes `xs...` from a stored value; every byte must be consumed.
template <class... Ts>
caf::error decode(const char* family, const char* key, size_t key_size, const char* data,
                  size_t size, Ts&... xs) {
  caf::binary_deserializer source{nullptr, data, size};
  if (auto err = source(xs...)) return corrupt_value(family, key, key_size, caf::to_string(err));
  if (source.remaining() != 0)
    return corrupt_value(family, key, key_size,
                         std::to_string(source.remaining()) + " trailing bytes");
  return caf::none;
}

/// A delivery as stored: the fields `inspect` writes, then its ordering key (8 bytes) when it has
/// one. Chosen over the template for a lone delivery.
caf::error encode(std::string& out, const delivery& x);

/// A stored delivery: as written now, as written before deliveries carried their ordering key
/// (none), or as written before they carried `replay_id` (every field up to `mail`), which then
/// reads as empty. Chosen over the template for a lone delivery.
caf::error decode(const char* family, const char* key, size_t key_size, const char* data,
                  size_t size, delivery& x);

/// A dispatcher as stored (families `dispatchers` and `dispatcher_versions`): a marker, a format
/// number, then the encoding above. A value without the marker is the first release's encoding and
/// still decodes (the new fields absent).
caf::error encode_dispatcher(std::string& out, const dispatcher& x);
caf::error decode_dispatcher(const char* family, const char* key, size_t key_size, const char* data,
                             size_t size, dispatcher& out);

/// A cluster log entry as stored, the same way (it holds a dispatcher).
caf::error encode_log_entry(std::string& out, const log_entry& x);
caf::error decode_log_entry(const char* family, const char* key, size_t key_size, const char* data,
                            size_t size, log_entry& out);

/// The first release's encoding of `x` (its new fields dropped): for the tests of the upgrade.
caf::error encode_dispatcher_v1(std::string& out, const dispatcher& x);

/// Appends the log's compact form of an event: a format byte, the id (12 bytes when it is 24 hex
/// characters, which ingest sees to; else length-prefixed text), the creation time (8 bytes), the
/// type (length-prefixed) and the content text (the rest).
void encode_event(std::string& out, const event& ev);

/// Reads an event written by `encode_event`.
caf::error decode_event(const char* family, const char* key, size_t key_size, const char* data,
                        size_t size, event& out);

} // namespace dispatch::codec
