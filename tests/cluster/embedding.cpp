// A cluster node hosted in the test process's own actor system (node 1, an in-process sink)
// joined with a dispatchd child (node 2): dispatchers and events cross both ways, stats report
// the cluster, stopping the handle stops the node; bad configurations and a taken port refused.
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include <caf/send.hpp>

#include "cluster/spawn_node.hpp"
#include "cluster_checks.hpp"
#include "cluster_fixture.hpp"
#include "embedded_host.hpp"
#include "fixtures/engine_fixture.hpp"
#include "fixtures/http_test_server.hpp"
#include "fixtures/why.hpp"
#include "messages/error_code.hpp"

using namespace dispatch;
using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

/// Node 1's engine, configured like the fixture's dispatchd nodes.
engine_config engine_of_node_1(const test_cluster& cluster) {
  engine_config engine;
  engine.data_dir = cluster.dir / "node1";
  engine.shards = cluster.options().shards;
  engine.retry.initial = 100ms;
  return engine;
}

/// Node 1's membership, timing like the fixture's dispatchd nodes.
cluster_config cluster_of_node_1(const test_cluster& cluster) {
  cluster_config node;
  node.node = 1;
  node.listen = cluster.cluster_address(1);
  for (auto peer : cluster.ids())
    if (peer != 1) node.peers.push_back(std::to_string(peer) + "@" + cluster.cluster_address(peer));
  node.heartbeat_interval = cluster.options().heartbeat;
  node.peer_timeout = cluster.options().peer_timeout;
  node.reconnect_initial = 100ms;
  node.reconnect_max = 1000ms;
  node.secret = cluster.secret();
  return node;
}

/// Spawns node 1 around the host's engine.
engine_actor spawn_or_fail(test_cluster& cluster, embedded_host& node1) {
  auto spawned = spawn_node(*node1.sys, node1.engine, node1.engine_cfg, node1.cluster_cfg);
  BOOST_REQUIRE_MESSAGE(spawned, "spawn_node: " << why(spawned) << "\n" << cluster.log_tails());
  return *spawned;
}

/// The embedded node's stats (fails the test when the handle does not answer).
engine_stats stats_of(embedded_host& node1) {
  auto stats = node1.call<engine_stats>(node1.node, stats_atom::value);
  BOOST_REQUIRE_MESSAGE(stats, "stats: " << why(stats));
  return *stats;
}

std::string peer_state_at_1(embedded_host& node1, uint32_t peer) {
  for (auto& p : stats_of(node1).cluster.peers)
    if (p.id == peer) return to_string(p.state);
  return "";
}

void check_joined(test_cluster& cluster, embedded_host& node1) {
  bool up = eventually(
    [&] { return cluster.peer_state(2, 1) == "up" && peer_state_at_1(node1, 2) == "up"; },
    cluster_deadline);
  BOOST_REQUIRE_MESSAGE(up, "node 1 sees node 2 as \"" << peer_state_at_1(node1, 2)
                                                       << "\", node 2 sees node 1 as \""
                                                       << cluster.peer_state(2, 1) << "\"\n"
                                                       << cluster.log_tails());
  BOOST_TEST(!cluster.process(2).wait_for("cluster: peer 1 up").empty(), cluster.log_tails());
}

