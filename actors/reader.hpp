// A reader: answers listings from the store on its own thread, off the path publishes take. The
// engine facade keeps a small pool of them and delegates every listing; a read of millions of
// deliveries then holds back nothing but the reads queued behind it on the same reader.
#pragma once

#include "messages/clock.hpp"
#include "messages/interfaces.hpp"
#include "persistence/store.hpp"

namespace dispatch {

struct reader_state {
  static inline const char* name = "reader";
  store_ptr db;
  clock_ptr clock; // stamps the deliveries a rematch makes
};

/// Spawns with the store it reads and the engine's clock; on a thread of its own, that thread
/// takes the nice value `nice` first (0: none), so that reads yield the CPU to publishes.
reader_actor::behavior_type reader(reader_actor::stateful_pointer<reader_state> self, store_ptr db,
                                   clock_ptr clock, uint32_t nice);

} // namespace dispatch
