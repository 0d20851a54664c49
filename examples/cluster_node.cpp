// Hosting a cluster node in your own CAF actor system: your config, your in-process sink, the
// engine wrapped in a node that joins dispatchd peers; then publishing through the node's handle.
#include <atomic>
#include <iostream>
#include <string>
#include <thread>

#include <caf/all.hpp>

#include "actors/spawn_engine.hpp"
#include "cluster/shard_map.hpp"
#include "cluster/spawn_node.hpp"
#include "config/cluster_config.hpp"
#include "config/engine_config.hpp"
#include "messages/error_code.hpp"
#include "messages/ids.hpp"

using namespace dispatch;

namespace {

/// Your own configuration: CAF's options, the engine's `dispatch.*` and the cluster's
/// `dispatch.cluster.*` options (node, listen, peers, ...), so a dispatchd node's command line
/// works here too; plus one option of this program.
class node_config : public caf::actor_system_config {
public:
  uint32_t events = 8;

  node_config() {
    prepare_config(*this, custom_options_);
    add_cluster_options(custom_options_);
    put_cluster_defaults(*this);
    opt_group{custom_options_, "example"}.add(events, "events",
                                              "events to publish through this node");
  }
};

std::atomic<uint32_t> received{0};

/// An in-process sink: the node delivers here the tasks of the shards it owns.
sink_actor::behavior_type printing_sink(sink_actor::pointer) {
  return {
    [](deliver_atom, const delivery_list& batch) {
      for (auto& d : batch)
        std::cout << "task " << d.task.function_name << " for event " << d.event_id << "\n";
      received += static_cast<uint32_t>(batch.size());
      return delivery_result_list(batch.size(), delivered());
    },
  };
}

[[noreturn]] void fail(const std::string& what, const caf::error& err) {
  std::cerr << what << ": " << message_of(err) << "\n";
  std::exit(1);
}

template <class T, class... Ts>
T ask(caf::scoped_actor& self, const engine_actor& node, Ts&&... xs) {
  T result;
  self->request(node, std::chrono::seconds(10), std::forward<Ts>(xs)...)
    .receive([&](T& x) { result = std::move(x); }, [&](caf::error& err) { fail("error", err); });
  return result;
}

void print_cluster(const cluster_stats& c) {
  std::cout << "node " << c.node << " (coordinator " << c.coordinator << ") owns " << c.shards_owned
            << " shards; forwarded " << c.forwarded << ", received " << c.received << "\n";
  for (auto& peer : c.peers)
    std::cout << "  peer " << peer.id << " at " << peer.address << ": " << to_string(peer.state)
              << ", " << peer.forward_depth << " events queued for it\n";
}

/// Four dispatchers (written through this node, applied by the coordinator), events for them,
/// and what became of the events: ours delivered here, the others forwarded to their owners.
void publish_some(caf::scoped_actor& self, const engine_actor& node, const cluster_config& cluster,
                  uint32_t shards, uint32_t events) {
  std::vector<dispatcher> created;
  for (int i = 0; i < 4; ++i) {
    dispatcher d;
    d.event_type = "cluster_node.greeting." + std::to_string(i);
    action task;
    task.kind = action_kind::task;
    task.function_name = "greet";
    d.actions = {task};
    created.push_back(ask<dispatcher>(self, node, create_atom::value, d));
  }
  // Every node computes the same shard map; it tells which node delivers which event.
  std::vector<uint32_t> ids;
  for (auto& m : members_of(cluster)) ids.push_back(m.id);
  auto owners = assign_shards(shards, ids);
  event_list batch;
  for (uint32_t i = 0; i < events; ++i) {
    event ev;
    ev.type = created[i % created.size()].event_type;
    ev.content = R"({"n":)" + std::to_string(i) + "}";
    batch.push_back(std::move(ev));
  }
  uint32_t ours = 0;
  for (auto& outcome : ask<publish_outcome_list>(self, node, publish_atom::value, batch)) {
    auto owner = owners[shard_of(outcome.stored.type, shards)];
    ours += owner == cluster.node ? 1 : 0;
    std::cout << "published " << outcome.stored.id << " (" << outcome.stored.type
              << "): delivered by node " << owner << "\n";
  }
  // Events of a peer's shards wait in this node's forward queue until their owner has them.
  for (int i = 0; i < 300; ++i) {
    bool drained = received >= ours;
    for (auto& peer : ask<engine_stats>(self, node, stats_atom::value).cluster.peers)
      drained = drained && peer.forward_depth == 0;
    if (drained) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  print_cluster(ask<engine_stats>(self, node, stats_atom::value).cluster);
  std::cout << received << " of the " << ours << " tasks of our shards delivered here\n";
  // Removing the example's dispatchers keeps repeated runs tidy.
  for (auto& d : created) ask<uint32_t>(self, node, remove_atom::value, d.id);
}

} // namespace

int main(int argc, char** argv) {
  node_config cfg;
  if (auto err = cfg.parse(argc, argv)) fail("bad command line", err);
  if (cfg.cli_helptext_printed) return 0;
  auto engine_cfg = read_engine_config(cfg);
  if (!engine_cfg) fail("invalid configuration", engine_cfg.error());
  if (engine_cfg->data_dir == engine_config{}.data_dir)
    engine_cfg->data_dir = "./var/cluster-node-example";
  auto cluster = read_cluster_config(cfg);
  if (!cluster) fail("invalid configuration", cluster.error());
  if (!clustered(*cluster))
    fail("invalid configuration",
         make_error(error_code::field_format, "dispatch.cluster.node: required, this node's id"));
  // The middleman, heartbeats (and TLS) go into the config before the actor system is made.
  prepare_cluster_system(cfg, *cluster);
  caf::actor_system sys{cfg};
  auto sink = sys.spawn(printing_sink);
  engine_sinks sinks;
  sinks.task = sink_binding{sink, true}; // it takes tasks at once, like a Task Service
  auto engine = spawn_cluster_engine(sys, *engine_cfg, sinks);
  if (!engine) fail("cannot start the engine", engine.error());
  // The node wraps the engine; from here on talk to the node: it routes events by shard owner
  // and dispatcher writes to the coordinator.
  auto node = spawn_node(sys, *engine, *engine_cfg, *cluster);
  if (!node) {
    caf::anon_send_exit(*engine, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
    fail("cannot join the cluster", node.error());
  }
  {
    caf::scoped_actor self{sys};
    publish_some(self, *node, *cluster, engine_cfg->shards, cfg.events);
  }
  std::cout << "a member of the cluster until Enter (or end of input)\n";
  std::string line;
  std::getline(std::cin, line);
  // Stopping the node stops its cluster actors and the engine; the sink is ours to stop.
  caf::anon_send_exit(*node, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
}