// Half the dispatchers written through the embedded handle (node 1 is the coordinator) and seen
// through node 2's HTTP API; half written through node 2, performed by the embedded coordinator
// and read through the handle at once. Returns the event types, one per shard.
std::vector<std::string> check_dispatchers(test_cluster& cluster, embedded_host& node1) {
  auto types = cluster.types_per_shard("embedded");
  auto half = types.size() / 2;
  for (size_t i = 0; i < half; ++i) {
    auto d = make_dispatcher(types[i], {task_action("handle-" + types[i])});
    auto created = node1.call<dispatcher>(node1.node, create_atom::value, d);
    BOOST_REQUIRE_MESSAGE(created, "create through the handle: " << why(created));
    auto target = "/dispatchers/v1/" + created->id;
    bool seen = eventually([&] { return cluster.request(2, "GET", target).status == 200u; });
    BOOST_REQUIRE_MESSAGE(seen, "node 2 does not have " << created->id);
    auto doc = json_of(cluster.request(2, "GET", target));
    BOOST_TEST(text_at(doc, "eventType") == types[i]);
    BOOST_REQUIRE(doc["actions"].IsArray() && doc["actions"].Size() == 1u);
    BOOST_TEST(text_at(doc["actions"][0], "id") == created->actions.front().id);
    BOOST_TEST(text_at(doc["actions"][0], "functionName") == "handle-" + types[i]);
  }
  for (size_t i = half; i < types.size(); ++i) {
    auto doc = create_dispatcher(cluster.client(2), types[i], "handle-" + types[i]);
    auto read = node1.call<dispatcher>(node1.node, get_atom::value, text_at(doc, "id"));
    BOOST_REQUIRE_MESSAGE(read, "node 2's write is not readable through the handle: " << why(read));
    BOOST_TEST(read->event_type == types[i]);
    BOOST_REQUIRE(read->actions.size() == 1u);
    BOOST_TEST(read->actions.front().id == text_at(doc["actions"][0], "id"));
    BOOST_TEST(read->actions.front().function_name == "handle-" + types[i]);
  }
  auto listed = node1.call<dispatcher_page>(node1.node, find_atom::value, query{});
  BOOST_REQUIRE(listed);
  BOOST_TEST(listed->page.total == types.size());
  bool all_on_2 = eventually(
    [&] { return page_total(cluster.client(2), "/dispatchers/v1/?limit(1)") == types.size(); });
  BOOST_TEST(all_on_2,
             "node 2 lists " << page_total(cluster.client(2), "/dispatchers/v1/?limit(1)"));
  return types;
}

struct both_ways {
  std::vector<published_event> via_handle; // published through the embedded handle
  std::vector<published_event> via_node_2; // published through node 2's HTTP API
  std::vector<published_event> all() const {
    auto result = via_handle;
    result.insert(result.end(), via_node_2.begin(), via_node_2.end());
    return result;
  }
};

both_ways publish_both_ways(test_cluster& cluster, embedded_host& node1,
                            const std::vector<std::string>& types, size_t count) {
  both_ways events;
  event_list batch;
  for (size_t i = 0; i < count; ++i) {
    event ev;
    ev.type = types[i % types.size()];
    ev.content = R"({"n":)" + std::to_string(i) + "}";
    batch.push_back(std::move(ev));
  }
  auto outcomes = node1.call<publish_outcome_list>(node1.node, publish_atom::value, batch);
  BOOST_REQUIRE_MESSAGE(outcomes, "publish through the handle: " << why(outcomes));
  BOOST_REQUIRE(outcomes->size() == count);
  for (auto& outcome : *outcomes) {
    BOOST_TEST(accepted(outcome), outcome.message);
    events.via_handle.push_back({outcome.stored.id, outcome.stored.type, 1});
  }
  auto on_2 = publish_round_robin(cluster.http_ports({2}), types, count, 50);
  BOOST_TEST(on_2.acknowledged.size() == count,
             on_2.rejected << " rejected: "
                           << (on_2.problems.empty() ? std::string{} : on_2.problems.front()));
  events.via_node_2 = on_2.acknowledged;
  // Both directions cross the cluster: some events of each side belong to the other node.
  BOOST_REQUIRE(!owned_by(cluster, events.via_handle, 2).empty());
  BOOST_REQUIRE(!owned_by(cluster, events.via_node_2, 1).empty());
  return events;
}

/// Tasks the in-process sink received, by event id: the delivery ids, and how many in all.
struct sink_tally {
  std::map<std::string, std::set<std::string>> deliveries;
  size_t tasks = 0;
};

sink_tally tally_of(const sink_record& record) {
  sink_tally tally;
  for (auto& got : record.snapshot()) {
    tally.deliveries[got.value.event_id].insert(got.value.id);
    ++tally.tasks;
  }
  return tally;
}

