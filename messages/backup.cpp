// Names of the backup states, as the API and the logs spell them.
#include "messages/backup.hpp"

#include <cstdio>
#include <iterator>

namespace dispatch {

const char* to_string(backup_state state) {
  switch (state) {
    case backup_state::running:
      return "running";
    case backup_state::done:
      return "done";
    case backup_state::failed:
      return "failed";
    default:
      return "none";
  }
}

std::string size_text(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  auto value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f %s", value, units[unit]);
  return text;
}

} // namespace dispatch
