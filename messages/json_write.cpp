// The JSON codec's output side: docs/api.md's shapes (camelCase, absent optional fields omitted) and the
// bodies of the ExH Task and Mail Service calls. Raw JSON members were validated on the way in.
#include "messages/json.hpp"
#include "messages/json_dom.hpp"
#include "messages/task_frame.hpp"

#include <cmath>
#include <string>
#include <string_view>
#include <utility>

#include <rapidjson/document.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace dispatch {

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

std::string text_of(const rapidjson::StringBuffer& buffer) {
  return {buffer.GetString(), buffer.GetSize()};
}

// Embeds validated JSON object text; an empty text (a default-constructed value) reads as `{}`.
void raw_object(json_writer& out, std::string_view json) {
  if (json.empty())
    out.RawValue("{}", 2, rapidjson::kObjectType);
  else
    out.RawValue(json.data(), json.size(), rapidjson::kObjectType);
}

// A task's data or a mail's content: copied once when composed of parts (RawValue wants one).
void raw_shared_object(json_writer& out, const json_text& json) {
  if (json.composed())
    raw_object(out, std::string_view{json.str()});
  else
    json.for_each_part([&](std::string_view text) { raw_object(out, text); }); // the one part
}

void string_list_value(json_writer& out, const string_list& xs) {
  out.StartArray();
  for (auto& x : xs) out.String(x);
  out.EndArray();
}

template <class T>
void optional_string(json_writer& out, const char* key, const caf::optional<T>& x) {
  if (x) {
    out.Key(key);
    out.String(*x);
  }
}

void optional_list(json_writer& out, const char* key, const caf::optional<string_list>& x) {
  if (x) {
    out.Key(key);
    string_list_value(out, *x);
  }
}

void optional_integer(json_writer& out, const char* key, const caf::optional<int64_t>& x) {
  if (x) {
    out.Key(key);
    out.Int64(*x);
  }
}

// A number that is a whole number is written as one (`5`, not `5.0`).
void number_value(json_writer& out, double x) {
  if (std::floor(x) == x && std::fabs(x) < 1e15)
    out.Int64(static_cast<int64_t>(x));
  else
    out.Double(x);
}

void recipients_value(json_writer& out, const recipients& x) {
  out.StartObject();
  out.Key("to");
  string_list_value(out, x.to);
  optional_list(out, "cc", x.cc);
  optional_list(out, "bcc", x.bcc);
  out.EndObject();
}

// Unassigned `id` and `creationTimestamp` (before ingest) are absent, so the output parses back.
void event_value(json_writer& out, const event& x) {
  out.StartObject();
  if (!x.id.empty()) {
    out.Key("id");
    out.String(x.id);
  }
  out.Key("type");
  out.String(x.type);
  out.Key("content");
  raw_object(out, x.content);
  if (x.creation_timestamp != 0) {
    out.Key("creationTimestamp");
    out.Int64(x.creation_timestamp);
  }
  out.EndObject();
}

void action_value(json_writer& out, const action& x) {
  out.StartObject();
  if (!x.id.empty()) {
    out.Key("id");
    out.String(x.id);
  }
  out.Key("type");
  out.String(to_string(x.kind));
  optional_string(out, "name", x.name);
  optional_string(out, "description", x.description);
  if (x.kind == action_kind::task) {
    out.Key("functionName");
    out.String(x.function_name);
    if (x.data) {
      out.Key("data");
      raw_object(out, *x.data);
    }
    if (x.templated) {
      out.Key("templated");
      out.Bool(*x.templated);
    }
    optional_list(out, "tags", x.tags);
    optional_integer(out, "startTimestamp", x.start_timestamp);
    optional_integer(out, "priority", x.priority);
  } else {
    out.Key("recipients");
    recipients_value(out, x.recipients);
    out.Key("templateId");
    out.String(x.template_id);
  }
  out.EndObject();
}

void task_value(json_writer& out, const task_request& x) {
  out.StartObject();
  out.Key("functionName");
  out.String(x.function_name);
  out.Key("data");
  raw_shared_object(out, x.data);
  optional_list(out, "tags", x.tags);
  optional_integer(out, "startTimestamp", x.start_timestamp);
  optional_integer(out, "priority", x.priority);
  out.EndObject();
}

void mail_value(json_writer& out, const mail_request& x) {
  out.StartObject();
  out.Key("template_id"); // the Mail Service's own spelling
  out.String(x.template_id);
  out.Key("recipients");
  recipients_value(out, x.recipients);
  out.Key("content");
  raw_shared_object(out, x.content);
  out.EndObject();
}

// True when a top-level field is selected: no selection, `id`, the field, or a path inside it.
bool selected(const std::vector<std::string>& select, const std::string& field) {
  if (select.empty() || field == "id") return true;
  for (auto& path : select)
    if (path == field
        || (path.size() > field.size() && path.compare(0, field.size(), field) == 0
            && path[field.size()] == '.'))
      return true;
  return false;
}

} // namespace

std::string to_json(const event& x) {
  rapidjson::StringBuffer buffer;
  json_writer out{buffer};
  event_value(out, x);
  return text_of(buffer);
}

std::string to_json(const action& x) {
  rapidjson::StringBuffer buffer;
  json_writer out{buffer};
  action_value(out, x);
  return text_of(buffer);
}

