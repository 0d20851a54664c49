// One HTTP/1.1 connection: header, body and idle deadlines, the body limit (413 and a brief drain),
// 100-continue, keep-alive, and answers that may come later from any thread.

#include "gateway/http_session.hpp"

#include <algorithm>
#include <charconv>
#include <exception>
#include <string_view>
#include <utility>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "gateway/errors.hpp"
#include "gateway/http_text.hpp"
#include "logging/log.hpp"

namespace dispatch::http_internal {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// After an answer that closes the connection, what the client still sends is read and dropped for
// this long (or this much), so that closing does not reset the connection under the answer.
constexpr std::chrono::milliseconds linger_time{1000};
constexpr std::size_t linger_bytes = 8 << 20;

bool is_loopback(const net::ip::address& address) {
  if (address.is_v4()) return address.to_v4().is_loopback();
  auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) return net::ip::make_address_v4(net::ip::v4_mapped, v6).is_loopback();
  return v6.is_loopback();
}

// The handler sees origin form: an absolute-form target (`http://host/path?q`) loses its authority.
std::string origin_form(std::string_view target) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() < scheme.size() || !beast::iequals(target.substr(0, scheme.size()), scheme))
      continue;
    auto rest = target.substr(scheme.size());
    auto path = rest.find_first_of("/?");
    if (path == std::string_view::npos) return "/";
    return rest[path] == '?' ? "/" + std::string{rest.substr(path)}
                             : std::string{rest.substr(path)};
  }
  return std::string{target};
}

// The peer went away or we closed the socket: nothing to answer, nothing to count.
bool is_disconnect(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == http::error::partial_message
         || ec == net::error::eof || ec == net::error::operation_aborted
         || ec == net::error::connection_reset || ec == net::error::broken_pipe
         || ec == net::error::connection_aborted || ec == net::error::bad_descriptor;
}

// Beast's parser refused the request line or a header.
bool is_parse_error(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

bool is_timeout(const beast::error_code& ec) {
  return ec == beast::error::timeout;
}

} // namespace

http_session::http_session(server_state_ptr state, tcp::socket socket)
    : state_(std::move(state)), stream_(std::move(socket)) {
  beast::error_code ec;
  auto peer = stream_.socket().remote_endpoint(ec);
  from_loopback_ = !ec && is_loopback(peer.address());
  // An answer goes out in one write; Nagle would only hold back a pipelined client's next one.
  stream_.socket().set_option(tcp::no_delay(true), ec);
}

http_session::~http_session() {
  release();
}

void start_session(const server_state_ptr& state, net::ip::tcp::socket socket) {
  auto session = std::make_shared<http_session>(state, std::move(socket));
  // Run the first read on the session's strand, like everything else it does.
  net::post(session->executor(), [session] { session->start(); });
}

void http_session::start() {
  {
    std::lock_guard<std::mutex> guard{state_->mutex};
    if (state_->running && !state_->closing)
      state_->sessions.emplace(this, shared_from_this());
    else
      closed_ = true;
  }
  if (closed_) {
    beast::error_code ec;
    stream_.socket().close(ec);
    release();
    return;
  }
  read_request();
}

void http_session::close() {
  if (closed_) return;
  closed_ = true;
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.close();
  release();
  std::shared_ptr<http_session> registered;
  {
    std::lock_guard<std::mutex> guard{state_->mutex};
    auto i = state_->sessions.find(this);
    if (i != state_->sessions.end()) {
      registered = std::move(i->second);
      state_->sessions.erase(i);
    }
  }
  // `registered` may be the last owner but one: callers hold their own reference.
}

// Gives back what the session holds in the shared counters, once.
void http_session::release() {
  if (released_) return;
  released_ = true;
  if (owes_reply_) {
    owes_reply_ = false;
    state_->owed.fetch_sub(1);
  }
  state_->open.fetch_sub(1);
  if (state_->metrics) state_->metrics->connections_open.fetch_sub(1);
}

void http_session::read_request() {
  auto& cfg = state_->cfg;
  parser_.emplace();
  parser_->header_limit(cfg.header_limit);
  parser_->body_limit(cfg.body_limit);
  if (first_request_ || buffer_.size() > 0) {
    // The first request's header is due header_timeout after the connect; a pipelined one is
    // already (partly) here.
    read_header();
    return;
  }
  // Keep-alive: the next request may take idle_timeout to begin; its header then header_timeout.
  stream_.expires_after(cfg.idle_timeout);
  stream_.async_read_some(buffer_.prepare(4096),
                          [self = shared_from_this()](sys_error ec, std::size_t n) {
                            self->buffer_.commit(n);
                            if (ec) return self->on_read_error(ec);
                            self->read_header();
                          });
}

void http_session::read_header() {
  stream_.expires_after(state_->cfg.header_timeout);
  http::async_read_header(
    stream_, buffer_, *parser_,
    [self = shared_from_this()](sys_error ec, std::size_t) { self->on_header(ec); });
}

