// The JSON codec's gate: the SAX pre-check every input passes before a DOM is built, and the
// ISO-8601 reader. Parsers live in json_parse.cpp, writers in json_write.cpp.
#include "messages/json.hpp"

#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

namespace dispatch {

namespace {

// Iterative: the reader keeps its own stack, so hostile nesting never deepens ours.
constexpr unsigned parse_flags = rapidjson::kParseIterativeFlag
                                 | rapidjson::kParseValidateEncodingFlag;
// For pure ASCII input, which is valid UTF-8 byte by byte: the reader's per-character encoding
// check is the costliest part of the pass, and escapes are still checked by the handler.
constexpr unsigned ascii_parse_flags = rapidjson::kParseIterativeFlag;

bool is_ascii(std::string_view text) {
  uint64_t seen = 0;
  size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, text.data() + i, 8);
    seen |= word;
  }
  for (; i < text.size(); ++i) seen |= static_cast<unsigned char>(text[i]);
  return (seen & 0x8080808080808080ull) == 0;
}

caf::error body_error(const std::string& reason) {
  return make_error(error_code::body_format, "body: " + reason);
}

// Quotes a key for a message, cut at 64 bytes on a UTF-8 boundary.
std::string quoted_key(const char* str, size_t len) {
  if (len > 64) {
    len = 64;
    while (len > 0 && (static_cast<unsigned char>(str[len]) & 0xC0) == 0x80) --len;
    return "\"" + std::string(str, len) + "...\"";
  }
  return "\"" + std::string(str, len) + "\"";
}

// The pre-check's SAX handler: counts nesting, remembers the keys of each open object and stops
// the reader at the first violation (the reader then reports kParseErrorTermination).
class check_handler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, check_handler> {
public:
  explicit check_handler(unsigned max_depth) : max_depth_(max_depth) {}

  bool Default() { return true; }

  bool String(const char* str, rapidjson::SizeType len, bool) { return check_escapes(str, len); }

  bool Key(const char* str, rapidjson::SizeType len, bool) {
    if (!check_escapes(str, len)) return false;
    if (!keys_[open_objects_ - 1].emplace(str, len).second) {
      reason_ = "duplicate key " + quoted_key(str, len);
      return false;
    }
    return true;
  }

  bool StartObject() {
    if (!enter()) return false;
    if (open_objects_ == keys_.size()) keys_.emplace_back();
    ++open_objects_;
    return true;
  }

  bool EndObject(rapidjson::SizeType) {
    keys_[--open_objects_].clear();
    --depth_;
    return true;
  }

  bool StartArray() { return enter(); }

  bool EndArray(rapidjson::SizeType) {
    --depth_;
    return true;
  }

  const std::string& reason() const { return reason_; }

private:
  bool enter() {
    if (++depth_ > max_depth_) {
      reason_ = "nesting deeper than " + std::to_string(max_depth_);
      return false;
    }
    return true;
  }

  // The reader validates raw bytes, but a lone low surrogate escape (`\udc00`) decodes to bytes
  // that are not UTF-8 (ED B0..BF ..): reject it here so no stored string is invalid.
  bool check_escapes(const char* str, size_t len) {
    for (auto p = static_cast<const char*>(std::memchr(str, '\xED', len)); p != nullptr;
         p = static_cast<const char*>(std::memchr(p + 1, '\xED', len - (p + 1 - str)))) {
      if (p + 1 < str + len && static_cast<unsigned char>(p[1]) >= 0xA0) {
        reason_ = "invalid UTF-8 (a lone surrogate escape)";
        return false;
      }
    }
    return true;
  }

  unsigned max_depth_;
  unsigned depth_ = 0;
  size_t open_objects_ = 0;
  std::vector<std::unordered_set<std::string>> keys_; // one per open object, reused
  std::string reason_;
};

} // namespace

