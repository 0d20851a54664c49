// A templated task action's `data` (docs/api.md, "Beyond ExH"): string values that are exactly
// `{{event.<path>}}` become the JSON value at that path of the event (the key is left out when the
// path is absent); `{{event.<path>}}` inside a longer string becomes the value as text. Compiled
// once, when a dispatcher version is prepared, and then rendered per event without parsing it again.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <caf/expected.hpp>

#include "messages/event_record.hpp"

namespace dispatch {

class task_template {
public:
  struct node;

  /// Compiles `data` (JSON object text). A template that does not parse is error 15 naming its
  /// field under `path` (e.g. `actions[0].data.user: ...`).
  static caf::expected<task_template> compile(std::string_view data, const std::string& path);

  /// The task's data for one event with the event's own text left out: the head and tail around
  /// it, as `task_data_frame` (messages/json.hpp) makes for verbatim data.
  std::pair<std::string, std::string> render_frame(event_record& record) const;

  /// The filled data alone (no `event` key added), as JSON object text.
  std::string render(event_record& record) const;

private:
  std::shared_ptr<const node> root_;
};

} // namespace dispatch
