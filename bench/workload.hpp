// The actors that load the engine: a counting sink that timestamps arrivals, a publisher that runs
// closed or open loop, and the setup that creates the scenario's dispatchers.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include "bench/scenario.hpp"
#include "messages/interfaces.hpp"

namespace dispatch::bench {

/// What the sink saw. The sink actor writes, the driver thread reads: counters are atomics, the
/// latency samples sit behind a mutex that only the sink takes while the run lasts.
struct sink_tally {
  // Deliveries of the events the bench published. Not those of a copied store (`--store`) whose
  // waiting deliveries come due while the run publishes: the loop and the figures count on this.
  std::atomic<uint64_t> received{0};
  /// Only events published at or after this time (ns, steady clock) and before `record_until`
  /// give latency samples: the measured window.
  std::atomic<uint64_t> record_from{UINT64_MAX};
  std::atomic<uint64_t> record_until{UINT64_MAX};
  std::mutex samples_mutex;
  std::vector<uint32_t> samples_us;
};

using sink_tally_ptr = std::shared_ptr<sink_tally>;

/// An in-process task sink that counts deliveries and records publish -> arrival latency from the
/// publish time the event carries in its content (`"bench_t":<ns>`); a delivery without one is
/// not the bench's and is not counted. Answers delivered at once.
sink_actor spawn_counting_sink(caf::actor_system& sys, sink_tally_ptr tally);

/// What the publisher did, shared with the driver thread.
struct publish_tally {
  std::atomic<uint64_t> sent{0};                // events handed to publish requests
  std::atomic<uint64_t> acked{0};               // accepted and acknowledged
  std::atomic<uint64_t> rejected{0};            // refused, or lost with a failed request
  std::atomic<uint64_t> answered{0};            // acked + rejected
  std::atomic<uint64_t> expected_deliveries{0}; // of the accepted events
  std::atomic<bool> stop{false};
  std::string first_error; // written once by the publisher, read after it stopped
  std::atomic<bool> has_error{false};
  /// Request -> answer of the publish requests sent in the sink's measured window
  /// (`sink_tally::record_from` .. `record_until`), one sample per request.
  std::mutex samples_mutex;
  std::vector<uint32_t> answer_us;
};

using publish_tally_ptr = std::shared_ptr<publish_tally>;

/// The event types of a scenario and how many deliveries one event of each type makes.
struct type_plan {
  std::vector<std::string> names;
  std::vector<uint32_t> deliveries; // per type
  double mean_deliveries = 0;       // over the round-robin sequence of published types
};

/// Dispatcher i handles type i % event_types with its share of actions (see scenario_params).
type_plan plan_types(const scenario_params& p);

/// Creates the scenario's dispatchers with a window of requests in flight; blocks until done.
/// Returns an empty string on success, else what failed.
std::string create_dispatchers(caf::actor_system& sys, const engine_actor& engine,
                               const scenario_params& p, const type_plan& plan);

/// Spawns the publisher. Closed loop: keeps `window` batches in flight while fewer than `backlog`
/// deliveries are on their way. Open loop: publishes what is due at `rate` every millisecond,
/// whatever the engine does. Publishing types round-robin; stops when `tally->stop` is set.
caf::actor spawn_publisher(caf::actor_system& sys, const engine_actor& engine,
                           const scenario_params& p, std::shared_ptr<const type_plan> plan,
                           publish_tally_ptr published, sink_tally_ptr received);

/// The content of a published event: its publish time, a sequence number and padding up to
/// `bytes` characters of JSON.
std::string event_content(uint64_t publish_ns, uint64_t sequence, uint32_t bytes);

} // namespace dispatch::bench
