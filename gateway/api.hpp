// The HTTP API of docs/api.md on top of the engine's typed handle: routing, auth, body rules, RQL,
// JSON rendering, error mapping, /health and /metrics. It never blocks the caller's thread.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>

#include "gateway/http_types.hpp"
#include "gateway/request_metrics.hpp"
#include "messages/interfaces.hpp"

namespace dispatch {

struct api_options {
  std::vector<std::string> tokens; // accepted bearer tokens; empty: every caller is allowed
  std::chrono::milliseconds request_timeout{30000}; // for the engine's answer
  uint32_t body_limit = 1 << 20; // also enforced here for handlers driven without the server
  request_metrics_ptr metrics;   // rendered by /metrics beside the engine's stats (may be null)
};

/// The handler for `http_server::start`. Each request becomes a typed request to `engine`, made
/// from an actor of `sys` (never a blocking wait); the reply is sent when the engine answers or
/// `request_timeout` passes (503). The handler keeps a few bridge actors of `sys` alive: destroy
/// it (and the server holding it) before `sys`, whose destructor waits for every actor.
http_handler make_api_handler(caf::actor_system& sys, engine_actor engine, api_options options);

/// The check for `http_server::start` that refuses a request without a valid token (401, as the
/// handler would) before its body is read: an unauthenticated client cannot make the server read
/// and hold `body_limit` bytes per connection.
http_header_check make_api_header_check(api_options options);

} // namespace dispatch
