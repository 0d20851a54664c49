// The HTTP request and response as the API layer sees them, independent of Beast: the server turns
// wire messages into these and back, so routes can be tested without sockets.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dispatch {

struct http_request {
  std::string method;        // upper case: GET, POST, PUT, DELETE, ...
  std::string target;        // origin form: the path, then '?' and the raw (percent-encoded) query
  std::string content_type;  // the Content-Type header; empty when absent
  std::string authorization; // the Authorization header; empty when absent
  std::string if_none_match; // the If-None-Match header (console files); empty when absent
  std::string body;
  bool from_loopback = true; // the peer connected from a loopback address
};

struct http_response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers; // extra headers, e.g. Retry-After
};

/// Sends the answer to one request. Call it exactly once, from any thread.
using http_reply = std::function<void(http_response)>;

/// Handles one request. Called on a server (io) thread: it must not block; it answers through
/// `reply`, at once or later from another thread.
using http_handler = std::function<void(http_request, http_reply)>;

/// Looks at a request whose header is read and whose body is not (its `body` is empty). An answer
/// refuses the request there: the body is never read into memory, and the connection closes after
/// the answer. Called on a server (io) thread; it must not block.
using http_header_check = std::function<std::optional<http_response>(const http_request&)>;

} // namespace dispatch
