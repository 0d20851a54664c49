// Node: the engine interface of a cluster member, what the gateway and embedding users hold.
// Publishes of events whose shard this node owns go to the local engine; the others are made
// durable in the forward queue (group commit, fsynced), acknowledged, and drained by the owner's
// forwarder. Dispatcher writes go through the replicator (to the coordinator); dispatcher reads
// are local; reads of work done go to the gatherer (every member).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include <caf/typed_response_promise.hpp>

#include "cluster/forwarder.hpp"
#include "cluster/interfaces.hpp"
#include "cluster/queue_writer.hpp"
#include "persistence/cluster_store.hpp"

namespace dispatch {

/// The node's own interface: the engine's, plus its group commit of the forward queue.
/// Publishes of one mailbox run share one durable write per owner (through the queue writer).
using node_actor = engine_actor::extend<caf::reacts_to<flush_atom>>;

/// One publish call (one event or a batch) waiting for its parts: the local engine's answer and
/// the forward queue's write.
struct node_publish {
  bool single = false;
  caf::typed_response_promise<event> one;
  caf::typed_response_promise<publish_outcome_list> many;
  publish_outcome_list outcomes;
  size_t parts = 0; // answers still owed
};

using node_publish_ptr = std::shared_ptr<node_publish>;

/// An event buffered for the forward queue and the publish call it belongs to.
struct queued_publish {
  event value;
  uint32_t owner = 0;
  node_publish_ptr call;
  size_t index = 0; // in the call's outcomes
};

struct node_state {
  static inline const char* name = "cluster.node";

  uint32_t node = 0;
  uint32_t coordinator = 0;
  uint32_t shards = 0;
  uint32_t max_event_bytes = 1 << 20;
  std::chrono::milliseconds timeout{10000};
  std::vector<uint32_t> owners; // owners[shard]
  engine_actor engine;
  membership_actor membership;
  replicator_actor replicator;
  gatherer_actor gatherer;                        // reads of work done, for the whole cluster
  std::map<uint32_t, forwarder_actor> forwarders; // by owner
  queue_writer_actor writer;
  cluster_store_ptr store;
  cluster_counters_ptr counters;
  std::vector<queued_publish> buffer;
  bool flush_pending = false;
};

/// Everything a node facade talks to.
struct node_parts {
  uint32_t node = 0;
  uint32_t coordinator = 0;
  uint32_t shards = 0;
  uint32_t max_event_bytes = 1 << 20;
  std::chrono::milliseconds timeout{10000};
  std::vector<uint32_t> owners;
  engine_actor engine;
  membership_actor membership;
  replicator_actor replicator;
  gatherer_actor gatherer;
  std::map<uint32_t, forwarder_actor> forwarders;
  queue_writer_actor writer;
  cluster_store_ptr store;
  cluster_counters_ptr counters;
};

node_actor::behavior_type node(node_actor::stateful_pointer<node_state> self, node_parts parts);

} // namespace dispatch