// Node 2's events go to the task counter (its webhook), node 1's to the in-process sink: every
// one, by its owner only, under one delivery id; duplicates reported.
void check_delivered(test_cluster& cluster, embedded_host& node1, const both_ways& events) {
  auto all = events.all();
  auto for_2 = owned_by(cluster, all, 2);
  auto for_1 = owned_by(cluster, all, 1);
  bool at_2 = cluster.tasks.wait_all_delivered(for_2, cluster_deadline);
  bool at_1 = eventually(
    [&] {
      auto tally = tally_of(*node1.tasks);
      for (auto& e : for_1)
        if (tally.deliveries.count(e.id) == 0) return false;
      return true;
    },
    cluster_deadline);
  auto counter = cluster.tasks.tally(for_2);
  BOOST_TEST_MESSAGE("node 2's sink (" << for_2.size() << " events): " << describe(counter));
  BOOST_TEST(at_2, describe(counter) << "\n" << cluster.log_tails());
  BOOST_TEST(counter.missing.empty());
  BOOST_TEST(counter.unexpected == 0u, "node 2 delivered events of node 1's shards");
  BOOST_TEST(counter.split == 0u);
  BOOST_TEST(counter.malformed == 0u);
  BOOST_TEST(counter.by_node.size() == 1u);
  BOOST_TEST(counter.by_node[2] == counter.requests);
  auto local = tally_of(*node1.tasks);
  std::set<std::string> expected;
  for (auto& e : for_1) expected.insert(e.id);
  size_t missing = 0, unexpected = 0, split = 0, distinct = 0;
  for (auto& id : expected) missing += local.deliveries.count(id) == 0 ? 1 : 0;
  for (auto& [event_id, ids] : local.deliveries) {
    unexpected += expected.count(event_id) == 0 ? 1 : 0;
    split += ids.size() > 1 ? 1 : 0;
    distinct += ids.size();
  }
  BOOST_TEST_MESSAGE("node 1's in-process sink (" << for_1.size() << " events): " << local.tasks
                                                  << " tasks, " << local.tasks - distinct
                                                  << " duplicates");
  BOOST_TEST(at_1, missing << " of " << for_1.size() << " events missing at node 1's sink");
  BOOST_TEST(missing == 0u);
  BOOST_TEST(unexpected == 0u, "node 1's sink got events of node 2's shards");
  BOOST_TEST(split == 0u);
}

// `stats` through the handle: node 1, the coordinator, its shards, peer 2 up with its shards
// and an empty forward queue; the counters cover the events that crossed. Node 2 agrees.
void check_stats(test_cluster& cluster, embedded_host& node1, const both_ways& events,
                 size_t dispatchers) {
  engine_stats stats;
  bool drained = eventually([&] {
    stats = stats_of(node1);
    return stats.cluster.peers.size() == 1 && stats.cluster.peers[0].forward_depth == 0;
  });
  auto& c = stats.cluster;
  BOOST_TEST(drained, "forward depth " << (c.peers.empty() ? 0 : c.peers[0].forward_depth));
  BOOST_TEST(c.node == 1u);
  BOOST_TEST(c.coordinator == 1u);
  BOOST_TEST(c.shards_owned == cluster.shards_of(1));
  BOOST_TEST(c.log_version >= dispatchers);
  BOOST_TEST(c.forwarded >= owned_by(cluster, events.via_handle, 2).size());
  BOOST_TEST(c.received >= owned_by(cluster, events.via_node_2, 1).size());
  BOOST_TEST(stats.accepted >= owned_by(cluster, events.all(), 1).size());
  BOOST_REQUIRE(c.peers.size() == 1u);
  auto& peer = c.peers.front();
  BOOST_TEST(peer.id == 2u);
  BOOST_TEST(peer.address == cluster.cluster_address(2));
  BOOST_TEST(to_string(peer.state) == std::string{"up"});
  BOOST_TEST(peer.shards_owned == cluster.shards_of(2));
  BOOST_TEST_MESSAGE("node 1 stats: forwarded " << c.forwarded << ", received " << c.received
                                                << ", log version " << c.log_version);
  bool drained_2 = eventually([&] { return cluster.forward_depth(2, 1) == 0; });
  BOOST_TEST(drained_2, "node 2 still queues events for node 1");
  auto doc = cluster.state(2);
  BOOST_TEST_MESSAGE("node 2 /cluster/v1/: " << text_of_json(doc));
  BOOST_TEST(number_at(doc, "coordinator") == 1u);
  BOOST_REQUIRE(doc["peers"].Size() == 1u);
  BOOST_TEST(number_at(doc["peers"][0], "id") == 1u);
  BOOST_TEST(text_at(doc["peers"][0], "address") == cluster.cluster_address(1));
  BOOST_TEST(number_at(doc["peers"][0], "shardsOwned") == cluster.shards_of(1));
}

