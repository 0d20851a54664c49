// What an HTTP answer means for a delivery, as pure functions: the status decides delivered, retry
// or permanent; `Retry-After` (seconds or an HTTP date) sets the floor of the next attempt.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>

#include "messages/delivery.hpp"

namespace dispatch {

/// How much of a response body a reason quotes.
constexpr size_t quoted_body_bytes = 200;

/// The longest `Retry-After` honoured (one day): a larger one is cut down to it.
constexpr int64_t max_retry_after_ms = 24 * 60 * 60 * 1000;

/// True for the statuses worth another attempt: 408, 429 and 5xx.
bool retryable_status(long status);

/// The floor, in milliseconds, that a `Retry-After` value sets: delta seconds ("120") or an HTTP
/// date (RFC 7231, and the obsolete forms curl_getdate knows) relative to `now`. 0 when the value
/// is empty, unparseable or in the past; at most `max_retry_after_ms`.
int64_t retry_after_floor_ms(const std::string& value, std::time_t now);

/// The verdict on a response with `status` from `url`: 2xx delivered; 408, 429, 5xx retry
/// ("HTTP 503 from <url>", with the `Retry-After` floor); anything else permanent, quoting the
/// start of `body` (at most `quoted_body_bytes`, control characters replaced).
delivery_result verdict_of_response(long status, const std::string& url, const std::string& body,
                                    const std::string& retry_after, std::time_t now);

/// `url` as it may be shown (logs, errors, a delivery's last error): user and password in its
/// authority (`https://user:pass@host/`) replaced by `***`.
std::string without_credentials(const std::string& url);

/// The start of a response body for a reason text: at most `quoted_body_bytes` bytes, cut at a
/// UTF-8 character boundary, control characters as spaces, "..." when cut.
std::string quote_body(const std::string& body);

} // namespace dispatch
