// The intruder: an actor system of its own that connects to a node's cluster port as a stranger.
#include "intruder.hpp"

#include <boost/test/unit_test.hpp>

#include <array>
#include <functional>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <caf/io/middleman.hpp>
#include <caf/openssl/remote_actor.hpp>

#include "cluster/spawn_node.hpp"
#include "config/engine_config.hpp"

namespace dispatch::test {

namespace {

class intruder_config : public caf::actor_system_config {
public:
  explicit intruder_config(const cluster_config& tls) {
    prepare_config(*this, custom_options_);
    prepare_cluster_system(*this, tls);
    add_message_type<deep_query>("dispatch.query");
  }
};

} // namespace

intruder::intruder(const cluster_config& tls)
    : tls_(uses_tls(tls)), cfg_(std::make_unique<intruder_config>(tls)),
      sys_(std::make_unique<caf::actor_system>(*cfg_)) {
  // nop
}

intruder::~intruder() {
  sys_.reset(); // before the config it refers to
}

peer_actor intruder::connect(uint16_t port) {
  auto peer = tls_ ? caf::openssl::remote_actor<peer_actor>(*sys_, "127.0.0.1", port)
                   : sys_->middleman().remote_actor<peer_actor>("127.0.0.1", port);
  if (!peer)
    BOOST_FAIL("no peer endpoint on port " << port << ": " << caf::to_string(peer.error()));
  return *peer;
}

uint16_t port_of(const std::string& address) {
  return static_cast<uint16_t>(std::stoul(address.substr(address.rfind(':') + 1)));
}

bool send_raw_bytes(uint16_t port, const std::string& bytes, std::chrono::milliseconds wait) {
  using boost::system::error_code;
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket{io};
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  error_code ignored;
  // The node may close on the first bad header: what it did not read is no failure.
  boost::asio::write(socket, boost::asio::buffer(bytes), ignored);
  socket.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
  // Whatever it sends is dropped; the end of the stream (or a reset) is the close.
  bool closed = false;
  std::array<char, 4096> scratch;
  std::function<void(const error_code&, size_t)> on_read = [&](const error_code& ec, size_t) {
    if (ec) {
      closed = true;
      return;
    }
    socket.async_read_some(boost::asio::buffer(scratch), on_read);
  };
  socket.async_read_some(boost::asio::buffer(scratch), on_read);
  io.run_for(wait);
  return closed;
}

} // namespace dispatch::test
