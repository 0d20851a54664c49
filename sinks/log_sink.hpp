// The built-in log sink: keeps what it receives (tasks and mails in ExH shapes) in the store, so that
// they can be read back (`GET /tasks/v1/`, `GET /mail/v1/`). It records a task at once, with its
// startTimestamp, as the Task Service would. Idempotent on the delivery id: no second record.
#pragma once

#include "messages/interfaces.hpp"
#include "persistence/store.hpp"

namespace dispatch {

struct log_sink_state {
  static inline const char* name = "log_sink";
  store_ptr db;
};

/// The ExH shape of a delivered task: `{id, functionName, data, tags?, startTimestamp?, priority?,
/// status:"new", creationTimestamp, updateTimestamp}` (id = delivery id).
std::string logged_task_json(const delivery& d, timestamp_ms received);

/// The ExH shape of a sent mail: `{id, templateId, recipients, content, creationTimestamp}`.
std::string logged_mail_json(const delivery& d, timestamp_ms received);

sink_actor::behavior_type log_sink(sink_actor::stateful_pointer<log_sink_state> self,
                                   store_ptr db);

} // namespace dispatch
