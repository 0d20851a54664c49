// The engine facade: the typed handle users hold. Publishing and dispatcher administration are
// delegated to ingest and the directory; listings to its readers and the health check to its
// prober, which run on their own threads (so no read holds a publish back); replay and purge go to
// the emitter that owns the delivery; a backup to a runner of its own (actors/backup.hpp).
#pragma once

#include <vector>

#include "actors/backup.hpp"
#include "actors/cpu_budget.hpp"
#include "actors/metrics.hpp"
#include "config/engine_config.hpp"
#include "messages/interfaces.hpp"
#include "persistence/store.hpp"

namespace dispatch {

struct engine_state {
  static inline const char* name = "engine";

  engine_config config;
  store_ptr db;
  metrics_ptr metrics;
  ingest_actor ingest;
  directory_actor directory;
  emitter_list emitters;             // index `emitter_index(kind, shard, shards)`
  caf::actor supervisor;             // held so that it lives as long as the facade
  std::vector<reader_actor> readers; // delegated to round robin; respawned when one stops
  size_t next_reader = 0;
  std::shared_ptr<cpu_budget> read_budget; // CPU time the readers share; null unless detached
  prober_actor prober;
  replayer_actor replayer; // replays from the archive; respawned when it stops
  // The replayer in charge now, for the facade's exit to stop it (it keeps a timer of its own).
  std::shared_ptr<caf::actor> replayer_to_stop = std::make_shared<caf::actor>();
  bool task_sink_schedules = false; // false: tasks with a later startTimestamp are held
  backup_job_ptr backup = std::make_shared<backup_job>(); // the running or last backup
  std::vector<backup_companion> backup_companions;        // databases beside ours, copied too
};

engine_internal_actor::behavior_type
engine(engine_internal_actor::stateful_pointer<engine_state> self, engine_config config,
       store_ptr db, metrics_ptr metrics, ingest_actor ingest, directory_actor directory,
       emitter_list emitters, bool task_sink_schedules);

} // namespace dispatch
