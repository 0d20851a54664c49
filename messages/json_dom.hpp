// How every DOM of ours is built from JSON text, in one place.
#pragma once

#include <cstdint>
#include <string>

#include <rapidjson/document.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace dispatch {

/// Iterative: hostile nesting never deepens our stack. Full precision: a number is read to the
/// double nearest its text, so a value written back (RapidJSON writes the shortest text that reads
/// back to the same double) is the value that came in; the default fast path is off by up to a few
/// units in the last place (`0.47203854259185996` came back as `0.47203854259186`).
inline constexpr unsigned dom_parse_flags = rapidjson::kParseIterativeFlag
                                            | rapidjson::kParseFullPrecisionFlag;

/// A value as compact JSON text (the writer recurses: for values whose depth is bounded, as
/// every DOM parsed from checked input is).
inline std::string compact_json(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> out{buffer};
  value.Accept(out);
  return {buffer.GetString(), buffer.GetSize()};
}

/// The string member `key` of `object`; empty when `object` is no object, or the member is absent
/// or not a string. For documents whose shape we wrote ourselves (a manifest, an answer of ours).
inline std::string member_text(const rapidjson::Value& object, const char* key) {
  if (!object.IsObject()) return {};
  auto i = object.FindMember(key);
  if (i == object.MemberEnd() || !i->value.IsString()) return {};
  return {i->value.GetString(), i->value.GetStringLength()};
}

/// The unsigned integer member `key` of `object`; 0 when absent, negative or not an integer.
inline uint64_t member_u64(const rapidjson::Value& object, const char* key) {
  if (!object.IsObject()) return 0;
  auto i = object.FindMember(key);
  return i != object.MemberEnd() && i->value.IsUint64() ? i->value.GetUint64() : 0;
}

} // namespace dispatch
