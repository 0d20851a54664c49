// Embedding a cluster node: prepare the actor system's config (middleman, heartbeats, TLS), then
// wrap a running engine in a node of the cluster. The handle it returns is used like the engine.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>

#include "cluster/membership.hpp"
#include "config/cluster_config.hpp"
#include "config/engine_config.hpp"
#include "messages/interfaces.hpp"

namespace dispatch {

/// Loads CAF's middleman (and the OpenSSL manager when TLS is configured), turns on BASP
/// heartbeats and sets the TLS files. Call on the config before the actor system is made.
void prepare_cluster_system(caf::actor_system_config& cfg, const cluster_config& cluster);

/// Registers the cluster's message types (the engine's are added by `prepare_config`).
void add_cluster_message_types(caf::actor_system_config& cfg);

/// Starts this node around `engine` (spawned by `spawn_cluster_engine` with the same `engine_config`): opens the cluster
/// store under `<data_dir>/cluster`, publishes the peer endpoint on `cluster.listen`, connects
/// to the peers and waits up to the join timeout for their handshakes. Fails, stopping what it
/// started (not the engine), when it cannot listen, the store cannot be used, or a peer it
/// reached belongs to a different cluster (the error says why). The returned handle offers the
/// engine's interface; stopping it stops the node's actors and the engine. The node logs peers,
/// refusals and retries through the process's logger (logging/log.hpp, component `cluster`).
caf::expected<engine_actor> spawn_node(caf::actor_system& sys, cluster_engine_actor engine,
                                       const engine_config& engine_cfg,
                                       const cluster_config& cluster);

} // namespace dispatch
