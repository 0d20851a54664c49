// The smallest program on an installed dispatch: an in-memory engine, one dispatcher, one event.
#include <iostream>

#include <caf/all.hpp>

#include "actors/spawn_engine.hpp"
#include "config/engine_config.hpp"
#include "config/log_config.hpp"
#include "logging/log.hpp"

void caf_main(caf::actor_system& sys, const dispatch::engine_system_config& cfg) {
  // The engine's log lines go into this program's own output, at the configured levels.
  auto log = dispatch::read_log_config(cfg);
  if (!log) {
    std::cerr << "configuration: " << dispatch::message_of(log.error()) << "\n";
    std::exit(1);
  }
  dispatch::configure_logging(*log);
  dispatch::set_log_writer([](const dispatch::log_line& line) {
    std::cout << "engine said: " << dispatch::format_log_line(line) << "\n";
  });
  dispatch::engine_config config;
  config.in_memory = true;
  config.data_dir = "consumer-memory";
  auto engine = dispatch::spawn_engine(sys, config);
  if (!engine) {
    std::cerr << "spawn_engine: " << dispatch::message_of(engine.error()) << "\n";
    std::exit(1);
  }
  caf::scoped_actor self{sys};
  dispatch::dispatcher d;
  d.event_type = "hello";
  dispatch::action a;
  a.function_name = "greet";
  d.actions = {a};
  bool ok = true;
  self->request(*engine, std::chrono::seconds(10), dispatch::create_atom::value, d)
    .receive([](const dispatch::dispatcher&) {}, [&](caf::error&) { ok = false; });
  dispatch::event ev;
  ev.type = "hello";
  self->request(*engine, std::chrono::seconds(10), dispatch::publish_atom::value, ev)
    .receive([](const dispatch::event& stored) { std::cout << "published " << stored.id << "\n"; },
             [&](caf::error&) { ok = false; });
  self->send_exit(*engine, caf::exit_reason::user_shutdown);
  if (!ok) std::exit(1);
  std::cout << "consumer ok\n";
}

CAF_MAIN()
