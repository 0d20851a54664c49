// The built-in log sink: renders each delivery in the ExH shape of a created task or a sent mail
// and keeps it in the store under its delivery id, so that a redelivery overwrites instead of
// adding.
#include "sinks/log_sink.hpp"

#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <cstring>
#include <limits>
#include <string_view>

#include <caf/variant.hpp>

#include "messages/error_code.hpp"
#include "messages/group_commit.hpp"
#include "messages/json.hpp"

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
// Writes the parts of `json` one after the other into `out`, the writer's buffer: the first as the
// value, the rest straight behind it (the writer does not look at what a raw value holds).
void write_raw_object(json_writer& w, rapidjson::StringBuffer& out, const json_text& json) {
  bool first = true;
  json.for_each_part([&](std::string_view part) {
    if (first)
      w.RawValue(part.data(), part.size(), rapidjson::kObjectType);
    else if (!part.empty())
      std::memcpy(out.Push(part.size()), part.data(), part.size());
    first = false;
  });
}

/// True for a well-formed JSON object in valid UTF-8 (the codec's pre-check: iterative, with a
/// fast path for ASCII), however large or deep. Payloads were validated upstream; this keeps a
/// corrupt one out of the log. Text the engine composed around a logged event is well-formed by
/// construction: the event was checked when it was accepted, the frame when the action was stored.
bool is_json_object_text(const json_text& text) {
  if (text.composed()) return true;
  bool ok = true;
  text.for_each_part([&](std::string_view part) {
    ok = ok
         && is_json_object(part, json_limits{std::numeric_limits<size_t>::max(),
                                             std::numeric_limits<unsigned>::max()});
  });
  return ok;
}

/// Validates and renders a delivery: the record to write, or the answer when it cannot be kept.
caf::variant<log_record, delivery_result> render(const delivery& d, timestamp_ms now) {
  if (d.kind == action_kind::task) {
    if (!is_json_object_text(d.task.data))
      return permanent_failure("log sink: task data is not a JSON object");
    return log_record{d.id, d.kind, now, logged_task_json(d, now)};
  }
  if (!is_json_object_text(d.mail.content))
    return permanent_failure("log sink: mail content is not a JSON object");
  return log_record{d.id, d.kind, now, logged_mail_json(d, now)};
}

void flush(log_sink_actor::stateful_pointer<log_sink_state> self) {
  auto& st = self->state;
  st.flush_pending = false;
  auto pending = std::move(st.pending);
  auto records = std::move(st.records);
  st.pending.clear();
  st.records.clear();
  if (pending.empty()) return;
  auto err = records.empty() ? caf::error{} : st.db->append_logs(records);
  auto answer = err ? retry_later("log sink: " + message_of(err)) : delivered();
  for (auto& p : pending) {
    for (auto i : p.written) p.results[i] = answer;
    p.promise.deliver(std::move(p.results));
  }
}

} // namespace

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
  write_raw_object(w, out, task.data);
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
  if (!d.replay_id.empty()) { // made by a replay from the archive
    w.Key("replayId");
    write_string(w, d.replay_id);
  }
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
  write_raw_object(w, out, mail.content);
  if (!d.replay_id.empty()) {
    w.Key("replayId");
    write_string(w, d.replay_id);
  }
  w.Key("creationTimestamp");
  w.Int64(received);
  w.EndObject();
  return {out.GetString(), out.GetSize()};
}

log_sink_actor::behavior_type log_sink(log_sink_actor::stateful_pointer<log_sink_state> self,
                                       store_ptr db, clock_ptr clock) {
  self->state.db = std::move(db);
  self->state.clock = std::move(clock);
  return {
    [self](deliver_atom, const delivery_list& batch) -> caf::result<delivery_result_list> {
      auto& st = self->state;
      pending_log_batch p;
      p.results.resize(batch.size());
      for (size_t i = 0; i < batch.size(); ++i) {
        auto rendered = render(batch[i], st.clock->now());
        if (auto answer = caf::get_if<delivery_result>(&rendered)) {
          p.results[i] = std::move(*answer);
          continue;
        }
        p.written.push_back(i);
        st.records.push_back(std::move(caf::get<log_record>(rendered)));
      }
      p.promise = self->make_response_promise<delivery_result_list>();
      auto promise = p.promise;
      st.pending.push_back(std::move(p));
      schedule_flush(self, st.flush_pending); // one write for every batch in the mailbox
      return promise;
    },
    [self](flush_atom) { flush(self); },
  };
}

} // namespace dispatch
