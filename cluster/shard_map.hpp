// The shard map: which node owns each of the S shards, by rendezvous (highest random weight)
// hashing of node ids. Every node computes the same map from the same member ids; a node that
// joins or leaves moves only the shards it wins or held.
#pragma once

#include <cstdint>
#include <vector>

namespace dispatch {

/// The score of `node` for `shard`; the highest score owns the shard (ties: the lower node id).
/// Fixed by test vectors: every node of a cluster must compute the same scores.
uint64_t rendezvous_score(uint32_t node, uint32_t shard);

/// owners[s] = the node id owning shard s, for s in [0, shards). `nodes` need not be sorted;
/// it must not be empty.
std::vector<uint32_t> assign_shards(uint32_t shards, const std::vector<uint32_t>& nodes);

} // namespace dispatch
