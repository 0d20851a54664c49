// The health probe: whether storage takes a synced write. It probes at most once a second and
// answers everyone who asks in between from the last probe, on its own thread, so `/health` costs
// no fsync per request and never waits behind a publish or a listing.
#pragma once

#include <chrono>
#include <optional>

#include "actors/metrics.hpp"
#include "messages/interfaces.hpp"
#include "persistence/store.hpp"

namespace dispatch {

struct prober_state {
  static inline const char* name = "prober";
  store_ptr db;
  metrics_ptr metrics;
  bool ok = false;
  std::optional<std::chrono::steady_clock::time_point> probed; // when the last probe ran
};

/// How long one probe's answer stands.
constexpr std::chrono::milliseconds probe_interval{1000};

/// Spawns with the store it probes and the metrics whose `storage_ok` it keeps current.
prober_actor::behavior_type prober(prober_actor::stateful_pointer<prober_state> self, store_ptr db,
                                   metrics_ptr metrics);

} // namespace dispatch
