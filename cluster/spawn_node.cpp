// Embedding a cluster node: system preparation, the store, the actors, publishing and the join.
#include "cluster/spawn_node.hpp"

#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "cluster/forwarder.hpp"
#include "cluster/gatherer.hpp"
#include "cluster/node.hpp"
#include "cluster/peer_endpoint.hpp"
#include "cluster/queue_writer.hpp"
#include "cluster/replicator.hpp"
#include "cluster/shard_map.hpp"
#include "logging/log.hpp"
#include "messages/error_code.hpp"
#include "persistence/cluster_store.hpp"

#ifndef DISPATCH_VERSION
#define DISPATCH_VERSION "0.1.0"
#endif

namespace dispatch {

namespace {

/// Everything spawned so far, stopped together when the start fails.
struct started {
  std::vector<caf::actor> actors;

  template <class Handle>
  Handle keep(Handle h) {
    actors.push_back(caf::actor_cast<caf::actor>(h));
    return h;
  }

  void stop() {
    for (auto& a : actors) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
};

caf::expected<uint16_t> publish_endpoint(caf::actor_system& sys, const peer_actor& endpoint,
                                         const cluster_config& cluster) {
  auto address = parse_address("dispatch.cluster.listen", cluster.listen);
  if (!address) return address.error();
  auto& [host, port] = *address;
  auto published = uses_tls(cluster) ? caf::openssl::publish(endpoint, port, host.c_str(), true)
                                     : sys.middleman().publish(endpoint, port, host.c_str(), true);
  if (!published)
    return make_error(error_code::server, "cannot listen for peers on " + cluster.listen + ": "
                                            + sys.render(published.error()));
  return *published;
}

member_info introduction(const engine_config& engine_cfg, const cluster_config& cluster) {
  member_info ours;
  ours.node = cluster.node;
  ours.shards = engine_cfg.shards;
  ours.members = members_of(cluster);
  ours.version = DISPATCH_VERSION;
  ours.max_event_bytes = engine_cfg.max_event_bytes;
  return ours;
}

std::vector<uint32_t> ids_of(const member_list& members) {
  std::vector<uint32_t> ids;
  for (auto& m : members) ids.push_back(m.id);
  return ids;
}

/// Waits for the handshakes of the join; the error says which peer refused and why.
caf::error join(caf::actor_system& sys, const membership_actor& membership,
                const cluster_config& cluster) {
  caf::scoped_actor self{sys};
  caf::error result;
  self->request(membership, cluster.join_timeout + std::chrono::seconds(5), join_atom::value)
    .receive([](bool) {}, [&](caf::error& err) { result = std::move(err); });
  return result;
}

} // namespace

void prepare_cluster_system(caf::actor_system_config& cfg, const cluster_config& cluster) {
  cfg.load<caf::io::middleman>();
  // CAF 0.17 ships heartbeats off: a frozen peer's connection would never time out.
  cfg.set("middleman.heartbeat-interval", caf::timespan{cluster.heartbeat_interval});
  cfg.set("middleman.connection-timeout", caf::timespan{cluster.peer_timeout * 2});
  cfg.set("middleman.app-identifiers", std::vector<std::string>{"dispatch-cluster"});
  if (uses_tls(cluster)) {
    cfg.load<caf::openssl::manager>();
    cfg.openssl_certificate = cluster.certificate;
    cfg.openssl_key = cluster.key;
    cfg.openssl_cafile = cluster.ca_file;
    cfg.openssl_passphrase = cluster.passphrase;
  }
  add_cluster_message_types(cfg);
}

void add_cluster_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<peer_actor>("dispatch.peer_actor");
}

caf::expected<engine_actor> spawn_node(caf::actor_system& sys, cluster_engine_actor engine,
                                       const engine_config& engine_cfg,
                                       const cluster_config& cluster) {
  if (!clustered(cluster))
    return make_error(
      error_code::field_format,
      "dispatch.cluster.node: required to run a cluster node (this node's id, >= 1)");
  if (auto err = validate(cluster)) return err;
  member_auth auth;
  if (auto secret = read_secret(cluster))
    auth.secret = std::move(*secret);
  else
    return secret.error();
  if (uses_tls(cluster)) {
    auto identity = load_tls_identity(cluster.certificate, cluster.key, cluster.passphrase,
                                      cluster.ca_file, cluster.node);
    if (!identity) return identity.error();
    auth.identity = std::move(*identity);
  }
  cluster_store_options store_opts;
  store_opts.dir = engine_cfg.data_dir + "/cluster";
  store_opts.in_memory = engine_cfg.in_memory;
  store_opts.sync = engine_cfg.sync;
  store_opts.node = cluster.node;
  store_opts.shards = engine_cfg.shards;
  auto store = cluster_store::open(store_opts);
  if (!store) return store.error();
  auto ours = introduction(engine_cfg, cluster);
  auto coordinator = ours.members.front().id;
  auto owners = assign_shards(engine_cfg.shards, ids_of(ours.members));
  auto counters = std::make_shared<cluster_counters>();
  auto timeout = engine_cfg.request_timeout;
  started parts;
  auto repl = parts.keep(sys.spawn(replicator, cluster.node, coordinator, timeout, engine, *store));
  auto middleman = uses_tls(cluster) ? sys.openssl_manager().actor_handle()
                                     : sys.middleman().actor_handle();
  auto members = parts.keep(sys.spawn(membership, cluster, ours, middleman, auth));
  auto endpoint = parts.keep(sys.spawn(peer_endpoint, ours, coordinator, timeout, engine, repl,
                                       members, *store, counters, auth));
  auto port = publish_endpoint(sys, endpoint, cluster);
  if (!port) {
    parts.stop();
    return port.error();
  }
  std::vector<uint32_t> peer_ids;
  for (auto& m : ours.members)
    if (m.id != cluster.node) peer_ids.push_back(m.id);
  auto reads = parts.keep(
    sys.spawn(gatherer, cluster.node, timeout, cluster.peer_timeout, endpoint, peer_ids));
  node_parts np;
  np.node = cluster.node;
  np.coordinator = coordinator;
  np.shards = engine_cfg.shards;
  np.max_event_bytes = engine_cfg.max_event_bytes;
  np.timeout = timeout;
  np.owners = owners;
  np.engine = engine;
  np.membership = members;
  np.replicator = repl;
  np.gatherer = reads;
  np.store = *store;
  np.counters = counters;
  for (auto& m : ours.members) {
    if (m.id == cluster.node) continue;
    auto fwd = parts.keep(sys.spawn<caf::detached>(
      forwarder, m.id, cluster.node, cluster.forward_batch, timeout, *store, counters));
    np.forwarders.emplace(m.id, fwd);
    caf::anon_send(members, handles_atom::value, peer_listener_actor{fwd});
  }
  caf::anon_send(members, handles_atom::value, peer_listener_actor{repl});
  caf::anon_send(members, handles_atom::value, peer_listener_actor{reads});
  caf::anon_send(members, handles_atom::value, endpoint); // now it connects
  size_t owned = 0;
  for (auto owner : owners) owned += owner == cluster.node ? 1 : 0;
  DISPATCH_LOG(info, cluster) << "node " << cluster.node << " listening on " << cluster.listen
                              << (uses_tls(cluster) ? " (TLS)" : " (plain, loopback)")
                              << "; peers prove membership with the cluster secret; coordinator "
                                 "node "
                              << coordinator << "; owns " << owned << " of " << engine_cfg.shards
                              << " shards";
  if (auto err = join(sys, members, cluster)) {
    parts.stop();
    caf::anon_send(middleman, caf::close_atom::value, *port);
    return make_error(error_code::server, "refusing to join the cluster: " + message_of(err));
  }
  // The engine's backups copy this store too, into `<backup>/cluster`. `engine` is the facade
  // spawn_engine made (this function's contract), which takes companions on its internal side.
  backup_companion companion;
  companion.name = "cluster";
  companion.live_bytes = [db = *store] { return db->live_bytes(); };
  companion.copy = [db = *store](const std::string& dir, backup_progress& progress) {
    return db->backup(dir, progress);
  };
  caf::anon_send(engine, backup_atom::value, std::move(companion));
  np.writer = parts.keep(sys.spawn<caf::detached>(queue_writer, *store, np.forwarders));
  // An ordinary actor: the handle users hold must not pin a private thread (a detached actor's
  // thread waits for its last handle, and so would the actor system's destructor).
  auto facade = sys.spawn(node, std::move(np));
  // The endpoint and the rest stop with the facade (it stops its parts; the endpoint here).
  facade->attach_functor([endpoint](const caf::error&) {
    caf::anon_send_exit(endpoint, caf::exit_reason::user_shutdown);
  });
  return caf::actor_cast<engine_actor>(facade);
}

} // namespace dispatch
