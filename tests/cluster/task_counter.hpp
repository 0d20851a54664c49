// The Task Service every node of a test cluster delivers to: one loopback HTTP server that counts
// tasks by delivery id (Idempotency-Key), by event id (data.event.id) and by delivering node.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "fixtures/http_test_server.hpp"

namespace dispatch::test {

/// An event the cluster acknowledged: its id, its type and the node it was published on.
struct published_event {
  std::string id;
  std::string type;
  uint32_t node = 0;
};

/// What arrived for a set of expected events.
struct delivery_tally {
  size_t requests = 0;                // tasks received in all
  size_t delivered = 0;               // expected events with at least one task
  std::vector<std::string> missing;   // expected events without any task
  size_t duplicates = 0;              // tasks beyond the first per delivery id (redeliveries)
  size_t split = 0;                   // expected events delivered under several delivery ids
  size_t unexpected = 0;              // tasks for events nobody expected
  size_t malformed = 0;               // tasks without an Idempotency-Key, event id or node path
  std::map<uint32_t, size_t> by_node; // tasks per delivering node
};

/// Prints a tally in one line, for BOOST_TEST_MESSAGE and failure messages.
std::string describe(const delivery_tally& tally);

class task_counter {
public:
  task_counter();
  task_counter(const task_counter&) = delete;
  task_counter& operator=(const task_counter&) = delete;

  /// The task sink URL for node `node`: the node's number is in the path, so every task tells
  /// which node sent it (`/node<N>/tasks/v1/`).
  std::string url_for(uint32_t node) const;

  /// Counts the tasks received so far against `expected`.
  delivery_tally tally(const std::vector<published_event>& expected) const;

  /// How many of `expected` have at least one task.
  size_t delivered_of(const std::vector<published_event>& expected) const;

  /// Waits until every one of `expected` has a task; false when `limit` passed first.
  bool wait_all_delivered(const std::vector<published_event>& expected,
                          std::chrono::milliseconds limit);

  /// The nodes that delivered tasks of event `event_id` (empty when none arrived).
  std::set<uint32_t> nodes_of(const std::string& event_id) const;

  size_t request_count() const;

private:
  void count(const recorded_request& request);

  mutable std::mutex mtx_;
  size_t requests_ = 0;                                     // guarded by mtx_
  size_t malformed_ = 0;                                    // guarded by mtx_
  std::map<std::string, size_t> sends_;                     // delivery id -> tasks; by mtx_
  std::map<std::string, std::set<std::string>> deliveries_; // event id -> delivery ids; by mtx_
  std::map<std::string, std::set<uint32_t>> senders_;       // event id -> nodes; by mtx_
  std::map<uint32_t, size_t> by_node_;                      // guarded by mtx_
  // Last: destroyed first, so its thread stops before the counts it writes go away.
  http_test_server server_;
};

} // namespace dispatch::test
