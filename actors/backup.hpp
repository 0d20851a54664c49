// Backups of a running engine: the job the facade and a backup's runner share, and the runner,
// which checks the target, copies every database on a thread of its own and writes the manifest.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "messages/interfaces.hpp"
#include "persistence/store.hpp"

namespace dispatch {

/// The engine's backups: at most one runs. The facade claims the job for a new backup and answers
/// status calls from it; the runner fills it in as it goes.
struct backup_job {
  std::mutex mutex;
  bool busy = false;        // claimed for a backup whose target is being checked, or running
  backup_status status;     // the running backup, or the last one that started (guarded by `mutex`)
  backup_progress progress; // the running backup's
};

using backup_job_ptr = std::shared_ptr<backup_job>;

/// Claims the job for a new backup; a `conflict` error naming the backup under way when taken.
caf::error claim_backup(backup_job& job);

/// The status as of now: the running backup with what it copied so far, or the last one.
backup_status backup_snapshot(backup_job& job);

/// What a backup copies, and where the node keeps it.
struct backup_sources {
  store_ptr db;
  std::vector<backup_companion> companions; // copied first, each into `<to>/<name>`
  std::string data_dir;
};

struct backup_runner_state {
  static inline const char* name = "backup";
};

/// Spawned for one backup of a claimed job; stops once it ended (or was refused).
backup_runner_actor::behavior_type
backup_runner(backup_runner_actor::stateful_pointer<backup_runner_state> self, backup_job_ptr job,
              backup_sources sources);

} // namespace dispatch
