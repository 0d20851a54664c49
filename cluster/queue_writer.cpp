// Queue writer: group commit into the forward queues (every append in the mailbox, then one sync),
// then a nudge to each owner's forwarder.
#include "cluster/queue_writer.hpp"

#include <set>

#include <caf/event_based_actor.hpp>

#include "messages/error_code.hpp"
#include "messages/group_commit.hpp"

namespace dispatch {

namespace {

using self_ptr = queue_writer_actor::stateful_pointer<queue_writer_state>;

/// Appends every pending batch, syncs once, then answers them and wakes their forwarders.
void flush(self_ptr self) {
  auto& st = self->state;
  st.flush_pending = false;
  auto pending = std::move(st.pending);
  st.pending.clear();
  struct appended {
    pending_append* request;
    uint64_t first;
    uint64_t last;
  };
  std::vector<appended> written;
  for (auto& p : pending) {
    auto sequences = st.store->append(p.owner, p.events);
    if (!sequences)
      p.promise.deliver(sequences.error());
    else if (sequences->empty())
      p.promise.deliver(uint64_t{0});
    else
      written.push_back(appended{&p, sequences->front(), sequences->back()});
  }
  if (written.empty()) return;
  if (auto err = st.store->sync()) {
    // Not durable: take them back (best effort) and say so; nothing of them was acknowledged.
    for (auto& w : written) {
      st.store->retire(w.request->owner, w.first, w.last);
      w.request->promise.deliver(err);
    }
    return;
  }
  std::set<uint32_t> owners;
  for (auto& w : written) {
    w.request->promise.deliver(static_cast<uint64_t>(w.request->events.size()));
    owners.insert(w.request->owner);
  }
  for (auto owner : owners) self->send(st.forwarders.at(owner), enqueue_atom::value);
}

} // namespace

queue_writer_actor::behavior_type queue_writer(self_ptr self, cluster_store_ptr store,
                                               std::map<uint32_t, forwarder_actor> forwarders) {
  self->state.store = std::move(store);
  self->state.forwarders = std::move(forwarders);
  return {
    [self](enqueue_atom, uint32_t owner, event_list& events) -> caf::result<uint64_t> {
      auto& st = self->state;
      if (st.forwarders.count(owner) == 0)
        return make_error(error_code::server,
                          "node " + std::to_string(owner) + " is not a member of this cluster");
      auto promise = self->make_response_promise<uint64_t>();
      st.pending.push_back(pending_append{owner, std::move(events), promise});
      schedule_flush(self, st.flush_pending); // one sync for every append in the mailbox
      return promise;
    },
    [self](flush_atom) { flush(self); },
  };
}

} // namespace dispatch
