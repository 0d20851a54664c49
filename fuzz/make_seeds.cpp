// Writes the binary seeds of fuzz/corpus/log_codec and fuzz/corpus/message_types: values encoded
// the way the store and the cluster's wire encode them, behind the first byte that picks the
// record or type. Run it after changing a message type: `fuzz_make_seeds fuzz/corpus`.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/message.hpp>

#include "fuzz/registered_types.hpp"
#include "messages/flat_query.hpp"
#include "messages/interfaces.hpp"
#include "messages/json.hpp"
#include "messages/type_registry.hpp"
#include "persistence/codec.hpp"

namespace {

using namespace dispatch;

void write(const std::string& path, char first, const std::string& bytes) {
  std::ofstream out{path, std::ios::binary};
  out.put(first);
  out << bytes;
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

template <class T>
T parsed(caf::expected<T> x) {
  if (!x) {
    std::fprintf(stderr, "a seed does not parse: %s\n", message_of(x.error()).c_str());
    std::exit(1);
  }
  return std::move(*x);
}

template <class... Ts>
std::string encoded(Ts&... xs) {
  std::string out;
  if (auto err = codec::encode(out, xs...)) {
    std::fprintf(stderr, "a seed does not encode: %s\n", message_of(err).c_str());
    std::exit(1);
  }
  return out;
}

struct samples {
  event ev;
  event text_id_event;
  dispatcher disp;
  dispatcher_patch disp_patch;
  action mail;
  action_patch patch;
  delivery task_delivery;
  delivery mail_delivery;
  query q;

  samples() {
    ev = parsed(parse_event(R"({"id":"5f0c6a1e2b3c4d5e6f708192","type":"user_created",)"
                            R"("content":{"userId":"42"},"creationTimestamp":1893456000000})"));
    text_id_event = ev;
    text_id_event.id = "not-a-hex-id";
    disp = parsed(parse_dispatcher(
      R"({"name":"welcome","eventType":"user_created","tags":["a"],"actions":[)"
      R"({"type":"task","functionName":"f","data":{"plan":"free"},"priority":5},)"
      R"({"type":"mail","recipients":{"to":["a@example.com"],"cc":["b@example.com"]},)"
      R"("templateId":"5f0c6a1e2b3c4d5e6f708193"}]})"));
    disp.id = "5f0c6a1e2b3c4d5e6f708194";
    disp.version = 7;
    disp_patch = parsed(parse_dispatcher_patch(R"({"name":"renamed","tags":[]})"));
    mail = disp.actions[1];
    patch = parsed(parse_action_patch(R"({"functionName":"g","startTimestamp":5})"));
    task_delivery.id = "delivery-1";
    task_delivery.event_id = ev.id;
    task_delivery.event_type = ev.type;
    task_delivery.dispatcher_id = disp.id;
    task_delivery.action_id = "5f0c6a1e2b3c4d5e6f708195";
    task_delivery.status = delivery_status::retrying;
    task_delivery.attempts = 2;
    task_delivery.last_error = "503 from the Task Service";
    task_delivery.task.function_name = "f";
    task_delivery.task.data = task_data_with_event(disp.actions[0].data, ev);
    task_delivery.task.priority = 5;
    mail_delivery = task_delivery;
    mail_delivery.kind = action_kind::mail;
    mail_delivery.mail.template_id = mail.template_id;
    mail_delivery.mail.recipients = mail.recipients;
    mail_delivery.mail.content = mail_content_of(ev);
    q.where.op = filter_op::and_;
    q.where.children.resize(2);
    q.where.children[0].op = filter_op::eq;
    q.where.children[0].path = "type";
    q.where.children[0].values = {string_value("task"), number_value(2.5), bool_value(true)};
    q.where.children[1].op = filter_op::contains;
    q.where.children[1].path = "actions";
    q.select = {"id", "name"};
    q.sort = {{"creationTimestamp", true}};
    q.limit = 10;
  }
};

void log_codec_seeds(const std::string& dir, samples& s) {
  std::string compact;
  codec::encode_event(compact, s.ev);
  write(dir + "/event-hex-id.bin", 0, compact);
  compact.clear();
  codec::encode_event(compact, s.text_id_event);
  write(dir + "/event-text-id.bin", 0, compact);
  timestamp_ms received = 1893456000000;
  auto json = to_json(s.task_delivery);
  write(dir + "/log-record.bin", 1, encoded(received, json));
  write(dir + "/delivery-task.bin", 2, encoded(s.task_delivery));
  write(dir + "/delivery-mail.bin", 2, encoded(s.mail_delivery));
  std::string disp;
  if (auto err = codec::encode_dispatcher(disp, s.disp)) {
    std::fprintf(stderr, "a seed does not encode: %s\n", message_of(err).c_str());
    std::exit(1);
  }
  write(dir + "/dispatcher.bin", 3, disp);
}

std::vector<char> wire_bytes(caf::actor_system& sys, caf::message& msg) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  if (auto err = sink(msg)) {
    std::fprintf(stderr, "a message does not encode: %s\n", caf::to_string(err).c_str());
    std::exit(1);
  }
  return buf;
}

void message_seeds(const std::string& dir, samples& s, caf::actor_system& sys,
                   const std::vector<std::string>& names) {
  auto pick = [&](const std::string& name) {
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == name) return static_cast<char>(i);
    std::fprintf(stderr, "not registered: %s\n", name.c_str());
    std::exit(1);
  };
  auto seed = [&](const std::string& name, auto&... xs) {
    auto file = name.rfind("std::vector<", 0) == 0 ? "vector-" + name.substr(12, name.size() - 13)
                                                   : name;
    write(dir + "/" + file + ".bin", pick(name), encoded(xs...));
  };
  seed("dispatch.event", s.ev);
  seed("dispatch.dispatcher", s.disp);
  seed("dispatch.dispatcher_patch", s.disp_patch);
  seed("dispatch.action", s.mail);
  seed("dispatch.action_patch", s.patch);
  seed("dispatch.delivery", s.task_delivery);
  auto flat = flatten(s.q);
  seed("dispatch.flat_query", flat);
  engine_stats stats;
  stats.accepted = 7;
  stats.set_aside = 1;
  seed("dispatch.engine_stats", stats);
  publish_outcome outcome;
  outcome.stored = s.ev;
  outcome.code = error_code::field_format;
  outcome.message = "type: required";
  seed("dispatch.publish_outcome", outcome);
  delivery_batch batch{3, 9, false, {s.task_delivery, s.mail_delivery}};
  seed("dispatch.delivery_batch", batch);
  std::vector<delivery_result> results{delivered(), retry_later("busy", 1500)};
  seed("std::vector<dispatch.delivery_result>", results);
  log_entry entry{4, log_op::put, s.disp, s.disp.id};
  seed("dispatch.log_entry", entry);
  admin_request admin;
  admin.kind = admin_kind::update_action;
  admin.dispatcher_id = s.disp.id;
  admin.action_changes = s.patch;
  seed("dispatch.admin_request", admin);
  dispatcher_page page{{1, 0, 20}, {s.disp}};
  seed("dispatch.dispatcher_page", page);
  // Whole messages, as a peer sends them: the type names, then the values.
  auto past_last = static_cast<char>(names.size());
  auto one = caf::make_message(s.ev);
  auto bytes = wire_bytes(sys, one);
  write(dir + "/message-event.bin", past_last, {bytes.data(), bytes.size()});
  auto several = caf::make_message(s.disp.id, s.patch, uint64_t{3}, flat);
  bytes = wire_bytes(sys, several);
  write(dir + "/message-mixed.bin", past_last, {bytes.data(), bytes.size()});
}

} // namespace

int main(int argc, char** argv) {
  caf::actor_system_config cfg;
  add_message_types(cfg);
  caf::actor_system sys{cfg};
  auto names = dispatch::fuzz::registered_names(cfg);
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  std::string corpus = argv[1];
  samples s;
  log_codec_seeds(corpus + "/log_codec", s);
  message_seeds(corpus + "/message_types", s, sys, names);
  return 0;
}
