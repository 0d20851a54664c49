// The bridge from an io thread to the engine: each call is made by a short-lived actor of the
// system (so no thread ever blocks on the engine), which answers the HTTP request and quits.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/logger.hpp>
#include <caf/sec.hpp>

#include "gateway/api.hpp"
#include "gateway/errors.hpp"

namespace dispatch {

/// What every request of one handler shares.
struct api_context {
  caf::actor_system* sys = nullptr;
  engine_actor engine;
  api_options options;
};

using api_context_ptr = std::shared_ptr<const api_context>;

/// Answers a request exactly once. Dropped without an answer (its bridge actor went away, e.g.
/// while the actor system shut down) it still answers 503, so no client waits forever.
class reply_once {
 public:
  explicit reply_once(http_reply reply) : reply_(std::move(reply)) {}

  reply_once(const reply_once&) = delete;
  reply_once& operator=(const reply_once&) = delete;

  ~reply_once() {
    if (reply_)
      reply_(error_response(error_code::server, "unavailable: the engine stopped before answering",
                            503));
  }

  void operator()(http_response res) {
    auto reply = std::exchange(reply_, nullptr);
    if (reply) reply(std::move(res));
  }

 private:
  http_reply reply_;
};

using reply_ptr = std::shared_ptr<reply_once>;

/// An engine error as an HTTP answer; a dead engine is unavailable (503), like an overload.
inline http_response engine_error_response(const caf::error& err) {
  if (err.category() == caf::atom("system") &&
      static_cast<caf::sec>(err.code()) == caf::sec::request_receiver_down)
    return error_response(error_code::server, "unavailable: the engine is down", 503);
  return error_response(err);
}

/// Sends `xs...` to the engine from a fresh actor; `on_value(Result&)` and `on_error(caf::error&)`
/// turn the answer into the HTTP response. The actor lives until the answer or the timeout.
/// (One spawn per request keeps no state to tear down with the handler; a pool would save the
/// spawn, a few microseconds, at the cost of a lifecycle tied to the actor system's.)
template <class Result, class OnValue, class OnError, class... Ts>
void ask_engine_handling(const api_context_ptr& ctx, reply_ptr reply, OnValue on_value,
                         OnError on_error, Ts... xs) {
  // `spawn` pins CAF's logger to the calling thread (a thread-local reference); the actor
  // system's destructor waits for every such reference. An io thread that outlives the system
  // would hang it, so a thread that had no logger before gets none after.
  bool foreign_thread = caf::logger::current_logger() == nullptr;
  ctx->sys->spawn([ctx, reply, on_value, on_error, xs...](caf::event_based_actor* self) {
    self->request(ctx->engine, ctx->options.request_timeout, xs...)
        .then([reply, on_value](Result& value) { (*reply)(on_value(value)); },
              [reply, on_error](caf::error& err) { (*reply)(on_error(err)); });
  });
  if (foreign_thread) caf::logger::set_current_actor_system(nullptr);
}

/// `ask_engine` with the usual error mapping.
template <class Result, class OnValue, class... Ts>
void ask_engine(const api_context_ptr& ctx, reply_ptr reply, OnValue on_value, Ts... xs) {
  ask_engine_handling<Result>(ctx, std::move(reply), std::move(on_value), engine_error_response,
                              std::move(xs)...);
}

}  // namespace dispatch
