// A cluster node's host in the test process itself, as an embedding application builds it: its
// own config subclass, the cluster prepared before the actor system, an engine with a recording
// task sink of its own. The test spawns the node; `shut_down` checks the system stops.
#pragma once

#include <chrono>
#include <memory>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/spawn_engine.hpp"
#include "config/cluster_config.hpp"
#include "config/engine_config.hpp"
#include "fixtures/recording_sink.hpp"

namespace dispatch::test {

/// The configuration an embedding application writes: its own subclass, our options in it.
class user_config : public caf::actor_system_config {
public:
  user_config();
};

class embedded_host {
public:
  /// Prepares the cluster in a fresh config, makes the actor system, spawns the recording sink
  /// and the engine (fails the test when the engine does not start).
  embedded_host(engine_config engine, cluster_config cluster);
  ~embedded_host();
  embedded_host(const embedded_host&) = delete;
  embedded_host& operator=(const embedded_host&) = delete;

  /// Actors running in the system (scoped actors and CAF's own are hidden: not counted).
  size_t running() const;

  /// Stops the sink (the engine is the node's, or the test's, to stop) and destroys the actor
  /// system: its destructor waits for every actor, so a part left running shows as a hang. Ends
  /// the process with a message (it could not exit otherwise) when the destructor does not
  /// return within `limit`.
  void shut_down(std::chrono::seconds limit = std::chrono::seconds(60));

  /// Sends a request to `handle` and waits for the answer (30 s).
  template <class T, class... Ts>
  caf::expected<T> call(const engine_actor& handle, Ts&&... xs) {
    caf::expected<T> result{caf::error{}};
    caf::scoped_actor self{*sys};
    self->request(handle, std::chrono::seconds(30), std::forward<Ts>(xs)...)
      .receive([&](T& value) { result = std::move(value); },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  engine_config engine_cfg;
  cluster_config cluster_cfg;
  std::unique_ptr<user_config> config;
  std::unique_ptr<caf::actor_system> sys;
  sink_record_ptr tasks = std::make_shared<sink_record>();
  sink_actor sink;
  size_t baseline = 0; // actors running with the sink alone, before the engine
  cluster_engine_actor engine;
  engine_actor node; // set by the test once spawned; stopped by the destructor if still set
};

} // namespace dispatch::test
