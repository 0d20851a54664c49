// The engine's error codes: the wire codes of docs/api.md, in one CAF error category ("dispatch").
// Every rejection carries a message naming the field and the reason.
#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

namespace dispatch {

enum class error_code : uint8_t {
  none = 0,
  server = 1,         // SERVER_EXCEPTION; also overload and storage failure (503)
  no_permission = 10, // NO_PERMISSION_EXCEPTION
  id_format = 12,     // ID_FORMAT_EXCEPTION
  empty_body = 13,    // EMPTY_BODY_EXCEPTION
  missing_required_fields = 14,
  field_format = 15,
  resource_unknown = 16,
  resource_already_exists = 17,
  invalid_rql = 19,
  body_format = 22,
  // Not a wire code: a refusal the client should retry (overload, storage or a peer unavailable).
  // On the wire it is SERVER_EXCEPTION (1), with HTTP 503 instead of 500.
  unavailable = 101,
  // Not a wire code: the call conflicts with work under way (a backup while another runs). On
  // the wire it is RESOURCE_ALREADY_EXISTS (17), with HTTP 409 instead of 400.
  conflict = 102,
};

/// The category atom of our errors inside `caf::error`.
constexpr caf::atom_value error_category_atom = caf::atom("dispatch");

/// The ExH name of a code, e.g. "FIELD_FORMAT_EXCEPTION".
const char* wire_name(error_code code);

/// The code a client sees: `unavailable` is SERVER_EXCEPTION (1), `conflict` is
/// RESOURCE_ALREADY_EXISTS (17), every other is itself.
unsigned wire_code(error_code code);

/// Renders a code for logs (same as the wire name).
std::string to_string(error_code code);

/// Makes a `caf::error` in our category whose context is the human-readable message.
caf::error make_error(error_code code, std::string message);

/// Makes a bare `caf::error` in our category (lets `caf::error x = error_code::...` work).
caf::error make_error(error_code code);

/// True when `err` belongs to our category.
bool is_dispatch_error(const caf::error& err);

/// The code of a dispatch error; `error_code::server` for foreign errors (timeouts, CAF errors).
error_code code_of(const caf::error& err);

/// The message of a dispatch error, or a rendering of a foreign error.
std::string message_of(const caf::error& err);

} // namespace dispatch
