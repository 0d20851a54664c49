// A single dispatchd that already holds dispatchers becomes the coordinator of a cluster: its
// dispatchers reach the other node (the coordinator logs what its engine holds at start).
#include <boost/test/unit_test.hpp>

#include "cluster_checks.hpp"
#include "cluster_fixture.hpp"

using namespace dispatch::test;

BOOST_AUTO_TEST_SUITE(cluster_standalone_start)

BOOST_AUTO_TEST_CASE(a_single_node_s_dispatchers_reach_the_cluster_it_joins) {
  cluster_options options;
  options.nodes = 2;
  test_cluster cluster{options};
  // Node 1 first runs alone, on the data directory it keeps in the cluster.
  std::vector<std::string> alone;
  for (auto& arg : cluster.args_of(1))
    if (arg.rfind("--dispatch.cluster.", 0) != 0) alone.push_back(arg);
  cluster.start(1, alone);
  cluster.wait_ready(1);
  auto ids = create_dispatchers(cluster, 1, {"standalone.a", "standalone.b", "standalone.c"});
  BOOST_REQUIRE_EQUAL(ids.size(), 3u);
  cluster.kill(1);

  cluster.start(1);
  cluster.start(2);
  cluster.wait_ready(1);
  cluster.wait_ready(2);
  cluster.wait_peers_up();
  BOOST_TEST(contains(cluster.process(1).log(), "dispatcher change(s) the replication log"),
             cluster.log_tails());
  check_replicated(cluster, ids, 1, {2});
}

BOOST_AUTO_TEST_SUITE_END()
