// Membership: the static member list made live. Connects to every peer through the middleman
// (plain or TLS) with backoff, introduces this node, pings each peer every heartbeat interval and
// marks it down when it stops answering or its connection breaks; tells the listeners.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <caf/io/middleman_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "cluster/interfaces.hpp"
#include "cluster/member_auth.hpp"
#include "config/cluster_config.hpp"

namespace dispatch {

/// Why two nodes cannot be in one cluster (shard count, event size limit, member list), or none.
caf::error check_compatible(const member_info& ours, const member_info& theirs);

/// One peer as membership tracks it.
struct peer_slot {
  member info;
  std::string host;
  uint16_t port = 0;
  peer_state state = peer_state::connecting;
  timestamp_ms since = 0;
  std::string reason;
  peer_actor handle;            // valid once connected (also while down by heartbeat)
  timestamp_ms last_answer = 0; // the last ping answer
  std::chrono::milliseconds backoff{0};
  bool attempted = false;  // a first connection attempt finished (for join)
  bool connecting = false; // an attempt is under way
};

struct membership_state {
  static inline const char* name = "cluster.membership";

  cluster_config config;
  member_info ours;
  caf::io::middleman_actor middleman; // plain or TLS
  member_auth auth; // the secret, and who proved which node id (shared with the endpoint)
  std::map<uint32_t, peer_slot> peers;
  peer_listener_list listeners;
  std::vector<caf::typed_response_promise<bool>> joining;
  bool join_expired = false;
};

/// Spawns with the configuration, this node's introduction, the middleman actor to connect
/// through (`sys.middleman().actor_handle()` or the OpenSSL manager's) and the secret with the
/// registry of proven members (shared with the endpoint).
membership_actor::behavior_type
membership(membership_actor::stateful_pointer<membership_state> self, cluster_config config,
           member_info ours, caf::io::middleman_actor middleman, member_auth auth);

} // namespace dispatch
