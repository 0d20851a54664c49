// The event as a JSON object, for filters and templates.
#include "messages/event_record.hpp"

#include <charconv>

#include <rapidjson/memorystream.h>

#include "messages/json_dom.hpp"

namespace dispatch {

bool is_event_record_path(const std::vector<std::string>& segments) {
  if (segments.empty()) return false;
  auto& first = segments.front();
  if (first == "content") return true;
  return segments.size() == 1 && (first == "id" || first == "type" || first == "creationTimestamp");
}

const rapidjson::Value& event_record::value() {
  if (built_) return doc_;
  built_ = true;
  rapidjson::MemoryStream stream(ev_.content.data(), ev_.content.size());
  doc_.ParseStream<dom_parse_flags>(stream);
  rapidjson::Value content;
  if (!doc_.HasParseError() && doc_.IsObject())
    content.Swap(doc_); // its strings stay in doc_'s allocator, which outlives them
  else
    content.SetObject();
  auto& alloc = doc_.GetAllocator();
  doc_.SetObject();
  doc_.AddMember("id", rapidjson::StringRef(ev_.id.data(), ev_.id.size()), alloc);
  doc_.AddMember("type", rapidjson::StringRef(ev_.type.data(), ev_.type.size()), alloc);
  doc_.AddMember("content", content, alloc);
  doc_.AddMember("creationTimestamp", static_cast<int64_t>(ev_.creation_timestamp), alloc);
  return doc_;
}

const rapidjson::Value* event_record::find(const std::vector<std::string>& path) {
  const rapidjson::Value* at = &value();
  for (auto& segment : path) {
    if (at->IsObject()) {
      auto member = at->FindMember(rapidjson::StringRef(segment.data(), segment.size()));
      if (member == at->MemberEnd()) return nullptr;
      at = &member->value;
    } else if (at->IsArray()) {
      rapidjson::SizeType index = 0;
      auto last = segment.data() + segment.size();
      auto [end, ec] = std::from_chars(segment.data(), last, index);
      if (ec != std::errc{} || end != last || index >= at->Size()) return nullptr;
      at = &(*at)[index];
    } else {
      return nullptr;
    }
  }
  return at;
}

} // namespace dispatch
