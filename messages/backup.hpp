// Backups of a running node: what a backup reports (`backup_status`, the answer of the engine's
// backup calls), the progress shared while one runs, and what copying one database yields.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>

#include "messages/clock.hpp"

namespace dispatch {

enum class backup_state : uint8_t {
  none = 0,    // no backup since the node started
  running = 1, // copying now
  done = 2,    // the copy is complete and was verified
  failed = 3,  // it stopped; `error` says why (nothing of it is left in the target)
};

/// "none", "running", "done" or "failed".
const char* to_string(backup_state state);

/// A size for people: "812 B", "40.2 KiB", "12.0 MiB", "3.1 GiB".
std::string size_text(uint64_t bytes);

/// The backup running now, or the last one.
struct backup_status {
  backup_state state = backup_state::none;
  std::string to;                 // the target directory, absolute and normalized
  std::string phase;              // while running: "engine", "cluster" (the database it copies) or
                                  // "verifying"
  timestamp_ms started = 0;       // when it was asked for
  timestamp_ms finished = 0;      // when it ended (done or failed)
  uint64_t bytes_total = 0;       // what the databases' live files held at the start: progress's
                                  // yardstick (the copy may end a little larger or smaller)
  uint64_t bytes_copied = 0;      // copied so far
  uint64_t files = 0;             // done: files in the copy
  uint64_t bytes = 0;             // done: bytes in the copy
  uint64_t last_sequence = 0;     // done: the highest event-log sequence in the copy (0: none)
  std::vector<std::string> parts; // the databases in the copy, in the order copied
  std::string error;              // failed: why
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, backup_status& x) {
  return f(caf::meta::type_name("dispatch.backup_status"), x.state, x.to, x.phase, x.started,
           x.finished, x.bytes_total, x.bytes_copied, x.files, x.bytes, x.last_sequence, x.parts,
           x.error);
}

/// A backup's progress, written by the thread that copies and read by whoever asks. `stop` asks
/// the copy to end early (the node is stopping); it then fails. `on_copied`, when set before the
/// copy starts, is called on the copying thread each time `bytes_copied` grew (it must not throw).
struct backup_progress {
  std::atomic<uint64_t> bytes_copied{0};
  std::atomic<bool> stop{false};
  std::function<void(uint64_t bytes_copied)> on_copied;
};

/// What the copy of one database holds.
struct backup_part {
  std::string name; // its directory inside the backup ("engine", "cluster")
  uint64_t files = 0;
  uint64_t bytes = 0;
  // Read back from the copy after it was made (which proves it opens):
  uint64_t last_sequence = 0; // the engine's: the highest event-log sequence (0: empty log)
  uint32_t shards = 0;        // the engine's shard count; for a cluster store, the engine's too
  uint32_t schema = 0;        // the schema version its data is in
  uint32_t node = 0;          // a cluster store's node id
};

/// A database kept beside the engine's that the engine's backups include (a cluster node's own
/// store under `<data-dir>/<name>`). `copy` makes a consistent copy of it while it is in use into
/// a fresh directory; `live_bytes` says how much it holds now (for progress).
struct backup_companion {
  std::string name;
  std::function<uint64_t()> live_bytes;
  std::function<caf::expected<backup_part>(const std::string& dir, backup_progress& progress)> copy;
};

} // namespace dispatch

// A companion holds functions bound to a database of this process: it never leaves the process.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(dispatch::backup_companion)
