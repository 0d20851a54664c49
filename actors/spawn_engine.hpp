// Embedding: `spawn_engine(sys, config)` starts an engine inside any CAF actor system and returns the
// typed handle users hold. `anon_send_exit(engine, caf::exit_reason::user_shutdown)` stops all of it.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/optional.hpp>

#include "actors/emitter.hpp"
#include "config/engine_config.hpp"
#include "messages/interfaces.hpp"

namespace dispatch {

/// Where an engine's deliveries go. An absent sink is the built-in log (readable back through the
/// store). Like the ExH Task Service it stands for, it gets tasks at once with their startTimestamp.
struct engine_sinks {
  caf::optional<sink_binding> task;
  caf::optional<sink_binding> mail;
};

/// Opens the store under `config.data_dir` and spawns the engine. Fails (without spawning anything)
/// when the configuration is invalid or the data directory cannot be used.
caf::expected<engine_actor> spawn_engine(caf::actor_system& sys, const engine_config& config,
                                         engine_sinks sinks = {});

/// The same engine for a cluster member: its handle also takes the dispatchers a coordinator
/// replicates (stored as given, without validation). Pass it to `spawn_node` and talk to the
/// node's handle from then on.
caf::expected<cluster_engine_actor>
spawn_cluster_engine(caf::actor_system& sys, const engine_config& config, engine_sinks sinks = {});

} // namespace dispatch
