// The coordinator (node 1) killed: dispatcher writes through nodes 2 and 3 are refused with 503
// code 1 while reads and events go on; once node 1 is back, writes work again and the events
// queued for its shards are delivered.
#include <boost/test/unit_test.hpp>

#include "cluster_checks.hpp"
#include "cluster_fixture.hpp"

using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

const std::string new_dispatcher
  = R"({"eventType":"coordinator.late","actions":[{"type":"task","functionName":"late"}]})";

// Every kind of dispatcher write through `node` is refused as unavailable, naming the coordinator.
void check_writes_refused(test_cluster& cluster, uint32_t node, const std::string& existing) {
  auto what = "through node " + std::to_string(node) + ": ";
  auto created = cluster.request(node, "POST", "/dispatchers/v1/", new_dispatcher);
  check_error(created, 503, 1, what + "create");
  auto message = text_at(json_of(created), "message");
  BOOST_TEST((contains(message, "coordinator") || contains(message, "node 1")), message);
  check_error(cluster.request(node, "PUT", "/dispatchers/v1/" + existing, R"({"name":"renamed"})"),
              503, 1, what + "update");
  check_error(cluster.request(node, "POST", "/dispatchers/v1/" + existing + "/actions",
                              R"({"type":"task","functionName":"more"})"),
              503, 1, what + "add action");
  check_error(cluster.request(node, "DELETE", "/dispatchers/v1/" + existing), 503, 1,
              what + "remove");
}

} // namespace

BOOST_AUTO_TEST_SUITE(cluster_coordinator_down)

BOOST_AUTO_TEST_CASE(writes_wait_for_the_coordinator_and_events_do_not) {
  test_cluster cluster;
  cluster.start_all();
  BOOST_REQUIRE_MESSAGE(cluster.shards_of(1) > 0, "node 1 owns no shard: the test means less");
  auto types = cluster.types_per_shard("coordinator");
  // Written through node 2: forwarded to the coordinator.
  auto ids = create_dispatchers(cluster, 2, types);
  check_replicated(cluster, ids, 1, {2, 3});

  auto down_2 = peer_down_lines(cluster, 2, 1);
  auto down_3 = peer_down_lines(cluster, 3, 1);
  cluster.kill(1);
  wait_peer_down_line(cluster, 2, 1, down_2, 20s);
  wait_peer_down_line(cluster, 3, 1, down_3, 20s);
  check_writes_refused(cluster, 2, ids.front());
  check_writes_refused(cluster, 3, ids.back());
  // Reads are local: every node still answers with its full copy.
  for (uint32_t node : {2u, 3u}) {
    auto total = page_total(cluster.client(node), "/dispatchers/v1/?limit(1)");
    BOOST_TEST(total == ids.size(), "node " << node << " lists " << total);
    BOOST_TEST(cluster.request(node, "GET", "/dispatchers/v1/" + ids.front()).status == 200u);
  }

  auto published = publish_round_robin(cluster.http_ports({2, 3}), types, 1200, 50);
  BOOST_TEST(published.acknowledged.size() == 1200u,
             published.rejected << " refused: "
                                << (published.problems.empty() ? "" : published.problems.front()));
  auto for_others = owned_by(cluster, published.acknowledged, 1, true);
  auto for_1 = owned_by(cluster, published.acknowledged, 1);
  check_all_delivered(cluster, for_others, "coordinator down, shards of nodes 2 and 3");
  BOOST_TEST(cluster.tasks.delivered_of(for_1) == 0u);
  auto queued = cluster.forward_depth(2, 1) + cluster.forward_depth(3, 1);
  BOOST_TEST_MESSAGE(for_1.size() << " events for node 1's shards; " << queued << " queued");
  BOOST_TEST(queued > 0u);

  cluster.restart(1);
  cluster.wait_peers_up();
  http_answer created;
  bool writable = eventually(
    [&] {
      created = cluster.request(3, "POST", "/dispatchers/v1/", new_dispatcher);
      return created.status == 200;
    },
    20s);
  BOOST_TEST(writable, "writes still refused after node 1 returned: " << created.status << " "
                                                                      << created.body);
  if (writable) check_replicated(cluster, {text_at(json_of(created), "id")}, 3, {1, 2});
  check_queues_drained(cluster, {2, 3});
  check_all_delivered(cluster, published.acknowledged, "coordinator back");
}

BOOST_AUTO_TEST_SUITE_END()
