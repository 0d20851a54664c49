// The embedded host (embedded_host.hpp): an application's own actor system with the cluster
// prepared, and a shutdown that turns a hanging actor system destructor into a test failure.
#include "embedded_host.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <future>
#include <iostream>
#include <thread>

#include <caf/send.hpp>

#include "cluster/spawn_node.hpp"
#include "messages/error_code.hpp"

namespace dispatch::test {

user_config::user_config() {
  prepare_config(*this, custom_options_);
}

embedded_host::embedded_host(engine_config engine_cfg_in, cluster_config cluster_cfg_in)
    : engine_cfg(std::move(engine_cfg_in)), cluster_cfg(std::move(cluster_cfg_in)),
      config(std::make_unique<user_config>()) {
  prepare_cluster_system(*config, cluster_cfg);
  sys = std::make_unique<caf::actor_system>(*config);
  sink = spawn_recording_sink(*sys, tasks);
  baseline = running();
  engine_sinks sinks;
  sinks.task = sink_binding{sink, true}; // takes tasks at once, like a Task Service
  auto spawned = spawn_cluster_engine(*sys, engine_cfg, sinks);
  if (!spawned) {
    shut_down();
    BOOST_FAIL("spawn_engine: " << message_of(spawned.error()));
  }
  engine = *spawned;
  // Answered once the facade runs, and with it its readers and prober: what `running()` counts
  // from here on is the whole engine.
  if (!call<engine_stats>(engine, stats_atom::value)) BOOST_FAIL("the engine does not answer");
}

embedded_host::~embedded_host() {
  // A test that failed half-way: stop what is left rather than hang in the destructor.
  if (sys) {
    if (node) caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
    if (engine) caf::anon_send_exit(engine, caf::exit_reason::user_shutdown);
    shut_down();
  }
}

size_t embedded_host::running() const {
  return sys->registry().running();
}

void embedded_host::shut_down(std::chrono::seconds limit) {
  if (sink) caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
  sink = nullptr;
  engine = nullptr;
  node = nullptr;
  // Destroyed here, on the thread that made it: destroyed on another thread, CAF 0.17 kept
  // waiting for a detached actor of the engine in our runs. A watchdog ends a hang.
  std::promise<void> done;
  std::thread watchdog{[finished = done.get_future(), limit]() {
    if (finished.wait_for(limit) != std::future_status::ready) {
      std::cerr << "cluster_embedding: the actor system's destructor did not return within "
                << limit.count() << " s; ending the process\n";
      std::fflush(nullptr);
      std::_Exit(1);
    }
  }};
  sys.reset(); // before the config it refers to
  config.reset();
  done.set_value();
  watchdog.join();
}

} // namespace dispatch::test
