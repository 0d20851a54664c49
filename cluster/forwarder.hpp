// Forwarder: drains the forward queue of one owner node. Pages events from the cluster store,
// forwards a batch to the owner's peer endpoint, retires it once the owner acknowledged it as
// durable, and waits (retrying with backoff) while the owner is away. A few batches in flight, so
// the owner's group commit can take several at once; after a failure it starts again from the
// oldest event not yet retired (the owner drops what it already has).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include "cluster/interfaces.hpp"
#include "cluster/membership.hpp"
#include "persistence/cluster_store.hpp"

namespace dispatch {

/// Counters the node's actors share, read by `stats`.
struct cluster_counters {
  std::atomic<uint64_t> forwarded{0}; // events handed to and acknowledged by their owners
  std::atomic<uint64_t> received{0};  // events other nodes forwarded here
};

using cluster_counters_ptr = std::shared_ptr<cluster_counters>;

struct forwarder_state {
  static inline const char* name = "cluster.forwarder";

  uint32_t owner = 0;
  uint32_t node = 0; // this node, the sender
  uint32_t batch = 1024;
  std::chrono::milliseconds timeout{10000};
  std::chrono::milliseconds retry_delay{200};
  cluster_store_ptr store;
  cluster_counters_ptr counters;
  peer_actor handle;       // valid while the owner is up
  size_t in_flight = 0;    // batches sent, not yet answered
  uint64_t sent_up_to = 0; // the highest sequence sent since the last rewind
  bool rewind = false;     // a batch failed: resend from the oldest once none is in flight
  bool retry_pending = false;
};

forwarder_actor::behavior_type forwarder(forwarder_actor::stateful_pointer<forwarder_state> self,
                                         uint32_t owner, uint32_t node, uint32_t batch,
                                         std::chrono::milliseconds timeout, cluster_store_ptr store,
                                         cluster_counters_ptr counters);

} // namespace dispatch
