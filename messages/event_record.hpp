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
