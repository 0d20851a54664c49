// Ingest: validates published events, assigns ids and timestamps, suppresses duplicates, appends each
// group-committed batch to the log (fsynced with `sync`) and only then acknowledges the publishers
// and routes every event to the matcher of its shard.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/typed_response_promise.hpp>

#include "actors/fan_out.hpp"
#include "actors/metrics.hpp"
#include "config/engine_config.hpp"
#include "messages/interfaces.hpp"
#include "persistence/store.hpp"

namespace dispatch {

/// One publish call waiting for its batch to be written: its promise and its events' slots.
struct waiting_publisher {
  bool single = false;
  caf::typed_response_promise<event> one;
  caf::typed_response_promise<publish_outcome_list> many;
  publish_outcome_list outcomes; // filled in input order; `slots` point at the buffered ones
  std::vector<std::pair<size_t, size_t>> slots; // (index in outcomes, index in buffer)
};

struct ingest_state {
  static inline const char* name = "ingest";

  engine_config config;
  store_ptr db;
  metrics_ptr metrics;
  matcher_list matchers;

  std::vector<event> buffer;      // validated events waiting for the next write
  std::vector<size_t> client_ids; // the indexes in `buffer` of events whose id the
                                  // publisher chose: only those can be duplicates
  size_t buffer_bytes = 0;
  std::vector<waiting_publisher> waiting; // the publishers of `buffer`
  bool flush_pending = false;             // a `flush` is queued in our own mailbox
  uint64_t next_sequence = 1;             // log sequence of the next accepted event
  /// Per shard: how many written events its matcher holds unconsumed, and which matcher that is
  /// (a new generation with each new matcher). A matcher replaced before it answered leaves its events
  /// to the emitters: its count is dropped then, and its late answer counts for nothing.
  struct shard_routing {
    uint64_t unmatched = 0;
    uint64_t generation = 0;
  };
  std::vector<shard_routing> routing;
  fan_out_ptr fan_out; // actions per event type, kept by the directory
};

/// Spawns with the configuration, the store, the shared metrics and the matchers (one per shard).
ingest_actor::behavior_type ingest(ingest_actor::stateful_pointer<ingest_state> self,
                                   engine_config config, store_ptr db, metrics_ptr metrics,
                                   matcher_list matchers, fan_out_ptr fan_out);

} // namespace dispatch