void http_session::on_header(sys_error ec) {
  if (ec) return on_read_error(ec);
  if (auto refusal = transfer_coding_refusal()) return refuse_unread(std::move(*refusal));
  if (parser_->is_done()) return dispatch_request();
  // A body is announced: whoever may be refused on the header alone (a missing token) is refused
  // before a byte of it is read.
  if (state_->header_check)
    if (auto refusal = state_->header_check(head_of_request()))
      return refuse_unread(std::move(*refusal));
  auto& req = parser_->get();
  if (req.version() >= 11 && beast::iequals(req[http::field::expect], "100-continue"))
    return write_continue();
  read_body();
}

// Beast reads a body of any other coding than a final `chunked` as absent: such a request is
// refused instead of being handled without its body (RFC 7230 3.3.3: the length is unknown).
std::optional<http_response> http_session::transfer_coding_refusal() const {
  auto& req = parser_->get();
  auto codings = req[http::field::transfer_encoding];
  if (codings.empty()) return std::nullopt;
  if (!parser_->chunked())
    return error_response(error_code::body_format,
                          "Transfer-Encoding " + quoted(codings)
                            + " does not end in chunked: the body's length is unknown",
                          400);
  if (!beast::iequals(trim_blanks(codings), "chunked"))
    return error_response(error_code::body_format,
                          "Transfer-Encoding " + quoted(codings)
                            + " is not supported: send the body plain or only chunked",
                          501);
  return std::nullopt;
}

// Beast leaves the interim answer to us; it is sent only once the header passed every limit.
void http_session::write_continue() {
  static constexpr std::string_view line = "HTTP/1.1 100 Continue\r\n\r\n";
  stream_.expires_after(state_->cfg.body_timeout);
  net::async_write(stream_, net::buffer(line.data(), line.size()),
                   [self = shared_from_this()](sys_error ec, std::size_t) {
                     if (ec) return self->on_read_error(ec);
                     self->read_body();
                   });
}

void http_session::read_body() {
  stream_.expires_after(state_->cfg.body_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](sys_error ec, std::size_t) { self->on_body(ec); });
}

void http_session::on_body(sys_error ec) {
  if (ec) return on_read_error(ec);
  dispatch_request();
}

void http_session::on_read_error(sys_error ec) {
  if (closed_) return;
  auto& cfg = state_->cfg;
  if (ec == http::error::body_limit) {
    // The client writes the whole body it announced before it reads the answer: linger() drops
    // that much (still within linger_time), or the close would reset the connection under it.
    // A Content-Length over the limit fails the parse before the header counts as done (and
    // content_length_remaining() asserts that it is): then the field itself says how much.
    if (parser_->is_header_done()) {
      if (auto announced = parser_->content_length_remaining()) drain_limit_ = *announced;
    } else {
      auto field = parser_->get()[http::field::content_length];
      std::uint64_t announced = 0;
      auto [end, parse_ec] = std::from_chars(field.data(), field.data() + field.size(), announced);
      if (parse_ec == std::errc{} && end == field.data() + field.size()) drain_limit_ = announced;
    }
    return refuse(413,
                  "request body exceeds the limit of " + std::to_string(cfg.body_limit) + " bytes");
  }
  if (ec == http::error::header_limit)
    return refuse(431, "request headers exceed the limit of " + std::to_string(cfg.header_limit)
                         + " bytes");
  if (is_timeout(ec)) {
    if (state_->metrics) state_->metrics->timeouts.fetch_add(1);
    return close();
  }
  if (!is_disconnect(ec) && is_parse_error(ec)) return refuse(400, "malformed HTTP request");
  close();
}

http_request head_of(const http::request<http::string_body>& req, bool from_loopback) {
  http_request request;
  request.method = std::string{req.method_string()};
  request.target = origin_form(req.target());
  request.content_type = std::string{req[http::field::content_type]};
  request.authorization = std::string{req[http::field::authorization]};
  request.if_none_match = std::string{req[http::field::if_none_match]};
  request.from_loopback = from_loopback;
  return request;
}

http_request http_session::head_of_request() const {
  return head_of(parser_->get(), from_loopback_);
}

void http_session::dispatch_request() {
  stream_.expires_never();
  auto& req = parser_->get();
  keep_alive_ = req.keep_alive();
  version_ = req.version();
  head_request_ = req.method() == http::verb::head;
  auto request = head_of_request();
  request.body = std::move(req.body());
  parser_.reset();
  owes_reply_ = true;
  state_->owed.fetch_add(1);
  request_read_at_ = std::chrono::steady_clock::now();
  if (state_->metrics) state_->metrics->requests.fetch_add(1);
  auto reply = make_reply();
  try {
    state_->handler(std::move(request), reply);
  } catch (const std::exception& e) {
    DISPATCH_LOG(error, http) << "request handler failed: " << e.what();
    reply(error_response(error_code::server, "internal error", 500));
  }
}

