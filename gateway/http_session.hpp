// One HTTP/1.1 connection of the gateway: reads requests under limits and deadlines, hands each to
// the handler and writes its answer, one at a time. Internal to the server (not a contract).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "config/http_config.hpp"
#include "gateway/http_server.hpp"
#include "gateway/http_types.hpp"
#include "gateway/request_metrics.hpp"

namespace dispatch::http_internal {

class http_session;

/// What the server, its listeners and its sessions share. Sessions live in `sessions` until they
/// close, so a session whose handler never answers is still found (and dropped) at shutdown.
struct server_state {
  http_config cfg;
  http_handler handler;
  http_header_check header_check; // may be empty
  request_metrics_ptr metrics;    // may be null

  std::mutex mutex; // guards `sessions` and `running`
  std::unordered_map<http_session*, std::shared_ptr<http_session>> sessions;
  bool running = true; // false once shutdown stops the io threads: replies are dropped

  std::atomic<bool> closing{false}; // shutting down: answers close their connection
  std::atomic<int64_t> open{0};     // connections counted against cfg.max_connections
  std::atomic<int64_t> owed{0};     // requests handed to the handler, not yet answered
};

using server_state_ptr = std::shared_ptr<server_state>;

class http_session : public std::enable_shared_from_this<http_session> {
public:
  using tcp = boost::asio::ip::tcp;

  /// Takes an accepted socket already counted in `state->open`.
  http_session(server_state_ptr state, tcp::socket socket);
  ~http_session();

  http_session(const http_session&) = delete;
  http_session& operator=(const http_session&) = delete;

  /// Registers the session and reads its first request.
  void start();

  /// Closes the connection and forgets the session. Idempotent; runs on the session's strand.
  void close();

  boost::beast::tcp_stream::executor_type executor() { return stream_.get_executor(); }

private:
  using request_parser = boost::beast::http::request_parser<boost::beast::http::string_body>;
  using wire_response = boost::beast::http::response<boost::beast::http::string_body>;
  using sys_error = boost::beast::error_code;

  void read_request();
  void read_header();
  void on_header(sys_error ec);
  void write_continue();
  void read_body();
  void on_body(sys_error ec);
  void on_read_error(sys_error ec);
  void dispatch_request();
  http_reply make_reply();
  void answer(http_response res);
  void refuse(unsigned status, const std::string& message);
  // The request as the handler sees it, without its body.
  http_request head_of_request() const;
  // Answers `res` to a request whose body is not read, and closes the connection.
  void refuse_unread(http_response res);
  /// The refusal of a body in a transfer coding we do not read (only `chunked` is), if any.
  std::optional<http_response> transfer_coding_refusal() const;
  void write_response(wire_response res, bool keep_alive);
  void on_written(sys_error ec, bool keep_alive);
  void linger();
  void drain();
  void release();

  server_state_ptr state_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<request_parser> parser_;
  std::unique_ptr<wire_response> response_; // alive while being written
  std::vector<char> drain_buffer_;
  bool from_loopback_ = false;
  bool first_request_ = true;
  bool owes_reply_ = false; // the handler has the current request and has not answered yet
  bool keep_alive_ = true;
  bool head_request_ = false;
  unsigned version_ = 11;
  bool closed_ = false;
  bool released_ = false;
  std::size_t drained_ = 0;
  std::uint64_t drain_limit_ = 0; // bytes linger() drops at most; 0: its default
  std::chrono::steady_clock::time_point request_read_at_;
};

/// A request as the handler sees it, without its body: the method, the target in origin form and
/// the headers the API reads. Free of the socket, so the fuzz target (fuzz/http_request.cpp) can
/// build requests the way a session does.
http_request head_of(const boost::beast::http::request<boost::beast::http::string_body>& req,
                     bool from_loopback);

/// Makes a session for an accepted socket and starts it.
void start_session(const server_state_ptr& state, boost::asio::ip::tcp::socket socket);

} // namespace dispatch::http_internal
