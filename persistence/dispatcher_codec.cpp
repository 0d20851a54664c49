// Stored dispatchers across releases. The first release stored a dispatcher (and a cluster log
// entry holding one) as CAF's binary encoding of its inspect() with no marker; a later field
// changes that encoding, so values now begin with a marker byte and a format number, and a value
// without the marker is read with the first release's field list.
//
// Why the marker cannot be mistaken for an old value's first byte: an old dispatcher starts with
// its id's length (a varint; stored ids are 24 hex characters, so 0x18), an old log entry with its
// version's most significant byte (a big-endian uint64 counting up from 1, so 0x00).
#include <utility>

#include "messages/cluster.hpp"
#include "persistence/codec.hpp"

namespace dispatch::codec {

namespace {

constexpr char marker = static_cast<char>(0xFF);
/// Format 2: the dispatcher with filter, orderingKey, rateLimit and templated actions. (Format 1
/// is the unmarked encoding of the first release.)
constexpr char current_format = 2;

// -- format 1 (the first release) -----------------------------------------------------------------

struct action_v1 {
  std::string id;
  action_kind kind = action_kind::task;
  caf::optional<std::string> name;
  caf::optional<std::string> description;
  std::string function_name;
  caf::optional<std::string> data;
  caf::optional<string_list> tags;
  caf::optional<timestamp_ms> start_timestamp;
  caf::optional<int64_t> priority;
  dispatch::recipients recipients;
  std::string template_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, action_v1& x) {
  return f(caf::meta::type_name("dispatch.action"), x.id, x.kind, x.name, x.description,
           x.function_name, x.data, x.tags, x.start_timestamp, x.priority, x.recipients,
           x.template_id);
}

struct dispatcher_v1 {
  std::string id;
  std::string event_type;
  caf::optional<std::string> name;
  caf::optional<std::string> description;
  caf::optional<string_list> tags;
  std::vector<action_v1> actions;
  timestamp_ms creation_timestamp = 0;
  timestamp_ms update_timestamp = 0;
  uint64_t version = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dispatcher_v1& x) {
  return f(caf::meta::type_name("dispatch.dispatcher"), x.id, x.event_type, x.name, x.description,
           x.tags, x.actions, x.creation_timestamp, x.update_timestamp, x.version);
}

struct log_entry_v1 {
  uint64_t version = 0;
  log_op op = log_op::put;
  dispatcher_v1 value;
  std::string id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, log_entry_v1& x) {
  return f(caf::meta::type_name("dispatch.log_entry"), x.version, x.op, x.value, x.id);
}

dispatcher from_v1(dispatcher_v1&& old) {
  dispatcher d;
  d.id = std::move(old.id);
  d.event_type = std::move(old.event_type);
  d.name = std::move(old.name);
  d.description = std::move(old.description);
  d.tags = std::move(old.tags);
  d.creation_timestamp = old.creation_timestamp;
  d.update_timestamp = old.update_timestamp;
  d.version = old.version;
  d.actions.reserve(old.actions.size());
  for (auto& a : old.actions) {
    action x;
    x.id = std::move(a.id);
    x.kind = a.kind;
    x.name = std::move(a.name);
    x.description = std::move(a.description);
    x.function_name = std::move(a.function_name);
    x.data = std::move(a.data);
    x.tags = std::move(a.tags);
    x.start_timestamp = a.start_timestamp;
    x.priority = a.priority;
    x.recipients = std::move(a.recipients);
    x.template_id = std::move(a.template_id);
    d.actions.push_back(std::move(x));
  }
  return d;
}

template <class T>
caf::error encode_marked(std::string& out, const T& x) {
  if (auto err = encode(out, x)) return err;
  out.insert(0, {marker, current_format});
  return caf::none;
}

// Reads a marked value of the current format into `current`, or an unmarked one into `old`
// (then `upgrade(old)`).
template <class T, class Old, class Upgrade>
caf::error decode_marked(const char* family, const char* key, size_t key_size, const char* data,
                         size_t size, T& current, Upgrade upgrade) {
  if (size > 0 && data[0] == marker) {
    if (size < 2 || data[1] != current_format)
      return corrupt_value(family, key, key_size,
                           size < 2 ? "format number missing"
                                    : "unknown format " + std::to_string(uint8_t(data[1]))
                                        + " (written by a newer release?)");
    return decode(family, key, key_size, data + 2, size - 2, current);
  }
  Old old;
  if (auto err = decode(family, key, key_size, data, size, old)) return err;
  current = upgrade(std::move(old));
  return caf::none;
}

} // namespace

caf::error encode_dispatcher(std::string& out, const dispatcher& x) {
  return encode_marked(out, x);
}

caf::error decode_dispatcher(const char* family, const char* key, size_t key_size, const char* data,
                             size_t size, dispatcher& out) {
  return decode_marked<dispatcher, dispatcher_v1>(family, key, key_size, data, size, out, from_v1);
}

caf::error encode_log_entry(std::string& out, const log_entry& x) {
  return encode_marked(out, x);
}

caf::error decode_log_entry(const char* family, const char* key, size_t key_size, const char* data,
                            size_t size, log_entry& out) {
  return decode_marked<log_entry, log_entry_v1>(family, key, key_size, data, size, out,
                                                [](log_entry_v1&& old) {
                                                  log_entry x;
                                                  x.version = old.version;
                                                  x.op = old.op;
                                                  x.value = from_v1(std::move(old.value));
                                                  x.id = std::move(old.id);
                                                  return x;
                                                });
}

caf::error encode_dispatcher_v1(std::string& out, const dispatcher& x) {
  dispatcher_v1 old;
  old.id = x.id;
  old.event_type = x.event_type;
  old.name = x.name;
  old.description = x.description;
  old.tags = x.tags;
  old.creation_timestamp = x.creation_timestamp;
  old.update_timestamp = x.update_timestamp;
  old.version = x.version;
  for (auto& a : x.actions)
    old.actions.push_back(action_v1{a.id, a.kind, a.name, a.description, a.function_name, a.data,
                                    a.tags, a.start_timestamp, a.priority, a.recipients,
                                    a.template_id});
  return encode(out, old);
}

} // namespace dispatch::codec
