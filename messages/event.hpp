// An event: something that happened on the platform, `{id, type, content, creationTimestamp}`.
// `content` travels as validated JSON object text, parsed only where needed.
#pragma once

#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "messages/clock.hpp"
#include "messages/error_code.hpp"

namespace dispatch {

struct event {
  std::string id;                      // 24 lowercase hex; assigned by ingest when absent
  std::string type;                    // the event type dispatchers match on
  std::string content = "{}";          // a JSON object, as validated text
  timestamp_ms creation_timestamp = 0; // assigned by ingest when 0
};

inline bool operator==(const event& x, const event& y) {
  return x.id == y.id && x.type == y.type && x.content == y.content
         && x.creation_timestamp == y.creation_timestamp;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event& x) {
  return f(caf::meta::type_name("dispatch.event"), x.id, x.type, x.content, x.creation_timestamp);
}

/// The answer to one event of a published batch: the stored event, or why it was rejected.
struct publish_outcome {
  event stored;           // the event as stored (for a duplicate: as first stored)
  bool duplicate = false; // true when the id had been seen: acknowledged, not dispatched again
  error_code code = error_code::none; // none = accepted
  std::string message;                // the reason of a rejection, naming the field
};

/// The answer for an event refused with `err` (its code and message).
inline publish_outcome rejection(const event& ev, const caf::error& err) {
  publish_outcome out;
  out.stored = ev;
  out.code = code_of(err);
  out.message = message_of(err);
  return out;
}

inline bool accepted(const publish_outcome& x) {
  return x.code == error_code::none;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, publish_outcome& x) {
  return f(caf::meta::type_name("dispatch.publish_outcome"), x.stored, x.duplicate, x.code,
           x.message);
}

using event_list = std::vector<event>;
using publish_outcome_list = std::vector<publish_outcome>;

} // namespace dispatch
