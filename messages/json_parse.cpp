// The JSON codec's parsers for docs/api.md's bodies. They read fields and their types only (code 15 for a
// wrong type, naming the field); every semantic rule is validation.cpp's, run on the typed result.
#include "messages/json.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>

#include <rapidjson/document.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "messages/ids.hpp"
#include "messages/json_dom.hpp"
#include "messages/validation.hpp"

namespace dispatch {

namespace {

// Builds a DOM with every number read from its own text: integers exactly (64 bit, signed or
// not), any other number as the double nearest its text (std::from_chars rounds correctly), and
// `-0` as the negative zero RapidJSON's integer path turns into 0.
class exact_numbers {
public:
  explicit exact_numbers(rapidjson::Document& doc) : doc_(doc) {}

  bool Null() { return doc_.Null(); }
  bool Bool(bool x) { return doc_.Bool(x); }
  bool Int(int x) { return doc_.Int(x); }
  bool Uint(unsigned x) { return doc_.Uint(x); }
  bool Int64(int64_t x) { return doc_.Int64(x); }
  bool Uint64(uint64_t x) { return doc_.Uint64(x); }
  bool Double(double x) { return doc_.Double(x); }
  bool String(const char* str, rapidjson::SizeType len, bool copy) {
    return doc_.String(str, len, copy);
  }
  bool StartObject() { return doc_.StartObject(); }
  bool Key(const char* str, rapidjson::SizeType len, bool copy) { return doc_.Key(str, len, copy); }
  bool EndObject(rapidjson::SizeType count) { return doc_.EndObject(count); }
  bool StartArray() { return doc_.StartArray(); }
  bool EndArray(rapidjson::SizeType count) { return doc_.EndArray(count); }

