// The webhook sinks' HTTP client: one thread running curl's multi interface, taking POSTs from any
// thread and reporting each one's verdict through a callback (on that thread). Connections are
// kept alive and reused; at most `max_connections` to one host.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <caf/expected.hpp>

#include "messages/delivery.hpp"

namespace dispatch {

/// One request: a JSON body POSTed to `url` with extra header lines ("Name: value").
struct http_post {
  uint64_t id = 0; // the caller's handle, reported back with the verdict
  std::string url;
  std::string body;
  std::vector<std::string> headers;
};

struct http_client_options {
  std::chrono::milliseconds timeout{10000}; // one request, connect included
  uint32_t max_connections = 64;            // per host; 0 = unlimited
  size_t max_response_bytes = 64 * 1024;    // of a response body kept (the rest is read, dropped)
  std::string thread_name = "webhook";      // at most 15 characters
};

/// Called on the client's thread once per request with its verdict.
using http_report = std::function<void(uint64_t id, delivery_result verdict)>;

class http_client {
public:
  /// Starts the thread. Fails when curl cannot make a multi handle.
  static caf::expected<std::unique_ptr<http_client>> start(http_client_options options,
                                                           http_report report);

  /// Stops the thread (see `stop`).
  ~http_client();

  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  /// Queues a request; thread-safe. After `stop` it is dropped without a report.
  void submit(http_post post);

  /// Aborts what is in flight (no reports for it), frees every request and joins the thread.
  /// Called on the client's own thread (from inside a report) it lets the thread finish alone.
  void stop();

  struct core; // shared by the handle and the thread

private:
  explicit http_client(std::shared_ptr<core> shared);

  std::shared_ptr<core> core_;
  std::thread thread_;
};

} // namespace dispatch
