// The JSON codec for docs/api.md's shapes (RapidJSON). Input is first checked by a SAX pass (size, nesting
// depth <= 64, valid UTF-8, no duplicate keys) before any DOM is built; parse errors name the field
// and the reason and carry docs/api.md's codes (22 body format, 14 missing field, 15 field format,
// 12 id format). Writers produce camelCase keys and omit absent optional fields.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "messages/delivery.hpp"
#include "messages/dispatcher.hpp"
#include "messages/event.hpp"
#include "messages/replay.hpp"

namespace dispatch {

struct json_limits {
  size_t max_bytes = 1 << 20;
  unsigned max_depth = 64;
};

/// The SAX pre-check: error 22 (body format) naming the reason, or none.
caf::error check_json(std::string_view text, const json_limits& limits = {});

/// True when `text` passes `check_json` and is a JSON object.
bool is_json_object(std::string_view text, const json_limits& limits = {});

/// For text that passed `check_json` already: true when it is an object (no second pass).
bool is_object_text(std::string_view checked);

// -- input: API bodies to typed values (each runs check_json first) ------------------------------

/// `POST /events/v1/` body: `{type, content?, id?, creationTimestamp?}`. Timestamps as epoch ms or
/// ISO-8601 strings. An absent content becomes `{}`.
caf::expected<event> parse_event(std::string_view text, const json_limits& limits = {});

/// One parsed element of a batch body: the event, or why it was rejected.
struct parsed_event {
  event value;
  caf::error error; // none when `value` is valid
};

/// `POST /events/v1/batch` body: an array of events. Fails as a whole only when the body is not a
/// JSON array; a bad element is reported in its slot.
caf::expected<std::vector<parsed_event>> parse_event_batch(std::string_view text,
                                                           const json_limits& limits = {});

/// `POST /dispatchers/v1/` body; action ids are left empty (the directory assigns them).
caf::expected<dispatcher> parse_dispatcher(std::string_view text, const json_limits& limits = {});

/// `PUT /dispatchers/v1/{id}` body; `actions` is ignored.
caf::expected<dispatcher_patch> parse_dispatcher_patch(std::string_view text,
                                                       const json_limits& limits = {});

/// `POST /dispatchers/v1/{id}/actions` body.
caf::expected<action> parse_action(std::string_view text, const json_limits& limits = {});

/// `PUT /dispatchers/v1/{id}/actions/{actionId}` body; `type` is ignored.
caf::expected<action_patch> parse_action_patch(std::string_view text,
                                               const json_limits& limits = {});

/// `POST /admin/v1/backup` body: `{"to": "<directory>"}`; answers `to` as sent (the engine checks
/// the path itself).
/// A replay from the archive: `{from, to, filter?, dispatcherIds?}`, times as epoch ms or ISO-8601.
/// `filter` stays text (its RQL is parsed by the caller into `where`).
caf::expected<replay_request> parse_replay_request(std::string_view text,
                                                   const json_limits& limits);

caf::expected<std::string> parse_backup_request(std::string_view text,
                                                const json_limits& limits = {});

/// Parses an ISO-8601 date-time (`2030-01-02T03:04:05.678Z`, offsets allowed) to epoch ms.
bool parse_iso8601(std::string_view text, timestamp_ms& out);

// -- output: typed values to API bodies ----------------------------------------------------------

/// `{id, type, content, creationTimestamp}`.
std::string to_json(const event& x);

/// The API shape of an action (`type` is "task" or "mail").
std::string to_json(const action& x);

/// The API shape of a dispatcher. With a non-empty `select`, only those top-level fields (and `id`).
std::string to_json(const dispatcher& x, const std::vector<std::string>& select = {});

/// The API shape of a delivery for `GET /deliveries/v1/`: `{id, type, eventId, eventType,
/// dispatcherId, actionId, status, attempts, creationTimestamp, nextAttemptTimestamp?,
/// finishedTimestamp?, lastError?, task?|mail?}`.
std::string to_json(const delivery& x, const std::vector<std::string>& select = {});

/// The ExH Task Service create body: `{functionName, data, tags?, startTimestamp?, priority?}`.
std::string task_body(const task_request& x);

/// The ExH Mail Service send body: `{template_id, recipients:{to,cc?,bcc?}, content}`.
std::string mail_body(const mail_request& x);

// -- deliveries ----------------------------------------------------------------------------------

/// The event as JSON object text: `{id?, type, content, creationTimestamp?}`.
std::string event_json(const event& ev);

/// What goes around the event in a task's `data` (see below): the text before it and after it.
/// Computed once per action; each delivery then shares the event's text between the two.
std::pair<std::string, std::string> task_data_frame(const caf::optional<std::string>& action_data);

/// A task's `data`: the action's data (an object, or `{}` when absent) with `event` set to the event
/// (overriding an `event` key of the action's data). Keys keep their order and spelling.
std::string task_data_with_event(const caf::optional<std::string>& action_data, const event& ev);

/// A mail's content: `{"event": <the event>}`.
std::string mail_content_of(const event& ev);

/// The `event` member of a task's data or a mail's content (both made by the functions above), as
/// JSON text; empty when there is none.
std::string embedded_event_json(std::string_view object_text);

} // namespace dispatch
