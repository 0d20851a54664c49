// The rate check against a loopback webhook: publish ahead of the rate, count arrivals.
#include "bench/rate_check.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>
#include <sstream>
#include <thread>

#include <caf/all.hpp>

#include "actors/spawn_engine.hpp"
#include "bench/system_config.hpp"
#include "fixtures/http_test_server.hpp"
#include "messages/error_code.hpp"
#include "messages/ids.hpp"
#include "sinks/webhook_sink.hpp"

namespace dispatch::bench {

namespace {

using namespace std::chrono_literals;

constexpr uint32_t shards = 4;

/// Four event types, each on a shard of its own.
std::vector<std::string> types_on_every_shard() {
  std::vector<std::string> types;
  std::set<uint32_t> taken;
  for (int i = 0; types.size() < shards; ++i) {
    auto type = "rate-check." + std::to_string(i);
    if (taken.insert(shard_of(type, shards)).second) types.push_back(type);
  }
  return types;
}

/// Creates a dispatcher with one task action for `type` (and a mail action and a `rateLimit` of
/// `per_second` when that is given); an error's message when it failed.
std::string create(caf::scoped_actor& self, const engine_actor& engine, const std::string& type,
                   uint32_t per_second = 0) {
  dispatcher d;
  d.name = "rate check " + type;
  d.event_type = type;
  action a;
  a.kind = action_kind::task;
  a.name = "deliver";
  a.function_name = "rateCheck";
  a.data = "{}";
  d.actions.push_back(std::move(a));
  if (per_second > 0) {
    action mail;
    mail.kind = action_kind::mail;
    mail.name = "mail";
    mail.recipients.to = {"rate-check@example.com"};
    mail.template_id = "5e9f1b2c3d4e5f6a7b8c9d0e";
    d.actions.push_back(std::move(mail));
    d.rate_limit = rate_limit{static_cast<double>(per_second)};
  }
  std::string failure;
  self->request(engine, 10s, create_atom::value, d)
    .receive([](const dispatcher&) {},
             [&](const caf::error& err) { failure = "create: " + message_of(err); });
  return failure;
}

/// Publishes `count` events round-robin over `types`, in batches.
std::string publish(caf::scoped_actor& self, const engine_actor& engine,
                    const std::vector<std::string>& types, uint64_t count) {
  std::string failure;
  for (uint64_t sent = 0; sent < count && failure.empty();) {
    event_list batch;
    for (; batch.size() < 1000 && sent < count; ++sent) {
      event ev;
      ev.type = types[sent % types.size()];
      ev.content = "{\"n\":" + std::to_string(sent) + "}";
      batch.push_back(std::move(ev));
    }
    self->request(engine, 30s, publish_atom::value, std::move(batch))
      .receive(
        [&](const publish_outcome_list& outcomes) {
          for (auto& o : outcomes)
            if (!accepted(o)) failure = "publish: " + o.message;
        },
        [&](const caf::error& err) { failure = "publish: " + message_of(err); });
  }
  return failure;
}

} // namespace

rate_check_result run_rate_check(uint32_t rate, double warmup_s, double window_s,
                                 bool per_dispatcher) {
  rate_check_result r;
  r.per_dispatcher = per_dispatcher;
  r.configured = rate;
  test::http_test_server server;
  bench_system_config sys_config;
  caf::actor_system sys{sys_config};
  engine_config config;
  config.in_memory = true;
  config.sync = false;
  config.shards = shards;
  config.task_sink_rate = per_dispatcher ? 0 : rate;
  webhook_config hook;
  hook.url = server.url();
  auto sink = spawn_webhook_sink(sys, action_kind::task, hook);
  auto mail_sink = spawn_webhook_sink(sys, action_kind::mail, hook);
  if (!sink || !mail_sink) {
    r.failure = "webhook sink: " + message_of(sink ? mail_sink.error() : sink.error());
    return r;
  }
  engine_sinks sinks;
  sinks.task = sink_binding{*sink, true};
  sinks.mail = sink_binding{*mail_sink, false};
  auto stop_sinks = [&] {
    caf::anon_send_exit(*sink, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(*mail_sink, caf::exit_reason::user_shutdown);
  };
  auto engine = spawn_engine(sys, config, sinks);
  if (!engine) {
    r.failure = "engine: " + message_of(engine.error());
    stop_sinks();
    return r;
  }
  caf::scoped_actor self{sys};
  auto types = types_on_every_shard();
  // A dispatcher's rate: one dispatcher, all events of its type (each makes a task and a mail).
  if (per_dispatcher) types.resize(1);
  for (auto& type : types)
    if (r.failure.empty()) r.failure = create(self, *engine, type, per_dispatcher ? rate : 0);
  // More than the rate lets through in the whole run: the sink is never starved.
  auto total = static_cast<uint64_t>(std::ceil(rate * (warmup_s + window_s) * 1.2)) + 100;
  if (per_dispatcher) total = total / 2 + 50; // two deliveries an event
  if (r.failure.empty()) r.failure = publish(self, *engine, types, total);
  if (r.failure.empty()) {
    std::this_thread::sleep_for(std::chrono::duration<double>(warmup_s));
    auto from = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(window_s));
    auto to = std::chrono::steady_clock::now();
    for (auto& req : server.requests())
      if (req.arrival >= from && req.arrival < to) ++r.arrived;
    r.window_s = std::chrono::duration<double>(to - from).count();
    r.measured = static_cast<double>(r.arrived) / r.window_s;
    r.deviation = r.measured / rate - 1;
    r.ok = std::abs(r.deviation) <= 0.05;
    if (!r.ok) r.failure = "outside ±5% of the configured rate";
  }
  caf::anon_send_exit(*engine, caf::exit_reason::user_shutdown);
  stop_sinks();
  return r;
}

std::string to_json(const rate_check_result& r) {
  std::string failure;
  for (char c : r.failure) {
    if (c == '"' || c == '\\') failure += '\\';
    failure += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
  }
  std::ostringstream out;
  out.precision(6);
  out << "{\"check\":\"" << (r.per_dispatcher ? "dispatcher-rate" : "sink-rate")
      << "\",\"configured_per_s\":" << r.configured << ",\"window_s\":" << r.window_s
      << ",\"arrived\":" << r.arrived << ",\"measured_per_s\":" << r.measured
      << ",\"deviation\":" << r.deviation << ",\"ok\":" << (r.ok ? "true" : "false")
      << ",\"failure\":\"" << failure << "\"}";
  return out.str();
}

} // namespace dispatch::bench
