// The typed interfaces of the cluster's actors. `peer_actor` is what a node publishes through the
// middleman (never its engine); the others live inside one node.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/cluster.hpp"
#include "messages/event.hpp"
#include "messages/flat_query.hpp"
#include "messages/interfaces.hpp"

namespace dispatch {

using join_atom = caf::atom_constant<caf::atom("join")>;
using expired_atom = caf::atom_constant<caf::atom("expired")>;

/// A node's own reads and operations on work done, answered from its own engine only: what a
/// node gathers from every member to answer for the whole cluster. Listings are windows: the
/// first `depth` records in the query's order (see `deliveries_api`).
using node_reads_api
  = caf::typed_actor<caf::replies_to<deliveries_atom, query, uint32_t>::with<delivery_page>,
                     caf::replies_to<log_atom, action_kind, query, uint32_t>::with<json_page>,
                     caf::replies_to<events_atom, query, uint32_t>::with<json_page>,
                     caf::replies_to<replay_atom, std::string>::with<delivery>,
                     caf::replies_to<replay_atom, query>::with<uint64_t>,
                     caf::replies_to<purge_atom, std::string>::with<uint32_t>,
                     caf::replies_to<rematch_atom, std::string>::with<uint32_t>,
                     caf::replies_to<discard_atom, std::string>::with<uint32_t>>;

/// `node_reads_api` as the peers ask it: the query in its flat form, since nothing recursive
/// crosses the wire (the endpoint rebuilds it with bounds checked first).
using peer_reads_api
  = caf::typed_actor<caf::replies_to<deliveries_atom, flat_query, uint32_t>::with<delivery_page>,
                     caf::replies_to<log_atom, action_kind, flat_query, uint32_t>::with<json_page>,
                     caf::replies_to<events_atom, flat_query, uint32_t>::with<json_page>,
                     caf::replies_to<replay_atom, std::string>::with<delivery>,
                     caf::replies_to<replay_atom, flat_query>::with<uint64_t>,
                     caf::replies_to<purge_atom, std::string>::with<uint32_t>,
                     caf::replies_to<rematch_atom, std::string>::with<uint32_t>,
                     caf::replies_to<discard_atom, std::string>::with<uint32_t>>;

/// What one node offers the others. Every call but the two steps of the hello is refused unless
/// it comes from this node or from a peer that proved its membership in a hello.
using peer_actor = caf::typed_actor<
  // Handshake, first step: the caller names the member it claims to be and sends a fresh nonce;
  // answers our nonce and our proof (HMAC of the cluster secret over its nonce, our node id and
  // our CAF node), so the caller knows it reached a member before it proves itself.
  caf::replies_to<hello_atom, uint32_t, std::string>::with<std::string, std::string>,
  // Second step: the caller's introduction and its proof over our nonce; answers our
  // introduction, or an error: a wrong proof, a node id that is up already, or the difference
  // (shard count, member list) when the two cannot be in one cluster.
  caf::replies_to<hello_atom, member_info, std::string>::with<member_info>,
  // Heartbeat from node `from`; answers our node id.
  caf::replies_to<ping_atom, uint32_t>::with<uint32_t>,
  // Forwarding: events node `from` accepted for shards we own. Answers once they are durable
  // here (duplicates of events seen before count as done); an error means "send them again".
  caf::replies_to<forward_atom, uint32_t, event_list>::with<uint64_t>,
  // On the coordinator: performs a dispatcher write; answers what it did and the log entries made.
  caf::replies_to<admin_atom, admin_request>::with<admin_reply>,
  // On a follower: the coordinator's new entries, `previous` being the coordinator's last version
  // before them; answers the version now applied here.
  caf::replies_to<replicate_atom, uint64_t, log_entry_list>::with<uint64_t>,
  // On the coordinator: the log entries after a version, for a follower catching up (a page;
  // an empty answer means it is current).
  caf::replies_to<catch_up_atom, uint64_t>::with<log_entry_list>>::extend_with<peer_reads_api>;

/// Told whenever a peer's state changes; `handle` is invalid unless the peer is up.
using peer_listener_actor
  = caf::typed_actor<caf::reacts_to<peer_atom, uint32_t, peer_actor, peer_state>>;

using peer_listener_list = std::vector<peer_listener_actor>;

/// Keeps the connections to the peers: connects with backoff, introduces, heartbeats.
using membership_actor = caf::typed_actor<
  // Answers once every peer answered the handshake or failed a first attempt, or the join
  // timeout passed; an error when a peer refused us or we refused it (it says why).
  caf::replies_to<join_atom>::with<bool>,
  // How this node sees each peer.
  caf::replies_to<status_atom>::with<std::vector<peer_status>>,
  // Who to tell about peer changes (told the current state at once).
  caf::reacts_to<handles_atom, peer_listener_actor>,
  // Our own endpoint, published: membership starts connecting when it has it.
  caf::reacts_to<handles_atom, peer_actor>,
  // From our endpoint: a lower node connected and introduced itself (passed the check) ...
  caf::reacts_to<hello_atom, member_info>,
  // ... or introduced itself and was refused (its id, the reason).
  caf::reacts_to<hello_atom, uint32_t, std::string>,
  // Internal timers: the join timeout, a heartbeat round, a reconnect attempt of one peer.
  caf::reacts_to<expired_atom>, caf::reacts_to<tick_atom>, caf::reacts_to<tick_atom, uint32_t>>;

/// Drains the forward queue of one owner: pages events from disk, forwards, retires on ack.
using forwarder_actor = peer_listener_actor::extend<
  // New events were queued: forward them when the owner is up.
  caf::reacts_to<enqueue_atom>,
  // Internal: try again after a failure.
  caf::reacts_to<tick_atom>>;

/// The replicated dispatcher log: the single writer on the coordinator, the follower elsewhere.
using replicator_actor = peer_listener_actor::extend<
  caf::replies_to<admin_atom, admin_request>::with<admin_reply>,
  caf::replies_to<replicate_atom, uint64_t, log_entry_list>::with<uint64_t>,
  // The version applied here.
  caf::replies_to<status_atom>::with<uint64_t>,
  // Internal: a follower's catch-up that failed is tried again.
  caf::reacts_to<tick_atom>>;

/// Answers reads and operations on work done for the whole cluster: asks every member's
/// `node_reads_api` (its own included) and merges what they answer. While a member is not up, it
/// refuses (unavailable, naming the member) rather than answer with a part missing.
using gatherer_actor = node_reads_api::extend_with<peer_listener_actor>::extend<
  // A page of the API, merged from the members' windows.
  caf::replies_to<deliveries_atom, query>::with<delivery_page>,
  caf::replies_to<log_atom, action_kind, query>::with<json_page>,
  caf::replies_to<events_atom, query>::with<json_page>>;

} // namespace dispatch
