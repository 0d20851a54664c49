// The shared, type-driven half of the option tables: meta states for the command line, defaults
// as settings values, reading a settings value into a typed field, and unknown-key checks.
#include "config/option_table.hpp"

#include <algorithm>
#include <limits>

#include <caf/make_config_option.hpp>

#include "messages/error_code.hpp"

namespace dispatch::detail {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// -- meta states ---------------------------------------------------------------------------------

caf::error accept_any(const caf::config_value&) {
  return caf::none;
}

void store_nothing(void*, const caf::config_value&) {
  // nop: options are read from the settings after parsing, never bound to variables
}

caf::config_value no_binding(const void*) {
  return caf::config_value{};
}

// Durations take plain integers (in the option's unit) or CAF durations such as `500ms`.
caf::expected<caf::config_value> parse_duration(void*, caf::string_view text) {
  if (auto count = caf::detail::option_meta_state_instance<int64_t>()->parse(nullptr, text))
    return count;
  return caf::detail::option_meta_state_instance<caf::timespan>()->parse(nullptr, text);
}

std::string trimmed(caf::string_view text) {
  auto first = text.find_first_not_of(" \t");
  if (first == caf::string_view::npos) return {};
  auto last = text.find_last_not_of(" \t");
  return std::string{text.substr(first, last - first + 1).data(), last - first + 1};
}

// Lists take CAF's syntax (`["a", "b"]`), a single value (`127.0.0.1`) or values separated by
// commas (`127.0.0.1,::1`): an address or token never contains a comma.
caf::expected<caf::config_value> parse_list(void*, caf::string_view text) {
  auto whole = trimmed(text);
  if (!whole.empty() && whole.front() == '[')
    return caf::detail::option_meta_state_instance<string_list>()->parse(nullptr, whole);
  caf::config_value::list items;
  size_t start = 0;
  while (start <= whole.size() && !whole.empty()) {
    auto comma = std::min(whole.find(',', start), whole.size());
    items.emplace_back(trimmed(caf::string_view{whole}.substr(start, comma - start)));
    start = comma + 1;
  }
  return caf::config_value{std::move(items)};
}

template <class T>
caf::config_option::meta_state lenient_meta(const char* type_name) {
  return {accept_any, store_nothing, no_binding,
          caf::detail::option_meta_state_instance<T>()->parse, type_name};
}

// The meta state of a field type. A boolean named "boolean" would make CAF treat it as a
// value-less flag, which could never be switched off on the command line (sync defaults to true).
template <class T>
caf::config_option::meta_state meta_for() {
  if constexpr (std::is_same_v<T, std::string>)
    return lenient_meta<std::string>("string");
  else if constexpr (std::is_same_v<T, bool>)
    return lenient_meta<bool>("bool");
  else if constexpr (std::is_same_v<T, uint16_t>)
    return lenient_meta<int64_t>("uint16"); // the reader names the key of a port out of range
  else if constexpr (std::is_same_v<T, uint32_t>)
    return lenient_meta<uint32_t>("uint32");
  else if constexpr (std::is_same_v<T, uint64_t>)
    return lenient_meta<int64_t>("uint64");
  else if constexpr (std::is_same_v<T, double>)
    return lenient_meta<double>("real");
  else if constexpr (std::is_same_v<T, string_list>)
    return {accept_any, store_nothing, no_binding, parse_list, "list of strings"};
  else
    return {accept_any, store_nothing, no_binding, parse_duration, "duration"};
}

// -- reading -------------------------------------------------------------------------------------

caf::error wrong_type(const std::string& key, const char* expected, const caf::config_value& v) {
  return config_error(key + ": expected " + expected + ", got " + caf::to_string(v));
}

// A string, or an INI 'single quoted' value, which CAF reads as an atom.
const std::string* text_of(const caf::config_value& v, std::string& buffer) {
  if (auto text = caf::get_if<std::string>(&v)) return text;
  if (auto atom = caf::get_if<caf::atom_value>(&v)) {
    buffer = caf::to_string(*atom);
    return &buffer;
  }
  return nullptr;
}

template <class Unsigned>
caf::error read_count(const std::string& key, const caf::config_value& v, Unsigned& out) {
  auto count = caf::get_if<int64_t>(&v);
  if (!count || *count < 0
      || static_cast<uint64_t>(*count) > std::numeric_limits<Unsigned>::max()) {
    if constexpr (sizeof(Unsigned) == 2)
      return wrong_type(key, "an integer between 0 and 65535", v);
    else if constexpr (sizeof(Unsigned) == 4)
      return wrong_type(key, "an unsigned 32-bit integer", v);
    else
      return wrong_type(key, "an unsigned integer", v);
  }
  out = static_cast<Unsigned>(*count);
  return caf::none;
}

template <class Duration>
caf::error read_duration(const std::string& key, const caf::config_value& v, Duration& out) {
  if (auto count = caf::get_if<int64_t>(&v)) {
    out = Duration{*count};
    return caf::none;
  }
  if (auto span = caf::get_if<caf::timespan>(&v)) {
    out = std::chrono::duration_cast<Duration>(*span);
    return caf::none;
  }
  return wrong_type(key, "an integer or a duration", v);
}

caf::error read_list(const std::string& key, const caf::config_value& v, string_list& out) {
  std::string buffer;
  if (auto single = text_of(v, buffer)) {
    out = {*single};
    return caf::none;
  }
  auto items = caf::get_if<caf::config_value::list>(&v);
  if (!items) return wrong_type(key, "a list of strings", v);
  string_list result;
  for (size_t i = 0; i < items->size(); ++i) {
    auto text = text_of((*items)[i], buffer);
    if (!text) return wrong_type(key + "[" + std::to_string(i) + "]", "a string", (*items)[i]);
    result.push_back(*text);
  }
  out = std::move(result);
  return caf::none;
}

// Levenshtein distance, to suggest the option a typo meant.
size_t edit_distance(const std::string& x, const std::string& y) {
  std::vector<size_t> row(y.size() + 1);
  for (size_t j = 0; j <= y.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= x.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= y.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (x[i - 1] != y[j - 1] ? 1 : 0)});
      diagonal = above;
    }
  }
  return row[y.size()];
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

