// A quick throughput run: publishes N events (one task action each) in batches with a window of
// requests in flight, and measures from the first publish until an in-process sink has them all.
// Usage: throughput [--events=N] [--batch=B] [--window=W] [--dispatchers=0|1] [--dispatch.*]
// With THROUGHPUT_TRACE set it prints the engine's queue depths every 250 ms while it drains.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <iostream>
#include <thread>

#include <caf/all.hpp>

#include "actors/spawn_engine.hpp"
#include "config/engine_config.hpp"

using namespace dispatch;

namespace {

class throughput_config : public caf::actor_system_config {
public:
  uint64_t events = 200000;
  uint64_t batch = 256;
  uint64_t window = 16;
  uint64_t dispatchers = 1;

  throughput_config() {
    prepare_config(*this, custom_options_);
    opt_group{custom_options_, "global"}
      .add(events, "events", "number of events to publish")
      .add(batch, "batch", "events per publish request")
      .add(window, "window", "publish requests in flight")
      .add(dispatchers, "dispatchers", "1: one dispatcher; 0: none (ingest and matching alone)");
  }
};

std::atomic<uint64_t> received{0};

sink_actor::behavior_type counting_sink(sink_actor::pointer) {
  return {
    [](deliver_atom, const delivery_list& batch) {
      received.fetch_add(batch.size(), std::memory_order_relaxed);
      return delivery_result_list(batch.size(), delivered());
    },
  };
}

void caf_main(caf::actor_system& sys, const throughput_config& cfg) {
  auto config = read_engine_config(cfg);
  if (!config) {
    std::cerr << "invalid configuration: " << message_of(config.error()) << "\n";
    std::exit(1);
  }
  if (config->data_dir == engine_config{}.data_dir) config->data_dir = "./var/throughput";
  std::filesystem::remove_all(config->data_dir);
  auto sink = sys.spawn(counting_sink);
  engine_sinks sinks;
  sinks.task = sink_binding{sink, false};
  auto engine = spawn_engine(sys, *config, sinks);
  if (!engine) {
    std::cerr << "cannot start the engine: " << message_of(engine.error()) << "\n";
    std::exit(1);
  }
  caf::scoped_actor self{sys};
  dispatcher d;
  d.event_type = "order_paid";
  action task;
  task.function_name = "invoice";
  task.data = std::string{R"({"currency":"EUR"})"};
  d.actions = {task};
  if (cfg.dispatchers > 0)
    self->request(*engine, std::chrono::seconds(10), create_atom::value, d)
      .receive([](const dispatcher&) {},
               [](caf::error& err) {
                 std::cerr << message_of(err) << "\n";
                 std::exit(1);
               });
  // About 400 bytes of JSON per event.
  std::string padding(330, 'x');
  event_list batch(cfg.batch);
  for (auto& ev : batch) {
    ev.type = "order_paid";
    ev.content = R"({"orderId":"o-1","amount":1999,"note":")" + padding + "\"}";
  }
  auto start = std::chrono::steady_clock::now();
  // A publisher actor keeps `window` batch requests in flight until every event is acknowledged.
  std::promise<void> all_acked;
  auto publisher = sys.spawn([&, target = *engine](caf::event_based_actor* client) {
    struct progress {
      uint64_t sent = 0;
      uint64_t acked = 0;
    };
    auto state = std::make_shared<progress>();
    auto send_one = std::make_shared<std::function<void()>>();
    *send_one = [&, client, state, send_one, target] {
      if (state->sent >= cfg.events) return;
      state->sent += batch.size();
      client->request(target, std::chrono::seconds(60), publish_atom::value, batch)
        .then([&, state, send_one](const publish_outcome_list& outcomes) {
          for (auto& o : outcomes)
            if (!accepted(o)) {
              std::cerr << "rejected: " << o.message << "\n";
              std::exit(1);
            }
          state->acked += outcomes.size();
          if (state->acked >= cfg.events)
            all_acked.set_value();
          else
            (*send_one)();
        });
    };
    for (uint64_t i = 0; i < cfg.window; ++i) (*send_one)();
  });
  all_acked.get_future().wait();
  auto acked_at = std::chrono::steady_clock::now();
  if (getenv("THROUGHPUT_TRACE"))
    for (int i = 0; i < 200 && received.load() < cfg.events; ++i) {
      self->request(*engine, std::chrono::seconds(10), stats_atom::value)
        .receive(
          [](const engine_stats& s) {
            std::cerr << "inbox " << s.inbox_depth << " pending " << s.pending_depth
                      << " in_flight " << s.in_flight << " delivered " << s.delivered << "\n";
          },
          [](caf::error&) {});
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  while (cfg.dispatchers > 0 && received.load() < cfg.events)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  auto done = std::chrono::steady_clock::now();
  auto secs = [&](auto t) { return std::chrono::duration<double>(t - start).count(); };
  std::cout << "{\"events\":" << cfg.events << ",\"batch\":" << cfg.batch
            << ",\"sync\":" << (config->sync ? "true" : "false") << ",\"shards\":" << config->shards
            << ",\"acked_per_s\":" << static_cast<uint64_t>(cfg.events / secs(acked_at))
            << ",\"delivered_per_s\":" << static_cast<uint64_t>(cfg.events / secs(done))
            << ",\"seconds\":" << secs(done) << "}\n";
  self->send_exit(*engine, caf::exit_reason::user_shutdown);
  self->send_exit(sink, caf::exit_reason::user_shutdown);
  self->send_exit(publisher, caf::exit_reason::user_shutdown);
}

} // namespace

CAF_MAIN()
