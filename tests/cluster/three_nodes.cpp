// Three dispatchd nodes on loopback, in plain TCP and with TLS: every node reports the cluster,
// dispatchers written through any node are the same on all, and events published round-robin
// are each delivered by the owner of their shard.
#include <boost/test/unit_test.hpp>

#include <map>
#include <regex>

#include "cluster_checks.hpp"
#include "cluster_fixture.hpp"

using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

// The log lines of the surface: this node's listener and every peer up.
void check_cluster_log(test_cluster& cluster) {
  for (auto id : cluster.ids()) {
    auto& process = cluster.process(id);
    auto address = std::regex_replace(cluster.cluster_address(id), std::regex{"\\."}, "\\.");
    auto listening = process.wait_for("cluster: node " + std::to_string(id) + " listening on "
                                      + address + "\\b");
    BOOST_TEST(!listening.empty(), "node " << id << " has no listening line:\n" << process.log());
    for (auto peer : cluster.ids()) {
      if (peer == id) continue;
      auto up = process.wait_for("cluster: peer " + std::to_string(peer) + " up");
      BOOST_TEST(!up.empty(), "node " << id << " did not log peer " << peer << " up:\n"
                                      << process.log());
    }
  }
}

// GET /cluster/v1/ on every node: who it is, the coordinator, the shards the shard map gives it,
// and every peer up at its address with the shards it owns.
void check_cluster_state(test_cluster& cluster) {
  for (auto id : cluster.ids()) {
    auto doc = cluster.state(id);
    BOOST_TEST_MESSAGE("node " << id << " /cluster/v1/: " << text_of_json(doc));
    BOOST_TEST_CONTEXT("node " << id << ": " << text_of_json(doc)) {
      BOOST_TEST(number_at(doc, "node") == id);
      BOOST_TEST(number_at(doc, "coordinator") == 1u);
      BOOST_TEST(number_at(doc, "shardsOwned") == cluster.shards_of(id));
      BOOST_TEST(doc["peers"].Size() == cluster.ids().size() - 1);
    }
    for (auto& peer : doc["peers"].GetArray()) {
      auto peer_id = static_cast<uint32_t>(number_at(peer, "id"));
      BOOST_TEST_CONTEXT("node " << id << " on peer " << peer_id << ": " << text_of_json(peer)) {
        BOOST_TEST(text_at(peer, "state") == "up");
        BOOST_TEST(text_at(peer, "address") == cluster.cluster_address(peer_id));
        BOOST_TEST(number_at(peer, "shardsOwned") == cluster.shards_of(peer_id));
        BOOST_TEST(number_at(peer, "since") != UINT64_MAX);
        BOOST_TEST(number_at(peer, "forwardDepth") == 0u);
      }
    }
  }
}

// Dispatchers written through node 1 (the coordinator) and through node 2 (forwarded to it):
// the same on every node; node 2 reads its own write at once. Returns the event types that
// have a dispatcher, one per shard plus node 2's.
std::vector<std::string> make_dispatchers(test_cluster& cluster) {
  auto types = cluster.types_per_shard("order");
  auto ids = create_dispatchers(cluster, 1, types);
  check_replicated(cluster, ids, 1, {2, 3});
  auto via_2 = create_dispatcher(cluster.client(2), "order.via-node-2", "handle-via-node-2");
  std::string id = via_2["id"].GetString();
  auto read_back = cluster.request(2, "GET", "/dispatchers/v1/" + id);
  BOOST_TEST(read_back.status == 200u, "node 2 does not read its own write: " << read_back.body);
  BOOST_TEST((json_of(read_back) == via_2), read_back.body << " vs " << text_of_json(via_2));
  check_replicated(cluster, {id}, 2, {1, 3});
  types.push_back("order.via-node-2");
  for (auto node : cluster.ids()) {
    auto total = page_total(cluster.client(node), "/dispatchers/v1/?limit(1)");
    BOOST_TEST(total == types.size(), "node " << node << " lists " << total << " dispatchers");
  }
  return types;
}

// The cluster's counters and metrics once every event was delivered.
void check_counters(test_cluster& cluster) {
  check_queues_drained(cluster, cluster.ids());
  for (auto id : cluster.ids()) {
    auto doc = cluster.state(id);
    BOOST_TEST_MESSAGE("node " << id << " after the run: " << text_of_json(doc));
    BOOST_TEST(number_at(doc, "forwarded") > 0u, "node " << id << " forwarded nothing");
    if (cluster.shards_of(id) > 0)
      BOOST_TEST(number_at(doc, "received") > 0u, "node " << id << " received nothing");
    BOOST_TEST(number_at(doc, "logVersion") != UINT64_MAX);
    auto metrics = cluster.request(id, "GET", "/metrics");
    BOOST_REQUIRE(metrics.status == 200u);
    for (auto peer : cluster.ids()) {
      if (peer == id) continue;
      auto label = std::to_string(peer);
      BOOST_TEST(metric_value(metrics.body, "dispatch_cluster_peer_up{peer=\"" + label + "\"}")
                   == 1.0,
                 "node " << id << " peer " << peer);
      BOOST_TEST(
        metric_value(metrics.body, "dispatch_cluster_forward_queue{owner=\"" + label + "\"}")
          == 0.0,
        "node " << id << " owner " << peer);
    }
  }
}

// The first scenario: `events` events round-robin over all three nodes, every one delivered.
void run_three_nodes(test_cluster& cluster, size_t events) {
  cluster.start_all();
  check_cluster_log(cluster);
  check_cluster_state(cluster);
  auto types = make_dispatchers(cluster);
  auto started = std::chrono::steady_clock::now();
  auto published = publish_round_robin(cluster.http_ports({1, 2, 3}), types, events, 100);
  auto publish_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  BOOST_TEST_MESSAGE(published.acknowledged.size()
                     << " events acknowledged in " << publish_ms << " ms");
  BOOST_TEST(published.acknowledged.size() == events,
             published.rejected << " rejected; "
                                << (published.problems.empty() ? std::string{}
                                                               : published.problems.front()));
  auto tally = check_all_delivered(cluster, published.acknowledged, "three nodes");
  auto delivered_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
  BOOST_TEST_MESSAGE("all delivered " << delivered_ms << " ms after the first publish; "
                                      << tally.duplicates << " duplicate tasks");
  for (auto id : cluster.ids()) {
    BOOST_TEST((tally.by_node[id] > 0) == (cluster.shards_of(id) > 0),
               "node " << id << " sent " << tally.by_node[id] << " tasks, owns "
                       << cluster.shards_of(id) << " shards");
  }
  check_counters(cluster);
}

} // namespace

BOOST_AUTO_TEST_SUITE(cluster_three_nodes)

BOOST_AUTO_TEST_CASE(every_event_published_anywhere_is_delivered_by_its_owner) {
  test_cluster cluster;
  run_three_nodes(cluster, 10000);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cluster_tls)

BOOST_AUTO_TEST_CASE(a_tls_cluster_with_a_test_ca_delivers_every_event) {
  cluster_options options;
  options.tls = true;
  test_cluster cluster{options};
  run_three_nodes(cluster, 2000);
}

BOOST_AUTO_TEST_SUITE_END()
