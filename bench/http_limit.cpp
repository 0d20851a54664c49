// The gateway without the engine: what one io thread, Beast and loopback TCP alone answer per
// second on these cores, with the same load client and the same single-event requests as the
// `http` scenario. The engine's single POSTs cost this and more.
#include <chrono>
#include <memory>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "bench/http_load.hpp"
#include "bench/limits.hpp"
#include "bench/system_config.hpp"
#include "gateway/http_server.hpp"

namespace dispatch::bench {

namespace {

/// A request on its way to the answering actor (in process only).
struct pending_answer {
  std::string body;
  http_reply reply;
};

} // namespace

} // namespace dispatch::bench

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(dispatch::bench::pending_answer)

namespace dispatch::bench {

namespace {

using clock_type = std::chrono::steady_clock;

/// Answers each request with its own body, like the API answers a publish with the stored event.
http_response echo(std::string body) {
  http_response res;
  res.body = std::move(body);
  return res;
}

caf::behavior answering_actor(caf::event_based_actor*) {
  return {[](pending_answer& x) { x.reply(echo(std::move(x.body))); }};
}

} // namespace

limit_result http_limit(http_answer_path path, uint32_t connections, uint32_t event_bytes,
                        double seconds) {
  limit_result r;
  bool inline_answer = path == http_answer_path::io_thread;
  r.name = std::string{inline_answer ? "http-inline-" : "http-actor-"}
           + std::to_string(connections);
  r.description = std::string{"POST /events/v1/ of one event on "} + std::to_string(connections)
                  + " keep-alive connections, answered "
                  + (inline_answer ? "on the io thread" : "by a CAF actor")
                  + " with the request's body, no engine";
  r.record_bytes = event_bytes;
  r.batch = 1;
  bench_system_config cfg;
  caf::actor_system sys{cfg};
  auto answering = sys.spawn(answering_actor);
  http_handler handler;
  if (inline_answer)
    handler = [](http_request req, http_reply reply) { reply(echo(std::move(req.body))); };
  else
    handler = [answering](http_request req, http_reply reply) {
      caf::anon_send(answering, pending_answer{std::move(req.body), std::move(reply)});
    };
  http_config http;
  http.hosts = {"127.0.0.1"};
  http.port = 0;
  http.io_threads = 1;
  auto server = http_server::start(http, std::move(handler), nullptr);
  if (!server) {
    r.description += " (cannot start: " + caf::to_string(server.error()) + ")";
    return r;
  }
  scenario_params p;
  p.connections = connections;
  p.batch = 1;
  p.event_bytes = event_bytes;
  auto plan = std::make_shared<type_plan>();
  plan->names = {"limit"};
  plan->deliveries = {0};
  auto published = std::make_shared<publish_tally>();
  auto received = std::make_shared<sink_tally>();
  {
    http_load load{(*server)->endpoints().front().port, p, plan, published, received};
    std::this_thread::sleep_for(std::chrono::milliseconds(300)); // connections up, caches warm
    auto answered_before = published->acked.load();
    auto cpu_before = cpu_seconds();
    auto start = clock_type::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    auto answered = published->acked.load() - answered_before;
    r.window_s = std::chrono::duration<double>(clock_type::now() - start).count();
    r.records_per_s = answered / r.window_s;
    if (answered > 0) r.cpu_s_per_m_records = (cpu_seconds() - cpu_before) / answered * 1e6;
    published->stop.store(true);
    load.join();
  }
  if (published->has_error.load()) r.description += " (failed: " + published->first_error + ")";
  (*server)->shutdown(std::chrono::seconds(2));
  caf::anon_send_exit(answering, caf::exit_reason::user_shutdown);
  return r;
}

} // namespace dispatch::bench
