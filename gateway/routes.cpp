// The route table of docs/api.md and its matcher. A literal segment beats a `{id}` placeholder, so
// `/deliveries/v1/replay` is the bulk replay, not the delivery with id "replay".
#include "gateway/routes.hpp"

#include <array>

namespace dispatch {

namespace {

struct route_entry {
  const char* method;
  const char* pattern; // segments joined by '/', "{}" matches one non-empty segment
  route_id route;
};

// Each ExH service also answers its own `/<service>/v1/health` (the SDK's `health()` calls).
constexpr std::array<route_entry, 32> route_table = {{
  {"GET", "dispatchers/v1", route_id::dispatchers_find},
  {"POST", "dispatchers/v1", route_id::dispatchers_create},
  {"GET", "dispatchers/v1/{}", route_id::dispatcher_get},
  {"PUT", "dispatchers/v1/{}", route_id::dispatcher_update},
  {"DELETE", "dispatchers/v1/{}", route_id::dispatcher_remove},
  {"POST", "dispatchers/v1/{}/actions", route_id::action_add},
  {"PUT", "dispatchers/v1/{}/actions/{}", route_id::action_update},
  {"DELETE", "dispatchers/v1/{}/actions/{}", route_id::action_remove},
  {"GET", "events/v1", route_id::events_find},
  {"POST", "events/v1", route_id::events_publish},
  {"POST", "events/v1/batch", route_id::events_publish_batch},
  {"POST", "events/v1/{}/replay", route_id::event_rematch},
  {"DELETE", "events/v1/{}", route_id::event_discard},
  {"POST", "events/v1/replay", route_id::events_replay},
  {"GET", "events/v1/replays", route_id::replays_find},
  {"DELETE", "events/v1/replays/{}", route_id::replay_cancel},
  {"GET", "tasks/v1", route_id::tasks_find},
  {"GET", "mail/v1", route_id::mails_find},
  {"GET", "deliveries/v1", route_id::deliveries_find},
  {"POST", "deliveries/v1/replay", route_id::deliveries_replay},
  {"DELETE", "deliveries/v1/{}", route_id::delivery_purge},
  {"POST", "deliveries/v1/{}/replay", route_id::delivery_replay},
  {"GET", "health", route_id::health},
  {"GET", "dispatchers/v1/health", route_id::health},
  {"GET", "events/v1/health", route_id::health},
  {"GET", "tasks/v1/health", route_id::health},
  {"GET", "mail/v1/health", route_id::health},
  {"GET", "deliveries/v1/health", route_id::health},
  {"GET", "metrics", route_id::metrics},
  {"GET", "cluster/v1", route_id::cluster_status},
  {"POST", "admin/v1/backup", route_id::backup_start},
  {"GET", "admin/v1/backup", route_id::backup_status},
}};

std::vector<std::string_view> segments_of(std::string_view path) {
  std::vector<std::string_view> result;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  size_t start = 0;
  while (true) {
    auto slash = path.find('/', start);
    result.push_back(path.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) return result;
    start = slash + 1;
  }
}

// How well a pattern matches the segments: -1 for no match, else its count of literal segments
// (the most literal pattern wins). Placeholders collect the segments they matched.
int score(const char* pattern, const std::vector<std::string_view>& segments,
          std::vector<std::string>* params) {
  auto parts = segments_of(pattern);
  if (parts.size() != segments.size()) return -1;
  int literals = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i] == "{}") {
      if (segments[i].empty()) return -1;
      if (params) params->emplace_back(segments[i]);
    } else if (parts[i] == segments[i]) {
      ++literals;
    } else {
      return -1;
    }
  }
  return literals;
}

} // namespace

split_target split(std::string_view target) {
  split_target result;
  auto question = target.find('?');
  auto path = target.substr(0, question);
  if (question != std::string_view::npos) result.query = std::string{target.substr(question + 1)};
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  result.path = std::string{path};
  return result;
}

route_match match_route(const std::string& method, const std::string& path) {
  route_match result;
  auto segments = segments_of(path);
  int best = -1;
  for (auto& entry : route_table) best = std::max(best, score(entry.pattern, segments, nullptr));
  if (best < 0) return result;
  for (auto& entry : route_table) {
    if (score(entry.pattern, segments, nullptr) != best) continue;
    // HEAD is GET without the body (the session drops it): every GET route answers it too.
    std::string_view accepts = entry.method;
    if (method == accepts || (method == "HEAD" && accepts == "GET")) {
      result.kind = match_kind::found;
      result.route = entry.route;
      result.allowed.clear();
      score(entry.pattern, segments, &result.params);
      return result;
    }
    result.kind = match_kind::wrong_method;
    result.allowed += result.allowed.empty() ? "" : ", ";
    result.allowed += accepts == "GET" ? "GET, HEAD" : entry.method;
  }
  return result;
}

bool takes_body(route_id route) {
  switch (route) {
    case route_id::dispatchers_create:
    case route_id::dispatcher_update:
    case route_id::action_add:
    case route_id::action_update:
    case route_id::events_publish:
    case route_id::events_publish_batch:
    case route_id::events_replay:
    case route_id::backup_start:
      return true;
    default:
      return false;
  }
}

} // namespace dispatch