// A listening TCP socket on 127.0.0.1 (port chosen by the kernel), closed with this object.
struct taken_port {
  int fd = -1;
  uint16_t port = 0;

  taken_port() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    BOOST_REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    BOOST_REQUIRE(::listen(fd, 4) == 0);
    BOOST_REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port = ntohs(addr.sin_port);
  }
  ~taken_port() { close(); }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

/// A valid membership of two nodes on loopback; node 2 never runs (its port refuses).
cluster_config lone_node_1(uint16_t listen_port) {
  cluster_config c;
  c.node = 1;
  c.listen = "127.0.0.1:" + std::to_string(listen_port);
  c.peers = {"2@127.0.0.1:" + std::to_string(closed_port())};
  c.heartbeat_interval = 200ms;
  c.peer_timeout = 1500ms;
  c.reconnect_initial = 100ms;
  c.join_timeout = 1000ms;
  c.secret = "a secret of at least sixteen characters";
  return c;
}

engine_config lone_engine(const temp_dir& dir) {
  engine_config engine;
  engine.data_dir = dir / "data";
  engine.shards = 4;
  return engine;
}

struct bad_case {
  std::string what;
  std::function<void(cluster_config&)> change;
  std::string key; // the key the error must name
};

const std::vector<bad_case>& bad_cases() {
  static const std::vector<bad_case> cases{
    {"a peer without a port", [](cluster_config& c) { c.peers = {"2@127.0.0.1"}; },
     "dispatch.cluster.peers[0]"},
    {"a peer with this node's id", [](cluster_config& c) { c.peers = {"1@127.0.0.1:9"}; },
     "dispatch.cluster.peers[0]"},
    {"no listen address", [](cluster_config& c) { c.listen.clear(); }, "dispatch.cluster.listen"},
    {"a wildcard listen address", [](cluster_config& c) { c.listen = "0.0.0.0:7400"; },
     "dispatch.cluster.listen"},
    {"a peer timeout within two heartbeats",
     [](cluster_config& c) { c.peer_timeout = 2 * c.heartbeat_interval; },
     "dispatch.cluster.peer-timeout"},
    {"a listen address beyond loopback without TLS",
     [](cluster_config& c) { c.listen = "10.0.0.1:7400"; }, "dispatch.cluster.ca-file"},
    {"a certificate that does not exist",
     [](cluster_config& c) {
       c.certificate = "/nonexistent/node.pem";
       c.key = "/nonexistent/node.key";
       c.ca_file = "/nonexistent/ca.pem";
     },
     "dispatch.cluster.certificate"},
    {"no node id with the rest set", [](cluster_config& c) { c.node = 0; },
     "dispatch.cluster.node"},
    {"no cluster secret", [](cluster_config& c) { c.secret.clear(); }, "dispatch.cluster.secret"},
    {"a cluster secret too short to be one", [](cluster_config& c) { c.secret = "short"; },
     "dispatch.cluster.secret"},
    {"no cluster at all (node 0, nothing set)", [](cluster_config& c) { c = cluster_config{}; },
     "dispatch.cluster.node"},
  };
  return cases;
}

} // namespace

BOOST_AUTO_TEST_SUITE(cluster_embedding)

BOOST_AUTO_TEST_CASE(a_node_in_the_test_process_joins_a_dispatchd_node) {
  cluster_options options;
  options.nodes = 2;
  test_cluster cluster{options};
  BOOST_REQUIRE_MESSAGE(cluster.shards_of(1) > 0 && cluster.shards_of(2) > 0,
                        "the shard map must give both nodes shards");
  cluster.start(2);
  embedded_host node1{engine_of_node_1(cluster), cluster_of_node_1(cluster)};
  node1.node = spawn_or_fail(cluster, node1);
  cluster.wait_ready(2);
  check_joined(cluster, node1);
  auto types = check_dispatchers(cluster, node1);
  auto events = publish_both_ways(cluster, node1, types, 400);
  check_delivered(cluster, node1, events);
  check_stats(cluster, node1, events, types.size());
  // Stopping the handle stops the node, its cluster actors and the engine (not the user's sink).
  caf::anon_send_exit(node1.node, caf::exit_reason::user_shutdown);
  // A user may well still hold a copy of the handle when the system goes down: that must not
  // keep the shutdown waiting (a detached node facade did: its private thread waits for its
  // last handle).
  auto still_held = node1.node;
  node1.node = nullptr;
  node1.engine = nullptr;
  bool noticed = eventually([&] { return cluster.peer_state(2, 1) == "down"; }, cluster_deadline);
  BOOST_TEST(noticed, "node 2 sees node 1 as \"" << cluster.peer_state(2, 1) << "\":\n"
                                                 << cluster.log_tails());
  BOOST_TEST_MESSAGE("node 2 after node 1 stopped: " << text_of_json(cluster.state(2)));
  bool stopped = eventually([&] { return node1.running() == node1.baseline; }, 30s);
  BOOST_TEST(stopped, node1.running() << " actors running, " << node1.baseline << " with the "
                                      << "sink alone");
  node1.shut_down();
  BOOST_TEST(cluster.process(2).running());
  BOOST_TEST(cluster.request(2, "GET", "/health").status == 200u);
}

