// What the HTTP gateway counts: connections and requests by status, and the request latency
// histogram. The server updates it; `GET /metrics` renders it beside the engine's stats.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "messages/latency.hpp"

namespace dispatch {

struct request_metrics {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_refused{0}; // over the connection cap
  std::atomic<int64_t> connections_open{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> responses_2xx{0};
  std::atomic<uint64_t> responses_4xx{0};
  std::atomic<uint64_t> responses_5xx{0};
  std::atomic<uint64_t> timeouts{0}; // connections cut off by a header, body or idle deadline
  latency_recorder latency;          // request fully read -> response written
};

using request_metrics_ptr = std::shared_ptr<request_metrics>;

} // namespace dispatch
