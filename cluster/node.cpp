// Node: routes publishes by shard owner, queues the others durably, sends writes to the replicator.
#include "cluster/node.hpp"

#include <caf/event_based_actor.hpp>

#include "messages/error_code.hpp"
#include "messages/group_commit.hpp"
#include "messages/ids.hpp"
#include "messages/validation.hpp"

namespace dispatch {

namespace {

using self_ptr = node_actor::stateful_pointer<node_state>;

/// One part of a publish call is answered; the last one answers the caller.
void part_done(const node_publish_ptr& call) {
  if (--call->parts > 0) return;
  if (!call->single) {
    call->many.deliver(std::move(call->outcomes));
    return;
  }
  auto& out = call->outcomes.front();
  if (accepted(out))
    call->one.deliver(std::move(out.stored));
  else
    call->one.deliver(make_error(out.code, std::move(out.message)));
}

/// Hands every buffered event to the queue writer, one durable write per owner; each event is
/// acknowledged once its write returned.
void flush(self_ptr self) {
  auto& st = self->state;
  st.flush_pending = false;
  std::map<uint32_t, std::vector<queued_publish>> by_owner;
  for (auto& item : st.buffer) by_owner[item.owner].push_back(std::move(item));
  st.buffer.clear();
  for (auto& [owner, items] : by_owner) {
    event_list events;
    events.reserve(items.size());
    for (auto& item : items) events.push_back(item.value);
    auto batch = std::make_shared<std::vector<queued_publish>>(std::move(items));
    auto who = owner;
    self->request(st.writer, st.timeout, enqueue_atom::value, owner, std::move(events))
      .then(
        [batch](uint64_t) {
          for (auto& item : *batch) {
            item.call->outcomes[item.index].stored = item.value;
            part_done(item.call);
          }
        },
        [batch, who](const caf::error& err) {
          auto why = make_error(error_code::unavailable,
                                "unavailable: the event could not be queued for node "
                                  + std::to_string(who) + " (" + message_of(err)
                                  + "); nothing was accepted");
          for (auto& item : *batch) {
            item.call->outcomes[item.index] = rejection(item.value, why);
            part_done(item.call);
          }
        });
  }
}

/// Splits a publish by owner: local events to the engine in one call, the others to the buffer.
void publish(self_ptr self, const event_list& events, node_publish_ptr call) {
  auto& st = self->state;
  call->outcomes.resize(events.size());
  call->parts = 1; // held until every part is handed out
  event_list local;
  std::vector<size_t> local_index;
  auto now = now_ms();
  for (size_t i = 0; i < events.size(); ++i) {
    auto owner = st.owners[shard_of(events[i].type, st.shards)];
    if (owner == st.node) {
      local.push_back(events[i]);
      local_index.push_back(i);
      continue;
    }
    auto ev = events[i];
    if (auto err = validate(ev, st.max_event_bytes)) {
      call->outcomes[i] = rejection(ev, err);
      continue;
    }
    // The id is given here, where the event is accepted: the owner suppresses repeats by it.
    complete(ev, now);
    ++call->parts;
    st.buffer.push_back(queued_publish{std::move(ev), owner, call, i});
  }
  if (!local.empty()) {
    ++call->parts;
    self->request(st.engine, st.timeout, publish_atom::value, std::move(local))
      .then(
        [call, local_index](publish_outcome_list& outcomes) {
          for (size_t k = 0; k < outcomes.size() && k < local_index.size(); ++k)
            call->outcomes[local_index[k]] = std::move(outcomes[k]);
          part_done(call);
        },
        [call, local_index, events](const caf::error& err) {
          for (auto i : local_index) call->outcomes[i] = rejection(events[i], err);
          part_done(call);
        });
  }
  if (!st.buffer.empty()) schedule_flush(self, st.flush_pending);
  part_done(call);
}

/// Sends a dispatcher write to the replicator and answers with what `pick` takes of its reply.
template <class T, class Pick>
caf::typed_response_promise<T> admin(self_ptr self, admin_request req, Pick pick) {
  auto rp = self->make_response_promise<T>();
  // The replicator may wait on the coordinator, which waits on its engine: allow for both.
  self->request(self->state.replicator, self->state.timeout * 3, admin_atom::value, std::move(req))
    .then([rp, pick](admin_reply& reply) mutable { rp.deliver(pick(reply)); },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

uint32_t affected(admin_reply& reply) {
  return reply.affected;
}

/// The engine's stats with the cluster's part filled in.
caf::typed_response_promise<engine_stats> stats(self_ptr self) {
  auto rp = self->make_response_promise<engine_stats>();
  auto& st = self->state;
  self->request(st.engine, st.timeout, stats_atom::value)
    .then(
      [self, rp](engine_stats& engine) mutable {
        auto& st = self->state;
        self->request(st.membership, st.timeout, status_atom::value)
          .then(
            [self, rp, engine](std::vector<peer_status>& peers) mutable {
              auto& st = self->state;
              auto& c = engine.cluster;
              c.node = st.node;
              c.coordinator = st.coordinator;
              for (auto owner : st.owners) c.shards_owned += owner == st.node ? 1 : 0;
              c.forwarded = st.counters->forwarded.load(std::memory_order_relaxed);
              c.received = st.counters->received.load(std::memory_order_relaxed);
              for (auto& peer : peers) {
                peer.forward_depth = st.store->depth(peer.id);
                for (auto owner : st.owners) peer.shards_owned += owner == peer.id ? 1 : 0;
              }
              c.peers = std::move(peers);
              self->request(st.replicator, st.timeout, status_atom::value)
                .then(
                  [rp, engine](uint64_t version) mutable {
                    engine.cluster.log_version = version;
                    rp.deliver(std::move(engine));
                  },
                  [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
            },
            [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      },
      [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

} // namespace

node_actor::behavior_type node(self_ptr self, node_parts parts) {
  auto& st = self->state;
  st.node = parts.node;
  st.coordinator = parts.coordinator;
  st.shards = parts.shards;
  st.max_event_bytes = parts.max_event_bytes;
  st.timeout = parts.timeout;
  st.owners = std::move(parts.owners);
  st.engine = std::move(parts.engine);
  st.membership = std::move(parts.membership);
  st.replicator = std::move(parts.replicator);
  st.gatherer = std::move(parts.gatherer);
  st.forwarders = std::move(parts.forwarders);
  st.writer = std::move(parts.writer);
  st.store = std::move(parts.store);
  st.counters = std::move(parts.counters);
  // The parts live as long as the node: stopping it stops them (handles copied: the state is
  // gone when attached functors run).
  std::vector<caf::actor> parts_to_stop{
    caf::actor_cast<caf::actor>(st.membership), caf::actor_cast<caf::actor>(st.replicator),
    caf::actor_cast<caf::actor>(st.gatherer), caf::actor_cast<caf::actor>(st.engine),
    caf::actor_cast<caf::actor>(st.writer)};
  for (auto& kv : st.forwarders) parts_to_stop.push_back(caf::actor_cast<caf::actor>(kv.second));
  self->attach_functor([parts_to_stop](const caf::error&) {
    for (auto& part : parts_to_stop) caf::anon_send_exit(part, caf::exit_reason::user_shutdown);
  });
  return {
    [self](publish_atom, const event& ev) {
      auto call = std::make_shared<node_publish>();
      call->single = true;
      call->one = self->make_response_promise<event>();
      publish(self, event_list{ev}, call);
      return call->one;
    },
    [self](publish_atom, const event_list& events) {
      auto call = std::make_shared<node_publish>();
      call->many = self->make_response_promise<publish_outcome_list>();
      publish(self, events, call);
      return call->many;
    },
    [self](flush_atom) { flush(self); },
    [self](create_atom, const dispatcher& d) {
      admin_request req;
      req.kind = admin_kind::create_dispatcher;
      req.value = d;
      return admin<dispatcher>(self, std::move(req),
                               [](admin_reply& reply) { return std::move(reply.stored); });
    },
    [self](update_atom, const std::string& id, const dispatcher_patch& patch) {
      admin_request req;
      req.kind = admin_kind::update_dispatcher;
      req.dispatcher_id = id;
      req.dispatcher_changes = patch;
      return admin<uint32_t>(self, std::move(req), affected);
    },
    [self](remove_atom, const std::string& id) {
      admin_request req;
      req.kind = admin_kind::remove_dispatcher;
      req.dispatcher_id = id;
      return admin<uint32_t>(self, std::move(req), affected);
    },
    [self](create_atom, const std::string& id, const action& a) {
      admin_request req;
      req.kind = admin_kind::create_action;
      req.dispatcher_id = id;
      req.new_action = a;
      return admin<action>(self, std::move(req),
                           [](admin_reply& reply) { return std::move(reply.stored_action); });
    },
    [self](update_atom, const std::string& id, const std::string& action_id,
           const action_patch& patch) {
      admin_request req;
      req.kind = admin_kind::update_action;
      req.dispatcher_id = id;
      req.action_id = action_id;
      req.action_changes = patch;
      return admin<uint32_t>(self, std::move(req), affected);
    },
    [self](remove_atom, const std::string& id, const std::string& action_id) {
      admin_request req;
      req.kind = admin_kind::remove_action;
      req.dispatcher_id = id;
      req.action_id = action_id;
      return admin<uint32_t>(self, std::move(req), affected);
    },
    [self](find_atom a, const query& q) { return self->delegate(self->state.engine, a, q); },
    [self](get_atom a, const std::string& id) { return self->delegate(self->state.engine, a, id); },
    // Work done lives with the owner of its shard: the gatherer asks every member.
    [self](deliveries_atom a, const query& q) {
      return self->delegate(self->state.gatherer, a, q);
    },
    [self](deliveries_atom a, const query& q, uint32_t depth) {
      return self->delegate(self->state.gatherer, a, q, depth);
    },
    [self](replay_atom a, const std::string& id) {
      return self->delegate(self->state.gatherer, a, id);
    },
    [self](replay_atom a, const query& q) { return self->delegate(self->state.gatherer, a, q); },
    [self](purge_atom a, const std::string& id) {
      return self->delegate(self->state.gatherer, a, id);
    },
    [self](rematch_atom a, const std::string& id) {
      return self->delegate(self->state.gatherer, a, id);
    },
    [self](discard_atom a, const std::string& id) {
      return self->delegate(self->state.gatherer, a, id);
    },
    [self](log_atom a, action_kind kind, const query& q) {
      return self->delegate(self->state.gatherer, a, kind, q);
    },
    [self](log_atom a, action_kind kind, const query& q, uint32_t depth) {
      return self->delegate(self->state.gatherer, a, kind, q, depth);
    },
    [self](events_atom a, const query& q) { return self->delegate(self->state.gatherer, a, q); },
    [self](events_atom a, const query& q, uint32_t depth) {
      return self->delegate(self->state.gatherer, a, q, depth);
    },
    // Replays from the archive run on this node, over the archive of the shards it holds.
    [self](replay_atom a, const replay_request& req) {
      return self->delegate(self->state.engine, a, req);
    },
    [self](replays_atom a, const query& q) { return self->delegate(self->state.engine, a, q); },
    [self](cancel_atom a, const std::string& id) {
      return self->delegate(self->state.engine, a, id);
    },
    [self](stats_atom) { return stats(self); },
    [self](health_atom a) { return self->delegate(self->state.engine, a); },
    // The engine backs up this node's own store too (spawn_node registered it).
    [self](backup_atom a, const std::string& to) {
      return self->delegate(self->state.engine, a, to);
    },
    [self](backup_atom a) { return self->delegate(self->state.engine, a); },
  };
}

} // namespace dispatch
