// Fuzz target: the JSON gate and every API body parser (messages/json*.cpp). Each input goes
// through the SAX pre-check and all parsers; what they accept must render back to valid JSON, and
// every error must render to a valid JSON error body.
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.hpp"
#include "gateway/errors.hpp"
#include "messages/json.hpp"

namespace {

using namespace dispatch;
using dispatch::fuzz::require;

json_limits small_limits() {
  json_limits limits;
  limits.max_depth = 8; // a second depth limit reaches the nesting refusal with short inputs
  return limits;
}

// Writers promise JSON: our own pre-check must take what they write.
void require_json(const std::string& text, const char* what) {
  require(!check_json(text), what, text);
}

void require_error_body(const caf::error& err) {
  require_json(error_body(code_of(err), message_of(err)), "an error renders as valid JSON");
}

template <class T, class Check>
void check_parsed(const caf::expected<T>& parsed, Check check) {
  if (parsed)
    check(*parsed);
  else
    require_error_body(parsed.error());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto text = dispatch::fuzz::text_of(data, size);
  auto verdict = check_json(text);
  if (verdict) require_error_body(verdict);
  require(is_json_object(text) == (!verdict && is_object_text(text)), "is_json_object agrees");
  if (auto err = check_json(text, small_limits())) require_error_body(err);
  check_parsed(parse_event(text), [](const event& ev) {
    require_json(ev.content, "an accepted event's content is JSON");
    require_json(to_json(ev), "to_json(event) is JSON");
    require_json(mail_content_of(ev), "a mail's content is JSON");
  });
  check_parsed(parse_event_batch(text), [](const std::vector<parsed_event>& batch) {
    for (auto& slot : batch)
      if (slot.error)
        require_error_body(slot.error);
      else
        require_json(to_json(slot.value), "to_json(event of a batch) is JSON");
  });
  check_parsed(parse_dispatcher(text), [](const dispatcher& d) {
    require_json(to_json(d), "to_json(dispatcher) is JSON");
    for (auto& a : d.actions) require_json(to_json(a), "to_json(action) is JSON");
  });
  check_parsed(parse_dispatcher_patch(text), [](const dispatcher_patch&) {});
  check_parsed(parse_action(text), [](const action& a) {
    require_json(to_json(a), "to_json(action) is JSON");
    event ev;
    ev.type = "fuzz";
    auto data = task_data_with_event(a.data, ev);
    require_json(data, "a task's data is JSON");
    require(embedded_event_json(data) == event_json(ev), "a task's data embeds the event", data);
  });
  check_parsed(parse_action_patch(text), [](const action_patch&) {});
  timestamp_ms ms = 0;
  if (size <= 64) parse_iso8601(text, ms);
  return 0;
}
