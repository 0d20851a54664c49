// Node 3 SIGKILLed while nodes 1 and 2 take events: the events of node 3's shards queue on 1 and
// 2, a dispatcher changes meanwhile, and once node 3 is back every acknowledged event is
// delivered and node 3 serves the changed dispatcher.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <future>

#include "cluster_checks.hpp"
#include "cluster_fixture.hpp"

using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

const std::string changed = R"({"description":"changed while node 3 was down"})";

// Publishes on nodes 1 and 2 in the background; kills node 3 once `before` events were
// acknowledged; stops once events for node 3's shards are seen queued and `after` more were
// acknowledged. Returns what the publisher acknowledged.
publish_outcome publish_through_kill(test_cluster& cluster, const std::vector<std::string>& types,
                                     size_t before, size_t after) {
  std::atomic<size_t> progress{0};
  std::atomic<bool> stop{false};
  auto ports = cluster.http_ports({1, 2});
  auto publisher = std::async(std::launch::async, [&, ports] {
    return publish_round_robin(ports, types, 1000000, 50, &progress, &stop);
  });
  // A failed requirement below unwinds through here: the publisher stops before its future waits.
  struct stop_on_unwind {
    std::atomic<bool>& flag;
    ~stop_on_unwind() { flag = true; }
  } guard{stop};
  auto stop_publisher = [&] {
    stop = true;
    return publisher.get();
  };
  bool started = eventually([&] { return progress.load() >= before; }, cluster_deadline);
  BOOST_REQUIRE_MESSAGE(started, "publishing did not start:\n" << cluster.log_tails());
  auto down_lines = peer_down_lines(cluster, 1, 3);
  cluster.kill(3);
  size_t at_kill = progress.load();
  BOOST_TEST_MESSAGE("node 3 killed after " << at_kill << " acknowledged events");
  uint64_t depth_1 = 0, depth_2 = 0;
  bool queued = eventually(
    [&] {
      depth_1 = cluster.forward_depth(1, 3);
      depth_2 = cluster.forward_depth(2, 3);
      return depth_1 + depth_2 > 0 && progress.load() >= at_kill + after;
    },
    cluster_deadline);
  auto outcome = stop_publisher();
  BOOST_TEST_MESSAGE("queued for node 3: " << depth_1 << " on node 1, " << depth_2 << " on node 2; "
                                           << outcome.acknowledged.size()
                                           << " events acknowledged in all");
  BOOST_TEST(queued, "no events queued for node 3 (node 1: " << depth_1 << ", node 2: " << depth_2
                                                             << ")\n"
                                                             << cluster.log_tails());
  BOOST_TEST(outcome.rejected == 0u, outcome.rejected
                                       << " events refused; first problem: "
                                       << (outcome.problems.empty() ? std::string{"none"}
                                                                    : outcome.problems.front()));
  auto reason = wait_peer_down_line(cluster, 1, 3, down_lines, 20s);
  BOOST_TEST_MESSAGE("node 1 logged peer 3 down (" << reason << ")");
  BOOST_TEST(cluster.peer_state(1, 3) != "up");
  return outcome;
}

// While node 3 is down: its queue is held on nodes 1 and 2, and the metrics say so.
void check_held_while_down(test_cluster& cluster) {
  auto depth = cluster.forward_depth(1, 3) + cluster.forward_depth(2, 3);
  BOOST_TEST(depth > 0u, "the queue for node 3 emptied while node 3 was down");
  auto metrics = cluster.request(1, "GET", "/metrics");
  BOOST_TEST(metric_value(metrics.body, R"(dispatch_cluster_peer_up{peer="3"})") == 0.0);
  BOOST_TEST(metric_value(metrics.body, R"(dispatch_cluster_peer_up{peer="2"})") == 1.0);
  BOOST_TEST(metric_value(metrics.body, R"(dispatch_cluster_forward_queue{owner="3"})")
             == static_cast<double>(cluster.forward_depth(1, 3)));
}

} // namespace

BOOST_AUTO_TEST_SUITE(cluster_kill)

BOOST_AUTO_TEST_CASE(a_node_killed_mid_stream_loses_nothing) {
  // Small forward batches: the queues for node 3 drain in many pages once it is back.
  cluster_options options;
  options.more = {"--dispatch.cluster.forward-batch=32"};
  test_cluster cluster{options};
  cluster.start_all();
  BOOST_REQUIRE_MESSAGE(cluster.shards_of(3) > 0, "node 3 owns no shard: the test means nothing");
  auto types = cluster.types_per_shard("kill");
  auto ids = create_dispatchers(cluster, 1, types);
  check_replicated(cluster, ids, 1, {2, 3});

  auto outcome = publish_through_kill(cluster, types, 1500, 1500);
  auto for_node_3 = owned_by(cluster, outcome.acknowledged, 3);
  BOOST_TEST_MESSAGE(for_node_3.size() << " of the acknowledged events belong to node 3's shards");

  // A dispatcher changed and one created through node 1 while node 3 is down.
  auto put = cluster.request(1, "PUT", "/dispatchers/v1/" + ids.front(), changed);
  BOOST_TEST(put.status == 200u, put.body);
  auto late = create_dispatcher(cluster.client(1), "kill.late", "handle-late");
  check_held_while_down(cluster);

  auto restarted = std::chrono::steady_clock::now();
  cluster.restart(3);
  cluster.wait_peers_up();
  check_queues_drained(cluster, {1, 2});
  auto drained_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - restarted)
                      .count();
  BOOST_TEST_MESSAGE("queues for node 3 drained " << drained_ms << " ms after its restart");
  auto tally = check_all_delivered(cluster, outcome.acknowledged, "kill");
  BOOST_TEST_MESSAGE("kill test: " << outcome.acknowledged.size() << " acknowledged, "
                                   << tally.missing.size() << " lost, " << tally.duplicates
                                   << " duplicate tasks");
  // Node 3 caught up with what changed while it was away.
  check_replicated(cluster, {ids.front(), late["id"].GetString()}, 1, {3});
  auto on_3 = json_of(cluster.request(3, "GET", "/dispatchers/v1/" + ids.front()));
  BOOST_TEST(text_at(on_3, "description") == "changed while node 3 was down", text_of_json(on_3));
}

BOOST_AUTO_TEST_SUITE_END()
