// Binding the configured hosts (all or nothing, IPv6 skipped where unavailable) and the accept
// loop with its connection cap.

#include "gateway/http_listener.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <string>
#include <utility>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/string.hpp>

#include "gateway/errors.hpp"
#include "logging/log.hpp"
#include "messages/error_code.hpp"

namespace dispatch::http_internal {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using sys_error = boost::system::error_code;

namespace {

std::string format_endpoint(const net::ip::address& address, uint16_t port) {
  auto text = address.to_string();
  if (address.is_v6()) text = "[" + text + "]";
  return text + ":" + std::to_string(port);
}

// "Address already in use" reads as "address already in use" after a colon.
std::string reason_of(const sys_error& ec) {
  auto text = ec.message();
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

bool ipv6_unavailable(const sys_error& ec) {
  namespace errc = boost::system::errc;
  return ec == errc::address_family_not_supported || ec == errc::address_not_available
         || ec == errc::protocol_not_supported;
}

struct planned_host {
  std::string host;
  std::vector<net::ip::address> addresses;
};

// `localhost` means both loopback addresses (whatever the resolver says); other names resolve.
caf::expected<planned_host> plan_host(std::string host, uint16_t port) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  planned_host plan{host, {}};
  if (boost::beast::iequals(host, "localhost")) {
    plan.addresses = {net::ip::make_address("127.0.0.1"), net::ip::make_address("::1")};
    return plan;
  }
  sys_error ec;
  auto address = net::ip::make_address(host, ec);
  if (!ec) {
    plan.addresses.push_back(address);
    return plan;
  }
  net::io_context resolver_context;
  tcp::resolver resolver{resolver_context};
  auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec || results.empty())
    return make_error(error_code::server, "cannot listen on " + host + ":" + std::to_string(port)
                                            + ": " + (ec ? reason_of(ec) : "no address"));
  for (const auto& entry : results) {
    auto found = entry.endpoint().address();
    if (std::find(plan.addresses.begin(), plan.addresses.end(), found) == plan.addresses.end())
      plan.addresses.push_back(found);
  }
  return plan;
}

sys_error open_and_bind(tcp::acceptor& acceptor, const tcp::endpoint& endpoint) {
  sys_error ec;
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return ec;
  acceptor.set_option(net::socket_base::reuse_address(true), ec);
  // `::` must not claim the IPv4 port too: `0.0.0.0` may be listed beside it.
  if (!ec && endpoint.address().is_v6()) acceptor.set_option(net::ip::v6_only(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  return ec;
}

// One attempt at binding every address; `port_clash` says a later address found the port picked
// by the first one taken (worth another attempt with a new port).
caf::expected<std::vector<http_listener_ptr>> bind_plan(net::io_context& ioc,
                                                        const server_state_ptr& state,
                                                        const std::vector<planned_host>& plan,
                                                        bool& port_clash) {
  std::vector<http_listener_ptr> listeners;
  auto port = state->cfg.port;
  for (const auto& host : plan) {
    for (const auto& address : host.addresses) {
      tcp::endpoint endpoint{address, port};
      tcp::acceptor acceptor{net::make_strand(ioc)};
      auto ec = open_and_bind(acceptor, endpoint);
      if (ec && address.is_v6() && ipv6_unavailable(ec)) {
        DISPATCH_LOG(warning, http)
          << "not listening on " << format_endpoint(address, port)
          << ": IPv6 is not available on this machine (" << reason_of(ec) << ")";
        continue;
      }
      if (ec) {
        port_clash = state->cfg.port == 0 && port != 0 && ec == net::error::address_in_use;
        return make_error(error_code::server, "cannot listen on " + format_endpoint(address, port)
                                                + ": " + reason_of(ec));
      }
      if (port == 0) port = acceptor.local_endpoint().port();
      listeners.push_back(std::make_shared<http_listener>(ioc, state, std::move(acceptor)));
    }
  }
  if (listeners.empty())
    return make_error(error_code::server, "dispatch.http.hosts: no address to listen on");
  return listeners;
}

} // namespace

caf::expected<std::vector<http_listener_ptr>> bind_listeners(net::io_context& ioc,
                                                             const server_state_ptr& state) {
  std::vector<planned_host> plan;
  std::vector<net::ip::address> seen; // `localhost` beside `127.0.0.1` binds it once
  for (const auto& host : state->cfg.hosts) {
    auto planned = plan_host(host, state->cfg.port);
    if (!planned) return std::move(planned.error());
    auto& addresses = planned->addresses;
    addresses.erase(std::remove_if(addresses.begin(), addresses.end(),
                                   [&](const net::ip::address& address) {
                                     if (std::find(seen.begin(), seen.end(), address) != seen.end())
                                       return true;
                                     seen.push_back(address);
                                     return false;
                                   }),
                    addresses.end());
    plan.push_back(std::move(*planned));
  }
  // A port picked by the kernel for the first address may be taken on another one; pick again.
  constexpr int attempts = 5;
  for (int attempt = 1;; ++attempt) {
    bool port_clash = false;
    auto listeners = bind_plan(ioc, state, plan, port_clash);
    if (listeners || !port_clash || attempt == attempts) return listeners;
  }
}

http_listener::http_listener(net::io_context& ioc, server_state_ptr state, tcp::acceptor acceptor)
    : ioc_(ioc), state_(std::move(state)), acceptor_(std::move(acceptor)),
      retry_timer_(acceptor_.get_executor()) {
  sys_error ec;
  auto local = acceptor_.local_endpoint(ec);
  endpoint_ = listen_endpoint{local.address().to_string(), local.port()};
}

void http_listener::start() {
  DISPATCH_LOG(info, http) << "listening on "
                           << format_endpoint(net::ip::make_address(endpoint_.host),
                                              endpoint_.port);
  accept_next();
}

void http_listener::stop() {
  sys_error ec;
  acceptor_.close(ec);
  retry_timer_.cancel();
}

void http_listener::accept_next() {
  // Each connection gets its own strand: its handlers never run concurrently.
  acceptor_.async_accept(net::make_strand(ioc_),
                         [self = shared_from_this()](sys_error ec, tcp::socket socket) {
                           self->on_accept(ec, std::move(socket));
                         });
}

void http_listener::on_accept(sys_error ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    // Out of file descriptors and the like: wait a little instead of spinning.
    DISPATCH_LOG(warning, http) << "accepting a connection failed: " << reason_of(ec);
    retry_timer_.expires_after(std::chrono::milliseconds(100));
    retry_timer_.async_wait([self = shared_from_this()](sys_error timer_ec) {
      if (!timer_ec && self->acceptor_.is_open()) self->accept_next();
    });
    return;
  }
  auto& metrics = state_->metrics;
  if (state_->open.fetch_add(1) >= static_cast<int64_t>(state_->cfg.max_connections)) {
    state_->open.fetch_sub(1);
    refuse(socket);
  } else {
    refusing_ = false;
    if (metrics) {
      metrics->connections_accepted.fetch_add(1);
      metrics->connections_open.fetch_add(1);
    }
    start_session(state_, std::move(socket));
  }
  accept_next();
}

// Over the cap: a short 503 if the socket takes it at once, then the connection closes.
void http_listener::refuse(tcp::socket& socket) {
  if (state_->metrics) state_->metrics->connections_refused.fetch_add(1);
  if (!refusing_) {
    refusing_ = true;
    DISPATCH_LOG(warning, http) << "connection cap of " << state_->cfg.max_connections
                                << " reached: refusing new connections";
  }
  auto body = error_body(error_code::unavailable, "unavailable: too many connections");
  auto answer
    = "HTTP/1.1 503 Service Unavailable\r\nServer: dispatchd\r\n"
      "Content-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\n"
      "Content-Length: "
      + std::to_string(body.size()) + "\r\n\r\n" + body;
  sys_error ec;
  socket.non_blocking(true, ec);
  socket.write_some(net::buffer(answer), ec);
  socket.shutdown(tcp::socket::shutdown_send, ec);
  socket.close(ec);
}

} // namespace dispatch::http_internal
