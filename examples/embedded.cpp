// Embedding the engine in your own CAF actor system: a dispatcher with a task and a mail action,
// a few events, and what the (in-process) sinks receive.
#include <atomic>
#include <iostream>
#include <thread>

#include <caf/all.hpp>

#include "actors/spawn_engine.hpp"
#include "config/engine_config.hpp"
#include "config/log_config.hpp"

using namespace dispatch;

namespace {

/// Your own configuration: CAF's options plus the engine's `dispatch.*` options and message types.
class app_config : public caf::actor_system_config {
public:
  app_config() { prepare_config(*this, custom_options_); }
};

std::atomic<int> received{0};

/// An in-process sink: prints what it gets and reports each delivery delivered. A sink gets
/// deliveries in batches and answers one result per delivery, in order.
sink_actor::behavior_type printing_sink(sink_actor::pointer) {
  return {
    [](deliver_atom, const delivery_list& batch) {
      delivery_result_list results;
      for (auto& d : batch) {
        if (d.kind == action_kind::task)
          std::cout << "task  " << d.id << " " << d.task.function_name << " data=" << d.task.data
                    << "\n";
        else
          std::cout << "mail  " << d.id << " template=" << d.mail.template_id
                    << " to=" << d.mail.recipients.to.front() << " content=" << d.mail.content
                    << "\n";
        ++received;
        results.push_back(delivered());
      }
      return results;
    },
  };
}

template <class T, class... Ts>
T ask(caf::scoped_actor& self, const engine_actor& engine, Ts&&... xs) {
  T result;
  self->request(engine, std::chrono::seconds(10), std::forward<Ts>(xs)...)
    .receive([&](T& x) { result = std::move(x); },
             [&](caf::error& err) {
               std::cerr << "error: " << message_of(err) << "\n";
               std::exit(1);
             });
  return result;
}

void caf_main(caf::actor_system& sys, const app_config& cfg) {
  auto config = read_engine_config(cfg);
  if (!config) {
    std::cerr << "invalid configuration: " << message_of(config.error()) << "\n";
    std::exit(1);
  }
  // The engine's log: `dispatch.log.level` and `dispatch.log.components`, as for dispatchd.
  auto log = read_log_config(cfg);
  if (!log) {
    std::cerr << "invalid configuration: " << message_of(log.error()) << "\n";
    std::exit(1);
  }
  configure_logging(*log);
  if (config->data_dir == engine_config{}.data_dir) config->data_dir = "./var/embedded-example";
  std::cout << "data directory: " << config->data_dir << ", " << config->shards << " shards\n";
  auto sink = sys.spawn(printing_sink);
  engine_sinks sinks;
  sinks.task = sink_binding{sink, false};
  sinks.mail = sink_binding{sink, false};
  auto engine = spawn_engine(sys, *config, sinks);
  if (!engine) {
    std::cerr << "cannot start the engine: " << message_of(engine.error()) << "\n";
    std::exit(1);
  }
  caf::scoped_actor self{sys};
  dispatcher d;
  d.event_type = "user_created";
  action task;
  task.kind = action_kind::task;
  task.function_name = "provision-account";
  task.data = std::string{R"({"plan":"free"})"};
  action mail;
  mail.kind = action_kind::mail;
  mail.recipients.to = {"welcome-team@example.com"};
  mail.template_id = "5f0c9a1b2c3d4e5f60718293";
  d.actions = {task, mail};
  auto created = ask<dispatcher>(self, *engine, create_atom::value, d);
  std::cout << "dispatcher " << created.id << " for '" << created.event_type << "' with "
            << created.actions.size() << " actions\n";
  const int events = 3;
  for (int i = 0; i < events; ++i) {
    event ev;
    ev.type = "user_created";
    ev.content = R"({"userId":"user-)" + std::to_string(i) + R"("})";
    auto stored = ask<event>(self, *engine, publish_atom::value, ev);
    std::cout << "published " << stored.id << "\n";
  }
  for (int i = 0; i < 500 && received < 2 * events; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto stats = ask<engine_stats>(self, *engine, stats_atom::value);
  std::cout << "accepted " << stats.accepted << ", deliveries " << stats.deliveries_created
            << ", delivered " << stats.delivered << "\n";
  // Removing the example's dispatcher keeps repeated runs tidy.
  ask<uint32_t>(self, *engine, remove_atom::value, created.id);
  self->send_exit(*engine, caf::exit_reason::user_shutdown);
  self->send_exit(sink, caf::exit_reason::user_shutdown);
}

} // namespace

CAF_MAIN()
