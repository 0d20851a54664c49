// Tests of the shard map: pinned rendezvous scores (every node must compute the same), owners
// among the members, order independence, balance, minimal movement when a node leaves.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>
#include <vector>

#include "cluster/shard_map.hpp"

using namespace dispatch;

namespace {

struct score_vector {
  uint32_t node;
  uint32_t shard;
  uint64_t score;
};

// Computed once from the definition (FNV-1a-64 over node and shard as little-endian 32-bit
// integers, then splitmix64's finalizer) and checked against an independent implementation.
// Changing them splits a cluster of mixed versions: nodes would disagree on owners.
const score_vector pinned_scores[] = {
  {1, 0, 0x5ca6bbcbb1e85355ULL},
  {1, 1, 0xd866b0f8d4161126ULL},
  {2, 0, 0x7b47f7a6b214f733ULL},
  {3, 7, 0xde767e0ed9249171ULL},
  {4294967295u, 255, 0xb20e817213a28ac3ULL},
  {7, 1000000, 0xdb360d88dd1a751fULL},
};

std::map<uint32_t, int> shards_per_node(const std::vector<uint32_t>& owners) {
  std::map<uint32_t, int> result;
  for (auto owner : owners) ++result[owner];
  return result;
}

} // namespace

BOOST_AUTO_TEST_SUITE(shard_map)

BOOST_AUTO_TEST_CASE(scores_match_the_pinned_vectors) {
  for (auto& v : pinned_scores) {
    BOOST_TEST_CONTEXT("node " << v.node << ", shard " << v.shard) {
      BOOST_TEST(rendezvous_score(v.node, v.shard) == v.score);
    }
  }
}

BOOST_AUTO_TEST_CASE(assignment_matches_the_pinned_map) {
  // Follows from the scores; pinned too, as the map is what nodes compare in practice.
  std::vector<uint32_t> expected{3, 1, 2, 3, 2, 2, 1, 3, 2, 2, 1, 3, 1, 1, 3, 1};
  BOOST_TEST(assign_shards(16, {1, 2, 3}) == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(every_owner_is_the_highest_scoring_member) {
  std::vector<uint32_t> nodes{4, 9, 17, 2, 30};
  auto owners = assign_shards(128, nodes);
  BOOST_REQUIRE_EQUAL(owners.size(), 128u);
  for (uint32_t shard = 0; shard < owners.size(); ++shard) {
    BOOST_TEST_CONTEXT("shard " << shard) {
      BOOST_TEST((std::find(nodes.begin(), nodes.end(), owners[shard]) != nodes.end()));
      for (auto node : nodes)
        BOOST_TEST(rendezvous_score(owners[shard], shard) >= rendezvous_score(node, shard));
    }
  }
}

BOOST_AUTO_TEST_CASE(node_order_does_not_matter) {
  std::vector<uint32_t> nodes{5, 1, 3, 8};
  auto reference = assign_shards(256, nodes);
  std::sort(nodes.begin(), nodes.end());
  do {
    BOOST_TEST(assign_shards(256, nodes) == reference);
  } while (std::next_permutation(nodes.begin(), nodes.end()));
}

BOOST_AUTO_TEST_CASE(shards_are_spread_evenly) {
  auto counts = shards_per_node(assign_shards(64, {1, 2, 3}));
  BOOST_REQUIRE_EQUAL(counts.size(), 3u);
  for (auto& [node, count] : counts) {
    BOOST_TEST_CONTEXT("node " << node) {
      BOOST_TEST(count >= 10);
      BOOST_TEST(count <= 35);
    }
  }
  // Consecutive ids are the common case; a poorly mixed score would favour one of them.
  auto wide = shards_per_node(assign_shards(4096, {1, 2, 3, 4}));
  for (auto& [node, count] : wide) {
    BOOST_TEST_CONTEXT("node " << node << " of 4, 4096 shards") {
      BOOST_TEST(count >= 850);
      BOOST_TEST(count <= 1200);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_leaving_node_moves_only_its_own_shards) {
  auto before = assign_shards(256, {1, 2, 3, 4});
  auto after = assign_shards(256, {1, 2, 4});
  size_t moved = 0;
  for (size_t shard = 0; shard < before.size(); ++shard) {
    BOOST_TEST_CONTEXT("shard " << shard) {
      BOOST_TEST(after[shard] != 3u);
      if (before[shard] != 3u)
        BOOST_TEST(after[shard] == before[shard]);
      else
        ++moved;
    }
  }
  BOOST_TEST(moved > 0u); // node 3 owned something, so the check above was exercised
  // And the other way round: a node joining takes shards only, it never shuffles the others.
  auto joined = assign_shards(256, {1, 2, 3, 4, 5});
  for (size_t shard = 0; shard < before.size(); ++shard)
    if (joined[shard] != 5u) BOOST_TEST(joined[shard] == before[shard]);
}

BOOST_AUTO_TEST_CASE(a_single_node_owns_everything) {
  auto owners = assign_shards(32, {7});
  BOOST_TEST(owners == std::vector<uint32_t>(32, 7u), boost::test_tools::per_element());
  BOOST_TEST(assign_shards(0, {1, 2}).empty());
}

BOOST_AUTO_TEST_CASE(a_listed_twice_node_changes_nothing) {
  BOOST_TEST(assign_shards(64, {1, 2, 2, 3, 1}) == assign_shards(64, {1, 2, 3}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
