// The bridge from an io thread to the engine: a fixed pool of bridge actors, spawned with the
// handler, makes each call (so no thread ever blocks on the engine) and answers the HTTP request.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>

#include "gateway/api.hpp"
#include "gateway/errors.hpp"
#include "messages/group_commit.hpp"
#include "messages/json.hpp"

namespace dispatch {

/// One engine call, run by a bridge actor: it makes the request from that actor.
struct bridge_job {
  std::function<void(caf::event_based_actor*)> run;
};

class reply_once;

/// One single-event publish waiting for the publisher bridge's next batch.
struct publish_job {
  event value;
  std::shared_ptr<reply_once> reply;
};

} // namespace dispatch

// Jobs never leave the process: they need no serialization.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(dispatch::bridge_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(dispatch::publish_job)

namespace dispatch {

/// What every request of one handler shares. The bridge actors live as long as the context: the
/// last request (or the handler) to let go of it stops them, and calls still waiting for the
/// engine are then answered 503 by `reply_once`.
struct api_context {
  caf::actor_system* sys = nullptr;
  engine_actor engine;
  api_options options;
  std::vector<caf::actor> bridges;
  mutable std::atomic<size_t> next_bridge{0};
  caf::actor publisher; // batches single-event publishes (see `publisher_bridge`)

  api_context() = default;
  api_context(const api_context&) = delete;
  api_context& operator=(const api_context&) = delete;

  ~api_context() {
    for (auto& bridge : bridges) caf::anon_send_exit(bridge, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(publisher, caf::exit_reason::user_shutdown);
  }

  /// Bridges round robin: calls spread over the scheduler's workers.
  const caf::actor& bridge() const {
    return bridges[next_bridge.fetch_add(1, std::memory_order_relaxed) % bridges.size()];
  }
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
      reply_(error_response(error_code::unavailable,
                            "unavailable: the engine stopped before answering", 503));
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
  if (err.category() == caf::atom("system")
      && static_cast<caf::sec>(err.code()) == caf::sec::request_receiver_down)
    return error_response(error_code::unavailable, "unavailable: the engine is down", 503);
  return error_response(err);
}

/// A bridge actor: runs the jobs it is sent; their answers arrive as continuations.
inline caf::behavior bridge_actor(caf::event_based_actor* self) {
  return {[self](bridge_job& job) { job.run(self); }};
}

/// The publisher bridge's state: single-event publishes gathered since its last batch.
struct publisher_bridge_state {
  static inline const char* name = "publisher_bridge";
  std::vector<publish_job> pending;
  bool flush_pending = false;
};

/// Turns the single-event publishes of many HTTP requests into one batch publish: every job already
/// in the mailbox when the `flush` comes goes into the same call (at most `max_batch`), so one
/// engine request and one answer serve them all. Each request still gets exactly what a
/// single-event publish answers: the stored event, or the error of its own event.
inline caf::behavior publisher_bridge(caf::stateful_actor<publisher_bridge_state>* self,
                                      engine_actor engine, caf::timespan timeout) {
  auto flush = [self, engine, timeout] {
    auto& st = self->state;
    st.flush_pending = false;
    while (!st.pending.empty()) {
      auto take = std::min<size_t>(st.pending.size(), 1024); // one batch's events at most
      auto jobs = std::make_shared<std::vector<publish_job>>(
        std::make_move_iterator(st.pending.begin()),
        std::make_move_iterator(st.pending.begin() + static_cast<ptrdiff_t>(take)));
      st.pending.erase(st.pending.begin(), st.pending.begin() + static_cast<ptrdiff_t>(take));
      event_list events;
      events.reserve(jobs->size());
      for (auto& job : *jobs) events.push_back(std::move(job.value));
      self->request(engine, timeout, publish_atom::value, std::move(events))
        .then(
          [jobs](publish_outcome_list& outcomes) {
            for (size_t i = 0; i < jobs->size(); ++i) {
              auto& reply = *(*jobs)[i].reply;
              if (i >= outcomes.size())
                reply(error_response(error_code::server, "the engine answered too few outcomes"));
              else if (accepted(outcomes[i])) {
                http_response res;
                res.body = to_json(outcomes[i].stored);
                reply(std::move(res));
              } else
                reply(engine_error_response(
                  make_error(outcomes[i].code, std::move(outcomes[i].message))));
            }
          },
          [jobs](caf::error& err) {
            for (auto& job : *jobs) (*job.reply)(engine_error_response(err));
          });
    }
  };
  return {
    [self](publish_job& job) {
      auto& st = self->state;
      st.pending.push_back(std::move(job));
      schedule_flush(self, st.flush_pending);
    },
    [flush](flush_atom) { flush(); },
  };
}

/// Sends `xs...` to the engine from one of the context's bridge actors; `on_value(Result&)` and
/// `on_error(caf::error&)` turn the answer into the HTTP response. A pool instead of an actor per
/// request: a spawn (registration, first scheduling, teardown) cost more than the call itself.
template <class Result, class OnValue, class OnError, class... Ts>
void ask_engine_handling(const api_context_ptr& ctx, reply_ptr reply, OnValue on_value,
                         OnError on_error, Ts... xs) {
  // The job holds the context until it ran, so the bridges outlive every job sent to them.
  bridge_job job{[=, reply = std::move(reply)](caf::event_based_actor* self) {
    self->request(ctx->engine, ctx->options.request_timeout, xs...)
      .then([reply, on_value](Result& value) { (*reply)(on_value(value)); },
            [reply, on_error](caf::error& err) { (*reply)(on_error(err)); });
  }};
  caf::anon_send(ctx->bridge(), std::move(job));
}

/// `ask_engine` with the usual error mapping.
template <class Result, class OnValue, class... Ts>
void ask_engine(const api_context_ptr& ctx, reply_ptr reply, OnValue on_value, Ts... xs) {
  ask_engine_handling<Result>(ctx, std::move(reply), std::move(on_value), engine_error_response,
                              std::move(xs)...);
}

} // namespace dispatch
