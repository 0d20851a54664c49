// A node configured unlike its peers refuses to join: a different shard count, or a different
// member list. It exits with status 1 and says why; the running nodes go on.
#include <boost/test/unit_test.hpp>

#include <regex>

#include "cluster_checks.hpp"
#include "cluster_fixture.hpp"
#include "fixtures/http_test_server.hpp"

using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

// Nodes 1 and 2 of a three-node cluster with 4 shards, running; node 3 not started.
void start_first_two(test_cluster& cluster) {
  cluster.start(1);
  cluster.start(2);
  cluster.wait_ready(1);
  cluster.wait_ready(2);
  BOOST_REQUIRE(eventually(
    [&] { return cluster.peer_state(1, 2) == "up" && cluster.peer_state(2, 1) == "up"; }));
}

// Node 3 started with `args` exits 1 with a refusal naming `reason`; nodes 1 and 2 keep going.
void check_refused(test_cluster& cluster, std::vector<std::string> args,
                   const std::string& reason) {
  cluster.start(3, std::move(args));
  auto status = cluster.process(3).exit_status(cluster_deadline);
  auto log = cluster.process(3).log();
  BOOST_TEST(status == 1, "exit status " << status << "\n" << log);
  std::smatch line;
  bool said = std::regex_search(log, line, std::regex{"refusing to join the cluster:[^\\n]*"});
  BOOST_TEST(said, "no refusal in the log:\n" << log);
  if (said) {
    BOOST_TEST_MESSAGE("node 3: " << line.str());
    BOOST_TEST(contains(line.str(), reason), line.str());
  }
  for (uint32_t node : {1u, 2u}) {
    BOOST_TEST(cluster.process(node).running());
    BOOST_TEST(cluster.request(node, "GET", "/health").status == 200u);
    auto seen = cluster.peer_state(node, 3);
    BOOST_TEST_MESSAGE("node " << node << " sees node 3 as \"" << seen << "\"");
    BOOST_TEST(seen != "up");
  }
  BOOST_TEST(cluster.peer_state(1, 2) == "up");
}

} // namespace

BOOST_AUTO_TEST_SUITE(cluster_mismatch)

BOOST_AUTO_TEST_CASE(a_node_with_another_shard_count_refuses_to_join) {
  cluster_options options;
  options.shards = 4;
  test_cluster cluster{options};
  start_first_two(cluster);
  check_refused(cluster, cluster.args_of(3, {"--dispatch.shards=8"}), "shard count");
}

// An event the first node accepted must be accepted by its owner: the limits must agree.
BOOST_AUTO_TEST_CASE(a_node_with_another_event_size_limit_refuses_to_join) {
  cluster_options options;
  options.shards = 4;
  test_cluster cluster{options};
  start_first_two(cluster);
  check_refused(cluster, cluster.args_of(3, {"--dispatch.max-event-bytes=4096"}),
                "event size limit");
}

BOOST_AUTO_TEST_CASE(a_node_with_another_member_list_refuses_to_join) {
  cluster_options options;
  options.shards = 4;
  test_cluster cluster{options};
  start_first_two(cluster);
  auto peers = "--dispatch.cluster.peers=[\"1@" + cluster.cluster_address(1) + "\",\"2@"
               + cluster.cluster_address(2) + "\",\"4@127.0.0.1:" + std::to_string(closed_port())
               + "\"]";
  check_refused(cluster, cluster.args_of(3, {peers}), "member");
}

BOOST_AUTO_TEST_SUITE_END()
