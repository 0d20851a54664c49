// Error codes to HTTP statuses and bodies (docs/api.md, section Errors), in one place.
// A code-1 error is 503 when it says the service is overloaded or cannot store; else 500.

#include "gateway/errors.hpp"

#include <caf/sec.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "logging/log.hpp"
#include "messages/validation.hpp"

namespace dispatch {

namespace {

// An internal request timeout means to a client what `unavailable` says: retry (503).
bool is_request_timeout(const caf::error& err) {
  return err.category() == caf::atom("system")
         && static_cast<caf::sec>(err.code()) == caf::sec::request_timeout;
}

unsigned status_of(error_code code) {
  switch (code) {
    case error_code::no_permission:
      return 401;
    case error_code::resource_unknown:
      return 404;
    case error_code::id_format:
    case error_code::empty_body:
    case error_code::missing_required_fields:
    case error_code::field_format:
    case error_code::resource_already_exists:
    case error_code::invalid_rql:
    case error_code::body_format:
      return 400;
    case error_code::unavailable:
      return 503; // docs/api.md: 503 with code 1
    case error_code::conflict:
      return 409; // docs/api.md: 409 with code 17
    default:
      return 500;
  }
}

} // namespace

unsigned http_status_of(const caf::error& err) {
  auto code = code_of(err);
  if (code == error_code::server || code == error_code::none)
    return is_request_timeout(err) ? 503 : 500;
  return status_of(code);
}

std::string error_body(error_code code, const std::string& message) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer{buffer};
  writer.StartObject();
  writer.Key("code");
  writer.Uint(wire_code(code));
  writer.Key("name");
  writer.String(wire_name(code));
  writer.Key("message");
  // Messages quote client input (a path, a header) byte for byte and may cut it anywhere: hostile
  // or cut bytes must not make the body invalid JSON.
  auto text = with_valid_utf8(message);
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  writer.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

http_response error_response(const caf::error& err) {
  auto status = http_status_of(err);
  auto code = code_of(err);
  if (code == error_code::none) code = error_code::server;
  if (status == 500) {
    // The body leaks nothing; the operator's log gets the detail.
    DISPATCH_LOG(error, http) << "internal error answered 500: " << message_of(err);
    return error_response(code, "internal error", 500);
  }
  return error_response(code, message_of(err), status);
}

http_response error_response(error_code code, const std::string& message, unsigned status) {
  http_response res;
  res.status = status != 0 ? status : status_of(code);
  res.body = error_body(code, message);
  if (res.status == 503) res.headers.emplace_back("Retry-After", "1");
  return res;
}

} // namespace dispatch
