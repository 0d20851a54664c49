// Rendezvous hashing of shards onto nodes: a fixed 64-bit score per (node, shard), the highest
// score owns the shard. The score is part of the wire contract: every node must compute the same.
#include "cluster/shard_map.hpp"

#include <string_view>

#include "messages/ids.hpp"

namespace dispatch {

namespace {

void put_le32(char* out, uint32_t x) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((x >> (8 * i)) & 0xff);
}

// splitmix64's finalizer: FNV-1a alone leaves neighbouring inputs with close high bits, which
// would let the same node win runs of consecutive shards.
uint64_t finalize(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

} // namespace

uint64_t rendezvous_score(uint32_t node, uint32_t shard) {
  // Little-endian bytes, spelled out, so the score does not depend on the host's byte order.
  char bytes[8];
  put_le32(bytes, node);
  put_le32(bytes + 4, shard);
  return finalize(fnv1a_64(std::string_view{bytes, sizeof(bytes)}));
}

std::vector<uint32_t> assign_shards(uint32_t shards, const std::vector<uint32_t>& nodes) {
  std::vector<uint32_t> owners(shards, 0);
  if (nodes.empty()) return owners;
  for (uint32_t shard = 0; shard < shards; ++shard) {
    uint32_t best = nodes.front();
    uint64_t best_score = rendezvous_score(best, shard);
    for (auto node : nodes) {
      auto score = rendezvous_score(node, shard);
      // The tie rule makes the result independent of the order `nodes` comes in.
      if (score > best_score || (score == best_score && node < best)) {
        best = node;
        best_score = score;
      }
    }
    owners[shard] = best;
  }
  return owners;
}

} // namespace dispatch
