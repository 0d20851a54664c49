// The prober actor: a storage probe at most once per `probe_interval`.
#include "actors/prober.hpp"

#include <utility>

namespace dispatch {

prober_actor::behavior_type prober(prober_actor::stateful_pointer<prober_state> self, store_ptr db,
                                   metrics_ptr metrics) {
  self->state.db = std::move(db);
  self->state.metrics = std::move(metrics);
  return {
    [self](health_atom) {
      auto& st = self->state;
      auto now = self->clock().now(); // the test clock under test
      if (!st.probed || now - *st.probed >= probe_interval) {
        st.ok = !st.db->probe_write();
        st.probed = now;
        st.metrics->storage_ok = st.ok;
        st.metrics->storage_probes.fetch_add(1, std::memory_order_relaxed);
      }
      return st.ok;
    },
  };
}

} // namespace dispatch
