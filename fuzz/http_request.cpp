// Fuzz target: bytes as they would arrive on a gateway connection, without the socket. Beast's
// request parser runs with the session's limits; like a session (gateway/http_session.cpp), a
// request whose body is announced first meets the header check, then the API handler (auth,
// routing, body rules, ids, RQL, the JSON body parsers) with pipelined requests one after the
// other. The engine behind it is an actor that has already stopped: every call that reaches it is
// answered 503 (engine down), so nothing past the handler is fuzzed here. Every request must be answered, with
// a JSON body that is valid JSON.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "config/http_config.hpp"
#include "fuzz/fuzz_check.hpp"
#include "gateway/api.hpp"
#include "gateway/http_session.hpp"
#include "messages/json.hpp"
#include "messages/type_registry.hpp"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using namespace dispatch;
using dispatch::fuzz::require;

constexpr size_t max_requests = 4; // pipelined requests read from one input
constexpr uint32_t body_limit = 64 * 1024;

api_options fuzz_options() {
  api_options options;
  options.tokens = {"fuzz-token"}; // the seeds send it; without it, only /health passes
  options.request_timeout = std::chrono::seconds(5);
  options.body_limit = body_limit;
  return options;
}

struct gateway {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  http_header_check header_check;
  http_handler handler;

  static caf::actor_system_config& configured(caf::actor_system_config& cfg) {
    add_message_types(cfg);
    cfg.set("scheduler.max-threads", 1);
    return cfg;
  }

  gateway()
      : sys(configured(cfg)), header_check(make_api_header_check(fuzz_options())),
        handler(make_api_handler(sys, stopped_engine(sys), fuzz_options())) {}

  // An actor without a behaviour stops at once; calls to it fail with "receiver down".
  static engine_actor stopped_engine(caf::actor_system& sys) {
    auto stopped = sys.spawn([](caf::event_based_actor*) {});
    caf::scoped_actor self{sys};
    self->wait_for(stopped);
    return caf::actor_cast<engine_actor>(stopped);
  }
};

// Never destroyed: an actor system torn down by exit handlers, after CAF's own statics, corrupts
// the heap (seen with CAF 0.17.6). The process ends with it running, as libFuzzer's does.
gateway& the_gateway() {
  static auto instance = new gateway;
  return *instance;
}

void require_answer(const http_response& res) {
  require(res.status >= 200 && res.status <= 599, "an answer has a final status");
  if (res.content_type == "application/json")
    require(!check_json(res.body), "a JSON answer is valid JSON", res.body);
}

// Hands the request to the handler and waits for its answer (from a bridge actor's thread).
void handle(gateway& gw, http_request req) {
  std::mutex mutex;
  std::condition_variable answered;
  std::optional<http_response> answer;
  gw.handler(std::move(req), [&](http_response res) {
    std::lock_guard<std::mutex> guard{mutex};
    answer = std::move(res);
    answered.notify_one();
  });
  std::unique_lock<std::mutex> lock{mutex};
  auto in_time = answered.wait_for(lock, std::chrono::seconds(10),
                                   [&] { return answer.has_value(); });
  require(in_time, "every request is answered");
  require_answer(*answer);
}

using request_parser = http::request_parser<http::string_body>;

// Feeds `input` to the parser until the request (or, with `header_only`, its header) is read, the
// parser fails, or the input cannot complete it (then the peer is taken to have stopped sending).
void feed(request_parser& parser, std::string_view& input, beast::error_code& ec,
          bool header_only) {
  while (!ec && !parser.is_done() && !(header_only && parser.is_header_done())) {
    auto used = parser.put(boost::asio::buffer(input.data(), input.size()), ec);
    input.remove_prefix(used);
    if (ec == http::error::need_more) ec = {};
    if (used == 0 && !ec) {
      parser.put_eof(ec);
      break;
    }
  }
}

// Reads one request from `input` as a session would; false when the connection would close.
bool serve_one(gateway& gw, std::string_view& input) {
  request_parser parser;
  parser.header_limit(http_config{}.header_limit);
  parser.body_limit(body_limit);
  beast::error_code ec;
  feed(parser, input, ec, true);
  if (ec) return false; // answered 400, 413 or 431 by the session, or a disconnect
  if (!parser.is_done()) {
    // A body is announced: the session asks the header check before reading it.
    if (auto refusal = gw.header_check(http_internal::head_of(parser.get(), true))) {
      require_answer(*refusal);
      return false;
    }
    feed(parser, input, ec, false);
    if (ec) return false;
  }
  auto& msg = parser.get();
  auto request = http_internal::head_of(msg, true);
  request.body = std::move(msg.body());
  auto keep_alive = msg.keep_alive();
  handle(gw, std::move(request));
  return keep_alive;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto& gw = the_gateway();
  auto input = dispatch::fuzz::text_of(data, size);
  for (size_t i = 0; i < max_requests && !input.empty(); ++i)
    if (!serve_one(gw, input)) break;
  return 0;
}
