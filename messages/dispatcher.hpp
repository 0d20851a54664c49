// A dispatcher: a stored rule (an event type and a list of actions). An action is a task action
// (create a task for a function) or a mail action (send a template mail). Optional fields keep the
// difference between absent and empty, because the API omits absent fields and echoes present ones.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>
#include <caf/optional.hpp>

#include "messages/clock.hpp"

namespace dispatch {

using string_list = std::vector<std::string>;

enum class action_kind : uint8_t { task = 0, mail = 1 };

inline const char* to_string(action_kind x) {
  return x == action_kind::task ? "task" : "mail";
}

struct recipients {
  string_list to;
  caf::optional<string_list> cc;
  caf::optional<string_list> bcc;
};

inline bool operator==(const recipients& x, const recipients& y) {
  return x.to == y.to && x.cc == y.cc && x.bcc == y.bcc;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, recipients& x) {
  return f(caf::meta::type_name("dispatch.recipients"), x.to, x.cc, x.bcc);
}

struct action {
  std::string id;
  action_kind kind = action_kind::task;
  caf::optional<std::string> name;
  caf::optional<std::string> description;
  // task actions
  std::string function_name;
  caf::optional<std::string> data; // a JSON object, as validated text
  caf::optional<string_list> tags;
  caf::optional<timestamp_ms> start_timestamp;
  caf::optional<int64_t> priority;
  // mail actions
  dispatch::recipients recipients;
  std::string template_id;
  // task actions: `data` holds `{{event.<path>}}` templates filled from each event (docs/api.md)
  caf::optional<bool> templated;
};

inline bool operator==(const action& x, const action& y) {
  return x.id == y.id && x.kind == y.kind && x.name == y.name && x.description == y.description
         && x.function_name == y.function_name && x.data == y.data && x.tags == y.tags
         && x.start_timestamp == y.start_timestamp && x.priority == y.priority
         && x.recipients == y.recipients && x.template_id == y.template_id
         && x.templated == y.templated;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, action& x) {
  return f(caf::meta::type_name("dispatch.action"), x.id, x.kind, x.name, x.description,
           x.function_name, x.data, x.tags, x.start_timestamp, x.priority, x.recipients,
           x.template_id, x.templated);
}

/// A dispatcher's own limit on its deliveries, across its actions.
struct rate_limit {
  double per_second = 0; // > 0 where stored
};

inline bool operator==(const rate_limit& x, const rate_limit& y) {
  return x.per_second == y.per_second;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rate_limit& x) {
  return f(caf::meta::type_name("dispatch.rate_limit"), x.per_second);
}

// The store encodes dispatchers with a format marker ahead of this inspect (persistence/codec.hpp):
// a field added here needs a new stored format and a decode path for the one before.
struct dispatcher {
  std::string id;
  std::string event_type;
  caf::optional<std::string> name;
  caf::optional<std::string> description;
  caf::optional<string_list> tags;
  std::vector<action> actions;
  timestamp_ms creation_timestamp = 0;
  timestamp_ms update_timestamp = 0;
  uint64_t version = 0; // internal: orders installs in the matchers; never on the HTTP wire
  caf::optional<std::string> filter;       // RQL filter terms over the event; never empty
  caf::optional<std::string> ordering_key; // a dotted path into the event; never empty
  caf::optional<dispatch::rate_limit> rate_limit;
};

inline bool operator==(const dispatcher& x, const dispatcher& y) {
  return x.id == y.id && x.event_type == y.event_type && x.name == y.name
         && x.description == y.description && x.tags == y.tags && x.actions == y.actions
         && x.creation_timestamp == y.creation_timestamp && x.update_timestamp == y.update_timestamp
         && x.version == y.version && x.filter == y.filter && x.ordering_key == y.ordering_key
         && x.rate_limit == y.rate_limit;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dispatcher& x) {
  return f(caf::meta::type_name("dispatch.dispatcher"), x.id, x.event_type, x.name, x.description,
           x.tags, x.actions, x.creation_timestamp, x.update_timestamp, x.version, x.filter,
           x.ordering_key, x.rate_limit);
}

/// A partial update of a dispatcher (PUT): only present fields change. `actions` is never here.
/// An empty `filter` or `ordering_key`, or a `rate_limit` of 0 per second, clears that field.
struct dispatcher_patch {
  caf::optional<std::string> event_type;
  caf::optional<std::string> name;
  caf::optional<std::string> description;
  caf::optional<string_list> tags;
  caf::optional<std::string> filter;
  caf::optional<std::string> ordering_key;
  caf::optional<dispatch::rate_limit> rate_limit;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dispatcher_patch& x) {
  return f(caf::meta::type_name("dispatch.dispatcher_patch"), x.event_type, x.name, x.description,
           x.tags, x.filter, x.ordering_key, x.rate_limit);
}

/// A partial update of an action (PUT): only present fields change; the action's type never does.
struct action_patch {
  caf::optional<std::string> name;
  caf::optional<std::string> description;
  caf::optional<std::string> function_name;
  caf::optional<std::string> data;
  caf::optional<string_list> tags;
  caf::optional<timestamp_ms> start_timestamp;
  caf::optional<int64_t> priority;
  caf::optional<dispatch::recipients> recipients;
  caf::optional<std::string> template_id;
  caf::optional<bool> templated;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, action_patch& x) {
  return f(caf::meta::type_name("dispatch.action_patch"), x.name, x.description, x.function_name,
           x.data, x.tags, x.start_timestamp, x.priority, x.recipients, x.template_id, x.templated);
}

using dispatcher_list = std::vector<dispatcher>;

} // namespace dispatch
