// Path matching for the HTTP API: a request target becomes a route (which call) with its path
// parameters and raw query, or "unknown path", or "known path, other method" (405).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dispatch {

enum class route_id {
  dispatchers_find,
  dispatchers_create,
  dispatcher_get,
  dispatcher_update,
  dispatcher_remove,
  action_add,
  action_update,
  action_remove,
  events_publish,
  events_publish_batch,
  events_find,
  event_rematch,
  event_discard,
  events_replay,
  replays_find,
  replay_cancel,
  tasks_find,
  mails_find,
  deliveries_find,
  delivery_replay,
  deliveries_replay,
  delivery_purge,
  health,
  metrics,
  cluster_status,
  backup_start,
  backup_status,
};

/// A request target split at the first '?': the path without one trailing '/' and the raw query.
struct split_target {
  std::string path;
  std::string query; // still percent-encoded; empty when there is no '?'
};

split_target split(std::string_view target);

enum class match_kind { found, unknown_path, wrong_method };

struct route_match {
  match_kind kind = match_kind::unknown_path;
  route_id route = route_id::health;
  std::vector<std::string> params; // the `{id}` segments, in path order, as sent
  std::string allowed;             // with wrong_method: the methods the path takes ("GET, POST")
};

/// Matches a method and a path (as `split` returns it) against the routes of docs/api.md.
route_match match_route(const std::string& method, const std::string& path);

/// True for the routes whose request carries a JSON body (create, update, add, publish).
bool takes_body(route_id route);

} // namespace dispatch
