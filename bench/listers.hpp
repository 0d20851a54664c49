// Clients that list continuously while a scenario publishes (issue 14: a publisher's latency and
// throughput with 4 listing clients against the same run without them). Each client is a thread
// of its own asking the engine in turn for the listings users ask most, one request at a time,
// as a dashboard refreshing in a loop would.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>

#include "bench/measure.hpp"
#include "messages/interfaces.hpp"

namespace dispatch::bench {

class listing_clients {
public:
  /// Starts `count` clients listing from `engine` until `stop()`.
  listing_clients(caf::actor_system& sys, const engine_actor& engine, uint32_t count);
  ~listing_clients();

  listing_clients(const listing_clients&) = delete;
  listing_clients& operator=(const listing_clients&) = delete;

  /// Stops the clients (each finishes the listing it is waiting for) and summarizes the
  /// latency of every listing they made; `failures` counts those answered with an error.
  latency_summary stop();
  uint64_t failures() const { return failures_.load(); }

private:
  void run(caf::actor_system& sys, engine_actor engine, uint32_t first);

  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> failures_{0};
  std::mutex samples_mutex_;
  std::vector<uint32_t> samples_us_;
  std::vector<std::thread> threads_;
};

} // namespace dispatch::bench