BOOST_AUTO_TEST_CASE(a_bad_cluster_config_is_refused_naming_the_key_and_spawns_nothing) {
  temp_dir dir;
  embedded_host host{lone_engine(dir), lone_node_1(peer_port())};
  auto before = host.running();
  for (auto& bad : bad_cases()) {
    BOOST_TEST_CONTEXT(bad.what) {
      auto config = host.cluster_cfg;
      bad.change(config);
      auto node = spawn_node(*host.sys, host.engine, host.engine_cfg, config);
      BOOST_TEST(!node, "spawn_node accepted it");
      if (node) {
        caf::anon_send_exit(*node, caf::exit_reason::user_shutdown);
        host.engine = nullptr; // the node stops the engine with it
        BOOST_REQUIRE(eventually([&] { return host.running() == host.baseline; }));
        break; // without an engine the remaining cases cannot run
      }
      auto message = message_of(node.error());
      BOOST_TEST_MESSAGE(bad.what << ": " << message);
      BOOST_TEST(contains(message, bad.key), message);
      BOOST_TEST(host.running() == before, "actors spawned (and maybe stopped again)");
      BOOST_TEST(!std::filesystem::exists(host.engine_cfg.data_dir + "/cluster"),
                 "the cluster store was created");
    }
  }
  if (host.engine) {
    // The engine, untouched by the refusals, still answers.
    BOOST_TEST(static_cast<bool>(host.call<engine_stats>(host.engine, stats_atom::value)));
    caf::anon_send_exit(host.engine, caf::exit_reason::user_shutdown);
    host.engine = nullptr;
  }
  host.shut_down();
}

BOOST_AUTO_TEST_CASE(a_listen_port_already_taken_is_refused_naming_the_address) {
  temp_dir dir;
  taken_port taken;
  embedded_host host{lone_engine(dir), lone_node_1(taken.port)};
  auto before = host.running();
  auto node = spawn_node(*host.sys, host.engine, host.engine_cfg, host.cluster_cfg);
  BOOST_REQUIRE_MESSAGE(!node, "spawn_node listened on a port another socket listens on");
  auto message = why(node);
  BOOST_TEST_MESSAGE("port taken: " << message);
  BOOST_TEST(contains(message, "127.0.0.1:" + std::to_string(taken.port)), message);
  // What it started is stopped again; the engine is left to its owner and still answers.
  BOOST_TEST(eventually([&] { return host.running() == before; }),
             host.running() << " actors running, " << before << " before");
  BOOST_TEST(static_cast<bool>(host.call<engine_stats>(host.engine, stats_atom::value)));
  // Once the port is free, the same system hosts the node (nothing of the attempt is in the way).
  taken.close();
  {
    auto again = spawn_node(*host.sys, host.engine, host.engine_cfg, host.cluster_cfg);
    BOOST_REQUIRE_MESSAGE(again, "second attempt: " << why(again));
    host.node = *again;
  } // no copy of the handle may outlive the system (see spawn_or_fail)
  BOOST_TEST(host.call<engine_stats>(host.node, stats_atom::value)->cluster.node == 1u);
  caf::anon_send_exit(host.node, caf::exit_reason::user_shutdown);
  host.node = nullptr;
  host.engine = nullptr;
  BOOST_TEST(eventually([&] { return host.running() == host.baseline; }), host.running()
                                                                            << " running");
  host.shut_down();
}

BOOST_AUTO_TEST_SUITE_END()
