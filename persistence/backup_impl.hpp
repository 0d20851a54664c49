// The RocksDB side of backups, shared by the engine's store and the cluster store: copying a live
// database with a BackupEngine, and opening a copy read-only to read back what it holds.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/env.h>

#include "persistence/backup.hpp"

namespace dispatch {

/// An error of a backup or restore (code `server`, "backup: <why>").
caf::error backup_error(const std::string& why);

/// A refusal naming `field` (code 15, field format): "<field>: <why>".
caf::error backup_field_error(const std::string& field, const std::string& why);

/// At most the first 200 bytes of a path a client sent, quoted, for a message.
std::string quote_path(const std::string& text);

/// A database opened read-only with every family it has (a copy, never a live database).
struct read_only_database {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<std::string> names;
  std::vector<rocksdb::ColumnFamilyHandle*> handles; // in the order of `names`

  read_only_database() = default;
  read_only_database(const read_only_database&) = delete;
  read_only_database& operator=(const read_only_database&) = delete;
  ~read_only_database();

  /// The family of that name; null when the database has none.
  rocksdb::ColumnFamilyHandle* family(const std::string& name) const;
};

/// Opens the database in `dir` (on `env`, the default one when null) read-only. Its write-ahead
/// log is replayed into memory, so it shows what a node started on it would.
caf::expected<std::unique_ptr<read_only_database>> open_read_only(const std::string& dir,
                                                                  rocksdb::Env* env = nullptr);

/// Reads what a copy of one kind of database holds into `out` (its name and sizes are set).
using copy_reader = std::function<caf::error(const read_only_database& copy, backup_part& out)>;

/// What the engine's database holds: schema, shard count, the highest event-log sequence.
caf::error read_engine_copy(const read_only_database& copy, backup_part& out);

/// What a cluster store holds: schema, node id, shard count (cluster_store.cpp).
caf::error read_cluster_copy(const read_only_database& copy, backup_part& out);

/// The reader for a part of a backup by its name ("engine", "cluster"); null for another name.
copy_reader copy_reader_for(const std::string& part);

/// Copies the live database `db` into the fresh directory `dir`: a RocksDB BackupEngine backup,
/// consistent across every column family, while writers go on. Adds the bytes it copies to
/// `progress`, and stops early (failing) once `must_stop` answers true. Then checks every file
/// of the copy against its checksum and opens the copy to read it back with `read`.
caf::expected<backup_part> backup_database(rocksdb::DB& db, const std::string& name,
                                           const std::string& dir, backup_progress& progress,
                                           const std::function<bool()>& must_stop,
                                           const copy_reader& read);

/// The bytes `db`'s live files take now: its table files and write-ahead logs (what a backup
/// copies, near enough to measure progress by).
uint64_t live_bytes(rocksdb::DB& db);

} // namespace dispatch
