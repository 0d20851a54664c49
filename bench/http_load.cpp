// A minimal HTTP/1.1 keep-alive client on blocking POSIX sockets and poll(2): each load thread
// sends a request on every idle connection and reads the answers as they come.
#include "bench/http_load.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "bench/measure.hpp"

namespace dispatch::bench {

namespace {

constexpr uint32_t load_threads = 2;

int connect_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    auto n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

/// A complete answer in `in`: its status and body; false while more bytes are needed.
bool parse_answer(std::string& in, unsigned& status, std::string& body) {
  auto end = in.find("\r\n\r\n");
  if (end == std::string::npos || in.compare(0, 5, "HTTP/") != 0) return false;
  status = static_cast<unsigned>(std::atoi(in.c_str() + in.find(' ') + 1));
  size_t length = 0;
  std::string head = in.substr(0, end);
  std::transform(head.begin(), head.end(), head.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto field = head.find("\r\ncontent-length:");
  if (field != std::string::npos) length = std::strtoull(head.c_str() + field + 17, nullptr, 10);
  if (in.size() < end + 4 + length) return false;
  body = in.substr(end + 4, length);
  in.erase(0, end + 4 + length);
  return true;
}

/// The indices of the rejected entries of a batch answer (`{"index":N,...}`).
std::vector<size_t> rejected_indices(const std::string& body) {
  std::vector<size_t> out;
  for (auto at = body.find("\"index\":"); at != std::string::npos;
       at = body.find("\"index\":", at + 1))
    out.push_back(std::strtoull(body.c_str() + at + 8, nullptr, 10));
  return out;
}

} // namespace

http_load::http_load(uint16_t port, const scenario_params& p, std::shared_ptr<const type_plan> plan,
                     publish_tally_ptr published, sink_tally_ptr received)
    : port_(port), params_(p), plan_(std::move(plan)), published_(std::move(published)),
      received_(std::move(received)) {
  auto threads = std::min(load_threads, std::max(1u, params_.connections));
  latencies_.resize(threads);
  for (uint32_t t = 0; t < threads; ++t) {
    auto share = params_.connections * (t + 1) / threads - params_.connections * t / threads;
    threads_.emplace_back([this, t, share] { run(t, share); });
  }
}

http_load::~http_load() {
  published_->stop.store(true);
  join();
}

void http_load::join() {
  for (auto& thread : threads_)
    if (thread.joinable()) thread.join();
}

std::vector<uint32_t> http_load::take_latencies() {
  std::vector<uint32_t> all;
  for (auto& part : latencies_) all.insert(all.end(), part.begin(), part.end());
  return all;
}

// The request for the next `params_.batch` events on `c`, whose types it notes.
std::string http_load::next_request(connection& c) {
  c.types.clear();
  std::string body = params_.batch > 1 ? "[" : "";
  for (uint32_t i = 0; i < params_.batch; ++i) {
    auto seq = sequence_.fetch_add(1, std::memory_order_relaxed);
    c.types.push_back(static_cast<uint32_t>(seq % plan_->names.size()));
    if (i > 0) body += ",";
    body += "{\"type\":\"" + plan_->names[c.types.back()]
            + "\",\"content\":" + event_content(c.sent_ns, seq, params_.event_bytes) + "}";
  }
  if (params_.batch > 1) body += "]";
  return std::string{"POST "} + (params_.batch > 1 ? "/events/v1/batch" : "/events/v1/")
         + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
         + std::to_string(body.size()) + "\r\n\r\n" + body;
}

void http_load::fail(uint64_t events, const std::string& why) {
  published_->rejected.fetch_add(events);
  published_->answered.fetch_add(events);
  if (!published_->has_error.exchange(true)) published_->first_error = why;
}

// Counts a complete answer to `c`'s request: acknowledged events and their deliveries.
void http_load::settle(connection& c, unsigned status, const std::string& answer,
                       std::vector<uint32_t>& latencies) {
  c.waiting = false;
  auto done = now_ns();
  if (c.sent_ns >= received_->record_from.load() && c.sent_ns < received_->record_until.load())
    latencies.push_back(
      static_cast<uint32_t>(std::min<uint64_t>((done - c.sent_ns) / 1000, UINT32_MAX)));
  if (status != 200)
    return fail(c.types.size(), "HTTP " + std::to_string(status) + ": " + answer.substr(0, 200));
  auto rejected = params_.batch > 1 ? rejected_indices(answer) : std::vector<size_t>{};
  uint64_t expected = 0;
  for (size_t e = 0; e < c.types.size(); ++e)
    if (std::find(rejected.begin(), rejected.end(), e) == rejected.end())
      expected += plan_->deliveries[c.types[e]];
  if (!rejected.empty()) fail(rejected.size(), "rejected in a batch: " + answer.substr(0, 200));
  // Deliveries first: the driver's drain check reads `answered`, then `expected_deliveries`.
  published_->expected_deliveries.fetch_add(expected);
  published_->acked.fetch_add(c.types.size() - rejected.size());
  published_->answered.fetch_add(c.types.size() - rejected.size());
}

// Sends on every idle connection unless stopping or held back; returns the calls in flight.
size_t http_load::send_idle(std::vector<connection>& conns, bool stopping) {
  auto expected = published_->expected_deliveries.load();
  auto at_sink = received_->received.load();
  bool held = expected > at_sink && expected - at_sink > params_.backlog;
  size_t waiting = 0;
  for (auto& c : conns) {
    if (c.fd >= 0 && !c.waiting && !stopping && !held) {
      c.sent_ns = now_ns();
      auto request = next_request(c);
      published_->sent.fetch_add(c.types.size());
      c.waiting = send_all(c.fd, request);
      if (!c.waiting) {
        fail(c.types.size(), "sending a request failed");
        ::close(c.fd);
        c.fd = -1;
      }
    }
    waiting += c.waiting;
  }
  return waiting;
}

// The loop of load thread `index` with `count` connections.
void http_load::run(uint32_t index, uint32_t count) {
  std::vector<connection> conns(count);
  for (auto& c : conns)
    if ((c.fd = connect_loopback(port_)) < 0) fail(0, "cannot connect to the gateway");
  std::vector<pollfd> fds(count);
  std::string answer;
  for (;;) {
    bool stopping = published_->stop.load();
    if (send_idle(conns, stopping) == 0 && stopping) break;
    for (size_t i = 0; i < count; ++i)
      fds[i] = pollfd{conns[i].waiting ? conns[i].fd : -1, POLLIN, 0};
    if (::poll(fds.data(), fds.size(), 5) <= 0) continue;
    for (size_t i = 0; i < count; ++i) {
      auto& c = conns[i];
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char chunk[16384];
      auto n = ::recv(c.fd, chunk, sizeof chunk, 0);
      if (n <= 0) {
        fail(c.types.size(), "the gateway closed a connection");
        c.waiting = false;
        ::close(c.fd);
        c.fd = -1;
        continue;
      }
      c.in.append(chunk, static_cast<size_t>(n));
      unsigned status = 0;
      if (parse_answer(c.in, status, answer)) settle(c, status, answer, latencies_[index]);
    }
  }
  for (auto& c : conns)
    if (c.fd >= 0) ::close(c.fd);
}

} // namespace dispatch::bench