bool is_known_section(const std::vector<std::string>& keys, const std::string& key) {
  for (auto& candidate : keys)
    if (candidate.compare(0, key.size() + 1, key + ".") == 0) return true;
  return false;
}

caf::error check_keys(const caf::settings& section, const std::string& section_name,
                      const std::string& prefix, const std::vector<std::string>& keys,
                      const std::vector<std::string>& foreign) {
  std::vector<std::string> candidates;
  for (auto& key : keys) candidates.push_back(section_name + "." + key);
  for (auto& [name, value] : section) {
    auto key = prefix + name;
    auto full_key = section_name + "." + key;
    auto nested = caf::get_if<caf::settings>(&value);
    if (nested && prefix.empty() && contains(foreign, name)) continue;
    if (contains(keys, key)) {
      if (nested) return config_error(full_key + ": expected a value, got a section");
      continue;
    }
    if (!nested) return unknown_option(full_key, candidates);
    if (!is_known_section(keys, key)) {
      // Name a whole key of the unknown section, as the user wrote it.
      for (auto entry = nested; entry != nullptr && !entry->empty();) {
        full_key += "." + entry->begin()->first;
        entry = caf::get_if<caf::settings>(&entry->begin()->second);
      }
      return unknown_option(full_key, candidates);
    }
    if (auto err = check_keys(*nested, section_name, key + ".", keys, foreign)) return err;
  }
  return caf::none;
}

} // namespace

const caf::config_option::meta_state* meta_of(const option_value_ref& ref) {
  return std::visit(
    [](auto* field) {
      // One instance of this lambda per field type, hence one meta state per type.
      static const auto meta = meta_for<std::remove_pointer_t<decltype(field)>>();
      return &meta;
    },
    ref);
}

caf::config_value to_config_value(const option_value_ref& ref) {
  return std::visit(
    [](auto* field) -> caf::config_value {
      using type = std::remove_pointer_t<decltype(field)>;
      if constexpr (std::is_same_v<type, milliseconds> || std::is_same_v<type, seconds>) {
        return caf::config_value{static_cast<int64_t>(field->count())};
      } else if constexpr (std::is_same_v<type, string_list>) {
        caf::config_value::list items(field->begin(), field->end());
        return caf::config_value{std::move(items)};
      } else if constexpr (std::is_integral_v<type> && !std::is_same_v<type, bool>) {
        return caf::config_value{static_cast<int64_t>(*field)};
      } else {
        return caf::config_value{*field};
      }
    },
    ref);
}

caf::error read_into(const std::string& key, const caf::config_value& v,
                     const option_value_ref& ref) {
  return std::visit(
    [&](auto* field) -> caf::error {
      using type = std::remove_pointer_t<decltype(field)>;
      if constexpr (std::is_same_v<type, std::string>) {
        std::string buffer;
        auto text = text_of(v, buffer);
        if (!text) return wrong_type(key, "a string", v);
        *field = *text;
      } else if constexpr (std::is_same_v<type, bool>) {
        auto flag = caf::get_if<bool>(&v);
        if (!flag) return wrong_type(key, "a boolean (true or false)", v);
        *field = *flag;
      } else if constexpr (std::is_same_v<type, double>) {
        if (auto real = caf::get_if<double>(&v))
          *field = *real;
        else if (auto count = caf::get_if<int64_t>(&v))
          *field = static_cast<double>(*count);
        else
          return wrong_type(key, "a number", v);
      } else if constexpr (std::is_same_v<type, string_list>) {
        return read_list(key, v, *field);
      } else if constexpr (std::is_integral_v<type>) {
        return read_count(key, v, *field);
      } else {
        return read_duration(key, v, *field);
      }
      return caf::none;
    },
    ref);
}

caf::error config_error(std::string message) {
  return make_error(error_code::field_format, std::move(message));
}

caf::error unknown_option(const std::string& key, const std::vector<std::string>& candidates) {
  std::string message = "unknown option " + key;
  std::string best;
  size_t best_distance = 3; // suggest only near misses
  for (auto& candidate : candidates) {
    auto distance = edit_distance(key, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  if (!best.empty()) message += "; did you mean " + best + "?";
  return config_error(std::move(message));
}

caf::error check_known_keys(const caf::settings& section, const std::string& section_name,
                            const std::vector<std::string>& keys,
                            const std::vector<std::string>& foreign) {
  return check_keys(section, section_name, "", keys, foreign);
}

} // namespace dispatch::detail
