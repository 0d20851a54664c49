// Checks shared by the cluster tests: dispatchers replicated alike on every node, every
// acknowledged event delivered once by the owner of its shard, forward queues drained.
#pragma once

#include <string>
#include <vector>

#include "cluster_fixture.hpp"

namespace dispatch::test {

/// Creates one dispatcher per type through node `via` (a task action "handle-<type>"); returns
/// their ids in the order of `types`.
std::vector<std::string> create_dispatchers(test_cluster& cluster, uint32_t via,
                                            const std::vector<std::string>& types);

/// Waits until each of `nodes` answers GET /dispatchers/v1/{id} with the very dispatcher node
/// `reference` answers (same ids, actions, timestamps).
void check_replicated(test_cluster& cluster, const std::vector<std::string>& ids,
                      uint32_t reference, const std::vector<uint32_t>& nodes);

/// Waits until every one of `events` has a task; then asserts none is missing, none unexpected,
/// each under one delivery id and sent by the owner of its shard. Duplicates (redeliveries) are
/// only reported. Returns the tally.
delivery_tally check_all_delivered(test_cluster& cluster,
                                   const std::vector<published_event>& events,
                                   const std::string& what);

/// Waits until no node of `nodes` has events queued for any peer.
void check_queues_drained(test_cluster& cluster, const std::vector<uint32_t>& nodes);

/// How many "cluster: peer <peer> down (...)" lines node `at` logged in its current run.
size_t peer_down_lines(test_cluster& cluster, uint32_t at, uint32_t peer);

/// Waits until node `at` logged more than `seen` such lines; returns the last one's reason, or
/// fails the test after `limit`.
std::string wait_peer_down_line(test_cluster& cluster, uint32_t at, uint32_t peer, size_t seen,
                                std::chrono::milliseconds limit);

/// The events of `events` whose type the shard map gives to `owner` (or to any other node).
std::vector<published_event> owned_by(const test_cluster& cluster,
                                      const std::vector<published_event>& events, uint32_t owner,
                                      bool invert = false);

} // namespace dispatch::test
