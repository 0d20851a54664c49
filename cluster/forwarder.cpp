// Forwarder: one owner's queue, paged from disk, one batch in flight, retired on acknowledgement.
#include "cluster/forwarder.hpp"

#include <caf/event_based_actor.hpp>

#include "messages/error_code.hpp"

namespace dispatch {

namespace {

using self_ptr = forwarder_actor::stateful_pointer<forwarder_state>;

constexpr auto max_retry_delay = std::chrono::milliseconds(5000);

void pump(self_ptr self);

void retry_later(self_ptr self) {
  auto& st = self->state;
  if (st.retry_pending)
    return;
  st.retry_pending = true;
  self->delayed_send(self, st.retry_delay, tick_atom::value);
  st.retry_delay = std::min(max_retry_delay, st.retry_delay * 2);
}

/// Sends the oldest page of the queue to the owner, if it is up and nothing is in flight.
void pump(self_ptr self) {
  auto& st = self->state;
  if (st.in_flight || !st.handle)
    return;
  auto page = st.store->peek(st.owner, 0, st.batch);
  if (!page) {
    st.log.warning("cluster: cannot read the forward queue of node " + std::to_string(st.owner)
                   + ": " + message_of(page.error()));
    retry_later(self);
    return;
  }
  if (page->empty())
    return;
  event_list events;
  events.reserve(page->size());
  for (auto& queued : *page)
    events.push_back(std::move(queued.event));
  auto first = page->front().sequence;
  auto last = page->back().sequence;
  auto count = events.size();
  st.in_flight = true;
  self->request(st.handle, st.timeout, forward_atom::value, st.node, std::move(events))
    .then(
      [self, first, last, count](uint64_t) {
        auto& st = self->state;
        st.in_flight = false;
        if (auto err = st.store->retire(st.owner, first, last)) {
          // Not retired: the owner gets them again and suppresses them as duplicates.
          st.log.warning("cluster: cannot retire forwarded events: " + message_of(err));
          retry_later(self);
          return;
        }
        st.counters->forwarded.fetch_add(count, std::memory_order_relaxed);
        st.retry_delay = std::chrono::milliseconds(200);
        pump(self);
      },
      [self](const caf::error& err) {
        auto& st = self->state;
        st.in_flight = false;
        st.log.warning("cluster: forwarding to node " + std::to_string(st.owner)
                       + " failed, will retry: " + message_of(err));
        retry_later(self);
      });
}

} // namespace

forwarder_actor::behavior_type forwarder(self_ptr self, uint32_t owner, uint32_t node,
                                         uint32_t batch, std::chrono::milliseconds timeout,
                                         cluster_store_ptr store, cluster_counters_ptr counters,
                                         cluster_log log) {
  auto& st = self->state;
  st.owner = owner;
  st.node = node;
  st.batch = batch;
  st.timeout = timeout;
  st.store = std::move(store);
  st.counters = std::move(counters);
  st.log = std::move(log);
  return {
    [self](peer_atom, uint32_t id, const peer_actor& handle, peer_state state) {
      auto& st = self->state;
      if (id != st.owner)
        return;
      st.handle = state == peer_state::up ? handle : peer_actor{};
      if (st.handle) {
        st.retry_delay = std::chrono::milliseconds(200);
        pump(self);
      }
    },
    [self](enqueue_atom) { pump(self); },
    [self](tick_atom) {
      self->state.retry_pending = false;
      pump(self);
    },
  };
}

} // namespace dispatch
