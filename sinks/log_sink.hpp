// The built-in log sink: keeps what it receives (tasks and mails in ExH shapes) in the store, so that
// they can be read back (`GET /tasks/v1/`, `GET /mail/v1/`). It records a task at once, with its
// startTimestamp, as the Task Service would. Idempotent on the delivery id: no second record.
#pragma once

#include <vector>

#include <caf/typed_response_promise.hpp>

#include "messages/interfaces.hpp"
#include "persistence/store.hpp"

namespace dispatch {

/// The log sink's own interface: a sink's, plus its group commit.
using log_sink_actor = sink_actor::extend<
  // Internal: writes every record gathered since the last flush in one batch, then answers them.
  caf::reacts_to<flush_atom>>;

/// A received batch waiting for the next write: its answers, of which those at `written` depend on
/// the write (the others were refused at once).
struct pending_log_batch {
  caf::typed_response_promise<delivery_result_list> promise;
  delivery_result_list results;
  std::vector<size_t> written;
};

struct log_sink_state {
  static inline const char* name = "log_sink";
  store_ptr db;
  clock_ptr clock; // stamps what it receives
  std::vector<pending_log_batch> pending;
  std::vector<log_record> records; // the records of `pending`, for one write
  bool flush_pending = false;      // a `flush` is queued in our own mailbox
};

/// The ExH shape of a delivered task: `{id, functionName, data, tags?, startTimestamp?, priority?,
/// status:"new", creationTimestamp, updateTimestamp}` (id = delivery id).
std::string logged_task_json(const delivery& d, timestamp_ms received);

/// The ExH shape of a sent mail: `{id, templateId, recipients, content, creationTimestamp}`.
std::string logged_mail_json(const delivery& d, timestamp_ms received);

/// Spawns with the store and the clock stamping records. Every batch already in the mailbox when the `flush` comes is written in
/// the same store batch; each is answered once it is written.
log_sink_actor::behavior_type log_sink(log_sink_actor::stateful_pointer<log_sink_state> self,
                                       store_ptr db, clock_ptr clock);

} // namespace dispatch
