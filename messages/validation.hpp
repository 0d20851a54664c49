// Validation of typed values, shared by the codec (HTTP input) and the engine (embedded input).
// Every error names the field and the reason, e.g. `actions[1].recipients.to[0]: not an email
// address`, and carries docs/api.md's code (14 missing, 15 format, 12 id format).
#pragma once

#include <string>

#include <caf/error.hpp>

#include "messages/dispatcher.hpp"
#include "messages/event.hpp"

namespace dispatch {

/// An event as published: non-empty type (at most 256 bytes, valid UTF-8), content a JSON object,
/// id empty or 24 hex, timestamp 0 (unset) or a plausible epoch ms.
caf::error validate(const event& x, size_t max_bytes = 1 << 20);

/// Gives a valid event its id (a fresh one when absent, else normalized) and, when unset, its
/// creation time: where an event is accepted (ingest, or the cluster node that takes it).
void complete(event& x, timestamp_ms now);

/// An action; `prefix` names it in messages (e.g. "actions[1]"). Task: functionName required,
/// data an object. Mail: recipients.to non-empty, every address an email, templateId 24 hex.
caf::error validate(const action& x, const std::string& prefix = "");

/// A dispatcher as created: eventType required, every action valid; filter RQL filter terms
/// (code 19), orderingKey a dotted path into the event, rateLimit.perSecond from 0.001 to 10^6.
caf::error validate(const dispatcher& x);

/// A partial dispatcher update: present fields valid (an empty filter or orderingKey, or a
/// rateLimit of 0 per second, clears that field).
caf::error validate(const dispatcher_patch& x);

/// A task action's templates, when it is templated: for an action as a patch left it.
caf::error validate_template(const action& x, const std::string& prefix = "");

/// Drops fields given with their "clear" value on create (an empty filter or orderingKey, a
/// rateLimit of 0 per second): such a dispatcher has none, as a PUT with them would leave it.
void drop_cleared_fields(dispatcher& x);

/// A partial action update of an action of `kind`: present fields valid, none of the other kind.
caf::error validate(const action_patch& x, action_kind kind);

/// A plausible email address (local@domain.tld, no spaces, at most 254 bytes).
bool is_email(const std::string& text);

/// Valid UTF-8.
bool is_utf8(const std::string& text);

/// `text` with every byte that is not part of a valid UTF-8 character replaced by U+FFFD: what an
/// error message may quote of hostile input and still be JSON text.
std::string with_valid_utf8(const std::string& text);

} // namespace dispatch
