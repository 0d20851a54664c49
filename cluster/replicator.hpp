// Replicator: the dispatcher log. On the coordinator (the lowest node id) it is the single writer:
// it performs each dispatcher write on the local engine, appends the change to the versioned log
// and pushes it to every follower that is up. On a follower it forwards writes to the coordinator,
// applies what the coordinator pushes in version order, and catches up whenever the coordinator
// comes (back) up or a push reveals a gap. Writes are refused while the coordinator is away.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>

#include <caf/typed_response_promise.hpp>

#include "cluster/interfaces.hpp"
#include "cluster/membership.hpp"
#include "persistence/cluster_store.hpp"

namespace dispatch {

/// An admin write waiting for its turn (writes run one at a time, in arrival order).
struct pending_write {
  admin_request request;
  caf::typed_response_promise<admin_reply> promise;
};

struct replicator_state {
  static inline const char* name = "cluster.replicator";

  uint32_t node = 0;
  uint32_t coordinator = 0;
  std::chrono::milliseconds timeout{10000};
  cluster_engine_actor engine; // the local engine (not the cluster facade)
  cluster_store_ptr store;
  peer_actor coordinator_handle;            // followers: valid while the coordinator is up
  std::map<uint32_t, peer_actor> followers; // coordinator: the followers that are up
  std::deque<pending_write> writes;
  bool writing = false;
  bool catching_up = false;
  bool catch_up_again = false; // a gap was seen while a catch-up ran
  uint64_t applied = 0;        // followers: the last version applied to the engine
};

replicator_actor::behavior_type
replicator(replicator_actor::stateful_pointer<replicator_state> self, uint32_t node,
           uint32_t coordinator, std::chrono::milliseconds timeout, cluster_engine_actor engine,
           cluster_store_ptr store);

} // namespace dispatch
