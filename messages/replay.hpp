// A replay from the event archive: the archived events of a time range that match a filter are
// dispatched again, to the dispatchers of now (or those named), as deliveries with new ids.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "messages/clock.hpp"
#include "messages/dispatcher.hpp"
#include "messages/query.hpp"

namespace dispatch {

/// What a user asks for: events accepted in [from, to) (epoch ms) matching `where` (the RQL text
/// in `filter`; empty: every event), to the dispatchers in `dispatcher_ids` (empty: all).
/// Holds a filter tree, so it never crosses the wire (see type_registry.cpp).
struct replay_request {
  timestamp_ms from = 0;
  timestamp_ms to = 0;
  std::string filter;
  dispatch::filter where;
  string_list dispatcher_ids;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, replay_request& x) {
  return f(caf::meta::type_name("dispatch.replay_request"), x.from, x.to, x.filter, x.where,
           x.dispatcher_ids);
}

enum class replay_state : uint8_t { running = 0, done = 1, cancelled = 2 };

const char* to_string(replay_state x);

/// A replay as listed: its request (the filter as text), its state and its progress.
struct replay_status {
  std::string id;
  timestamp_ms from = 0;
  timestamp_ms to = 0;
  std::string filter;
  string_list dispatcher_ids;
  replay_state state = replay_state::running;
  uint64_t matched = 0;    // events of the range that matched, so far
  uint64_t dispatched = 0; // deliveries made of them and handed to the emitters, so far
  uint64_t position = 0;   // the last log sequence done: a restarted replay goes on after it
  timestamp_ms created = 0;
  timestamp_ms finished = 0; // when it was done or cancelled (0 while running)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, replay_status& x) {
  return f(caf::meta::type_name("dispatch.replay_status"), x.id, x.from, x.to, x.filter,
           x.dispatcher_ids, x.state, x.matched, x.dispatched, x.position, x.created, x.finished);
}

struct replay_page {
  page_info page;
  std::vector<replay_status> data;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, replay_page& x) {
  return f(caf::meta::type_name("dispatch.replay_page"), x.page, x.data);
}

/// A replay's JSON shape: `{id, status, from, to, filter?, dispatcherIds?, matched, dispatched,
/// creationTimestamp, finishedTimestamp?}`.
std::string to_json(const replay_status& x);

} // namespace dispatch
