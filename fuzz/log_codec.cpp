// Fuzz target: the store's value codec (persistence/codec.cpp) on bytes as RocksDB would hand them
// back. The first byte picks the record: an event of the event log (the compact form), a record of
// the built-in log sink, a delivery (exceptions, dead letters, history) or a dispatcher. A value
// either decodes or fails with an error; what decodes must survive encode -> decode unchanged.
#include <string>

#include "fuzz/fuzz_check.hpp"
#include "messages/dispatcher.hpp"
#include "messages/delivery.hpp"
#include "messages/ids.hpp"
#include "persistence/codec.hpp"
#include "persistence/keys.hpp"

namespace {

using namespace dispatch;
using dispatch::fuzz::require;

constexpr char key[] = "fuzz\x01key";

void event_log_record(const char* data, size_t size) {
  event ev;
  if (codec::decode_event(keys::event_log_family, key, sizeof key - 1, data, size, ev)) return;
  std::string encoded;
  codec::encode_event(encoded, ev);
  event again;
  auto err = codec::decode_event(keys::event_log_family, key, sizeof key - 1, encoded.data(),
                                 encoded.size(), again);
  // A 24-hex id is written as 12 bytes and read back in lower case: ingest normalizes ids before
  // they are stored, so only a record the writer never makes (text form, upper case) changes here.
  if (is_object_id(ev.id)) ev.id = normalize_id(ev.id);
  require(!err && again == ev, "an event of the log re-encodes to itself", encoded);
}

// Through codec::decode (every byte consumed), then once more through encode and decode.
template <class... Ts>
void stored_value(const char* family, const char* data, size_t size, Ts&... xs) {
  if (codec::decode(family, key, sizeof key - 1, data, size, xs...)) return;
  std::string encoded;
  require(!codec::encode(encoded, xs...), "a decoded value encodes");
  auto first = encoded;
  if (codec::decode(family, key, sizeof key - 1, encoded.data(), encoded.size(), xs...))
    require(false, "an encoded value decodes", encoded);
  require(!codec::encode(encoded, xs...) && encoded == first, "a value re-encodes to itself",
          encoded);
}

// A stored dispatcher, old format or new: decoded, it re-encodes (new format) to itself.
void stored_dispatcher(const char* data, size_t size) {
  dispatcher d;
  if (codec::decode_dispatcher(keys::dispatchers_family, key, sizeof key - 1, data, size, d))
    return;
  std::string encoded;
  require(!codec::encode_dispatcher(encoded, d), "a decoded dispatcher encodes");
  dispatcher again;
  if (codec::decode_dispatcher(keys::dispatchers_family, key, sizeof key - 1, encoded.data(),
                               encoded.size(), again))
    require(false, "an encoded dispatcher decodes", encoded);
  require(again == d, "a dispatcher re-encodes to itself", encoded);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size == 0) return 0;
  auto data = reinterpret_cast<const char*>(bytes) + 1;
  --size;
  switch (bytes[0] % 4) {
    case 0:
      event_log_record(data, size);
      break;
    case 1: {
      timestamp_ms received = 0;
      std::string json;
      stored_value(keys::log_family, data, size, received, json);
      break;
    }
    case 2: {
      delivery d;
      stored_value(keys::dead_letters_family, data, size, d);
      break;
    }
    default: {
      stored_dispatcher(data, size);
      break;
    }
  }
  return 0;
}
