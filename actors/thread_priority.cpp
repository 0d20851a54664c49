// Thread priorities through setpriority(2) on the thread id: on Linux a nice value belongs to a
// thread, so this changes the calling thread and nothing else of the process.
#include "actors/thread_priority.hpp"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "logging/log.hpp"

namespace dispatch {

namespace {

id_t this_thread_id() {
  return static_cast<id_t>(::syscall(SYS_gettid));
}

} // namespace

bool lower_thread_priority(background_priority priority) {
  auto lowered = true;
  if (priority.idle) {
    sched_param none{};
    none.sched_priority = 0;
    if (::sched_setscheduler(0, SCHED_IDLE, &none) != 0) { // 0: the calling thread
      DISPATCH_LOG(warning, engine)
        << "cannot run a background thread under SCHED_IDLE: " << std::strerror(errno);
      lowered = false;
    }
  }
  auto steps = priority.nice;
  if (steps == 0) return lowered;
  // Relative to what the thread has (a process started with `nice` keeps its readers below it);
  // lowering a priority needs no privilege, raising one would.
  auto target = std::min(19, thread_nice() + static_cast<int>(std::min<uint32_t>(steps, 19)));
  if (::setpriority(PRIO_PROCESS, this_thread_id(), target) == 0) return lowered;
  auto why = std::strerror(errno);
  // The thread still works at the priority it has: its reads compete with the write path.
  DISPATCH_LOG(warning, engine) << "cannot lower a background thread's priority to nice " << target
                                << ": " << why;
  return false;
}

void name_this_thread(const char* name) {
  ::pthread_setname_np(::pthread_self(), name); // fails only on a name that is too long
}

bool thread_idle() {
  return ::sched_getscheduler(0) == SCHED_IDLE;
}

int thread_nice() {
  errno = 0;
  return ::getpriority(PRIO_PROCESS, this_thread_id());
}

} // namespace dispatch
