// Membership: connect with backoff, handshake, heartbeats, down detection, listeners.
#include "cluster/membership.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>

#include "logging/log.hpp"
#include "messages/error_code.hpp"

namespace dispatch {

namespace {

using self_ptr = membership_actor::stateful_pointer<membership_state>;

std::string describe(const member_list& members) {
  std::string text;
  for (auto& m : members)
    text += (text.empty() ? "" : ", ") + std::to_string(m.id) + "@" + m.address;
  return "[" + text + "]";
}

void tell(self_ptr self, const peer_slot& slot, const peer_listener_actor& listener) {
  auto handle = slot.state == peer_state::up ? slot.handle : peer_actor{};
  self->send(listener, peer_atom::value, slot.info.id, handle, slot.state);
}

void set_state(self_ptr self, peer_slot& slot, peer_state state, std::string reason) {
  if (slot.state == state) return;
  auto& st = self->state;
  auto was = slot.state;
  slot.state = state;
  slot.since = now_ms();
  slot.reason = std::move(reason);
  auto id = slot.info.id;
  switch (state) {
    case peer_state::up:
      DISPATCH_LOG(info, cluster) << "peer " << id
                                  << (was == peer_state::down ? " up again" : " up") << " ("
                                  << slot.info.address << ")";
      break;
    case peer_state::down:
      DISPATCH_LOG(warning, cluster) << "peer " << id << " down (" << slot.reason << ")";
      break;
    case peer_state::refused:
      DISPATCH_LOG(warning, cluster) << "peer " << id << " refused: " << slot.reason;
      break;
    case peer_state::connecting:
      break;
  }
  for (auto& listener : st.listeners) tell(self, slot, listener);
}

/// Answers the join waiters once every peer was reached or refused, or failed a first attempt.
void check_joined(self_ptr self) {
  auto& st = self->state;
  if (st.joining.empty()) return;
  auto settled = std::all_of(st.peers.begin(), st.peers.end(), [](auto& kv) {
    return kv.second.attempted || kv.second.state != peer_state::connecting;
  });
  if (!settled && !st.join_expired) return;
  caf::error refusal;
  for (auto& [id, slot] : st.peers)
    if (slot.state == peer_state::refused && !refusal)
      refusal = make_error(error_code::server, "peer " + std::to_string(id) + " ("
                                                 + slot.info.address + "): " + slot.reason);
  for (auto& rp : st.joining) {
    if (refusal)
      rp.deliver(refusal);
    else
      rp.deliver(true);
  }
  st.joining.clear();
}

/// One connection per pair: the lower id connects, the higher waits for its hello.
bool connects_to(const membership_state& st, uint32_t id) {
  return st.ours.node < id;
}

void schedule_reconnect(self_ptr self, peer_slot& slot) {
  if (!connects_to(self->state, slot.info.id)) return; // it connects to us
  auto& cfg = self->state.config;
  slot.backoff = slot.backoff.count() == 0 ? cfg.reconnect_initial
                                           : std::min(cfg.reconnect_max, slot.backoff * 2);
  // A refused peer is asked again slowly: an operator may fix and restart it.
  auto delay = slot.state == peer_state::refused ? cfg.reconnect_max : slot.backoff;
  self->delayed_send(self, delay, tick_atom::value, slot.info.id);
}

void connection_failed(self_ptr self, peer_slot& slot, const std::string& reason) {
  slot.connecting = false;
  slot.attempted = true;
  if (slot.state == peer_state::up)
    set_state(self, slot, peer_state::down, reason);
  else if (slot.state == peer_state::connecting)
    slot.reason = reason;
  check_joined(self);
  schedule_reconnect(self, slot);
}

/// The peer answered our introduction: up, or refused when it differs from us.
void introduced(self_ptr self, uint32_t id, const member_info& theirs) {
  auto& slot = self->state.peers.at(id);
  slot.connecting = false;
  slot.attempted = true;
  if (auto err = check_compatible(self->state.ours, theirs)) {
    if (slot.handle) self->state.auth.registry->forget(id, slot.handle.node());
    set_state(self, slot, peer_state::refused, message_of(err));
    schedule_reconnect(self, slot);
  } else {
    slot.backoff = {};
    slot.last_answer = now_ms();
    set_state(self, slot, peer_state::up, "");
  }
  check_joined(self);
}

/// The peer refused us or did not prove itself: refused with the reason, asked again slowly.
void refuse(self_ptr self, uint32_t id, const std::string& reason) {
  auto& slot = self->state.peers.at(id);
  if (slot.handle) self->state.auth.registry->forget(id, slot.handle.node());
  slot.connecting = false;
  slot.attempted = true;
  set_state(self, slot, peer_state::refused, reason);
  check_joined(self);
  schedule_reconnect(self, slot);
}

/// Where a hello step failed: a refusal the peer explained (it judged us incompatible or our
/// proof wrong) makes it refused; "that node is up" and broken connections are tried again.
void hello_failed(self_ptr self, uint32_t id, const caf::error& err) {
  auto& slot = self->state.peers.at(id);
  if (is_dispatch_error(err) && code_of(err) != error_code::unavailable) {
    refuse(self, id, message_of(err));
    return;
  }
  if (slot.handle) self->state.auth.registry->forget(id, slot.handle.node());
  slot.handle = peer_actor{};
  connection_failed(self, slot, "handshake failed: " + message_of(err));
}

/// Introduces this node to a freshly connected peer in two steps: it proves it is member `id`
/// over our nonce, then we prove ourselves over its nonce and send our introduction.
void introduce(self_ptr self, uint32_t id) {
  auto& st = self->state;
  auto& slot = st.peers.at(id);
  auto nonce = fresh_nonce();
  self->request(slot.handle, st.config.peer_timeout, hello_atom::value, st.ours.node, nonce)
    .then(
      [self, id, nonce](const std::string& their_nonce, const std::string& their_proof) {
        auto& st = self->state;
        auto& slot = st.peers.at(id);
        if (!slot.handle) return; // the connection went while we waited: its down message retries
        if (auto why = refusal_of_proof(st.auth, hello_role::answer, nonce, id, slot.handle.node(),
                                        their_proof)) {
          refuse(self, id, "it did not prove it is node " + std::to_string(id) + ": " + *why);
          return;
        }
        // Proven: its calls to our endpoint are answered from now on (it may call at once).
        if (!st.auth.registry->admit(slot.handle.node(), id)) {
          hello_failed(
            self, id,
            make_error(error_code::unavailable,
                       "node " + std::to_string(id) + " is connected here from another process"));
          return;
        }
        auto proof = prove(st.auth, hello_role::caller, their_nonce, st.ours.node, self->node());
        self->request(slot.handle, st.config.peer_timeout, hello_atom::value, st.ours, proof)
          .then([self, id](const member_info& theirs) { introduced(self, id, theirs); },
                [self, id](const caf::error& err) { hello_failed(self, id, err); });
      },
      [self, id](const caf::error& err) { hello_failed(self, id, err); });
}

void connect(self_ptr self, uint32_t id) {
  auto& st = self->state;
  auto& slot = st.peers.at(id);
  if (!connects_to(st, id) || !st.ours.endpoint || slot.connecting
      || (slot.handle && slot.state != peer_state::refused))
    return;
  slot.connecting = true;
  auto timeout = st.config.peer_timeout + st.config.reconnect_max;
  self->request(st.middleman, timeout, caf::connect_atom::value, slot.host, slot.port)
    .then(
      [self, id](const caf::node_id&, caf::strong_actor_ptr& ptr,
                 const std::set<std::string>& interface) {
        auto& slot = self->state.peers.at(id);
        auto expected = self->system().message_types<peer_actor>();
        if (!ptr || interface != expected) {
          connection_failed(self, slot,
                            ptr ? "it publishes another interface (another version?)"
                                : "nothing is published there");
          return;
        }
        slot.handle = caf::actor_cast<peer_actor>(std::move(ptr));
        self->monitor(slot.handle);
        introduce(self, id);
      },
      [self, id](const caf::error& err) {
        connection_failed(self, self->state.peers.at(id), "cannot connect: " + caf::to_string(err));
      });
}

/// One heartbeat round: ping every connected peer, and mark down who stayed silent too long.
void heartbeat(self_ptr self) {
  auto& st = self->state;
  auto now = now_ms();
  for (auto& [id, slot] : st.peers) {
    if (!slot.handle || slot.state == peer_state::refused || slot.connecting) continue;
    if (slot.state == peer_state::up && now - slot.last_answer > st.config.peer_timeout.count())
      set_state(self, slot, peer_state::down,
                "no heartbeat answer for " + std::to_string(now - slot.last_answer) + " ms");
    auto peer_id = id;
    self->request(slot.handle, st.config.peer_timeout, ping_atom::value, st.ours.node)
      .then(
        [self, peer_id](uint32_t) {
          auto& slot = self->state.peers.at(peer_id);
          slot.last_answer = now_ms();
          if (slot.state == peer_state::down && slot.handle)
            set_state(self, slot, peer_state::up, "");
        },
        [](const caf::error&) {
          // Silence is judged by the next round from `last_answer`.
        });
  }
  self->delayed_send(self, st.config.heartbeat_interval, tick_atom::value);
}

void on_down(self_ptr self, const caf::down_msg& msg) {
  for (auto& [id, slot] : self->state.peers) {
    if (!slot.handle || slot.handle.address() != msg.source) continue;
    // The connection is gone: its proof goes with it, and the node id may say hello again.
    self->state.auth.registry->forget(id, msg.source.node());
    slot.handle = peer_actor{};
    auto reason = msg.reason == caf::exit_reason::remote_link_unreachable
                    ? std::string{"connection lost"}
                    : "its endpoint stopped: " + caf::to_string(msg.reason);
    connection_failed(self, slot, reason);
  }
}

/// A lower node connected to us and passed the handshake: its endpoint is the peer's handle.
void adopt(self_ptr self, const member_info& theirs) {
  auto i = self->state.peers.find(theirs.node);
  if (i == self->state.peers.end() || !theirs.endpoint) return;
  auto& slot = i->second;
  auto handle = caf::actor_cast<peer_actor>(theirs.endpoint);
  if (handle != slot.handle) {
    slot.handle = handle;
    self->monitor(slot.handle);
  }
  slot.attempted = true;
  slot.last_answer = now_ms();
  if (slot.state != peer_state::up)
    set_state(self, slot, peer_state::up, "");
  else
    for (auto& listener : self->state.listeners)
      tell(self, slot, listener); // a new handle (it reconnected before we noticed)
  check_joined(self);
}

} // namespace

caf::error check_compatible(const member_info& ours, const member_info& theirs) {
  if (ours.shards != theirs.shards)
    return make_error(error_code::server, "shard count differs: node " + std::to_string(theirs.node)
                                            + " has " + std::to_string(theirs.shards)
                                            + " shards, node " + std::to_string(ours.node) + " has "
                                            + std::to_string(ours.shards));
  if (ours.max_event_bytes != theirs.max_event_bytes)
    return make_error(
      error_code::server,
      "event size limit differs (dispatch.max-event-bytes): node " + std::to_string(theirs.node)
        + " has " + std::to_string(theirs.max_event_bytes) + ", node " + std::to_string(ours.node)
        + " has " + std::to_string(ours.max_event_bytes));
  if (!(ours.members == theirs.members))
    return make_error(error_code::server, "member list differs: node " + std::to_string(theirs.node)
                                            + " has " + describe(theirs.members) + ", node "
                                            + std::to_string(ours.node) + " has "
                                            + describe(ours.members));
  return {};
}

membership_actor::behavior_type membership(self_ptr self, cluster_config config, member_info ours,
                                           caf::io::middleman_actor middleman, member_auth auth) {
  auto& st = self->state;
  st.config = std::move(config);
  st.ours = std::move(ours);
  st.middleman = std::move(middleman);
  st.auth = std::move(auth);
  for (auto& m : st.ours.members) {
    if (m.id == st.ours.node) continue;
    auto address = parse_address("dispatch.cluster.peers", m.address);
    peer_slot slot;
    slot.info = m;
    if (address) {
      slot.host = address->first;
      slot.port = address->second;
    }
    slot.since = now_ms();
    st.peers.emplace(m.id, std::move(slot));
  }
  self->set_down_handler([self](caf::down_msg& msg) { on_down(self, msg); });
  self->send(self, tick_atom::value);
  self->delayed_send(self, st.config.join_timeout, expired_atom::value);
  return {
    [self](expired_atom) {
      self->state.join_expired = true;
      check_joined(self);
    },
    [self](join_atom) {
      auto& st = self->state;
      auto rp = self->make_response_promise<bool>();
      st.joining.push_back(rp);
      check_joined(self);
      return rp;
    },
    [self](status_atom) {
      std::vector<peer_status> result;
      for (auto& [id, slot] : self->state.peers) {
        peer_status status;
        status.id = id;
        status.address = slot.info.address;
        status.state = slot.state;
        status.since = slot.since;
        status.reason = slot.reason;
        result.push_back(std::move(status));
      }
      return result;
    },
    [self](handles_atom, const peer_listener_actor& listener) {
      self->state.listeners.push_back(listener);
      for (auto& kv : self->state.peers) tell(self, kv.second, listener);
    },
    [self](handles_atom, const peer_actor& endpoint) {
      auto& st = self->state;
      st.ours.endpoint = caf::actor_cast<caf::strong_actor_ptr>(endpoint);
      for (auto& kv : st.peers) connect(self, kv.first);
    },
    [self](hello_atom, const member_info& theirs) { adopt(self, theirs); },
    [self](hello_atom, uint32_t id, const std::string& reason) {
      auto i = self->state.peers.find(id);
      if (i == self->state.peers.end()) return;
      i->second.attempted = true;
      set_state(self, i->second, peer_state::refused, reason);
      check_joined(self);
    },
    [self](tick_atom) { heartbeat(self); },
    [self](tick_atom, uint32_t id) {
      auto i = self->state.peers.find(id);
      if (i != self->state.peers.end()) connect(self, id);
    },
  };
}

} // namespace dispatch
