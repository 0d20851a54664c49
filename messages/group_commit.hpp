// Group commit inside an actor (docs/architecture.md, storage): gather work while messages arrive, and do
// it once per mailbox drain.
#pragma once

#include "messages/atoms.hpp"

namespace dispatch {

/// Asks `self` for a `flush` unless one is queued already (`flush_pending`, which the flush
/// handler clears). Every message already in the mailbox is handled before that flush, so one
/// flush takes all the work they gathered.
template <class Self>
void schedule_flush(Self* self, bool& flush_pending) {
  if (flush_pending) return;
  flush_pending = true;
  self->send(self, flush_atom::value);
}

} // namespace dispatch