  bool RawNumber(const char* str, rapidjson::SizeType len, bool) {
    auto end = str + len;
    bool integral = std::find_if(str, end, [](char c) { return c == '.' || c == 'e' || c == 'E'; })
                    == end;
    if (integral && len == 2 && str[0] == '-' && str[1] == '0') return doc_.Double(-0.0);
    if (integral && str[0] == '-') {
      int64_t x = 0;
      if (auto [at, ec] = std::from_chars(str, end, x); ec == std::errc{} && at == end)
        return doc_.Int64(x);
    } else if (integral) {
      uint64_t x = 0;
      if (auto [at, ec] = std::from_chars(str, end, x); ec == std::errc{} && at == end)
        return x <= static_cast<uint64_t>(INT64_MAX) ? doc_.Int64(static_cast<int64_t>(x))
                                                     : doc_.Uint64(x);
    }
    double x = 0;
    auto [at, ec] = std::from_chars(str, end, x);
    if (ec == std::errc::result_out_of_range) // beyond the doubles: RapidJSON's own reading
      return doc_.Double(std::strtod(std::string{str, len}.c_str(), nullptr));
    return ec == std::errc{} && at == end && doc_.Double(x);
  }

private:
  rapidjson::Document& doc_;
};

bool is_blank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// Checks, then builds the DOM of a body that must be present.
caf::error load_body(std::string_view text, const json_limits& limits, rapidjson::Document& doc) {
  if (is_blank(text)) return make_error(error_code::empty_body, "body: empty");
  if (auto err = check_json(text, limits)) return err;
  // Built only from text `check_json` passed (encoding included): no second check.
  bool parsed = false;
  auto read = [&](rapidjson::Document& handler) {
    rapidjson::MemoryStream stream(text.data(), text.size());
    rapidjson::Reader reader;
    exact_numbers exact{handler};
    parsed = !reader.Parse<dom_parse_flags | rapidjson::kParseNumbersAsStringsFlag>(stream, exact)
                .IsError();
    return parsed;
  };
  doc.Populate(read);
  if (!parsed) // unreachable after the check; kept so a half-built DOM is never read
    return make_error(error_code::body_format, "body: not valid JSON");
  return {};
}

caf::error load_object(std::string_view text, const json_limits& limits, rapidjson::Document& doc) {
  if (auto err = load_body(text, limits, doc)) return err;
  if (!doc.IsObject()) return make_error(error_code::body_format, "body: must be a JSON object");
  return {};
}

} // namespace

namespace {

using json_value = rapidjson::Value;

std::string path_of(const std::string& prefix, const char* key) {
  return prefix.empty() ? std::string{key} : prefix + "." + key;
}

caf::error format_error(const std::string& path, const char* reason) {
  return make_error(error_code::field_format, path + ": " + reason);
}

// A member that is present and not null: clients write null for "not set", so null reads as absent.
const json_value* member(const json_value& object, const char* key) {
  auto i = object.FindMember(key);
  if (i == object.MemberEnd() || i->value.IsNull()) return nullptr;
  return &i->value;
}

caf::error read_text(const json_value& value, const std::string& path, std::string& out) {
  if (!value.IsString()) return format_error(path, "must be a string");
  out.assign(value.GetString(), value.GetStringLength());
  return {};
}

caf::error read_texts(const json_value& value, const std::string& path, string_list& out) {
  if (!value.IsArray()) return format_error(path, "must be an array of strings");
  out.clear();
  out.reserve(value.Size());
  for (rapidjson::SizeType i = 0; i < value.Size(); ++i) {
    if (!value[i].IsString())
      return format_error(path + "[" + std::to_string(i) + "]", "must be a string");
    out.emplace_back(value[i].GetString(), value[i].GetStringLength());
  }
  return {};
}

caf::error read_object(const json_value& value, const std::string& path, std::string& out) {
  if (!value.IsObject()) return format_error(path, "must be a JSON object");
  out = compact_json(value); // depth already bounded by check_json
  return {};
}

caf::error read_integer(const json_value& value, const std::string& path, int64_t& out) {
  if (!value.IsInt64()) return format_error(path, "must be an integer (64 bit)");
  out = value.GetInt64();
  return {};
}

caf::error read_time(const json_value& value, const std::string& path, timestamp_ms& out) {
  if (value.IsInt64()) {
    out = value.GetInt64();
    return {};
  }
  if (value.IsString() && parse_iso8601({value.GetString(), value.GetStringLength()}, out))
    return {};
  return format_error(path, "must be epoch milliseconds (an integer) or an ISO-8601 date-time");
}

caf::error read_bool(const json_value& value, const std::string& path, bool& out) {
  if (!value.IsBool()) return format_error(path, "must be true or false");
  out = value.GetBool();
  return {};
}

// `{perSecond}`: a number; its range is validation's.
caf::error read_rate(const json_value& value, const std::string& path, rate_limit& out) {
  if (!value.IsObject()) return format_error(path, "must be a JSON object {\"perSecond\": number}");
  auto per_second = member(value, "perSecond");
  if (per_second == nullptr)
    return make_error(error_code::missing_required_fields, path + ".perSecond: required");
  if (!per_second->IsNumber()) return format_error(path + ".perSecond", "must be a number");
  out.per_second = per_second->GetDouble();
  return {};
}

caf::error read_recipients(const json_value& value, const std::string& path, recipients& out) {
  if (!value.IsObject()) return format_error(path, "must be a JSON object");
  if (auto to = member(value, "to"))
    if (auto err = read_texts(*to, path + ".to", out.to)) return err;
  for (auto [key, list] : {std::pair{"cc", &out.cc}, std::pair{"bcc", &out.bcc}})
    if (auto field = member(value, key)) {
      string_list addresses;
      if (auto err = read_texts(*field, path + "." + key, addresses)) return err;
      *list = std::move(addresses);
    }
  return {};
}

// Reads an optional member with `read`; leaves `out` unset when the member is absent.
template <class T, class Read>
caf::error read_field(const json_value& object, const std::string& prefix, const char* key,
                      caf::optional<T>& out, Read read) {
  auto value = member(object, key);
  if (value == nullptr) return {};
  T result{};
  if (auto err = read(*value, path_of(prefix, key), result)) return err;
  out = std::move(result);
  return {};
}

// Reads a member into a plain field; an absent member leaves it as it is (validation decides).
template <class T, class Read>
caf::error read_plain(const json_value& object, const std::string& prefix, const char* key, T& out,
                      Read read) {
  auto value = member(object, key);
  return value == nullptr ? caf::error{} : read(*value, path_of(prefix, key), out);
}

void normalize_if_id(std::string& text) {
  if (is_object_id(text)) text = normalize_id(text);
}

} // namespace

// -- typed values ----------------------------------------------------------------------------------

namespace {

constexpr const char* task_fields[] = {"functionName",   "data",     "tags",
                                       "startTimestamp", "priority", "templated"};
constexpr const char* mail_fields[] = {"recipients", "templateId"};

// An action carries the fields of its own kind only: a task with `templateId` is a client's mistake.
template <size_t N>
caf::error reject_fields(const json_value& object, const std::string& prefix,
                         const char* const (&keys)[N], action_kind kind) {
  for (auto key : keys)
    if (member(object, key) != nullptr)
      return make_error(error_code::field_format,
                        path_of(prefix, key) + ": not allowed on a " + to_string(kind) + " action");
  return {};
}

caf::error read_kind(const json_value& object, const std::string& prefix, action_kind& out) {
  auto path = path_of(prefix, "type");
  auto kind = member(object, "type");
  if (kind == nullptr) return make_error(error_code::missing_required_fields, path + ": required");
  std::string_view text;
  if (kind->IsString()) text = {kind->GetString(), kind->GetStringLength()};
  if (text != "task" && text != "mail") return format_error(path, "must be \"task\" or \"mail\"");
  out = text == "task" ? action_kind::task : action_kind::mail;
  return {};
}

caf::error read_task_fields(const json_value& object, const std::string& prefix, action& out) {
  if (auto err = reject_fields(object, prefix, mail_fields, action_kind::task)) return err;
  if (auto err = read_plain(object, prefix, "functionName", out.function_name, read_text))
    return err;
  if (auto err = read_field(object, prefix, "data", out.data, read_object)) return err;
  if (auto err = read_field(object, prefix, "tags", out.tags, read_texts)) return err;
  if (auto err = read_field(object, prefix, "startTimestamp", out.start_timestamp, read_time))
    return err;
  if (auto err = read_field(object, prefix, "templated", out.templated, read_bool)) return err;
  return read_field(object, prefix, "priority", out.priority, read_integer);
}

caf::error read_mail_fields(const json_value& object, const std::string& prefix, action& out) {
  if (auto err = reject_fields(object, prefix, task_fields, action_kind::mail)) return err;
  if (auto err = read_plain(object, prefix, "recipients", out.recipients, read_recipients))
    return err;
  if (auto err = read_plain(object, prefix, "templateId", out.template_id, read_text)) return err;
  normalize_if_id(out.template_id);
  return {};
}

// An action as created: `id` is ignored (the directory assigns it).
caf::error read_action(const json_value& object, const std::string& prefix, action& out) {
  if (!object.IsObject()) return format_error(prefix, "must be a JSON object");
  if (auto err = read_kind(object, prefix, out.kind)) return err;
  if (auto err = read_field(object, prefix, "name", out.name, read_text)) return err;
  if (auto err = read_field(object, prefix, "description", out.description, read_text)) return err;
  return out.kind == action_kind::task ? read_task_fields(object, prefix, out)
                                       : read_mail_fields(object, prefix, out);
}

caf::error read_event(const json_value& object, event& out) {
  if (auto id = member(object, "id")) {
    if (!id->IsString() || !is_object_id({id->GetString(), id->GetStringLength()}))
      return make_error(error_code::id_format, "id: must be 24 hex characters");
    out.id = normalize_id({id->GetString(), id->GetStringLength()});
  }
  if (auto err = read_plain(object, "", "type", out.type, read_text)) return err;
  if (auto err = read_plain(object, "", "content", out.content, read_object)) return err;
  return read_plain(object, "", "creationTimestamp", out.creation_timestamp, read_time);
}

// Reads the fields shared by a dispatcher and its patch.
template <class Dispatcher>
caf::error read_dispatcher_fields(const json_value& object, Dispatcher& out) {
  if (auto err = read_field(object, "", "name", out.name, read_text)) return err;
  if (auto err = read_field(object, "", "description", out.description, read_text)) return err;
  if (auto err = read_field(object, "", "tags", out.tags, read_texts)) return err;
  if (auto err = read_field(object, "", "filter", out.filter, read_text)) return err;
  if (auto err = read_field(object, "", "orderingKey", out.ordering_key, read_text)) return err;
  return read_field(object, "", "rateLimit", out.rate_limit, read_rate);
}

} // namespace

caf::expected<event> parse_event(std::string_view text, const json_limits& limits) {
  rapidjson::Document doc;
  if (auto err = load_object(text, limits, doc)) return err;
  event result;
  if (auto err = read_event(doc, result)) return err;
  if (auto err = validate(result, limits.max_bytes)) return err;
  return result;
}

caf::expected<std::vector<parsed_event>> parse_event_batch(std::string_view text,
                                                           const json_limits& limits) {
  rapidjson::Document doc;
  if (auto err = load_body(text, limits, doc)) return err;
  if (!doc.IsArray())
    return make_error(error_code::body_format, "body: must be a JSON array of events");
  std::vector<parsed_event> result(doc.Size());
  for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
    auto& slot = result[i];
    if (!doc[i].IsObject())
      slot.error = make_error(error_code::body_format, "event: must be a JSON object");
    else if (auto err = read_event(doc[i], slot.value))
      slot.error = std::move(err);
    else
      slot.error = validate(slot.value, limits.max_bytes);
  }
  return result;
}

