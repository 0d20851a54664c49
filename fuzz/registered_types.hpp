// The message types the fuzz target of the deserializers knows by number: the names our type
// registry adds to a CAF config (types, their vectors and streams), sorted, so that the first byte
// of an input means the same type in the seeds (fuzz/make_seeds.cpp) and in the target.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>

namespace dispatch::fuzz {

inline std::vector<std::string> registered_names(const caf::actor_system_config& cfg) {
  std::vector<std::string> names;
  for (auto& entry : cfg.value_factories_by_name)
    if (entry.first.find("dispatch.") != std::string::npos) names.push_back(entry.first);
  std::sort(names.begin(), names.end());
  return names;
}

} // namespace dispatch::fuzz
