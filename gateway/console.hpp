// The console: the static page (HTML, CSS, JavaScript) under `/console/`, compiled into the binary
// from the files of `console/` (cmake/embed_console.cmake writes them into a generated .cpp). The
// page talks to the public HTTP API only; serving it needs no token.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "gateway/http_types.hpp"

namespace dispatch {

/// One file of `console/` as compiled in.
struct console_asset {
  std::string_view name; // the file name, e.g. "console.js"
  std::string_view body;
  std::string_view etag;         // a quoted hash of the body, e.g. "\"3f2a…\""
  std::string_view content_type; // by its extension, e.g. "text/css; charset=utf-8"
};

/// The files of `console/`, in name order (defined in the generated console_assets.cpp).
extern const console_asset console_assets[];
extern const std::size_t console_asset_count;

/// The answer to a request for a console path: the file (GET, HEAD; 304 when `If-None-Match`
/// names its ETag), a redirect from `/console` to `/console/`, 404 for an unknown file, 405 for
/// other methods. An empty optional for a path outside the console.
std::optional<http_response> console_response(const http_request& req);

} // namespace dispatch
