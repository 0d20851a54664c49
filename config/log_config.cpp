// The `dispatch.log.*` options: one table for the option set, the defaults and the reader, then
// the names a string can still get wrong (levels, components).
#include "config/log_config.hpp"

#include "config/option_table.hpp"

namespace dispatch {

namespace {

struct log_options {
  std::string level = "info";
  detail::string_list components;
};

const detail::option_table<log_options>& log_table() {
  static const detail::option_table<log_options> table{
    "dispatch.log",
    {
      {"level", +[](log_options& c) -> std::string& { return c.level; },
       "log detail on stderr: error, warning, info or debug"},
      {"components", +[](log_options& c) -> detail::string_list& { return c.components; },
       "levels of single components, e.g. [\"matcher=debug\", \"http=warning\"]"},
    }};
  return table;
}

const char* const level_choices = "error, warning, info or debug";

std::string component_choices() {
  std::string result;
  for (auto component : log_components())
    result += (result.empty() ? "" : ", ") + std::string{to_string(component)};
  return result;
}

caf::expected<std::pair<log_component, log_level>> read_component_level(const std::string& key,
                                                                        const std::string& item) {
  auto equals = item.find('=');
  if (equals == std::string::npos)
    return detail::config_error(key + ": expected COMPONENT=LEVEL (e.g. matcher=debug), got \""
                                + item + "\"");
  auto name = item.substr(0, equals);
  auto component = log_component_named(name);
  if (!component)
    return detail::config_error(key + ": unknown component \"" + name
                                + "\" (components: " + component_choices() + ")");
  auto level_name = item.substr(equals + 1);
  auto level = log_level_named(level_name);
  if (!level)
    return detail::config_error(key + ": expected " + level_choices + " after " + name + "=, got \""
                                + level_name + "\"");
  return std::make_pair(*component, *level);
}

} // namespace

void add_log_options(caf::config_option_set& options) {
  log_table().add_options(options);
}

void put_log_defaults(caf::actor_system_config& cfg) {
  log_table().put_defaults(cfg.content);
}

caf::expected<log_config> read_log_config(const caf::actor_system_config& cfg) {
  log_options options;
  if (auto err = log_table().read(caf::content(cfg), options)) return err;
  log_config result;
  auto level = log_level_named(options.level);
  if (!level)
    return detail::config_error(std::string{"dispatch.log.level: expected "} + level_choices
                                + ", got \"" + options.level + "\"");
  result.level = *level;
  for (size_t i = 0; i < options.components.size(); ++i) {
    auto key = "dispatch.log.components[" + std::to_string(i) + "]";
    auto entry = read_component_level(key, options.components[i]);
    if (!entry) return entry.error();
    result.components.push_back(*entry);
  }
  return result;
}

} // namespace dispatch
