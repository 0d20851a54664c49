// Forwarder: one owner's queue, paged from disk, one batch in flight, retired on acknowledgement.
#include "cluster/forwarder.hpp"

#include <caf/event_based_actor.hpp>

#include "logging/log.hpp"
#include "messages/error_code.hpp"

namespace dispatch {

namespace {

using self_ptr = forwarder_actor::stateful_pointer<forwarder_state>;

constexpr auto max_retry_delay = std::chrono::milliseconds(5000);

void pump(self_ptr self);

void retry_later(self_ptr self) {
  auto& st = self->state;
  if (st.retry_pending) return;
  st.retry_pending = true;
  self->delayed_send(self, st.retry_delay, tick_atom::value);
  st.retry_delay = std::min(max_retry_delay, st.retry_delay * 2);
}

constexpr size_t max_in_flight = 4;

void send_page(self_ptr self);

/// Sends pages of the queue to the owner while it is up and fewer than `max_in_flight` are out.
void pump(self_ptr self) {
  auto& st = self->state;
  if (!st.handle) return;
  if (st.rewind) {
    if (st.in_flight > 0) return; // the rest answers first; then everything not retired goes again
    st.rewind = false;
    st.sent_up_to = 0;
  }
  while (st.handle && !st.rewind && st.in_flight < max_in_flight) {
    auto before = st.in_flight;
    send_page(self);
    if (st.in_flight == before) return; // nothing more to send (or the queue could not be read)
  }
}

void failed(self_ptr self, const std::string& why) {
  auto& st = self->state;
  DISPATCH_LOG(warning, cluster) << "forwarding to node " << st.owner
                                 << " failed, will retry: " << why;
  st.rewind = true;
  retry_later(self);
}

void send_page(self_ptr self) {
  auto& st = self->state;
  auto page = st.store->peek(st.owner, st.sent_up_to, st.batch);
  if (!page) {
    DISPATCH_LOG(warning, cluster)
      << "cannot read the forward queue of node " << st.owner << ": " << message_of(page.error());
    retry_later(self);
    return;
  }
  if (page->empty()) return;
  event_list events;
  events.reserve(page->size());
  for (auto& queued : *page) events.push_back(std::move(queued.event));
  auto first = page->front().sequence;
  auto last = page->back().sequence;
  auto count = events.size();
  st.sent_up_to = last;
  ++st.in_flight;
  self->request(st.handle, st.timeout, forward_atom::value, st.node, std::move(events))
    .then(
      [self, first, last, count](uint64_t) {
        auto& st = self->state;
        --st.in_flight;
        if (auto err = st.store->retire(st.owner, first, last)) {
          // Not retired: the owner gets them again and suppresses them as duplicates.
          failed(self, "cannot retire forwarded events: " + message_of(err));
          return;
        }
        st.counters->forwarded.fetch_add(count, std::memory_order_relaxed);
        st.retry_delay = std::chrono::milliseconds(200);
        pump(self);
      },
      [self](const caf::error& err) {
        --self->state.in_flight;
        failed(self, message_of(err));
      });
}

} // namespace

forwarder_actor::behavior_type forwarder(self_ptr self, uint32_t owner, uint32_t node,
                                         uint32_t batch, std::chrono::milliseconds timeout,
                                         cluster_store_ptr store, cluster_counters_ptr counters) {
  auto& st = self->state;
  st.owner = owner;
  st.node = node;
  st.batch = batch;
  st.timeout = timeout;
  st.store = std::move(store);
  st.counters = std::move(counters);
  return {
    [self](peer_atom, uint32_t id, const peer_actor& handle, peer_state state) {
      auto& st = self->state;
      if (id != st.owner) return;
      st.handle = state == peer_state::up ? handle : peer_actor{};
      if (st.handle) {
        // A (new) connection: whatever was sent before may be lost; start from the oldest.
        st.rewind = true;
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