std::string to_json(const dispatcher& x, const std::vector<std::string>& select) {
  rapidjson::StringBuffer buffer;
  json_writer out{buffer};
  auto want = [&](const char* field) { return selected(select, field); };
  out.StartObject();
  out.Key("id");
  out.String(x.id);
  if (want("eventType")) {
    out.Key("eventType");
    out.String(x.event_type);
  }
  if (want("name")) optional_string(out, "name", x.name);
  if (want("description")) optional_string(out, "description", x.description);
  if (want("tags")) optional_list(out, "tags", x.tags);
  if (want("filter")) optional_string(out, "filter", x.filter);
  if (want("orderingKey")) optional_string(out, "orderingKey", x.ordering_key);
  if (want("rateLimit") && x.rate_limit) {
    out.Key("rateLimit");
    out.StartObject();
    out.Key("perSecond");
    number_value(out, x.rate_limit->per_second);
    out.EndObject();
  }
  if (want("actions")) {
    out.Key("actions");
    out.StartArray();
    for (auto& a : x.actions) action_value(out, a);
    out.EndArray();
  }
  for (auto [key, value] : {std::pair{"creationTimestamp", x.creation_timestamp},
                            std::pair{"updateTimestamp", x.update_timestamp}})
    if (want(key)) {
      out.Key(key);
      out.Int64(value);
    }
  out.EndObject();
  return text_of(buffer);
}

namespace {

void delivery_fields(json_writer& out, const delivery& x, const std::vector<std::string>& select) {
  auto field = [&](const char* key, const std::string& value) {
    if (selected(select, key)) {
      out.Key(key);
      out.String(value);
    }
  };
  auto time = [&](const char* key, timestamp_ms value, bool present) {
    if (present && selected(select, key)) {
      out.Key(key);
      out.Int64(value);
    }
  };
  field("id", x.id);
  field("type", to_string(x.kind));
  field("eventId", x.event_id);
  field("eventType", x.event_type);
  field("dispatcherId", x.dispatcher_id);
  field("actionId", x.action_id);
  field("status", to_string(x.status));
  if (selected(select, "attempts")) {
    out.Key("attempts");
    out.Uint(x.attempts);
  }
  time("creationTimestamp", x.created, true);
  time("nextAttemptTimestamp", x.next_attempt, x.next_attempt != 0);
  time("finishedTimestamp", x.finished, x.finished != 0);
  if (!x.last_error.empty()) field("lastError", x.last_error);
  if (!x.replay_id.empty()) field("replayId", x.replay_id);
}

} // namespace

std::string to_json(const delivery& x, const std::vector<std::string>& select) {
  rapidjson::StringBuffer buffer;
  json_writer out{buffer};
  out.StartObject();
  delivery_fields(out, x, select);
  if (x.kind == action_kind::task && selected(select, "task")) {
    out.Key("task");
    task_value(out, x.task);
  } else if (x.kind == action_kind::mail && selected(select, "mail")) {
    out.Key("mail");
    mail_value(out, x.mail);
  }
  out.EndObject();
  return text_of(buffer);
}

std::string task_body(const task_request& x) {
  rapidjson::StringBuffer buffer;
  json_writer out{buffer};
  task_value(out, x);
  return text_of(buffer);
}

std::string mail_body(const mail_request& x) {
  rapidjson::StringBuffer buffer;
  json_writer out{buffer};
  mail_value(out, x);
  return text_of(buffer);
}

std::pair<std::string, std::string> task_data_frame(const caf::optional<std::string>& action_data) {
  rapidjson::Document data;
  // Data that fails the check (possible only for unvalidated embedded input) is never walked: the
  // writer below recurses.
  if (action_data && is_json_object(*action_data)) {
    rapidjson::MemoryStream stream(action_data->data(), action_data->size());
    data.ParseStream<dom_parse_flags>(stream);
  }
  task_frame frame;
  if (!data.HasParseError() && data.IsObject())
    for (auto& m : data.GetObject())
      if (!frame.key({m.name.GetString(), m.name.GetStringLength()})) m.value.Accept(frame.out());
  return frame.finish();
}

std::string event_json(const event& ev) {
  rapidjson::StringBuffer buffer;
  json_writer out{buffer};
  event_value(out, ev);
  return text_of(buffer);
}

std::string task_data_with_event(const caf::optional<std::string>& action_data, const event& ev) {
  auto [head, tail] = task_data_frame(action_data);
  return head + event_json(ev) + tail;
}

std::string mail_content_of(const event& ev) {
  return "{\"event\":" + event_json(ev) + "}";
}

std::string embedded_event_json(std::string_view object_text) {
  // The text was written by us from checked input, so the writer's recursion is bounded.
  rapidjson::Document doc;
  rapidjson::MemoryStream stream(object_text.data(), object_text.size());
  doc.ParseStream<dom_parse_flags>(stream);
  if (doc.HasParseError() || !doc.IsObject()) return {};
  auto found = doc.FindMember("event");
  if (found == doc.MemberEnd() || !found->value.IsObject()) return {};
  rapidjson::StringBuffer buffer;
  json_writer out{buffer};
  found->value.Accept(out);
  return text_of(buffer);
}

} // namespace dispatch