// The answer may come from any thread, once, possibly after the connection is gone or the server
// stopped: it holds the session and the server weakly and posts to the session's strand.
http_reply http_session::make_reply() {
  std::weak_ptr<http_session> weak_session = weak_from_this();
  std::weak_ptr<server_state> weak_state = state_;
  auto answered = std::make_shared<std::atomic<bool>>(false);
  return [weak_session, weak_state, answered](http_response res) {
    if (answered->exchange(true)) return;
    auto state = weak_state.lock();
    if (!state) return;
    std::lock_guard<std::mutex> guard{state->mutex};
    auto self = state->running ? weak_session.lock() : nullptr;
    if (!self) return;
    net::post(self->executor(),
              [self, res = std::move(res)]() mutable { self->answer(std::move(res)); });
  };
}

namespace {

http::response<http::string_body> to_wire(http_response res, unsigned version, bool keep_alive,
                                          bool head_request) {
  http::response<http::string_body> wire;
  wire.version(version);
  // An interim status cannot be a final answer; 204 and 304 carry no body (Beast would throw).
  wire.result(res.status >= 200 && res.status <= 999 ? res.status : 500);
  if (res.status == 204 || res.status == 304) res.body.clear();
  wire.set(http::field::server, "dispatchd");
  if (!res.content_type.empty()) wire.set(http::field::content_type, res.content_type);
  for (auto& [name, value] : res.headers) wire.insert(name, value);
  auto size = res.body.size();
  wire.body() = std::move(res.body);
  wire.keep_alive(keep_alive);
  wire.prepare_payload();
  if (head_request) {
    // A HEAD answer announces the body's length but carries none.
    wire.body().clear();
    wire.content_length(size);
  }
  return wire;
}

} // namespace

void http_session::answer(http_response res) {
  if (closed_ || !owes_reply_ || response_) return;
  auto keep = keep_alive_ && !state_->closing;
  wire_response wire;
  try {
    wire = to_wire(std::move(res), version_, keep, head_request_);
  } catch (const std::exception& e) {
    // A header Beast refuses (a blank name, say) is our bug, not the client's: answer 500.
    DISPATCH_LOG(error, http) << "unwritable answer replaced by a 500: " << e.what();
    wire = to_wire(error_response(error_code::server, "internal error", 500), version_, keep,
                   head_request_);
  }
  write_response(std::move(wire), keep);
}

// An error found while reading (limits, malformed input): answered, then the connection closes.
void http_session::refuse(unsigned status, const std::string& message) {
  if (state_->metrics) state_->metrics->requests.fetch_add(1);
  parser_.reset();
  write_response(
    to_wire(error_response(error_code::body_format, message, status), 11, false, false), false);
}

void http_session::refuse_unread(http_response res) {
  if (state_->metrics) state_->metrics->requests.fetch_add(1);
  // As with 413: the client may write the body it announced before it reads the answer, so that
  // much is dropped while lingering (within linger_time) rather than reset under it.
  if (auto announced = parser_->content_length_remaining()) drain_limit_ = *announced;
  auto version = parser_->get().version();
  auto head = parser_->get().method() == http::verb::head;
  parser_.reset();
  write_response(to_wire(std::move(res), version, false, head), false);
}

void http_session::write_response(wire_response res, bool keep_alive) {
  response_ = std::make_unique<wire_response>(std::move(res));
  // A client that does not read its answer is cut off like one that does not send its body.
  stream_.expires_after(state_->cfg.body_timeout);
  http::async_write(stream_, *response_,
                    [self = shared_from_this(), keep_alive](sys_error ec, std::size_t) {
                      self->on_written(ec, keep_alive);
                    });
}

void http_session::on_written(sys_error ec, bool keep_alive) {
  auto status = response_->result_int();
  response_.reset();
  auto& metrics = state_->metrics;
  if (owes_reply_) {
    owes_reply_ = false;
    state_->owed.fetch_sub(1);
    if (metrics && !ec)
      metrics->latency.record(std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - request_read_at_));
  }
  if (ec) {
    if (metrics && is_timeout(ec)) metrics->timeouts.fetch_add(1);
    return close();
  }
  if (metrics) {
    if (status >= 200 && status < 300)
      metrics->responses_2xx.fetch_add(1);
    else if (status >= 400 && status < 500)
      metrics->responses_4xx.fetch_add(1);
    else if (status >= 500)
      metrics->responses_5xx.fetch_add(1);
  }
  if (!keep_alive) return linger();
  first_request_ = false;
  read_request();
}

// Closes our side after the last answer, then reads and drops what the client still sends, for
// a short while, so that it reads the answer instead of a connection reset.
void http_session::linger() {
  if (closed_) return;
  sys_error ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream_.expires_after(linger_time);
  drain_buffer_.resize(64 * 1024);
  drained_ = 0;
  drain();
}

void http_session::drain() {
  stream_.async_read_some(net::buffer(drain_buffer_),
                          [self = shared_from_this()](sys_error ec, std::size_t n) {
                            self->drained_ += n;
                            auto limit = std::max<std::uint64_t>(linger_bytes, self->drain_limit_);
                            if (ec || self->drained_ > limit) return self->close();
                            self->drain();
                          });
}

} // namespace dispatch::http_internal