caf::error check_json(std::string_view text, const json_limits& limits) {
  if (text.size() > limits.max_bytes)
    return body_error("larger than " + std::to_string(limits.max_bytes) + " bytes");
  // MemoryStream reads a NUL as the end of input; JSON never contains a raw NUL anyway.
  if (auto nul = text.find('\0'); nul != std::string_view::npos)
    return body_error("not valid JSON (offset " + std::to_string(nul) + ": a NUL byte)");
  rapidjson::MemoryStream stream(text.data(), text.size());
  check_handler handler{limits.max_depth};
  rapidjson::Reader reader;
  auto result = is_ascii(text) ? reader.Parse<ascii_parse_flags>(stream, handler)
                               : reader.Parse<parse_flags>(stream, handler);
  if (result) return {};
  if (!handler.reason().empty()) return body_error(handler.reason());
  auto offset = std::to_string(result.Offset());
  if (result.Code() == rapidjson::kParseErrorStringInvalidEncoding)
    return body_error("invalid UTF-8 (offset " + offset + ")");
  // RapidJSON calls a raw control character in a string an "invalid escape": say what it is.
  if (result.Code() == rapidjson::kParseErrorStringEscapeInvalid && result.Offset() < text.size()
      && static_cast<unsigned char>(text[result.Offset()]) < 0x20)
    return body_error("not valid JSON (offset " + offset
                      + ": a control character in a string must be escaped)");
  return body_error("not valid JSON (offset " + offset + ": "
                    + rapidjson::GetParseError_En(result.Code()) + ")");
}

bool is_object_text(std::string_view checked) {
  auto first = checked.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && checked[first] == '{';
}

bool is_json_object(std::string_view text, const json_limits& limits) {
  return !check_json(text, limits) && is_object_text(text);
}

// -- ISO-8601 --------------------------------------------------------------------------------------

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (era arithmetic: 400-year cycles).
int64_t days_from_civil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  auto era = (year >= 0 ? year : year - 399) / 400;
  auto year_of_era = static_cast<unsigned>(year - era * 400);
  auto day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  auto day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<int64_t>(day_of_era) - 719468;
}

unsigned days_in_month(int year, int month) {
  static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : days[month - 1];
}

// Reads the text left to right; every reader returns false on a mismatch.
struct iso_cursor {
  std::string_view text;
  size_t pos = 0;

  bool done() const { return pos == text.size(); }

  bool digit(int& value) {
    if (done() || text[pos] < '0' || text[pos] > '9') return false;
    value = value * 10 + (text[pos++] - '0');
    return true;
  }

  bool number(size_t width, int& value) {
    value = 0;
    for (size_t i = 0; i < width; ++i)
      if (!digit(value)) return false;
    return true;
  }

  bool literal(char c) {
    if (done() || text[pos] != c) return false;
    ++pos;
    return true;
  }

  // `.fff`: any 1..9 digits, truncated to milliseconds.
  bool fraction(int& millis) {
    millis = 0;
    size_t count = 0;
    for (int d = 0; digit(d); d = 0, ++count)
      if (count < 3) millis = millis * 10 + d;
    for (auto n = count; n < 3; ++n) millis *= 10;
    return count >= 1 && count <= 9;
  }

  // `Z`, `+hh:mm`, `-hh:mm`, `+hhmm`: the offset from UTC in minutes.
  bool offset(int& minutes) {
    if (literal('Z') || literal('z')) {
      minutes = 0;
      return true;
    }
    int sign = literal('+') ? 1 : (literal('-') ? -1 : 0);
    int hours = 0;
    int mins = 0;
    if (sign == 0 || !number(2, hours)) return false;
    literal(':');
    if (!number(2, mins) || hours > 23 || mins > 59) return false;
    minutes = sign * (hours * 60 + mins);
    return true;
  }
};

} // namespace

bool parse_iso8601(std::string_view text, timestamp_ms& out) {
  iso_cursor in{text};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millis = 0, offset = 0;
  if (!in.number(4, year) || !in.literal('-') || !in.number(2, month) || !in.literal('-')
      || !in.number(2, day) || !(in.literal('T') || in.literal('t')) || !in.number(2, hour)
      || !in.literal(':') || !in.number(2, minute) || !in.literal(':') || !in.number(2, second))
    return false;
  if (in.literal('.') && !in.fraction(millis)) return false;
  if (!in.offset(offset) || !in.done()) return false;
  if (month < 1 || month > 12 || day < 1 || static_cast<unsigned>(day) > days_in_month(year, month)
      || hour > 23 || minute > 59 || second > 59)
    return false;
  auto days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  auto seconds = ((days * 24 + hour) * 60 + minute - offset) * 60 + second;
  out = seconds * 1000 + millis;
  return true;
}

} // namespace dispatch
