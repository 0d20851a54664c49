// A snapshot of the engine's counters and queue depths, as the `stats` call answers it.
#pragma once

#include <cstdint>

#include <caf/meta/type_name.hpp>

#include "messages/cluster.hpp"
#include "messages/latency.hpp"

namespace dispatch {

struct engine_stats {
  uint64_t accepted = 0;   // events made durable
  uint64_t duplicates = 0; // events acknowledged as already seen, not dispatched again
  uint64_t rejected = 0;   // events refused (invalid, overloaded, storage failure)
  uint64_t matched = 0;    // events run through the matchers
  uint64_t set_aside = 0;  // events set aside: their deliveries could not be derived
  uint64_t deliveries_created = 0;
  uint64_t delivered = 0;
  uint64_t retries = 0;
  uint64_t dead_letters = 0;
  uint64_t replayed = 0;
  uint64_t restarts = 0;       // children restarted by the supervisor
  uint64_t storage_probes = 0; // synced probe writes of the health check (at most one a second)
  uint64_t inbox_depth = 0;    // accepted, not yet matched
  uint64_t pending_depth = 0;  // deliveries waiting (pending, held, retrying)
  uint64_t in_flight = 0;      // deliveries at a sink right now
  latency_snapshot delivery_latency; // from the match (right after acceptance) to delivered
  cluster_stats cluster;             // filled in by a cluster node; node 0 when not clustered
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, engine_stats& x) {
  return f(caf::meta::type_name("dispatch.engine_stats"), x.accepted, x.duplicates, x.rejected,
           x.matched, x.set_aside, x.deliveries_created, x.delivered, x.retries, x.dead_letters,
           x.replayed, x.restarts, x.storage_probes, x.inbox_depth, x.pending_depth, x.in_flight,
           x.delivery_latency, x.cluster);
}

} // namespace dispatch
