// Backups of a node's databases and their restore: the checks on a backup's target, the manifest
// a complete backup ends with, and restoring a backup into a fresh data directory (offline). The
// copying itself is `store::backup` and `cluster_store::backup` (RocksDB's BackupEngine, see
// backup.cpp for why that and not a checkpoint).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "messages/backup.hpp"

namespace dispatch {

/// The directory of the engine's database inside a backup (companions use their own name).
constexpr const char* engine_backup_part = "engine";

/// The file a backup ends with: present only once every part was copied and verified.
constexpr const char* backup_manifest_file = "backup.json";

/// Checks a backup's target: an absolute path, without control characters; absent or an empty
/// directory, whose parent is an existing directory; not the data directory nor inside it.
/// Answers the path normalized, symbolic links of its existing part resolved. The error (15,
/// field format) names `field`.
caf::expected<std::string> check_backup_target(const std::string& to, const std::string& data_dir,
                                               const std::string& field = "to");

/// Checks a restore's target: absent or an empty directory (made absolute), not inside the
/// backup `from`; the error (15) names `field`.
caf::expected<std::string> check_restore_target(const std::string& dir, const std::string& from,
                                                const std::string& field = "data-dir");

/// What a complete backup holds, as its manifest says.
struct backup_manifest {
  std::string software;       // the version of dispatchd that made it
  std::string data_dir;       // where the node kept its data
  timestamp_ms started = 0;   // when the backup was asked for
  timestamp_ms finished = 0;  // when its last part was verified
  uint64_t files = 0;         // in every part
  uint64_t bytes = 0;         // in every part
  uint64_t last_sequence = 0; // the engine's highest event-log sequence in the copy
  uint32_t shards = 0;
  uint32_t node = 0; // a cluster node's id (0: not clustered)
  std::vector<backup_part> parts;
};

/// Writes `<dir>/backup.json` durably (a temporary file synced, then renamed, then the directory
/// synced): a backup is complete exactly when the file is there.
caf::error write_backup_manifest(const std::string& dir, const backup_manifest& manifest);

/// Reads and checks `<dir>/backup.json` (input is hostile: checked before it is parsed, every
/// part's name a plain directory name).
caf::expected<backup_manifest> read_backup_manifest(const std::string& dir);

/// Removes what a backup or restore that failed wrote into `dir`: the entries named `names` (a
/// missing one is fine), and `dir` itself when `remove_dir`. Best effort: answers what it could
/// not remove, empty when everything went.
std::string remove_partial(const std::string& dir, const std::vector<std::string>& names,
                           bool remove_dir);

/// Restores the backup in `from` into `data_dir` (checked with `check_restore_target`), offline:
/// checks every file of every part against the checksum taken when it was copied, restores the
/// engine's database into `data_dir` and each companion's into `data_dir/<name>`, then opens what
/// it restored (read-only) and checks it holds what the manifest says. `say` gets one line per
/// step. On failure nothing restored is left behind. Answers the manifest.
caf::expected<backup_manifest> restore_backup(const std::string& from, const std::string& data_dir,
                                              const std::function<void(const std::string&)>& say);

} // namespace dispatch
