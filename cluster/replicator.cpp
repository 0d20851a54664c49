// Replicator: single writer on the coordinator, ordered apply and catch-up on followers.
#include "cluster/replicator.hpp"

#include <caf/event_based_actor.hpp>

#include "logging/log.hpp"
#include "messages/error_code.hpp"
#include "messages/ids.hpp"

namespace dispatch {

namespace {

using self_ptr = replicator_actor::stateful_pointer<replicator_state>;

bool is_coordinator(const replicator_state& st) {
  return st.node == st.coordinator;
}

// -- the coordinator: one write at a time, then the log, then the followers ---------------------

void next_write(self_ptr self);

void finish_write(self_ptr self, caf::typed_response_promise<admin_reply> rp,
                  caf::expected<admin_reply> reply) {
  if (reply)
    rp.deliver(std::move(*reply));
  else
    rp.deliver(std::move(reply.error()));
  self->state.writing = false;
  next_write(self);
}

/// Appends the write's changes to the log and pushes them to every follower that is up.
void record(self_ptr self, admin_reply reply, log_entry_list changes,
            caf::typed_response_promise<admin_reply> rp) {
  auto& st = self->state;
  auto previous = st.store->last_version();
  for (auto& entry : changes) {
    auto version = st.store->append(entry);
    if (!version) {
      DISPATCH_LOG(warning, cluster) << "a dispatcher change is applied here but not in the log: "
                                     << message_of(version.error());
      finish_write(self, rp,
                   make_error(error_code::unavailable,
                              "unavailable: the change could not be logged "
                              "for replication; retry it"));
      return;
    }
    entry.version = *version;
    reply.entries.push_back(entry);
  }
  for (auto& [id, follower] : st.followers)
    self->request(follower, st.timeout, replicate_atom::value, previous, reply.entries)
      .then([](uint64_t) {},
            [](const caf::error&) {
              // The follower sees the gap with the next push, or catches up when it reconnects.
            });
  finish_write(self, rp, std::move(reply));
}

log_entry put_entry(dispatcher d) {
  log_entry entry;
  entry.op = log_op::put;
  entry.id = d.id;
  entry.value = std::move(d);
  return entry;
}

/// After a change of dispatcher `id`: reads it back and logs it as it now is.
void record_current(self_ptr self, const std::string& id, admin_reply reply,
                    caf::typed_response_promise<admin_reply> rp) {
  auto& st = self->state;
  self->request(st.engine, st.timeout, get_atom::value, normalize_id(id))
    .then(
      [self, reply, rp](dispatcher& d) mutable {
        record(self, std::move(reply), {put_entry(std::move(d))}, rp);
      },
      [self, rp](caf::error& err) { finish_write(self, rp, std::move(err)); });
}

void perform(self_ptr self, const admin_request& req, caf::typed_response_promise<admin_reply> rp) {
  auto& st = self->state;
  auto failed = [self, rp](caf::error& err) { finish_write(self, rp, std::move(err)); };
  auto id = req.dispatcher_id;
  auto then_record = [self, id, rp](uint32_t affected) {
    admin_reply reply;
    reply.affected = affected;
    record_current(self, id, std::move(reply), rp);
  };
  switch (req.kind) {
    case admin_kind::create_dispatcher:
      self->request(st.engine, st.timeout, create_atom::value, req.value)
        .then(
          [self, rp](dispatcher& d) {
            admin_reply reply;
            reply.stored = d;
            record(self, std::move(reply), {put_entry(std::move(d))}, rp);
          },
          failed);
      return;
    case admin_kind::update_dispatcher:
      self->request(st.engine, st.timeout, update_atom::value, id, req.dispatcher_changes)
        .then(then_record, failed);
      return;
    case admin_kind::remove_dispatcher:
      self->request(st.engine, st.timeout, remove_atom::value, id)
        .then(
          [self, id, rp](uint32_t affected) {
            admin_reply reply;
            reply.affected = affected;
            log_entry entry;
            entry.op = log_op::drop;
            entry.id = normalize_id(id);
            record(self, std::move(reply), {std::move(entry)}, rp);
          },
          failed);
      return;
    case admin_kind::create_action:
      self->request(st.engine, st.timeout, create_atom::value, id, req.new_action)
        .then(
          [self, id, rp](action& a) {
            admin_reply reply;
            reply.stored_action = std::move(a);
            record_current(self, id, std::move(reply), rp);
          },
          failed);
      return;
    case admin_kind::update_action:
      self
        ->request(st.engine, st.timeout, update_atom::value, id, req.action_id, req.action_changes)
        .then(then_record, failed);
      return;
    case admin_kind::remove_action:
      self->request(st.engine, st.timeout, remove_atom::value, id, req.action_id)
        .then(then_record, failed);
      return;
  }
}

void next_write(self_ptr self) {
  auto& st = self->state;
  if (st.writing || st.writes.empty()) return;
  auto write = std::move(st.writes.front());
  st.writes.pop_front();
  st.writing = true;
  perform(self, write.request, write.promise);
}

// -- the coordinator at start: the log must say what the engine holds ---------------------------

bool same_dispatcher(dispatcher x, dispatcher y) {
  x.version = y.version = 0; // the engine's install counter, not part of the definition
  return x == y;
}

/// Logs what the engine holds and the log does not say (a crash between the engine's write and
/// the log's append, or dispatchers made before this node was clustered); then lets writes run.
void reconcile(self_ptr self, std::shared_ptr<std::vector<dispatcher>> held) {
  auto& st = self->state;
  std::map<std::string, log_entry> logged;
  for (uint64_t after = 0;;) {
    auto page = st.store->entries_after(after, 1024);
    if (!page || page->empty()) break;
    after = page->back().version;
    for (auto& entry : *page) logged[entry.id] = std::move(entry);
  }
  size_t fixed = 0;
  auto append = [&](log_entry entry) {
    if (st.store->append(std::move(entry))) ++fixed;
  };
  for (auto& d : *held) {
    auto i = logged.find(d.id);
    if (i == logged.end() || i->second.op != log_op::put || !same_dispatcher(i->second.value, d))
      append(put_entry(d));
    if (i != logged.end()) logged.erase(i);
  }
  for (auto& [id, entry] : logged)
    if (entry.op == log_op::put) {
      log_entry gone;
      gone.op = log_op::drop;
      gone.id = id;
      append(std::move(gone));
    }
  if (fixed > 0)
    DISPATCH_LOG(info, cluster) << "logged " << fixed
                                << " dispatcher change(s) the replication log did not have yet";
  st.writing = false;
  next_write(self);
}

/// Reads every dispatcher of the engine, a page at a time, then reconciles.
void read_held(self_ptr self, std::shared_ptr<std::vector<dispatcher>> held) {
  auto& st = self->state;
  query q;
  q.limit = max_page_size;
  q.offset = static_cast<uint32_t>(held->size());
  self->request(st.engine, st.timeout, find_atom::value, q)
    .then(
      [self, held](dispatcher_page& page) {
        for (auto& d : page.data) held->push_back(std::move(d));
        if (page.data.empty() || held->size() >= page.page.total)
          reconcile(self, held);
        else
          read_held(self, held);
      },
      [self](const caf::error& err) {
        auto& st = self->state;
        DISPATCH_LOG(warning, cluster)
          << "cannot read the dispatchers to check the replication log: " << message_of(err);
        st.writing = false;
        next_write(self);
      });
}

// -- followers: ordered apply, catch-up -------------------------------------------------------

void catch_up(self_ptr self);

constexpr auto catch_up_retry = std::chrono::seconds(1);

/// Applies `entries` from index `next` on, one at a time, then calls `done`.
void apply_entries(self_ptr self, std::shared_ptr<log_entry_list> entries, size_t next,
                   std::function<void(bool)> done) {
  auto& st = self->state;
  while (next < entries->size() && (*entries)[next].version <= st.applied)
    ++next; // already applied (a push overlapping a catch-up page)
  if (next == entries->size()) {
    done(true);
    return;
  }
  auto& entry = (*entries)[next];
  auto applied = [self, entries, next, done](uint32_t) {
    auto& st = self->state;
    st.applied = (*entries)[next].version;
    if (auto err = st.store->set_applied_version(st.applied))
      DISPATCH_LOG(warning, cluster)
        << "cannot record the applied log version: " << message_of(err);
    apply_entries(self, entries, next + 1, done);
  };
  auto failed = [self, done](const caf::error& err) {
    DISPATCH_LOG(warning, cluster)
      << "cannot apply a dispatcher change from the coordinator: " << message_of(err);
    done(false);
  };
  if (entry.op == log_op::put)
    self->request(st.engine, st.timeout, put_atom::value, entry.value).then(applied, failed);
  else
    self->request(st.engine, st.timeout, drop_atom::value, entry.id).then(applied, failed);
}

/// Asks the coordinator for every entry after the applied version, a page at a time.
void catch_up(self_ptr self) {
  auto& st = self->state;
  if (st.catching_up) {
    st.catch_up_again = true;
    return;
  }
  if (!st.coordinator_handle) return;
  st.catching_up = true;
  st.catch_up_again = false;
  self->request(st.coordinator_handle, st.timeout, catch_up_atom::value, st.applied)
    .then(
      [self](log_entry_list& entries) {
        if (entries.empty()) {
          self->state.catching_up = false;
          if (self->state.catch_up_again) catch_up(self);
          return;
        }
        auto page = std::make_shared<log_entry_list>(std::move(entries));
        apply_entries(self, page, 0, [self](bool ok) {
          self->state.catching_up = false;
          if (ok)
            catch_up(self); // the next page, or the empty answer that says we are current
          else
            self->delayed_send(self, catch_up_retry, tick_atom::value);
        });
      },
      [self](const caf::error& err) {
        self->state.catching_up = false;
        DISPATCH_LOG(warning, cluster)
          << "catching up with the coordinator failed, will retry: " << message_of(err);
        self->delayed_send(self, catch_up_retry, tick_atom::value);
      });
}

/// A follower's write: the coordinator performs it; we apply its changes before answering.
void forward_write(self_ptr self, const admin_request& req,
                   caf::typed_response_promise<admin_reply> rp) {
  auto& st = self->state;
  if (!st.coordinator_handle) {
    rp.deliver(make_error(error_code::unavailable,
                          "unavailable: the coordinator (node " + std::to_string(st.coordinator)
                            + ") is unreachable; dispatcher changes are refused until it is "
                              "back"));
    return;
  }
  self->request(st.coordinator_handle, st.timeout, admin_atom::value, req)
    .then(
      [self, rp](admin_reply& reply) mutable {
        auto entries = std::make_shared<log_entry_list>(reply.entries);
        auto& st = self->state;
        // Contiguous with what we applied: apply now, so this node reads its own write.
        if (!st.catching_up && !entries->empty() && entries->front().version == st.applied + 1) {
          st.catching_up = true;
          apply_entries(self, entries, 0, [self, rp, reply](bool ok) mutable {
            self->state.catching_up = false;
            if (self->state.catch_up_again || !ok) catch_up(self);
            rp.deliver(std::move(reply));
          });
          return;
        }
        catch_up(self);
        rp.deliver(std::move(reply));
      },
      [rp](caf::error& err) mutable {
        if (err == caf::sec::request_timeout || !is_dispatch_error(err))
          err = make_error(error_code::unavailable, "unavailable: the coordinator did not answer ("
                                                      + message_of(err)
                                                      + "); the change may or may not be applied");
        rp.deliver(std::move(err));
      });
}

} // namespace

replicator_actor::behavior_type replicator(self_ptr self, uint32_t node, uint32_t coordinator,
                                           std::chrono::milliseconds timeout,
                                           cluster_engine_actor engine, cluster_store_ptr store) {
  auto& st = self->state;
  st.node = node;
  st.coordinator = coordinator;
  st.timeout = timeout;
  st.engine = std::move(engine);
  st.store = std::move(store);
  st.applied = is_coordinator(st) ? st.store->last_version() : st.store->applied_version();
  if (is_coordinator(st)) {
    st.writing = true; // writes wait for the check of the log
    read_held(self, std::make_shared<std::vector<dispatcher>>());
  }
  return {
    [self](admin_atom, const admin_request& req) {
      auto& st = self->state;
      auto rp = self->make_response_promise<admin_reply>();
      if (is_coordinator(st)) {
        st.writes.push_back(pending_write{req, rp});
        next_write(self);
      } else {
        forward_write(self, req, rp);
      }
      return rp;
    },
    [self](replicate_atom, uint64_t previous, const log_entry_list& entries) -> uint64_t {
      auto& st = self->state;
      if (is_coordinator(st)) return st.store->last_version();
      if (st.catching_up || previous != st.applied) {
        catch_up(self); // a gap: fetch what we missed (it includes these)
        return st.applied;
      }
      st.catching_up = true;
      apply_entries(self, std::make_shared<log_entry_list>(entries), 0, [self](bool ok) {
        self->state.catching_up = false;
        if (self->state.catch_up_again || !ok) catch_up(self);
      });
      return st.applied;
    },
    [self](tick_atom) {
      // Only while the coordinator is up: otherwise its return starts the catch-up.
      if (!is_coordinator(self->state)) catch_up(self);
    },
    [self](status_atom) -> uint64_t {
      auto& st = self->state;
      return is_coordinator(st) ? st.store->last_version() : st.applied;
    },
    [self](peer_atom, uint32_t id, const peer_actor& handle, peer_state state) {
      auto& st = self->state;
      auto up = state == peer_state::up && handle;
      if (is_coordinator(st)) {
        if (up)
          st.followers[id] = handle;
        else
          st.followers.erase(id);
        return;
      }
      if (id != st.coordinator) return;
      st.coordinator_handle = up ? handle : peer_actor{};
      if (up) catch_up(self);
    },
  };
}

} // namespace dispatch
