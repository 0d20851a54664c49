// Directory: the only writer of dispatcher definitions. Validates, keeps names unique, persists, then
// installs the change in the owning matcher and replies only once the matcher acknowledged it, so the
// next publish sees the change. Reads are answered from its own full copy.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "actors/fan_out.hpp"
#include "config/engine_config.hpp"
#include "messages/interfaces.hpp"
#include "messages/query_eval.hpp"
#include "persistence/store.hpp"

namespace dispatch {

struct directory_state {
  static inline const char* name = "directory";

  engine_config config;
  store_ptr db;
  matcher_list matchers;

  std::unordered_map<std::string, dispatcher> dispatchers; // by id
  std::unordered_map<std::string, std::string> names;      // dispatcher name -> id
  std::unordered_map<std::string, uint32_t> per_type;      // event type -> dispatchers
  record_set records;   // the API shape of every dispatcher, for find
  uint64_t version = 0; // of the latest change
  fan_out_ptr fan_out;  // actions per event type, for ingest
};

/// Spawns with the configuration, the store and the matchers; loads every stored dispatcher.
directory_actor::behavior_type directory(directory_actor::stateful_pointer<directory_state> self,
                                         engine_config config, store_ptr db, matcher_list matchers,
                                         fan_out_ptr fan_out);

} // namespace dispatch
