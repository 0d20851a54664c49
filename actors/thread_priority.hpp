// Background threads that must not take the CPU from the write path: the readers answering
// listings and the replayer run at a lower priority (a higher nice value) than ingest, matchers
// and emitters, so that on a busy machine a listing of millions of deliveries waits for the CPU
// instead of the publishes waiting for it (issue 14: reads never stall the write path).
#pragma once

#include <cstdint>

namespace dispatch {

/// Adds `steps` to the nice value of the calling thread (only it: Linux schedules threads on
/// their own), at most up to 19; 0 leaves it as it is. Call it on a thread the actor has to
/// itself (detached). Returns false, and logs why (component `engine`), when the system refused.
bool lower_thread_priority(uint32_t steps);

/// The nice value of the calling thread, as the system reports it.
int thread_nice();

} // namespace dispatch
