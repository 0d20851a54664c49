// HTTP webhook sinks on libcurl: a task delivery becomes the ExH Task Service create call, a mail
// delivery the Mail Service send call, each with `Idempotency-Key: <delivery id>`.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "config/sink_config.hpp"
#include "messages/interfaces.hpp"
#include "sinks/circuit_breaker.hpp"
#include "sinks/http_client.hpp"

namespace dispatch {

/// A webhook sink's own interface: the sink interface plus the report of its HTTP thread.
using webhook_sink_actor = sink_actor::extend<
  // The HTTP thread's verdict on request `id` (sent by the thread, never by users).
  caf::reacts_to<answered_atom, uint64_t, delivery_result>>;

struct webhook_sink_state {
  static inline const char* name = "webhook_sink";

  action_kind kind = action_kind::task;
  webhook_config config;
  std::string base_url;                // without trailing '/'
  std::unique_ptr<http_client> client; // stopped and joined when the state goes
  std::string client_error;            // why there is no client (curl could not start)
  circuit_breaker breaker;
  std::string last_failure; // the reason of the latest retryable failure, for "circuit open"
  uint64_t next_request = 1;
  uint64_t next_batch = 1;
  /// A batch whose requests are at the HTTP thread: answered when the last one has reported.
  struct open_batch {
    caf::typed_response_promise<delivery_result_list> promise;
    delivery_result_list results;
    size_t outstanding = 0;
  };
  std::unordered_map<uint64_t, open_batch> batches;
  /// Requests at the HTTP thread, by id: their batch and their place in it.
  std::unordered_map<uint64_t, std::pair<uint64_t, size_t>> waiting;
};

webhook_sink_actor::behavior_type
webhook_sink(webhook_sink_actor::stateful_pointer<webhook_sink_state> self, action_kind kind,
             webhook_config config);

/// Checks a webhook configuration; the error names the key (`dispatch.sinks.<kind>.url`, ...).
caf::error validate_webhook_config(action_kind kind, const webhook_config& config);

/// Spawns a webhook sink for deliveries of `kind`. Requests run on the sink's own thread (curl's
/// multi interface), never on a scheduler thread; connections are reused. Verdicts: 2xx delivered;
/// 408, 429, 5xx, timeouts and connection errors retried (`Retry-After`, in seconds or as an HTTP
/// date, is the floor of the next attempt); any other status permanent. After
/// `breaker_failures` consecutive failures the breaker opens: deliveries are answered "deferred"
/// at once, without a request, until `breaker_open` has passed on `config.clock` and one probe
/// succeeds.
/// Stops with the actor system or when sent an exit.
caf::expected<sink_actor> spawn_webhook_sink(caf::actor_system& sys, action_kind kind,
                                             webhook_config config);

} // namespace dispatch
