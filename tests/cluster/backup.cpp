// A cluster node's backup holds its own store too: events node 2 accepted for node 1's shards wait
// in node 2's forward queue (node 1 frozen) when node 2 is backed up; node 2 is then lost, restored
// from the copy under the same node id, and those events still reach node 1 and are delivered.
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <filesystem>

#include "cluster_checks.hpp"
#include "cluster_fixture.hpp"
#include "fixtures/child_process.hpp"

using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

/// `dispatchd <args...>` run to its end: the exit status (-1 when killed) and its output.
std::pair<int, std::string> run_dispatchd(std::vector<std::string> args, const std::string& log) {
  args.insert(args.begin(), DISPATCH_TEST_DISPATCHD_PATH);
  child_process child{args, log};
  BOOST_CHECK_MESSAGE(child.wait_exit(cluster_deadline), "dispatchd " << args[1] << " hangs");
  auto status = child.kill_and_reap();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text_file(log)};
}

} // namespace

BOOST_AUTO_TEST_SUITE(cluster_backup)

BOOST_AUTO_TEST_CASE(a_restored_node_forwards_what_its_copy_held_queued) {
  cluster_options options;
  options.nodes = 2;
  test_cluster cluster{options};
  cluster.start_all();
  BOOST_REQUIRE_MESSAGE(cluster.shards_of(1) > 0, "node 1 owns no shard: the test means nothing");
  auto types = cluster.types_per_shard("backup");
  auto ids = create_dispatchers(cluster, 1, types);
  check_replicated(cluster, ids, 1, {2});

  // Node 1 frozen: what node 2 accepts for node 1's shards waits in node 2's forward queue.
  cluster.pause(1);
  auto outcome = publish_round_robin(cluster.http_ports({2}), types, 400, 50);
  BOOST_REQUIRE_MESSAGE(
    outcome.rejected == 0u,
    (outcome.problems.empty() ? std::string{"events refused"} : outcome.problems.front()));
  auto for_node_1 = owned_by(cluster, outcome.acknowledged, 1);
  BOOST_REQUIRE(!for_node_1.empty());
  BOOST_REQUIRE_EQUAL(cluster.forward_depth(2, 1), for_node_1.size());

  auto copy = cluster.dir / "node2-backup";
  auto [made, made_output] = run_dispatchd(
    {"backup", "--to", copy, "--url", "http://127.0.0.1:" + std::to_string(cluster.http_port(2))},
    cluster.dir / "backup.log");
  BOOST_TEST_MESSAGE(made_output);
  BOOST_REQUIRE_MESSAGE(made == 0, made_output);
  BOOST_TEST(contains(made_output, "(cluster, engine)"), made_output);
  BOOST_TEST(std::filesystem::exists(copy + "/cluster"));

  // Node 2 is lost; it comes back from the copy, under its own node id.
  cluster.kill(2);
  auto restored = cluster.dir / "node2-restored";
  auto [back, back_output] = run_dispatchd({"restore", "--from", copy, "--data-dir", restored},
                                           cluster.dir / "restore.log");
  BOOST_TEST_MESSAGE(back_output);
  BOOST_REQUIRE_MESSAGE(back == 0, back_output);
  BOOST_TEST(contains(back_output, "restored the cluster database into " + restored + "/cluster"),
             back_output);
  BOOST_TEST(contains(back_output, "--dispatch.cluster.node=2"), back_output);
  cluster.start(2, cluster.args_of(2, {"--dispatch.data-dir=" + restored}));
  cluster.resume(1);
  cluster.wait_ready(2);
  cluster.wait_peers_up();
  // The queue held in the copy drains to node 1, which delivers every event.
  check_queues_drained(cluster, {2});
  auto tally = check_all_delivered(cluster, outcome.acknowledged, "restored node");
  BOOST_TEST_MESSAGE("restored node: " << describe(tally));
}

BOOST_AUTO_TEST_SUITE_END()
