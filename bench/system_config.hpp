// The actor system configuration of every benchmark run: the engine's message types, CAF's own
// log quiet, and the scheduler policy asked for.
#pragma once

#include <string>

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>

#include "messages/type_registry.hpp"

namespace dispatch::bench {

class bench_system_config : public caf::actor_system_config {
public:
  /// `scheduler`: "sharing" (the default of every run, see scenario_params) or CAF's default.
  explicit bench_system_config(const std::string& scheduler = "sharing") {
    dispatch::add_message_types(*this);
    set("logger.verbosity", caf::atom("quiet"));
    if (scheduler == "sharing") set("scheduler.policy", caf::atom("sharing"));
  }
};

} // namespace dispatch::bench
