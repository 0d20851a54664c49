// Status and Retry-After classification for the webhook sinks. HTTP dates are parsed with
// curl_getdate, so every form curl knows (RFC 1123, RFC 850, asctime) is accepted.
#include "sinks/http_verdict.hpp"

#include <algorithm>
#include <cctype>

#include <curl/curl.h>

namespace dispatch {

bool retryable_status(long status) {
  return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

namespace {

/// Delta seconds: digits only (RFC 7231 7.1.3), optional surrounding blanks. -1 when not that form.
int64_t parse_delta_seconds(const std::string& value) {
  auto first = value.find_first_not_of(" \t");
  auto last = value.find_last_not_of(" \t");
  if (first == std::string::npos) return -1;
  int64_t seconds = 0;
  for (auto i = first; i <= last; ++i) {
    auto c = value[i];
    if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
    // Saturate instead of overflowing: anything past the cap is the cap.
    if (seconds <= max_retry_after_ms / 1000) seconds = seconds * 10 + (c - '0');
  }
  return seconds;
}

} // namespace

int64_t retry_after_floor_ms(const std::string& value, std::time_t now) {
  int64_t ms = 0;
  auto seconds = parse_delta_seconds(value);
  if (seconds >= 0) {
    ms = seconds * 1000;
  } else if (value.find_first_not_of(" \t") != std::string::npos) {
    auto at = curl_getdate(value.c_str(), nullptr);
    if (at == -1 || at <= now) return 0;
    ms = static_cast<int64_t>(at - now) * 1000;
  }
  return std::min(ms, max_retry_after_ms);
}

std::string quote_body(const std::string& body) {
  auto cut = body.size() > quoted_body_bytes;
  auto end = cut ? quoted_body_bytes : body.size();
  // Back off to the start of a UTF-8 sequence so the reason stays valid text.
  if (cut)
    while (end > 0 && (static_cast<unsigned char>(body[end]) & 0xC0) == 0x80) --end;
  std::string out;
  out.reserve(end + 3);
  for (size_t i = 0; i < end; ++i) {
    auto c = static_cast<unsigned char>(body[i]);
    out += (c < 0x20 || c == 0x7F) ? ' ' : body[i];
  }
  if (cut) out += "...";
  return out;
}

delivery_result verdict_of_response(long status, const std::string& url, const std::string& body,
                                    const std::string& retry_after, std::time_t now) {
  if (status >= 200 && status <= 299) return delivered();
  auto reason = "HTTP " + std::to_string(status) + " from " + url;
  if (retryable_status(status))
    return retry_later(std::move(reason), retry_after_floor_ms(retry_after, now));
  auto quoted = quote_body(body);
  if (!quoted.empty()) reason += ": " + quoted;
  return permanent_failure(std::move(reason));
}

std::string without_credentials(const std::string& url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return url;
  auto authority_begin = scheme_end + 3;
  auto authority_end = url.find_first_of("/?#", authority_begin);
  auto authority = std::string_view{url}.substr(authority_begin, authority_end - authority_begin);
  auto at = authority.rfind('@');
  if (at == std::string_view::npos) return url;
  return url.substr(0, authority_begin) + "***" + url.substr(authority_begin + at);
}

} // namespace dispatch
