// The one place that maps our error codes to HTTP: status codes and the `{code, name, message}`
// body of docs/api.md. Unexpected failures are logged with detail and answered without it.
#pragma once

#include <string>

#include <caf/error.hpp>

#include "gateway/http_types.hpp"
#include "messages/error_code.hpp"

namespace dispatch {

/// The HTTP status of an error: 400 for input errors, 401, 404, 503 for overload, storage failure
/// and internal timeouts, 500 for anything else.
unsigned http_status_of(const caf::error& err);

/// `{"code":..,"name":..,"message":..}`.
std::string error_body(error_code code, const std::string& message);

/// The answer to a failed call. A 500 says only "internal error" (the detail goes to the log).
http_response error_response(const caf::error& err);

/// The answer for an error made at the HTTP layer; `status` 0 takes the code's usual status.
http_response error_response(error_code code, const std::string& message, unsigned status = 0);

} // namespace dispatch
