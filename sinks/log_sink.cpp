// The built-in log sink: renders each delivery in the ExH shape of a created task or a sent mail
// and keeps it in the store under its delivery id, so that a redelivery overwrites instead of
// adding.
#include "sinks/log_sink.hpp"

#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "messages/error_code.hpp"

namespace dispatch {

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_string(json_writer& w, const std::string& text) {
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

void write_strings(json_writer& w, const string_list& texts) {
  w.StartArray();
  for (auto& text : texts) write_string(w, text);
  w.EndArray();
}

// Embeds JSON text verbatim; callers check it with `is_json_object_text` first.
void write_raw_object(json_writer& w, const std::string& json) {
  w.RawValue(json.data(), json.size(), rapidjson::kObjectType);
}

/// True for a well-formed JSON object in valid UTF-8. Iterative parsing: deep nesting cannot
/// exhaust the stack. Payloads were validated upstream; this keeps a corrupt one out of the log.
bool is_json_object_text(const std::string& text) {
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || text[first] != '{') return false;
  rapidjson::Reader reader;
  rapidjson::StringStream input{text.c_str()};
  rapidjson::BaseReaderHandler<> ignore;
  constexpr unsigned flags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
  auto ok = !reader.Parse<flags>(input, ignore).IsError();
  // A NUL inside the text would end StringStream early: the whole text must have been read.
  return ok && text.find('\0') == std::string::npos;
}

delivery_result store_record(const store_ptr& db, const delivery& d, std::string json) {
  if (auto err = db->append_log(d.kind, d.id, json, now_ms()))
    return retry_later("log sink: " + message_of(err));
  return delivered();
}

delivery_result receive(const store_ptr& db, const delivery& d) {
  auto now = now_ms();
  if (d.kind == action_kind::task) {
    if (!is_json_object_text(d.task.data))
      return permanent_failure("log sink: task data is not a JSON object");
    return store_record(db, d, logged_task_json(d, now));
  }
  if (!is_json_object_text(d.mail.content))
    return permanent_failure("log sink: mail content is not a JSON object");
  return store_record(db, d, logged_mail_json(d, now));
}

}  // namespace

std::string logged_task_json(const delivery& d, timestamp_ms received) {
  rapidjson::StringBuffer out;
  json_writer w{out};
  auto& task = d.task;
  w.StartObject();
  w.Key("id");
  write_string(w, d.id);
  w.Key("functionName");
  write_string(w, task.function_name);
  w.Key("data");
  write_raw_object(w, task.data);
  if (task.tags) {
    w.Key("tags");
    write_strings(w, *task.tags);
  }
  if (task.start_timestamp) {
    w.Key("startTimestamp");
    w.Int64(*task.start_timestamp);
  }
  if (task.priority) {
    w.Key("priority");
    w.Int64(*task.priority);
  }
  w.Key("status");
  w.String("new");
  w.Key("creationTimestamp");
  w.Int64(received);
  w.Key("updateTimestamp");
  w.Int64(received);
  w.EndObject();
  return {out.GetString(), out.GetSize()};
}

std::string logged_mail_json(const delivery& d, timestamp_ms received) {
  rapidjson::StringBuffer out;
  json_writer w{out};
  auto& mail = d.mail;
  w.StartObject();
  w.Key("id");
  write_string(w, d.id);
  w.Key("templateId");
  write_string(w, mail.template_id);
  w.Key("recipients");
  w.StartObject();
  w.Key("to");
  write_strings(w, mail.recipients.to);
  if (mail.recipients.cc) {
    w.Key("cc");
    write_strings(w, *mail.recipients.cc);
  }
  if (mail.recipients.bcc) {
    w.Key("bcc");
    write_strings(w, *mail.recipients.bcc);
  }
  w.EndObject();
  w.Key("content");
  write_raw_object(w, mail.content);
  w.Key("creationTimestamp");
  w.Int64(received);
  w.EndObject();
  return {out.GetString(), out.GetSize()};
}

sink_actor::behavior_type log_sink(sink_actor::stateful_pointer<log_sink_state> self,
                                   store_ptr db) {
  self->state.db = std::move(db);
  return {
      [self](deliver_atom, const delivery& d) { return receive(self->state.db, d); },
  };
}

}  // namespace dispatch
