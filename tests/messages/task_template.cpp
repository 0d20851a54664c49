// Templated task data (docs/api.md, "Beyond ExH"): `"{{event.<path>}}"` as a whole string becomes
// the typed value at that path (the key left out when it is absent), inside a longer string the
// value as text; data without templates is kept as it is; templates that do not parse are refused
// with the field named.
#include <boost/test/unit_test.hpp>

#include "messages/derive.hpp"
#include "messages/error_code.hpp"
#include "messages/json.hpp"
#include "messages/task_template.hpp"

using namespace dispatch;

namespace {

event order_event() {
  event ev;
  ev.id = "5f0c1a2b3c4d5e6f70819203";
  ev.type = "order.paid";
  ev.content = R"~({"userId":"u-1","amount":12.5,"count":3,"big":12345678901234567890,)~"
               R"~("vip":true,"none":null,"address":{"city":"Gent","zip":"9000"},)~"
               R"~("items":[{"sku":"a"},{"sku":"b"}],"quote":"say \"hi\""})~";
  ev.creation_timestamp = 1700000000123;
  return ev;
}

std::string render(const std::string& data, const event& ev = order_event()) {
  auto compiled = task_template::compile(data, "data");
  BOOST_REQUIRE_MESSAGE(compiled, message_of(compiled.error()));
  event_record record{ev};
  return compiled->render(record);
}

std::string refusal(const std::string& data) {
  auto compiled = task_template::compile(data, "actions[2].data");
  BOOST_REQUIRE(!compiled);
  BOOST_TEST(static_cast<int>(code_of(compiled.error())) == 15);
  return message_of(compiled.error());
}

} // namespace

BOOST_AUTO_TEST_SUITE(task_templates)

BOOST_AUTO_TEST_CASE(a_whole_string_template_takes_the_values_type) {
  BOOST_TEST(render(R"~({"u":"{{event.content.userId}}"})~") == R"~({"u":"u-1"})~");
  BOOST_TEST(render(R"~({"n":"{{event.content.amount}}"})~") == R"~({"n":12.5})~");
  BOOST_TEST(render(R"~({"n":"{{event.content.count}}"})~") == R"~({"n":3})~");
  BOOST_TEST(render(R"~({"n":"{{event.content.big}}"})~") == R"~({"n":12345678901234567890})~");
  BOOST_TEST(render(R"~({"b":"{{event.content.vip}}"})~") == R"~({"b":true})~");
  BOOST_TEST(render(R"~({"z":"{{event.content.none}}"})~") == R"~({"z":null})~");
  BOOST_TEST(render(R"~({"a":"{{event.content.address}}"})~")
             == R"~({"a":{"city":"Gent","zip":"9000"}})~");
  BOOST_TEST(render(R"~({"i":"{{event.content.items}}"})~")
             == R"~({"i":[{"sku":"a"},{"sku":"b"}]})~");
  BOOST_TEST(render(R"~({"s":"{{ event.content.items.1.sku }}"})~") == R"~({"s":"b"})~");
  BOOST_TEST(render(R"~({"t":"{{event.type}}","c":"{{event.creationTimestamp}}"})~")
             == R"~({"t":"order.paid","c":1700000000123})~");
  BOOST_TEST(render(R"~({"id":"{{event.id}}"})~") == R"~({"id":"5f0c1a2b3c4d5e6f70819203"})~");
  BOOST_TEST(render(R"~({"e":"{{event}}"})~").find(R"~("e":{"id":"5f0c)~") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_missing_path_leaves_the_key_out) {
  BOOST_TEST(render(R"~({"a":1,"u":"{{event.content.nope}}","b":2})~") == R"~({"a":1,"b":2})~");
  BOOST_TEST(render(R"~({"u":"{{event.content.userId.deeper}}"})~") == "{}");
  BOOST_TEST(render(R"~({"u":"{{event.content.items.7}}"})~") == "{}");
  // In an array an element keeps its place, as null.
  BOOST_TEST(render(R"~({"l":["{{event.content.nope}}","{{event.content.count}}"]})~")
             == R"~({"l":[null,3]})~");
  // Inside a longer string a missing value is empty text.
  BOOST_TEST(render(R"~({"m":"user <{{event.content.nope}}>"})~") == R"~({"m":"user <>"})~");
}

BOOST_AUTO_TEST_CASE(templates_inside_a_longer_string_are_text) {
  BOOST_TEST(render(R"~({"m":"User {{event.content.userId}} paid {{event.content.amount}}"})~")
             == R"~({"m":"User u-1 paid 12.5"})~");
  BOOST_TEST(render(R"~({"m":"vip={{event.content.vip}} at {{event.content.address}}"})~")
             == R"~({"m":"vip=true at {\"city\":\"Gent\",\"zip\":\"9000\"}"})~");
  // A string value is written escaped once, whatever it holds.
  BOOST_TEST(render(R"~({"m":"<{{event.content.quote}}>"})~") == R"~({"m":"<say \"hi\">"})~");
  // Text that only looks like a template is kept.
  BOOST_TEST(render(R"~({"m":"a }} b { c"})~") == R"~({"m":"a }} b { c"})~");
}