caf::expected<dispatcher> parse_dispatcher(std::string_view text, const json_limits& limits) {
  rapidjson::Document doc;
  if (auto err = load_object(text, limits, doc)) return err;
  dispatcher result;
  if (auto err = read_plain(doc, "", "eventType", result.event_type, read_text)) return err;
  if (auto err = read_dispatcher_fields(doc, result)) return err;
  if (auto actions = member(doc, "actions")) {
    if (!actions->IsArray()) return format_error("actions", "must be an array of actions");
    result.actions.resize(actions->Size());
    for (rapidjson::SizeType i = 0; i < actions->Size(); ++i)
      if (auto err = read_action((*actions)[i], "actions[" + std::to_string(i) + "]",
                                 result.actions[i]))
        return err;
  }
  drop_cleared_fields(result);
  if (auto err = validate(result)) return err;
  return result;
}

caf::expected<dispatcher_patch> parse_dispatcher_patch(std::string_view text,
                                                       const json_limits& limits) {
  rapidjson::Document doc;
  if (auto err = load_object(text, limits, doc)) return err;
  dispatcher_patch result;
  if (auto err = read_field(doc, "", "eventType", result.event_type, read_text)) return err;
  if (auto err = read_dispatcher_fields(doc, result)) return err;
  if (auto err = validate(result)) return err;
  return result;
}

