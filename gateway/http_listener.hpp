// The gateway's listening sockets: binding every configured host (skipping IPv6 where the machine
// has none) and accepting connections under the connection cap. Internal to the server.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <caf/expected.hpp>

#include "gateway/http_server.hpp"
#include "gateway/http_session.hpp"

namespace dispatch::http_internal {

class http_listener : public std::enable_shared_from_this<http_listener> {
public:
  using tcp = boost::asio::ip::tcp;

  /// Takes a bound, listening acceptor whose executor is a strand of `ioc`.
  http_listener(boost::asio::io_context& ioc, server_state_ptr state, tcp::acceptor acceptor);

  /// Starts the accept loop.
  void start();

  /// Closes the acceptor; runs on the acceptor's strand.
  void stop();

  const listen_endpoint& endpoint() const { return endpoint_; }

  tcp::acceptor::executor_type executor() { return acceptor_.get_executor(); }

private:
  void accept_next();
  void on_accept(boost::system::error_code ec, tcp::socket socket);
  void refuse(tcp::socket& socket);

  boost::asio::io_context& ioc_;
  server_state_ptr state_;
  tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
  listen_endpoint endpoint_;
  bool refusing_ = false; // the cap was reached: logged once until a connection fits again
};

using http_listener_ptr = std::shared_ptr<http_listener>;

/// Binds every host of `state->cfg` (a name may give several addresses), in order; with port 0 the
/// first address picks the port and the others take the same. Fails binding nothing when an
/// address is taken or invalid; an IPv6 address this machine cannot bind is skipped and logged.
caf::expected<std::vector<http_listener_ptr>> bind_listeners(boost::asio::io_context& ioc,
                                                             const server_state_ptr& state);

} // namespace dispatch::http_internal
