// An event as content filters and task templates read it: the JSON object
// `{id, type, content, creationTimestamp}` (docs/api.md, "Beyond ExH"), built on first use and then
// shared by every dispatcher that reads the same event. The content is parsed once; the id and type
// are referenced, not copied; no JSON text is written for it.
#pragma once

#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "messages/event.hpp"

namespace dispatch {

/// Whether a dotted path (split at its dots) can name something in an event record: `content`
/// and keys below it, or `id`, `type` or `creationTimestamp` alone. Templates and ordering keys
/// are checked with it when stored, so a misspelt path is refused instead of never resolving.
bool is_event_record_path(const std::vector<std::string>& segments);

class event_record {
public:
  /// `ev` must outlive the record.
  explicit event_record(const event& ev) : ev_(ev) {}

  event_record(const event_record&) = delete;
  event_record& operator=(const event_record&) = delete;

  /// The record as a JSON object (content that does not parse reads as `{}`).
  const rapidjson::Value& value();

  /// The value at `path` (object keys; an array takes an index), or null when absent.
  const rapidjson::Value* find(const std::vector<std::string>& path);

private:
  const event& ev_;
  rapidjson::Document doc_;
  bool built_ = false;
};

} // namespace dispatch
