// A delivery: one action applied to one event, on its way to a sink. It carries the materialized
// request (task or mail), its status and its retry bookkeeping. Its id is stable across redeliveries.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>
#include <caf/optional.hpp>

#include "messages/clock.hpp"
#include "messages/dispatcher.hpp"
#include "messages/json_text.hpp"

namespace dispatch {

/// What an ExH Task Service create call carries.
struct task_request {
  std::string function_name;
  json_text data; // the action's data with the event added as `event`: JSON object text whose
                  // event part the deliveries of one event share
  caf::optional<string_list> tags;
  caf::optional<timestamp_ms> start_timestamp;
  caf::optional<int64_t> priority;
};

inline bool operator==(const task_request& x, const task_request& y) {
  return x.function_name == y.function_name && x.data == y.data && x.tags == y.tags
         && x.start_timestamp == y.start_timestamp && x.priority == y.priority;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_request& x) {
  return f(caf::meta::type_name("dispatch.task_request"), x.function_name, x.data, x.tags,
           x.start_timestamp, x.priority);
}

/// What an ExH Mail Service send call carries.
struct mail_request {
  std::string template_id;
  dispatch::recipients recipients;
  json_text content; // {"event": <the event>}, JSON object text sharing the event's bytes
};

inline bool operator==(const mail_request& x, const mail_request& y) {
  return x.template_id == y.template_id && x.recipients == y.recipients && x.content == y.content;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mail_request& x) {
  return f(caf::meta::type_name("dispatch.mail_request"), x.template_id, x.recipients, x.content);
}

enum class delivery_status : uint8_t {
  pending = 0,  // due now, waiting for a sink slot or in flight
  held = 1,     // a task waiting for its startTimestamp (non-scheduling sinks only)
  retrying = 2, // failed at least once, waiting for its next attempt
  delivered = 3,
  dead = 4, // permanent failure or spent budget: a dead letter, replayable
};

const char* to_string(delivery_status x);

/// Parses "pending", "held", ...; false when unknown.
bool from_string(const std::string& text, delivery_status& out);

struct delivery {
  std::string id; // delivery_id_of(event_id, dispatcher_id, action_id)
  action_kind kind = action_kind::task;
  std::string event_id;
  std::string event_type;
  std::string dispatcher_id;
  std::string action_id;
  delivery_status status = delivery_status::pending;
  uint32_t attempts = 0;
  timestamp_ms created = 0;      // when the delivery was made (start of its age budget)
  timestamp_ms next_attempt = 0; // its due time while pending, held or retrying
  timestamp_ms finished = 0;     // when it was delivered or dead-lettered
  std::string last_error;
  task_request task;     // kind == task
  mail_request mail;     // kind == mail
  std::string replay_id; // made by a replay from the archive: that replay's id (else empty)
  // Its dispatcher's ordering key (a hash of the dispatcher and the key's value), when it has
  // one: deliveries of equal keys go one at a time (actors/key_order.hpp). Set where deliveries
  // are derived; stored with the delivery (a trailer of `codec::encode`), but not in `inspect`
  // (so not in messages between nodes) and not compared.
  caf::optional<uint64_t> ordering_key;
};

inline bool operator==(const delivery& x, const delivery& y) {
  return x.id == y.id && x.kind == y.kind && x.event_id == y.event_id
         && x.event_type == y.event_type && x.dispatcher_id == y.dispatcher_id
         && x.action_id == y.action_id && x.status == y.status && x.attempts == y.attempts
         && x.created == y.created && x.next_attempt == y.next_attempt && x.finished == y.finished
         && x.last_error == y.last_error && x.task == y.task && x.mail == y.mail
         && x.replay_id == y.replay_id;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivery& x) {
  return f(caf::meta::type_name("dispatch.delivery"), x.id, x.kind, x.event_id, x.event_type,
           x.dispatcher_id, x.action_id, x.status, x.attempts, x.created, x.next_attempt,
           x.finished, x.last_error, x.task, x.mail, x.replay_id);
}

using delivery_list = std::vector<delivery>;

/// A sink's verdict on one delivery.
enum class sink_verdict : uint8_t {
  delivered = 0,
  retry = 1,     // transient failure: try again later (after `retry_after_ms` at the earliest)
  permanent = 2, // will never succeed: dead-letter at once
  deferred = 3,  // not tried (e.g. the sink's circuit is open): again after `retry_after_ms`,
                 // no attempt spent; only the age budget bounds it
};

struct delivery_result {
  sink_verdict verdict = sink_verdict::delivered;
  int64_t retry_after_ms = 0; // with retry: a floor for the next attempt (e.g. Retry-After)
  std::string reason;         // with retry or permanent: why, for `lastError`
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivery_result& x) {
  return f(caf::meta::type_name("dispatch.delivery_result"), x.verdict, x.retry_after_ms, x.reason);
}

inline delivery_result delivered() {
  return {sink_verdict::delivered, 0, {}};
}

inline delivery_result retry_later(std::string reason, int64_t after_ms = 0) {
  return {sink_verdict::retry, after_ms, std::move(reason)};
}

inline delivery_result permanent_failure(std::string reason) {
  return {sink_verdict::permanent, 0, std::move(reason)};
}

inline delivery_result defer(std::string reason, int64_t after_ms) {
  return {sink_verdict::deferred, after_ms, std::move(reason)};
}

} // namespace dispatch
