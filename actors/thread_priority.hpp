// Background threads that must not take the CPU from the write path: the readers answering
// listings and the replayer run at a lower priority (a higher nice value) than ingest, matchers
// and emitters, so that on a busy machine a listing of millions of deliveries waits for the CPU
// instead of the publishes waiting for it (issue 14: reads never stall the write path).
#pragma once

#include <cstdint>

namespace dispatch {

/// How far below the write path a background thread runs: `nice` steps added to its nice value
/// (at most up to 19), and with `idle` under SCHED_IDLE, where it runs only on CPU time no other
/// thread wants (a publish waking up preempts it at once).
struct background_priority {
  uint32_t nice = 0;
  bool idle = false;
};

/// Lowers the calling thread's priority (only it: Linux schedules threads on their own); nothing
/// to lower leaves it as it is. Call it on a thread the actor has to itself (detached). Returns
/// false, and logs why (component `engine`), when the system refused.
bool lower_thread_priority(background_priority priority);

/// Names the calling thread (at most 15 characters, as `top -H` and /proc/PID/task/*/comm show
/// it). Call it on a thread the actor has to itself.
void name_this_thread(const char* name);

/// Whether the calling thread runs under SCHED_IDLE.
bool thread_idle();

/// The nice value of the calling thread, as the system reports it.
int thread_nice();

} // namespace dispatch
