// Error codes of docs/api.md as a CAF error category.
#include "messages/error_code.hpp"

#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace dispatch {

const char* wire_name(error_code code) {
  switch (code) {
    case error_code::none:
      return "NONE";
    case error_code::server:
      return "SERVER_EXCEPTION";
    case error_code::no_permission:
      return "NO_PERMISSION_EXCEPTION";
    case error_code::id_format:
      return "ID_FORMAT_EXCEPTION";
    case error_code::empty_body:
      return "EMPTY_BODY_EXCEPTION";
    case error_code::missing_required_fields:
      return "MISSING_REQUIRED_FIELDS_EXCEPTION";
    case error_code::field_format:
      return "FIELD_FORMAT_EXCEPTION";
    case error_code::resource_unknown:
      return "RESOURCE_UNKNOWN_EXCEPTION";
    case error_code::resource_already_exists:
      return "RESOURCE_ALREADY_EXISTS_EXCEPTION";
    case error_code::invalid_rql:
      return "INVALID_RQL_EXCEPTION";
    case error_code::body_format:
      return "BODY_FORMAT_EXCEPTION";
    case error_code::unavailable:
      return "SERVER_EXCEPTION";
    case error_code::conflict:
      return "RESOURCE_ALREADY_EXISTS_EXCEPTION";
  }
  return "SERVER_EXCEPTION";
}

unsigned wire_code(error_code code) {
  if (code == error_code::unavailable) return static_cast<unsigned>(error_code::server);
  if (code == error_code::conflict)
    return static_cast<unsigned>(error_code::resource_already_exists);
  return static_cast<unsigned>(code);
}

std::string to_string(error_code code) {
  return wire_name(code);
}

caf::error make_error(error_code code, std::string message) {
  return caf::error{static_cast<uint8_t>(code), error_category_atom,
                    caf::make_message(std::move(message))};
}

caf::error make_error(error_code code) {
  return caf::error{static_cast<uint8_t>(code), error_category_atom};
}

bool is_dispatch_error(const caf::error& err) {
  return err && err.category() == error_category_atom;
}

error_code code_of(const caf::error& err) {
  if (!err) return error_code::none;
  if (is_dispatch_error(err)) return static_cast<error_code>(err.code());
  return error_code::server;
}

std::string message_of(const caf::error& err) {
  if (!err) return {};
  if (is_dispatch_error(err)) {
    const auto& ctx = err.context();
    if (ctx.match_elements<std::string>()) return ctx.get_as<std::string>(0);
    return wire_name(code_of(err));
  }
  if (err.category() == caf::atom("system")) {
    auto s = static_cast<caf::sec>(err.code());
    if (s == caf::sec::request_timeout) return "timed out waiting for an internal component";
    return "internal error: " + caf::to_string(s);
  }
  return "internal error";
}

} // namespace dispatch
