// Serves the compiled-in console files. They change only with the binary, so a browser may keep
// them but asks again each time (`no-cache` with an ETag: a 304 costs one small round trip).
#include "gateway/console.hpp"

#include <algorithm>

#include "gateway/errors.hpp"
#include "gateway/http_text.hpp"

namespace dispatch {

namespace {

constexpr std::string_view console_prefix = "/console";

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

const console_asset* find_asset(std::string_view name) {
  auto end = console_assets + console_asset_count;
  auto found = std::find_if(console_assets, end, [&](auto& a) { return a.name == name; });
  return found == end ? nullptr : found;
}

// True when an If-None-Match list names `etag` (or is `*`). Weak tags compare by their opaque
// part, as RFC 9110 asks for this header.
bool matches_etag(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    auto comma = header.find(',');
    auto item = trim_blanks(header.substr(0, comma));
    if (item.substr(0, 2) == "W/") item.remove_prefix(2);
    if (item == "*" || item == etag) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

void add_file_headers(http_response& res, const console_asset& asset) {
  res.headers.emplace_back("ETag", std::string{asset.etag});
  res.headers.emplace_back("Cache-Control", "no-cache");
  res.headers.emplace_back("X-Content-Type-Options", "nosniff");
  // Everything the page loads and calls is this server's: no inline script, no other origin.
  res.headers.emplace_back("Content-Security-Policy",
                           "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                           "base-uri 'none'; frame-ancestors 'none'");
  res.headers.emplace_back("Referrer-Policy", "no-referrer");
}

// True for `/console` and every path below it (the target's query ignored).
bool is_console_path(std::string_view target) {
  auto path = path_of(target);
  if (path.substr(0, console_prefix.size()) != console_prefix) return false;
  return path.size() == console_prefix.size() || path[console_prefix.size()] == '/';
}

} // namespace

std::optional<http_response> console_response(const http_request& req) {
  if (!is_console_path(req.target)) return std::nullopt;
  if (req.method != "GET" && req.method != "HEAD") {
    auto res = error_response(error_code::resource_unknown,
                              "method " + req.method + " is not allowed on the console", 405);
    res.headers.emplace_back("Allow", "GET, HEAD");
    return res;
  }
  auto path = path_of(req.target);
  if (path == console_prefix) {
    // Relative links of the page resolve against `/console/`, so the bare path moves there.
    http_response res;
    res.status = 301;
    res.content_type = "text/plain; charset=utf-8";
    res.body = "the console is at /console/\n";
    res.headers.emplace_back("Location", "/console/");
    return res;
  }
  auto name = path.substr(console_prefix.size() + 1);
  if (name.empty()) name = "index.html";
  auto asset = find_asset(name);
  if (!asset)
    return error_response(error_code::resource_unknown, "no console file " + quoted(name));
  http_response res;
  res.content_type = std::string{asset->content_type};
  add_file_headers(res, *asset);
  if (!req.if_none_match.empty() && matches_etag(req.if_none_match, asset->etag)) {
    res.status = 304;
    return res;
  }
  res.body = std::string{asset->body};
  return res;
}

} // namespace dispatch
