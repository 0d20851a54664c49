// Queue writer: one durable append per batch, then a nudge to the owner's forwarder.
#include "cluster/queue_writer.hpp"

#include <caf/event_based_actor.hpp>

#include "messages/error_code.hpp"

namespace dispatch {

queue_writer_actor::behavior_type
queue_writer(queue_writer_actor::stateful_pointer<queue_writer_state> self, cluster_store_ptr store,
             std::map<uint32_t, forwarder_actor> forwarders) {
  self->state.store = std::move(store);
  self->state.forwarders = std::move(forwarders);
  return {
    [self](enqueue_atom, uint32_t owner, const event_list& events) -> caf::result<uint64_t> {
      auto& st = self->state;
      auto forwarder = st.forwarders.find(owner);
      if (forwarder == st.forwarders.end())
        return make_error(error_code::server, "node " + std::to_string(owner)
                                                + " is not a member of this cluster");
      auto written = st.store->enqueue(owner, events);
      if (!written)
        return written.error();
      self->send(forwarder->second, enqueue_atom::value);
      return static_cast<uint64_t>(events.size());
    },
  };
}

} // namespace dispatch
