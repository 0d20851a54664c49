// Peer endpoint: the published face of a node; a thin layer over the engine and the replicator.
#include "cluster/peer_endpoint.hpp"

#include <caf/event_based_actor.hpp>

#include "cluster/membership.hpp"
#include "messages/error_code.hpp"

namespace dispatch {

namespace {

using self_ptr = peer_actor::stateful_pointer<peer_endpoint_state>;

constexpr size_t catch_up_page = 256;

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
                                        replicator_actor replicator,
                                        membership_actor membership, cluster_store_ptr store,
                                        cluster_counters_ptr counters) {
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
  return {
    [self](hello_atom, const member_info& theirs) -> caf::result<member_info> {
      auto& st = self->state;
      if (auto err = check_compatible(st.ours, theirs)) {
        self->send(st.membership, hello_atom::value, theirs.node, message_of(err));
        return err;
      }
      self->send(st.membership, hello_atom::value, theirs);
      return st.ours;
    },
    [self](ping_atom, uint32_t) { return self->state.ours.node; },
    [self](forward_atom, uint32_t from, const event_list& events) {
      auto rp = self->make_response_promise<uint64_t>();
      accept_forwarded(self, from, events, rp);
      return rp;
    },
    [self](admin_atom a, const admin_request& req) -> caf::result<admin_reply> {
      auto& st = self->state;
      if (st.ours.node != st.coordinator)
        return make_error(error_code::unavailable, "unavailable: node "
                                                     + std::to_string(st.ours.node)
                                                     + " is not the coordinator");
      return self->delegate(st.replicator, a, req);
    },
    [self](replicate_atom a, uint64_t previous, const log_entry_list& entries) {
      return self->delegate(self->state.replicator, a, previous, entries);
    },
    [self](catch_up_atom, uint64_t after) -> caf::result<log_entry_list> {
      auto entries = self->state.store->entries_after(after, catch_up_page);
      if (!entries)
        return entries.error();
      return std::move(*entries);
    },
    // This node's own share of a cluster-wide read (the asking node's gatherer merges them).
    [self](deliveries_atom a, const query& q, uint32_t depth) {
      return self->delegate(self->state.engine, a, q, depth);
    },
    [self](replay_atom a, const std::string& id) {
      return self->delegate(self->state.engine, a, id);
    },
    [self](replay_atom a, const query& q) { return self->delegate(self->state.engine, a, q); },
    [self](purge_atom a, const std::string& id) {
      return self->delegate(self->state.engine, a, id);
    },
    [self](log_atom a, action_kind kind, const query& q, uint32_t depth) {
      return self->delegate(self->state.engine, a, kind, q, depth);
    },
    [self](events_atom a, const query& q, uint32_t depth) {
      return self->delegate(self->state.engine, a, q, depth);
    },
  };
}

} // namespace dispatch
