// The supervisor: owns the table of the engine's actors, restarts a crashed child within a budget
// (N restarts in T seconds, then an orderly shutdown) and hands the new handle to every actor that
// talks to it. It is linked to the engine facade: stopping the engine stops everything.
#pragma once

#include <deque>
#include <memory>
#include <vector>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/emitter.hpp"
#include "actors/fan_out.hpp"
#include "actors/metrics.hpp"
#include "config/engine_config.hpp"
#include "messages/interfaces.hpp"
#include "persistence/store.hpp"

namespace dispatch {

/// Everything an engine is made of, and what it needs to make a part again.
struct engine_parts {
  engine_config config;
  store_ptr db;
  metrics_ptr metrics;
  fan_out_ptr fan_out = std::make_shared<fan_out_table>(); // the directory's, read by ingest
  sink_binding task_sink;
  sink_binding mail_sink;
  /// Per shard: its rate-limited dispatchers' buckets, kept by its matcher and shared by its two
  /// emitters (and their restarts). Made by `spawn_parts` when missing.
  std::vector<dispatcher_rates_ptr> dispatcher_rates;
  std::vector<caf::actor> owned_sinks; // built-in sinks spawned for this engine
  emitter_list emitters;               // index `emitter_index(kind, shard, shards)`
  matcher_list matchers;
  ingest_actor ingest;
  directory_actor directory;
  engine_internal_actor engine;
};

/// Spawns every part of an engine (sinks must be set) in dependency order.
void spawn_parts(caf::actor_system& sys, engine_parts& parts);

struct supervisor_state {
  static inline const char* name = "supervisor";
  std::shared_ptr<engine_parts> parts; // shared with the cleanup that stops every part
  std::deque<timestamp_ms> restarts;   // times of recent restarts, for the budget
  bool stopping = false;
};

/// Monitors every part of `parts` and links itself to the engine facade.
caf::behavior supervisor(caf::stateful_actor<supervisor_state>* self, engine_parts parts);

} // namespace dispatch
