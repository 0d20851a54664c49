// HTTP webhook sinks on libcurl: a task delivery becomes the ExH Task Service create call, a mail
// delivery the Mail Service send call, each with `Idempotency-Key: <delivery id>`.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "config/sink_config.hpp"
#include "messages/interfaces.hpp"

namespace dispatch {

/// Spawns a webhook sink for deliveries of `kind`. Requests run on the sink's own thread (curl's
/// multi interface), never on a scheduler thread; connections are reused. Verdicts: 2xx delivered;
/// 408, 429, 5xx, timeouts and connection errors retried (`Retry-After`, in seconds or as an HTTP
/// date, is the floor of the next attempt); any other status permanent. After
/// `breaker_failures` consecutive failures the breaker opens: deliveries are answered "retry" at
/// once, without a request, until `breaker_open` has passed and one probe succeeds.
/// Stops with the actor system or when sent an exit.
caf::expected<sink_actor> spawn_webhook_sink(caf::actor_system& sys, action_kind kind,
                                             webhook_config config);

} // namespace dispatch
