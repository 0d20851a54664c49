// The HTTP side of the http and http-batch scenarios: keep-alive connections to the gateway on
// loopback, driven closed loop by two load threads, with the request latency of each call.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/scenario.hpp"
#include "bench/workload.hpp"

namespace dispatch::bench {

/// `p.connections` connections to 127.0.0.1:`port`, each with one request in flight: one event
/// (`p.batch` == 1, POST /events/v1/) or a batch of `p.batch` (POST /events/v1/batch). It fills
/// `published` like the in-process publisher does, holds back while more than `p.backlog`
/// deliveries are on their way to the sink, and records the latency of the requests sent between
/// `received->record_from` and `record_until`. Stops when `published->stop` is set.
class http_load {
public:
  http_load(uint16_t port, const scenario_params& p, std::shared_ptr<const type_plan> plan,
            publish_tally_ptr published, sink_tally_ptr received);
  ~http_load();

  http_load(const http_load&) = delete;
  http_load& operator=(const http_load&) = delete;

  /// Waits for the load threads (after `published->stop`): their calls have all been answered.
  void join();

  /// The recorded request latencies in microseconds (after `join`).
  std::vector<uint32_t> take_latencies();

private:
  /// One keep-alive connection with at most one request in flight.
  struct connection {
    int fd = -1;
    bool waiting = false;        // a request was sent, its answer is not complete yet
    uint64_t sent_ns = 0;        // when it was sent
    std::vector<uint32_t> types; // the event type of each event of the request
    std::string in;              // bytes of the answer read so far
  };

  void run(uint32_t index, uint32_t count);
  size_t send_idle(std::vector<connection>& conns, bool stopping);
  std::string next_request(connection& c);
  void settle(connection& c, unsigned status, const std::string& answer,
              std::vector<uint32_t>& latencies);
  void fail(uint64_t events, const std::string& why);

  uint16_t port_;
  scenario_params params_;
  std::shared_ptr<const type_plan> plan_;
  publish_tally_ptr published_;
  sink_tally_ptr received_;
  std::atomic<uint64_t> sequence_{0};
  std::vector<std::thread> threads_;
  std::vector<std::vector<uint32_t>> latencies_; // one per thread
};

} // namespace dispatch::bench