BOOST_AUTO_TEST_CASE(nested_objects_and_arrays_are_filled_where_they_hold_templates) {
  auto data = R"~({"user":{"id":"{{event.content.userId}}","fixed":[1,{"k":"v"}]},)~"
              R"~("list":[{"sku":"{{event.content.items.0.sku}}"},"x{{event.content.count}}",7],)~"
              R"~("plain":{"a":[true,null,"s"]}})~";
  BOOST_TEST(render(data)
             == R"~({"user":{"id":"u-1","fixed":[1,{"k":"v"}]},)~"
                R"~("list":[{"sku":"a"},"x3",7],"plain":{"a":[true,null,"s"]}})~");
}

BOOST_AUTO_TEST_CASE(the_event_goes_into_the_frame_as_for_verbatim_data) {
  auto compiled = task_template::compile(R"~({"u":"{{event.content.userId}}","n":1})~", "data");
  BOOST_REQUIRE(compiled);
  auto ev = order_event();
  event_record record{ev};
  auto frame = compiled->render_frame(record);
  BOOST_TEST(frame.first == R"~({"u":"u-1","n":1,"event":)~");
  BOOST_TEST(frame.second == "}");
  auto with_event_key = task_template::compile(
    R"~({"event":"x","u":"{{event.content.nope}}","z":2})~", "data");
  BOOST_REQUIRE(with_event_key);
  auto other = with_event_key->render_frame(record);
  BOOST_TEST(other.first == R"~({"event":)~");
  BOOST_TEST(other.second == R"~(,"z":2})~");
  // Data without holes frames exactly as verbatim data does: event first, between, last, absent.
  for (std::string data :
       {R"~({"event":1,"a":2})~", R"~({"a":1,"event":2,"b":3})~", R"~({"a":1,"b":[1,{"c":null}]})~",
        R"~({"x":0,"event":{"a":1}})~", R"~({})~"}) {
    auto plain = task_template::compile(data, "data");
    BOOST_REQUIRE_MESSAGE(plain, data << ": " << (plain ? "" : message_of(plain.error())));
    BOOST_TEST((plain->render_frame(record) == task_data_frame(data)), data);
  }
}

BOOST_AUTO_TEST_CASE(a_templated_action_derives_filled_data_and_a_plain_one_verbatim) {
  dispatcher d;
  d.id = "5f0c1a2b3c4d5e6f70819200";
  d.event_type = "order.paid";
  action templated;
  templated.id = "a1";
  templated.function_name = "f";
  templated.data = R"~({"u":"{{event.content.userId}}","a":"{{event.content.amount}}"})~";
  templated.templated = true;
  auto verbatim = templated;
  verbatim.id = "a2";
  verbatim.templated = caf::none;
  auto off = templated;
  off.id = "a3";
  off.templated = false;
  d.actions = {templated, verbatim, off};
  dispatcher_timeline::dispatcher_set set{prepare(d)};
  auto ev = order_event();
  delivery_list tasks;
  BOOST_REQUIRE(!derive_deliveries(set, 0, 1700000000123000, ev, false, &tasks, nullptr));
  BOOST_REQUIRE_EQUAL(tasks.size(), 3u);
  auto event_text = event_json(ev);
  BOOST_TEST(tasks[0].task.data.str() == R"~({"u":"u-1","a":12.5,"event":)~" + event_text + "}");
  auto as_sent = R"~({"u":"{{event.content.userId}}","a":"{{event.content.amount}}","event":)~";
  BOOST_TEST(tasks[1].task.data.str() == as_sent + event_text + "}");
  BOOST_TEST(tasks[2].task.data.str() == as_sent + event_text + "}");
}

BOOST_AUTO_TEST_CASE(templates_that_do_not_parse_are_refused_naming_the_field) {
  auto message = refusal(R"~({"a":{"b":"{{event.content.x"}})~");
  BOOST_TEST(message.rfind("actions[2].data.a.b: ", 0) == 0, message);
  BOOST_TEST(message.find("no closing") != std::string::npos, message);
  message = refusal(R"~({"l":["ok","{{content.x}}"]})~");
  BOOST_TEST(message.rfind("actions[2].data.l[1]: ", 0) == 0, message);
  for (auto bad : {"{{}}", "{{event.}}", "{{event..a}}", "{{event.a b}}", "{{events.a}}",
                   "x {{event.a.}} y"}) {
    auto text = std::string{R"~({"k":")~"} + bad + "\"}";
    message = refusal(text);
    BOOST_TEST(message.rfind("actions[2].data.k: template ", 0) == 0, bad << ": " << message);
  }
  message = refusal("[1]");
  BOOST_TEST(message.rfind("actions[2].data: must be a JSON object", 0) == 0, message);
}

BOOST_AUTO_TEST_CASE(templates_naming_nothing_in_the_event_are_refused) {
  // A misspelt first segment would never resolve: every event would leave the key out.
  for (auto bad : {"{{event.contnt.userId}}", "{{event.userId}}", "{{event.id.x}}",
                   "a {{event.type.name}} b"}) {
    auto message = refusal(std::string{R"~({"k":")~"} + bad + "\"}");
    BOOST_TEST(message.rfind("actions[2].data.k: template ", 0) == 0, bad << ": " << message);
    BOOST_TEST(message.find("names nothing in the event") != std::string::npos, message);
  }
  BOOST_TEST(render(R"~({"i":"{{event.id}}","t":"{{ event.type }}","c":"{{event.content}}"})~")
             == R"~({"i":"5f0c1a2b3c4d5e6f70819203","t":"order.paid","c":)~" + order_event().content
                  + "}");
}

BOOST_AUTO_TEST_SUITE_END()
