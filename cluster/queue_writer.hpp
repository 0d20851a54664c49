// Queue writer: writes batches into the forward queue of their owner (a synced RocksDB write,
// so it runs detached, off the scheduler's threads) and wakes that owner's forwarder. The node
// facade stays an ordinary actor: a handle users hold never pins a private thread.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include <caf/typed_response_promise.hpp>

#include <caf/typed_actor.hpp>

#include "cluster/interfaces.hpp"
#include "persistence/cluster_store.hpp"

namespace dispatch {

using queue_writer_actor = caf::typed_actor<
  // Appends events for `owner` durably; answers how many were queued. The appends already in the
  // mailbox share one sync (group commit), and are answered after it.
  caf::replies_to<enqueue_atom, uint32_t, event_list>::with<uint64_t>,
  // Internal: appends and syncs everything gathered since the last flush.
  caf::reacts_to<flush_atom>>;

/// An append waiting for the next flush.
struct pending_append {
  uint32_t owner = 0;
  event_list events;
  caf::typed_response_promise<uint64_t> promise;
};

struct queue_writer_state {
  static inline const char* name = "cluster.queue_writer";

  cluster_store_ptr store;
  std::map<uint32_t, forwarder_actor> forwarders; // by owner
  std::vector<pending_append> pending;
  bool flush_pending = false; // a `flush` is queued in our own mailbox
};

queue_writer_actor::behavior_type
queue_writer(queue_writer_actor::stateful_pointer<queue_writer_state> self, cluster_store_ptr store,
             std::map<uint32_t, forwarder_actor> forwarders);

} // namespace dispatch
