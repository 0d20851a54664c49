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

embedded_host::embedded_host(engine_config engine, cluster_config cluster)
  : engine_cfg(std::move(engine)), cluster_cfg(std::move(cluster)),
    config(std::make_unique<user_config>()) {
  prepare_cluster_system(*config, cluster_cfg);
  sys = std::make_unique<caf::actor_system>(*config);
  sink = spawn_recording_sink(*sys, tasks);
  engine_sinks sinks;
  sinks.task = sink_binding{sink, true}; // takes tasks at once, like a Task Service
  auto spawned = spawn_engine(*sys, engine_cfg, sinks);
  if (!spawned) {
    shut_down();
    BOOST_FAIL("spawn_engine: " << message_of(spawned.error()));
  }
  engine = *spawned;
}

embedded_host::~embedded_host() {
  // A test that failed half-way: stop what is left rather than hang in the destructor.
  if (sys) {
    if (engine)
      caf::anon_send_exit(engine, caf::exit_reason::user_shutdown);
    shut_down();
  }
}

size_t embedded_host::running() const {
  return sys->registry().running();
}

void embedded_host::shut_down(std::chrono::seconds limit) {
  if (sink)
    caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
  sink = nullptr;
  engine = nullptr;
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  std::thread{[s = std::move(sys), c = std::move(config), done]() mutable {
    s.reset(); // before the config it refers to
    c.reset();
    done->set_value();
  }}.detach();
  if (finished.wait_for(limit) != std::future_status::ready) {
    BOOST_ERROR("the actor system's destructor did not return within " << limit.count() << " s");
    std::cerr << "cluster_embedding: the actor system hangs on shutdown; ending the process\n";
    std::fflush(nullptr);
    std::_Exit(1);
  }
}

} // namespace dispatch::test
