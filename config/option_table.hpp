// Internal: the table machinery the `dispatch.*` readers share. One table per section drives the
// option set (`--help`), the defaults in the settings (`--dump-config`) and the reader.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <caf/config_option.hpp>
#include <caf/config_option_set.hpp>
#include <caf/config_value.hpp>
#include <caf/error.hpp>
#include <caf/settings.hpp>

namespace dispatch::detail {

using string_list = std::vector<std::string>;

/// Where an option's value lives once resolved against one config object; the alternative fixes
/// the option's type on the command line, in the help text and when read.
using option_value_ref
  = std::variant<std::string*, bool*, uint16_t*, uint32_t*, uint64_t*, double*,
                 std::chrono::milliseconds*, std::chrono::seconds*, string_list*>;

/// One option of a table over `Config`: its key below the table's section, where its value
/// lives (a function, so the table is a static value) and its help text.
template <class Config>
struct option_spec {
  template <class T>
  using getter = T& (*)(Config&);
  using field_ref
    = std::variant<getter<std::string>, getter<bool>, getter<uint16_t>, getter<uint32_t>,
                   getter<uint64_t>, getter<double>, getter<std::chrono::milliseconds>,
                   getter<std::chrono::seconds>, getter<string_list>>;
  const char* key; // below the section, e.g. "retry.initial"
  field_ref field;
  const char* help;
};

/// The option's meta state: every value is accepted into the settings and judged by the reader
/// (CAF drops a mistyped INI value silently otherwise); the command line parses by type.
const caf::config_option::meta_state* meta_of(const option_value_ref& ref);

/// A value as it goes into the settings (durations as integers in their unit).
caf::config_value to_config_value(const option_value_ref& ref);

/// Reads `value` into `ref`; the error names `key` and the expected type.
caf::error read_into(const std::string& key, const caf::config_value& value,
                     const option_value_ref& ref);

/// A configuration error (`field_format`) with `message`, which names the key.
caf::error config_error(std::string message);

/// The error for a key nobody declared, suggesting the nearest of `candidates` (full keys).
caf::error unknown_option(const std::string& key, const std::vector<std::string>& candidates);

/// Rejects every key of `section` (named `section_name`, e.g. "dispatch.http") that none of
/// `keys` (relative to the section) declares. Nested sections named in `foreign` are skipped:
/// another reader owns them.
caf::error check_known_keys(const caf::settings& section, const std::string& section_name,
                            const std::vector<std::string>& keys,
                            const std::vector<std::string>& foreign);

/// The options of one section below `dispatch`, e.g. "dispatch.http", over a config struct.
template <class Config>
class option_table {
public:
  option_table(std::string section, std::vector<option_spec<Config>> specs,
               std::vector<std::string> foreign = {})
      : section_(std::move(section)), specs_(std::move(specs)), foreign_(std::move(foreign)) {
    for (auto& spec : specs_) keys_.emplace_back(spec.key);
  }

  const std::string& section() const { return section_; }
  const std::vector<option_spec<Config>>& specs() const { return specs_; }

  std::string full_key(const option_spec<Config>& spec) const { return section_ + "." + spec.key; }

  /// Every full key, e.g. "dispatch.http.port".
  std::vector<std::string> full_keys() const {
    std::vector<std::string> result;
    for (auto& spec : specs_) result.push_back(full_key(spec));
    return result;
  }

  /// Declares the options, their help ending in "(default: ...)".
  void add_options(caf::config_option_set& options) const {
    Config defaults;
    for (auto& spec : specs_) {
      auto ref = resolve(spec, defaults);
      auto full = full_key(spec);
      auto dot = full.rfind('.');
      auto help = std::string{spec.help} + " (default: " + caf::to_string(to_config_value(ref))
                  + ")";
      options.add(
        caf::config_option{full.substr(0, dot), full.substr(dot + 1), help, meta_of(ref)});
    }
  }

  /// Puts the defaults into `content` where nothing is set yet.
  void put_defaults(caf::settings& content) const {
    Config defaults;
    for (auto& spec : specs_)
      caf::put_missing(content, full_key(spec), to_config_value(resolve(spec, defaults)));
  }

  /// Reads the section from the parsed settings into `out` (fields not given keep their value).
  /// Fails on unknown keys and wrong types, naming the key.
  caf::error read(const caf::settings& root, Config& out) const {
    if (auto entry = caf::get_if(&root, section_)) {
      auto section = caf::get_if<caf::settings>(entry);
      if (!section) return config_error(section_ + ": expected a section");
      if (auto err = check_known_keys(*section, section_, keys_, foreign_)) return err;
    }
    for (auto& spec : specs_)
      if (auto value = caf::get_if(&root, full_key(spec)))
        if (auto err = read_into(full_key(spec), *value, resolve(spec, out))) return err;
    return caf::none;
  }

private:
  static option_value_ref resolve(const option_spec<Config>& spec, Config& cfg) {
    return std::visit([&](auto get) -> option_value_ref { return &get(cfg); }, spec.field);
  }

  std::string section_;
  std::vector<option_spec<Config>> specs_;
  std::vector<std::string> foreign_;
  std::vector<std::string> keys_;
};

} // namespace dispatch::detail
