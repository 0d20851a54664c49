// A cluster of real dispatchd processes on loopback for the cluster tests: free ports, temporary
// data directories, optional TLS files, one counting Task Service, and readers of /cluster/v1/.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "fixtures/dispatchd_process.hpp"
#include "fixtures/http_client.hpp"
#include "fixtures/temp_dir.hpp"
#include "task_counter.hpp"

namespace dispatch::test {

/// (node id, HTTP port) pairs.
using node_ports = std::vector<std::pair<uint32_t, uint16_t>>;

/// Generous: deliveries of thousands of events on a shared 2-core machine.
constexpr std::chrono::seconds cluster_deadline{120};

/// How a test cluster is set up.
struct cluster_options {
  uint32_t nodes = 3;
  uint32_t shards = 8;
  std::chrono::milliseconds heartbeat{200};
  std::chrono::milliseconds peer_timeout{1500};
  bool tls = false;
  std::vector<std::string> more; // further options for every node
};

/// A CA and one certificate per node (CN and SAN 127.0.0.1, and the SAN URI
/// urn:dispatch:node:<id> that names the member), made with the `openssl` CLI.
struct tls_files {
  std::string ca_file;
  std::map<uint32_t, std::string> certificate; // by node id
  std::map<uint32_t, std::string> key;         // by node id
};

/// A free port for a node's peer listener, picked below the kernel's ephemeral port range (a
/// port taken from that range may be grabbed by an outgoing connection before the node binds it),
/// and none of `taken`: the cluster's other nodes' ports, free until their nodes bind them, so
/// two random picks could coincide.
uint16_t peer_port(const std::vector<uint16_t>& taken = {});

/// Makes the CA and the node certificates in `dir`; fails the test when openssl fails.
tls_files make_tls_files(const std::string& dir, uint32_t nodes);

class test_cluster {
public:
  explicit test_cluster(cluster_options options = {});
  ~test_cluster();
  test_cluster(const test_cluster&) = delete;
  test_cluster& operator=(const test_cluster&) = delete;

  const cluster_options& options() const { return options_; }

  /// The CA and the nodes' certificates and keys (with `options().tls`).
  const tls_files& tls() const { return tls_; }

  /// The cluster secret every node reads from its secret file (a fresh one per test cluster).
  const std::string& secret() const { return secret_; }
  std::vector<uint32_t> ids() const;

  /// The command line of node `id` (data dir, HTTP on port 0, cluster options, task sink),
  /// with `more` appended (a later option wins).
  std::vector<std::string> args_of(uint32_t id, const std::vector<std::string>& more = {}) const;

  /// Starts node `id` with `args` (default: args_of(id)); does not wait.
  void start(uint32_t id);
  void start(uint32_t id, std::vector<std::string> args);

  /// Starts every node, then waits until each is ready and sees every peer up.
  void start_all();

  /// Waits for "ready" and reads the HTTP port; opens the node's client.
  void wait_ready(uint32_t id);

  /// Waits until every running node reports every other running node "up" in /cluster/v1/.
  void wait_peers_up();

  /// SIGKILL; SIGKILL and start again (same args, same data) then wait ready; SIGSTOP; SIGCONT.
  void kill(uint32_t id);
  void restart(uint32_t id);
  void pause(uint32_t id);
  void resume(uint32_t id);

  dispatchd_process& process(uint32_t id);

  /// "127.0.0.1:<port>" where node `id` listens for its peers.
  std::string cluster_address(uint32_t id) const;
  uint16_t http_port(uint32_t id);
  node_ports http_ports(const std::vector<uint32_t>& ids);

  /// A keep-alive client to node `id`'s HTTP API (opened again after a restart).
  http_client& client(uint32_t id);

  /// One request to node `id`; on a fresh connection when the node closed the kept one (it
  /// was idle, or the node was frozen).
  http_answer request(uint32_t id, const std::string& method, const std::string& target,
                      const std::string& body = "");

  /// GET /cluster/v1/ on node `at`, parsed; fails the test unless it answers 200 with an object.
  rapidjson::Document state(uint32_t at);

  /// The state of `peer` as node `at` sees it ("" when not listed).
  std::string peer_state(uint32_t at, uint32_t peer);

  /// forwardDepth of `peer` as node `at` reports it.
  uint64_t forward_depth(uint32_t at, uint32_t peer);

  /// The last lines of every node's logs, for failure messages.
  std::string log_tails(size_t lines = 30) const;

  /// The owner of each event type by the shard map (rendezvous over the member ids).
  uint32_t owner_of(const std::string& event_type) const;

  /// How many shards the shard map gives node `id`.
  uint64_t shards_of(uint32_t id) const;

  /// One event type per shard: publishing over them reaches every shard (and so every owner).
  std::vector<std::string> types_per_shard(const std::string& prefix) const;

  temp_dir dir;
  task_counter tasks;

private:
  struct node {
    uint32_t id = 0;
    uint16_t cluster_port = 0;
    uint16_t http_port = 0;
    std::unique_ptr<dispatchd_process> process;
    std::unique_ptr<http_client> client;
  };

  node& at(uint32_t id);
  const node& at(uint32_t id) const;

  cluster_options options_;
  tls_files tls_;
  std::string secret_;
  std::string secret_file_;
  std::vector<node> nodes_;
};

/// POSTs a dispatcher with one task action through `client`; returns its JSON (fails the test
/// unless the answer is 200).
rapidjson::Document create_dispatcher(http_client& client, const std::string& event_type,
                                      const std::string& function);

/// GET /dispatchers/v1/{id}: the answer as it came.
http_answer get_dispatcher(http_client& client, const std::string& id);

/// What a publisher did: the acknowledged events and why others were not.
struct publish_outcome {
  std::vector<published_event> acknowledged;
  size_t rejected = 0;               // events the cluster did not acknowledge
  std::vector<std::string> problems; // the first few reasons, for failure messages
};

/// Publishes `count` events over `types` in batches of `batch` through POST /events/v1/batch,
/// round-robin over `targets` (from `test_cluster::http_ports`). Overload answers (503) are
/// retried with the same ids. Safe to run on a thread of its own (no Boost.Test calls):
/// `progress` counts acknowledged events, and setting `stop` ends it early.
publish_outcome publish_round_robin(const node_ports& targets,
                                    const std::vector<std::string>& types, size_t count,
                                    size_t batch = 100, std::atomic<size_t>* progress = nullptr,
                                    const std::atomic<bool>* stop = nullptr);

/// A JSON value as text, for failure messages.
std::string text_of_json(const rapidjson::Value& value);

/// `object[key]` as an unsigned number; UINT64_MAX when absent or not one.
uint64_t number_at(const rapidjson::Value& object, const char* key);

/// `object[key]` as a string; "(absent)" when absent or not one.
std::string text_at(const rapidjson::Value& object, const char* key);

/// The value of a Prometheus sample (`name{labels}`) in a /metrics text; -1 when absent.
double metric_value(const std::string& text, const std::string& sample);

} // namespace dispatch::test
