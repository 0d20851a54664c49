// The logger's configuration (`dispatch.log.*`): the global level and the levels of single
// components. Read after parsing, like the other sections; bad names and levels are refused by key.
#pragma once

#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>

#include "logging/log.hpp"

namespace dispatch {

/// Adds the `dispatch.log.*` options (with their defaults) for `--help`, INI files and the CLI.
/// `prepare_config` (config/engine_config.hpp) adds them too.
void add_log_options(caf::config_option_set& options);

/// Puts the defaults into the settings, so `--dump-config` shows the effective configuration.
void put_log_defaults(caf::actor_system_config& cfg);

/// Reads `dispatch.log.level` and `dispatch.log.components` (a list of `COMPONENT=LEVEL`, e.g.
/// `["matcher=debug", "http=warning"]`) after parsing. Fails on unknown keys, levels and
/// components, naming the key. Put the result in force with `configure_logging`.
caf::expected<log_config> read_log_config(const caf::actor_system_config& cfg);

} // namespace dispatch
