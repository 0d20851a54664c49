// Peer endpoint: the published face of a node; a thin layer over the engine and the replicator.
#include "cluster/peer_endpoint.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>

#include "logging/log.hpp"
#include "messages/error_code.hpp"

namespace dispatch {

namespace {

using self_ptr = peer_actor::stateful_pointer<peer_endpoint_state>;

constexpr size_t catch_up_page = 256;

// Bounds on hellos in progress: a caller that never sends the second step costs a slot for at
// most this long, and many of them cannot grow the table without end.
constexpr timestamp_ms challenge_lifetime_ms = 30000;
constexpr size_t max_challenges = 64;
constexpr size_t max_nonce_size = 128;

/// The member the current message comes from: this node's own actors count as this node; a peer
/// counts once it proved its membership in a hello. Anyone else is refused (logged once).
caf::expected<uint32_t> caller(self_ptr self, const char* call) {
  auto& st = self->state;
  auto sender = self->current_sender();
  if (sender && sender->node() == self->node()) return st.ours.node;
  if (sender)
    if (auto id = st.auth.registry->member_at(sender->node())) return *id;
  auto who = sender ? caf::to_string(sender->node()) : std::string{"an anonymous sender"};
  if (st.refused.size() < 1024
      && st.refused.insert(sender ? sender->node() : caf::node_id{}).second)
    DISPATCH_LOG(warning, cluster)
      << "refused a " << call << " call from " << who
      << ": it has not proven its membership in a hello (further calls from it are refused "
         "without a log line)";
  return make_error(error_code::no_permission,
                    std::string{"no permission: "} + call
                      + " is answered to members only, after their hello");
}

/// A refusal the caller may not take as "this member is incompatible": the hello failed.
caf::error not_proven(uint32_t claimed) {
  return make_error(error_code::no_permission,
                    "no permission: the hello claiming node " + std::to_string(claimed)
                      + " did not prove membership (is dispatch.cluster.secret the same on every "
                        "node?)");
}

/// The hello's first step: remember a fresh nonce for this caller, prove ourselves over theirs.
caf::result<std::string, std::string> challenge(self_ptr self, uint32_t claimed,
                                                const std::string& their_nonce) {
  auto& st = self->state;
  auto sender = self->current_sender();
  if (!sender || their_nonce.size() < 32 || their_nonce.size() > max_nonce_size
      || claimed == st.ours.node)
    return not_proven(claimed);
  auto now = now_ms();
  for (auto i = st.challenges.begin(); i != st.challenges.end();)
    i = now - i->second.issued > challenge_lifetime_ms ? st.challenges.erase(i) : std::next(i);
  if (st.challenges.size() >= max_challenges && st.challenges.count(sender->node()) == 0)
    return make_error(error_code::unavailable,
                      "unavailable: too many hellos in progress; try again");
  auto ours = fresh_nonce();
  st.challenges[sender->node()] = hello_challenge{claimed, ours, now};
  auto proof = prove(st.auth, hello_role::answer, their_nonce, st.ours.node, self->node());
  return caf::result<std::string, std::string>{std::move(ours), std::move(proof)};
}

/// The hello's second step: the caller's proof over our nonce, then the compatibility check.
caf::result<member_info> introduce(self_ptr self, const member_info& theirs,
                                   const std::string& proof) {
  auto& st = self->state;
  auto sender = self->current_sender();
  if (!sender) return not_proven(theirs.node);
  auto i = st.challenges.find(sender->node());
  if (i == st.challenges.end()) return not_proven(theirs.node);
  auto issued = std::move(i->second);
  st.challenges.erase(i); // a nonce answers one hello, right or wrong
  auto is_member = std::any_of(st.ours.members.begin(), st.ours.members.end(),
                               [&](const member& m) { return m.id == theirs.node; });
  std::optional<std::string> refusal;
  if (issued.member != theirs.node || !is_member || theirs.node == st.ours.node || !theirs.endpoint
      || theirs.endpoint->node() != sender->node())
    refusal = "it is not a member this node knows, or not the one it first claimed";
  else
    refusal = refusal_of_proof(st.auth, hello_role::caller, issued.nonce, theirs.node,
                               sender->node(), proof);
  if (refusal) {
    DISPATCH_LOG(warning, cluster) << "refused a hello claiming node " << theirs.node << " from "
                                   << caf::to_string(sender->node()) << ": " << *refusal;
    return not_proven(theirs.node);
  }
  // A connected member keeps its slot: checked before anything else touches its state.
  if (!st.auth.registry->admit(sender->node(), theirs.node)) {
    DISPATCH_LOG(warning, cluster)
      << "refused a hello claiming node " << theirs.node << " from "
      << caf::to_string(sender->node()) << ": that node is up, connected from another process";
    return make_error(error_code::unavailable,
                      "unavailable: node " + std::to_string(theirs.node)
                        + " is up here, connected from another process; try again once that "
                          "connection is gone");
  }
  // A member proven now, so its differences are its own: tell the membership.
  if (auto err = check_compatible(st.ours, theirs)) {
    st.auth.registry->forget(theirs.node, sender->node());
    self->send(st.membership, hello_atom::value, theirs.node, message_of(err));
    return err;
  }
  self->send(st.membership, hello_atom::value, theirs);
  return st.ours;
}

/// The owner's side of forwarding: durable here, or an error so the sender keeps them queued.
void accept_forwarded(self_ptr self, uint32_t from, const event_list& events,
                      caf::typed_response_promise<uint64_t> rp) {
  auto& st = self->state;
  auto count = events.size();
  self->request(st.engine, st.timeout, publish_atom::value, events)
    .then(
      [self, rp, count, from](const publish_outcome_list& outcomes) mutable {
        // Validation passed on the first node, under the same limits (the handshake checks
        // them); what fails here is overload or storage, which a later attempt may pass: keep
        // the batch queued there (duplicates are suppressed).
        for (auto& out : outcomes)
          if (!accepted(out)
              && (out.code == error_code::unavailable || out.code == error_code::server)) {
            rp.deliver(make_error(error_code::unavailable,
                                  "node " + std::to_string(from)
                                    + "'s events not accepted here: " + out.message));
            return;
          }
        self->state.counters->received.fetch_add(count, std::memory_order_relaxed);
        rp.deliver(static_cast<uint64_t>(count));
      },
      [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
}

} // namespace

peer_actor::behavior_type peer_endpoint(self_ptr self, member_info ours, uint32_t coordinator,
                                        std::chrono::milliseconds timeout, engine_actor engine,
                                        replicator_actor replicator, membership_actor membership,
                                        cluster_store_ptr store, cluster_counters_ptr counters,
                                        member_auth auth) {
  auto& st = self->state;
  st.ours = std::move(ours);
  st.coordinator = coordinator;
  st.timeout = timeout;
  st.engine = std::move(engine);
  st.replicator = std::move(replicator);
  st.membership = std::move(membership);
  st.ours.endpoint = self->ctrl();
  st.store = std::move(store);
  st.counters = std::move(counters);
  st.auth = std::move(auth);
  return {
    [self](hello_atom, uint32_t claimed, const std::string& nonce) {
      return challenge(self, claimed, nonce);
    },
    [self](hello_atom, const member_info& theirs, const std::string& proof) {
      return introduce(self, theirs, proof);
    },
    [self](ping_atom, uint32_t) -> caf::result<uint32_t> {
      if (auto who = caller(self, "ping"); !who) return who.error();
      return self->state.ours.node;
    },
    [self](forward_atom, uint32_t from, const event_list& events) -> caf::result<uint64_t> {
      auto who = caller(self, "forward");
      if (!who) return who.error();
      if (*who != from)
        return make_error(error_code::no_permission, "no permission: node " + std::to_string(*who)
                                                       + " cannot forward in the name of node "
                                                       + std::to_string(from));
      auto rp = self->make_response_promise<uint64_t>();
      accept_forwarded(self, from, events, rp);
      return rp;
    },
    [self](admin_atom a, const admin_request& req) -> caf::result<admin_reply> {
      auto& st = self->state;
      if (auto who = caller(self, "admin"); !who) return who.error();
      if (st.ours.node != st.coordinator)
        return make_error(error_code::unavailable, "unavailable: node "
                                                     + std::to_string(st.ours.node)
                                                     + " is not the coordinator");
      return self->delegate(st.replicator, a, req);
    },
    [self](replicate_atom a, uint64_t previous,
           const log_entry_list& entries) -> caf::result<uint64_t> {
      auto& st = self->state;
      auto who = caller(self, "replicate");
      if (!who) return who.error();
      // Only the coordinator writes the log; only a follower applies what it pushes.
      if (*who != st.coordinator || st.ours.node == st.coordinator)
        return make_error(error_code::no_permission,
                          "no permission: dispatcher changes are accepted from the coordinator "
                          "(node "
                            + std::to_string(st.coordinator) + ") only, not from node "
                            + std::to_string(*who));
      return self->delegate(st.replicator, a, previous, entries);
    },
    [self](catch_up_atom, uint64_t after) -> caf::result<log_entry_list> {
      if (auto who = caller(self, "catch-up"); !who) return who.error();
      auto entries = self->state.store->entries_after(after, catch_up_page);
      if (!entries) return entries.error();
      return std::move(*entries);
    },
    // This node's own share of a cluster-wide read (the asking node's gatherer merges them).
    // The query arrives flat and is rebuilt with its bounds checked first.
    [self](deliveries_atom a, const flat_query& q, uint32_t depth) -> caf::result<delivery_page> {
      if (auto who = caller(self, "deliveries"); !who) return who.error();
      auto local = unflatten(q);
      if (!local) return local.error();
      return self->delegate(self->state.engine, a, std::move(*local), depth);
    },
    [self](replay_atom a, const std::string& id) -> caf::result<delivery> {
      if (auto who = caller(self, "replay"); !who) return who.error();
      return self->delegate(self->state.engine, a, id);
    },
    [self](replay_atom a, const flat_query& q) -> caf::result<uint64_t> {
      if (auto who = caller(self, "replay"); !who) return who.error();
      auto local = unflatten(q);
      if (!local) return local.error();
      return self->delegate(self->state.engine, a, std::move(*local));
    },
    [self](purge_atom a, const std::string& id) -> caf::result<uint32_t> {
      if (auto who = caller(self, "purge"); !who) return who.error();
      return self->delegate(self->state.engine, a, id);
    },
    [self](rematch_atom a, const std::string& id) -> caf::result<uint32_t> {
      if (auto who = caller(self, "rematch"); !who) return who.error();
      return self->delegate(self->state.engine, a, id);
    },
    [self](discard_atom a, const std::string& id) -> caf::result<uint32_t> {
      if (auto who = caller(self, "discard"); !who) return who.error();
      return self->delegate(self->state.engine, a, id);
    },
    [self](log_atom a, action_kind kind, const flat_query& q,
           uint32_t depth) -> caf::result<json_page> {
      if (auto who = caller(self, "log"); !who) return who.error();
      auto local = unflatten(q);
      if (!local) return local.error();
      return self->delegate(self->state.engine, a, kind, std::move(*local), depth);
    },
    [self](events_atom a, const flat_query& q, uint32_t depth) -> caf::result<json_page> {
      if (auto who = caller(self, "events"); !who) return who.error();
      auto local = unflatten(q);
      if (!local) return local.error();
      return self->delegate(self->state.engine, a, std::move(*local), depth);
    },
  };
}

} // namespace dispatch
