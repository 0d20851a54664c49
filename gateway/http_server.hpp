// The HTTP/1.1 server on Boost.Beast: its own io threads, keep-alive, limits and deadlines. It
// knows nothing of the API: every complete request goes to an `http_handler`.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "config/http_config.hpp"
#include "gateway/http_types.hpp"
#include "gateway/request_metrics.hpp"

namespace dispatch {

struct listen_endpoint {
  std::string host;
  uint16_t port = 0;
};

class http_server {
public:
  /// Binds every host of `cfg` and starts serving. Fails (binding nothing) when an address is
  /// taken or invalid; an IPv6 host that this machine cannot bind (no IPv6) is skipped with a log
  /// line instead (component `http`, as are `listening on ADDR:PORT` and the refusals). With port 0 the first host picks a free port and the others bind the same one.
  /// Bodies over `cfg.body_limit` are answered 413 (code 22); requests whose headers or body do
  /// not arrive in time, and connections beyond `cfg.max_connections`, are cut off. `check`, when
  /// given, sees each request before its body is read and may refuse it there.
  static caf::expected<std::unique_ptr<http_server>> start(const http_config& cfg,
                                                           http_handler handler,
                                                           request_metrics_ptr metrics,
                                                           http_header_check check = {});

  virtual ~http_server() = default;

  /// The bound addresses, in the order of `cfg.hosts`.
  virtual std::vector<listen_endpoint> endpoints() const = 0;

  /// Stops accepting connections; requests already read are still answered.
  virtual void stop_accepting() = 0;

  /// Waits up to `grace` for answers still owed, then closes every connection and joins the io
  /// threads. Idempotent; the destructor calls it with no grace.
  virtual void shutdown(std::chrono::milliseconds grace) = 0;
};

} // namespace dispatch