caf::expected<action> parse_action(std::string_view text, const json_limits& limits) {
  rapidjson::Document doc;
  if (auto err = load_object(text, limits, doc)) return err;
  action result;
  if (auto err = read_action(doc, "", result)) return err;
  if (auto err = validate(result)) return err;
  return result;
}

caf::expected<action_patch> parse_action_patch(std::string_view text, const json_limits& limits) {
  rapidjson::Document doc;
  if (auto err = load_object(text, limits, doc)) return err;
  action_patch x;
  caf::error err;
  // Reads every field, stopping at the first error.
  err = read_field(doc, "", "name", x.name, read_text);
  err = err ? err : read_field(doc, "", "description", x.description, read_text);
  err = err ? err : read_field(doc, "", "functionName", x.function_name, read_text);
  err = err ? err : read_field(doc, "", "data", x.data, read_object);
  err = err ? err : read_field(doc, "", "tags", x.tags, read_texts);
  err = err ? err : read_field(doc, "", "startTimestamp", x.start_timestamp, read_time);
  err = err ? err : read_field(doc, "", "priority", x.priority, read_integer);
  err = err ? err : read_field(doc, "", "recipients", x.recipients, read_recipients);
  err = err ? err : read_field(doc, "", "templateId", x.template_id, read_text);
  err = err ? err : read_field(doc, "", "templated", x.templated, read_bool);
  if (err) return err;
  if (x.template_id) normalize_if_id(*x.template_id);
  // The action's kind is the directory's to know; a patch that fits neither kind fails here.
  bool mail = x.recipients || x.template_id;
  if (mail
      && (x.function_name || x.data || x.tags || x.start_timestamp || x.priority || x.templated))
    return make_error(error_code::field_format,
                      "body: mixes task fields (functionName, data, tags, startTimestamp, "
                      "priority, templated) with mail fields (recipients, templateId)");
  if (auto err = validate(x, mail ? action_kind::mail : action_kind::task)) return err;
  return x;
}

caf::expected<replay_request> parse_replay_request(std::string_view text,
                                                   const json_limits& limits) {
  rapidjson::Document doc;
  if (auto err = load_object(text, limits, doc)) return err;
  replay_request out;
  for (auto [key, field] : {std::pair{"from", &out.from}, std::pair{"to", &out.to}}) {
    auto value = member(doc, key);
    if (!value)
      return make_error(error_code::missing_required_fields, std::string{key} + ": required");
    if (auto err = read_time(*value, key, *field)) return err;
  }
  if (out.to <= out.from) return format_error("to", "must be after from");
  if (auto err = read_plain(doc, "", "filter", out.filter, read_text)) return err;
  if (auto err = read_plain(doc, "", "dispatcherIds", out.dispatcher_ids, read_texts)) return err;
  for (size_t i = 0; i < out.dispatcher_ids.size(); ++i) {
    auto& id = out.dispatcher_ids[i];
    if (!is_object_id(id))
      return make_error(error_code::id_format,
                        "dispatcherIds[" + std::to_string(i) + "]: must be 24 hex characters");
    id = normalize_id(id);
  }
  return out;
}

caf::expected<std::string> parse_backup_request(std::string_view text, const json_limits& limits) {
  rapidjson::Document doc;
  if (auto err = load_object(text, limits, doc)) return err;
  std::string to;
  if (auto err = read_plain(doc, "", "to", to, read_text)) return err;
  if (to.empty()) return make_error(error_code::missing_required_fields, "to: required");
  return to;
}

} // namespace dispatch
