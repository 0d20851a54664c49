// What cluster nodes say to each other: who they are, the replicated dispatcher log, admin calls
// forwarded to the coordinator, and the cluster's state as `stats` reports it. Values only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor_control_block.hpp>
#include <caf/meta/type_name.hpp>

#include "messages/clock.hpp"
#include "messages/dispatcher.hpp"

namespace dispatch {

/// One node of the static membership: its id (≥ 1) and the `host:port` its peers connect to.
struct member {
  uint32_t id = 0;
  std::string address;
};

inline bool operator==(const member& x, const member& y) {
  return x.id == y.id && x.address == y.address;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member& x) {
  return f(caf::meta::type_name("dispatch.member"), x.id, x.address);
}

using member_list = std::vector<member>;

/// A node's introduction: the handshake compares shard count and member list (sorted by id).
/// It carries the node's peer endpoint, so one connection per pair serves both directions (the
/// lower id connects; the higher learns the lower's endpoint from its hello).
struct member_info {
  uint32_t node = 0;
  uint32_t shards = 0;
  member_list members;
  std::string version;            // the software version, for the operator's log
  caf::strong_actor_ptr endpoint; // the node's published peer endpoint
  uint32_t max_event_bytes = 0;   // must agree: an event accepted here is accepted by its owner
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member_info& x) {
  return f(caf::meta::type_name("dispatch.member_info"), x.node, x.shards, x.members, x.version,
           x.endpoint, x.max_event_bytes);
}

/// One change of the replicated dispatcher set: `put` stores `value` as it is (ids and version
/// included), `drop` removes dispatcher `id`. Versions count up from 1 on the coordinator.
enum class log_op : uint8_t { put, drop };

struct log_entry {
  uint64_t version = 0;
  log_op op = log_op::put;
  dispatcher value; // put
  std::string id;   // the dispatcher's id (put and drop)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, log_entry& x) {
  return f(caf::meta::type_name("dispatch.log_entry"), x.version, x.op, x.value, x.id);
}

using log_entry_list = std::vector<log_entry>;

/// A dispatcher write sent to the coordinator: one of the directory's six calls.
enum class admin_kind : uint8_t {
  create_dispatcher, // value
  update_dispatcher, // dispatcher_id, dispatcher_changes
  remove_dispatcher, // dispatcher_id
  create_action,     // dispatcher_id, new_action
  update_action,     // dispatcher_id, action_id, action_changes
  remove_action,     // dispatcher_id, action_id
};

struct admin_request {
  admin_kind kind = admin_kind::create_dispatcher;
  dispatcher value;
  std::string dispatcher_id;
  std::string action_id;
  dispatcher_patch dispatcher_changes;
  action new_action;
  action_patch action_changes;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, admin_request& x) {
  return f(caf::meta::type_name("dispatch.admin_request"), x.kind, x.value, x.dispatcher_id,
           x.action_id, x.dispatcher_changes, x.new_action, x.action_changes);
}

/// The coordinator's answer: what the directory answered, and the log entries the write made, so
/// the asking node applies them before it answers its own caller (it reads its own writes).
struct admin_reply {
  dispatcher stored;     // create_dispatcher
  action stored_action;  // create_action
  uint32_t affected = 0; // update and remove calls
  log_entry_list entries;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, admin_reply& x) {
  return f(caf::meta::type_name("dispatch.admin_reply"), x.stored, x.stored_action, x.affected,
           x.entries);
}

/// How this node sees one peer.
enum class peer_state : uint8_t {
  connecting, // never reached yet, or reconnecting after it went away
  up,         // handshake done, heartbeats answered
  down,       // was up; heartbeats unanswered past the timeout, or the connection broke
  refused,    // its shard count or member list differs from ours: not part of this cluster
};

const char* to_string(peer_state x);

struct peer_status {
  uint32_t id = 0;
  std::string address;
  peer_state state = peer_state::connecting;
  timestamp_ms since = 0;     // when it entered this state
  uint64_t forward_depth = 0; // events queued here for the shards it owns
  uint32_t shards_owned = 0;
  std::string reason; // why it is down or refused, for the operator
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peer_status& x) {
  return f(caf::meta::type_name("dispatch.peer_status"), x.id, x.address, x.state, x.since,
           x.forward_depth, x.shards_owned, x.reason);
}

/// The cluster part of `engine_stats`; `node == 0` means the engine is not clustered.
struct cluster_stats {
  uint32_t node = 0;
  uint32_t coordinator = 0;
  uint32_t shards_owned = 0;
  uint64_t log_version = 0; // the last dispatcher change applied here
  uint64_t forwarded = 0;   // events this node queued for and handed to their owners
  uint64_t received = 0;    // events other nodes forwarded to this one
  std::vector<peer_status> peers;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_stats& x) {
  return f(caf::meta::type_name("dispatch.cluster_stats"), x.node, x.coordinator, x.shards_owned,
           x.log_version, x.forwarded, x.received, x.peers);
}

} // namespace dispatch
