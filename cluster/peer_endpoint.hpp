// Peer endpoint: what this node publishes through the middleman for the other nodes. It answers
// handshakes and heartbeats, publishes forwarded events into the local engine, hands admin
// writes and pushed log entries to the replicator, and answers this node's share of cluster-wide
// reads (deliveries, replay, purge, log, held events). It never exposes the engine itself, and
// it answers nothing but the hello to a caller that has not proven its membership in one.
#pragma once

#include <map>
#include <set>

#include "cluster/forwarder.hpp"
#include "cluster/interfaces.hpp"
#include "cluster/member_auth.hpp"
#include "cluster/membership.hpp"
#include "persistence/cluster_store.hpp"

namespace dispatch {

/// A hello's first step, waiting for its second: the node id claimed and the nonce we sent.
struct hello_challenge {
  uint32_t member = 0;
  std::string nonce;
  timestamp_ms issued = 0;
};

struct peer_endpoint_state {
  static inline const char* name = "cluster.peer_endpoint";

  member_info ours;
  uint32_t coordinator = 0;
  std::chrono::milliseconds timeout{10000};
  engine_actor engine; // the local engine: forwarded events are ours to dispatch
  replicator_actor replicator;
  membership_actor membership; // told of the hellos of lower nodes
  cluster_store_ptr store;
  cluster_counters_ptr counters;
  member_auth auth;
  std::map<caf::node_id, hello_challenge> challenges; // one per calling CAF node, used once
  std::set<caf::node_id> refused;                     // callers already logged as refused
};

peer_actor::behavior_type peer_endpoint(peer_actor::stateful_pointer<peer_endpoint_state> self,
                                        member_info ours, uint32_t coordinator,
                                        std::chrono::milliseconds timeout, engine_actor engine,
                                        replicator_actor replicator, membership_actor membership,
                                        cluster_store_ptr store, cluster_counters_ptr counters,
                                        member_auth auth);

} // namespace dispatch
