// The replayer: runs replays from the event archive on a thread of its own. Each step walks a
// bounded stretch of the log (oldest first, from where the replay was), derives the deliveries of
// the matching events with the dispatchers of now, hands them to their emitters as records of
// their own (new ids, `replayId` set) and then writes the replay's new position, so a restart
// resumes where it was. Steps wait while deliveries queue, so live events keep their latency.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "actors/metrics.hpp"
#include "actors/thread_priority.hpp"
#include "config/engine_config.hpp"
#include "messages/derive.hpp"
#include "messages/interfaces.hpp"
#include "messages/query_eval.hpp"
#include "persistence/store.hpp"

namespace dispatch {

struct replayer_state {
  static inline const char* name = "replayer";
  engine_config config;
  store_ptr db;
  metrics_ptr metrics;
  emitter_list emitters;
  bool task_sink_schedules = false;
  struct replay {
    replay_status status;
    filter where;
    // Built on the first step: the filter compiled, and the dispatchers of now prepared (loaded
    // again once `timeline_loaded` is a second old, so changes reach a running replay).
    std::shared_ptr<const record_filter> compiled;
    std::shared_ptr<const dispatcher_timeline> timeline;
    std::chrono::steady_clock::time_point timeline_loaded;
  };
  std::map<std::string, replay> replays; // by id (ids grow with time)
  bool stepping = false;                 // a step is under way (its deliveries being adopted)
  bool tick_pending = false;
};

/// Loads the replays the store holds and resumes those still running. On a thread of its own,
/// that thread lowers its priority first (`priority`), as the readers do.
replayer_actor::behavior_type replayer(replayer_actor::stateful_pointer<replayer_state> self,
                                       engine_config config, store_ptr db, metrics_ptr metrics,
                                       emitter_list emitters, bool task_sink_schedules,
                                       background_priority priority);

} // namespace dispatch
