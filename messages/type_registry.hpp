// Registers every message type of the engine with a CAF config, under names shared by every node.
#pragma once

#include <caf/actor_system_config.hpp>

namespace dispatch {

/// Adds our message types (and the typed handles that travel inside messages) to `cfg`.
void add_message_types(caf::actor_system_config& cfg);

} // namespace dispatch
