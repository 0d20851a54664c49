// Node 2 frozen with SIGSTOP: a listing on a peer waits for it no longer than the peer timeout,
// its peers notice within the heartbeat timeout (with generous slack), the cluster goes on, and
// after SIGCONT node 2 rejoins and catches up.
#include <boost/test/unit_test.hpp>

#include "cluster_checks.hpp"
#include "cluster_fixture.hpp"

using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

// Peer timeout 1.5 s (cluster_options); the slack covers a loaded 2-core machine.
constexpr std::chrono::seconds notice_limit{20};

// Far above the peer timeout and the listing's bound below: a listing that waited for the frozen
// member as long as the request timeout could not pass.
constexpr auto request_timeout = "--dispatch.request-timeout=60000";

int64_t ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now()
                                                               - start)
    .count();
}

} // namespace

BOOST_AUTO_TEST_SUITE(cluster_freeze)

BOOST_AUTO_TEST_CASE(a_frozen_node_is_noticed_and_catches_up_after_thawing) {
  cluster_options options;
  options.more.push_back(request_timeout);
  test_cluster cluster{options};
  cluster.start_all();
  auto types = cluster.types_per_shard("freeze");
  auto ids = create_dispatchers(cluster, 1, types);
  check_replicated(cluster, ids, 1, {2, 3});

  auto lines_1 = peer_down_lines(cluster, 1, 2);
  auto lines_3 = peer_down_lines(cluster, 3, 2);
  auto frozen = std::chrono::steady_clock::now();
  cluster.pause(2);
  // Asked at once, before node 1 knows: it waits at most the peer timeout for node 2, and says so.
  auto asked = std::chrono::steady_clock::now();
  auto listing = cluster.request(1, "GET", "/deliveries/v1/?limit(5)");
  auto waited = ms_since(asked);
  BOOST_TEST_MESSAGE("a listing on node 1 was answered " << listing.status << " after " << waited
                                                         << " ms");
  BOOST_TEST(listing.status == 503, listing.body);
  // The frozen member timed out (a member known to be away would be "node 2 is down").
  BOOST_TEST(listing.body.find("node 2 did not answer within") != std::string::npos, listing.body);
  auto listing_limit_ms = 4 * options.peer_timeout.count();
  BOOST_TEST(waited < listing_limit_ms, "the listing waited " << waited << " ms for frozen node 2");
  std::string state;
  bool noticed = eventually(
    [&] {
      state = cluster.peer_state(1, 2);
      return state == "down";
    },
    notice_limit);
  BOOST_TEST_MESSAGE("node 1 saw frozen node 2 as \"" << state << "\" after " << ms_since(frozen)
                                                      << " ms");
  BOOST_TEST(noticed, "node 1 still reports frozen node 2 \"" << state << "\" after "
                                                              << notice_limit.count() << " s\n"
                                                              << cluster.log_tails());
  auto reason = wait_peer_down_line(cluster, 1, 2, lines_1, notice_limit);
  BOOST_TEST_MESSAGE("node 1: peer 2 down (" << reason << ")");
  wait_peer_down_line(cluster, 3, 2, lines_3, notice_limit);
  auto metrics = cluster.request(1, "GET", "/metrics");
  BOOST_TEST(metric_value(metrics.body, R"(dispatch_cluster_peer_up{peer="2"})") == 0.0);

  // The cluster goes on without node 2: a dispatcher is created, events are taken.
  auto created = create_dispatcher(cluster.client(1), "freeze.while-frozen", "handle-frozen");
  std::string id = created["id"].GetString();
  check_replicated(cluster, {id}, 1, {3});
  types.push_back("freeze.while-frozen");
  auto published = publish_round_robin(cluster.http_ports({1, 3}), types, 600, 50);
  BOOST_TEST(published.acknowledged.size() == 600u, published.rejected << " refused");
  auto elsewhere = owned_by(cluster, published.acknowledged, 2, true);
  BOOST_TEST(cluster.tasks.wait_all_delivered(elsewhere, cluster_deadline),
             "events of nodes 1 and 3 waited for frozen node 2");

  auto thawed = std::chrono::steady_clock::now();
  cluster.resume(2);
  bool back = eventually(
    [&] {
      return cluster.peer_state(1, 2) == "up" && cluster.peer_state(3, 2) == "up"
             && cluster.peer_state(2, 1) == "up" && cluster.peer_state(2, 3) == "up";
    },
    notice_limit);
  BOOST_TEST_MESSAGE("node 2 up again " << ms_since(thawed) << " ms after SIGCONT");
  BOOST_REQUIRE_MESSAGE(back, "node 2 did not rejoin:\n" << cluster.log_tails());
  // It caught up: the dispatcher created while it was frozen, and the events of its shards.
  check_replicated(cluster, {id}, 1, {2});
  check_all_delivered(cluster, published.acknowledged, "freeze");
  check_queues_drained(cluster, cluster.ids());
}

BOOST_AUTO_TEST_SUITE_END()
