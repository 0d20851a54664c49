// Gatherer: answers the reads and operations on work done (deliveries, replay, purge, the built-in
// log, held events) for the whole cluster. Each member holds only the work of the shards it owns,
// so the gatherer asks every member's endpoint (this node's too) and merges the pages.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cluster/interfaces.hpp"

namespace dispatch {

/// One member's answer to a listing: the records of its first window in the query's order, and
/// how many records match there in all.
template <class Record>
struct member_page {
  uint32_t node = 0;
  uint64_t total = 0;
  std::vector<Record> data;
};

/// How deep each member is read for a page: its first `offset + limit` records in the query's
/// order (a merged page can come from any member's share). A page deeper than
/// `max_window_depth` is refused.
uint32_t gather_depth(const query& q);

/// The cluster's page: `total` is the sum of the members' totals; the records are the members'
/// windows merged in the query's sort order (ties and unsorted queries: by node id, then each
/// member's order), then windowed by the query's offset and limit (clamped to `max_limit`).
/// Deliveries met twice count once.
delivery_page merge_pages(const query& q, std::vector<member_page<delivery>> parts,
                          uint32_t max_limit = max_page_size);

/// The same for JSON records (the built-in log, held events).
json_page merge_pages(const query& q, std::vector<member_page<std::string>> parts,
                      uint32_t max_limit = max_page_size);

struct gatherer_state {
  static inline const char* name = "cluster.gatherer";

  uint32_t node = 0;
  /// How long this node's own endpoint may take (the request timeout).
  std::chrono::milliseconds timeout{10000};
  /// How long a peer may take: the peer timeout (dispatch.cluster.peer-timeout), or the request
  /// timeout when that is shorter. A peer that has not answered within it is taken to be frozen.
  std::chrono::milliseconds peer_wait{3000};
  /// Every member's endpoint by node id, this node's own included; a peer's is invalid while
  /// it is not up.
  std::map<uint32_t, peer_actor> members;
  /// How this node sees each peer (for the refusal's message).
  std::map<uint32_t, peer_state> states;
};

/// Spawns with this node's id, the request timeout, the peer timeout, this node's endpoint and
/// the ids of the other members. Register it with the membership as a peer listener.
gatherer_actor::behavior_type gatherer(gatherer_actor::stateful_pointer<gatherer_state> self,
                                       uint32_t node, std::chrono::milliseconds timeout,
                                       std::chrono::milliseconds peer_timeout,
                                       peer_actor own_endpoint, std::vector<uint32_t> peers);

} // namespace dispatch
