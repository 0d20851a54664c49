// Tests of the codec's input side: the SAX pre-check (size, depth, UTF-8, duplicate keys, syntax),
// ISO-8601 dates and the parsers of every API body, with every field, wrong type and error code.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "codec_helpers.hpp"
#include "messages/json.hpp"
#include "printing.hpp"

using namespace dispatch;
using dispatch::test::check_accepted;
using dispatch::test::check_rejected;

namespace {

constexpr auto body_format = error_code::body_format;
constexpr auto missing = error_code::missing_required_fields;
constexpr auto field_format = error_code::field_format;

std::string nested_arrays(size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

// A task-action dispatcher body with `field` (raw JSON) spliced into its one action.
std::string dispatcher_with_task_field(const std::string& field) {
  return R"({"eventType":"e","actions":[{"type":"task","functionName":"f",)" + field + "}]}";
}

std::string dispatcher_with_mail_field(const std::string& field) {
  return R"({"eventType":"e","actions":[{"type":"mail","templateId":"65f0a1b2c3d4e5f601234567",)"
         R"("recipients":{"to":["a@example.com"]},)"
         + field + "}]}";
}

} // namespace

BOOST_AUTO_TEST_SUITE(codec)

BOOST_AUTO_TEST_CASE(check_json_accepts_json_of_every_kind) {
  for (auto text : {R"({})", R"([])", R"("x")", R"(1)", R"(null)", " \n{\"a\": [1, 2.5, true]} \t",
                    R"({"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]})", R"({"s":"\ud83c\udf89"})"})
    check_accepted(check_json(text));
}

BOOST_AUTO_TEST_CASE(check_json_allows_depth_64_and_rejects_65) {
  check_accepted(check_json(nested_arrays(64)));
  check_rejected(check_json(nested_arrays(65)), body_format, "body: nesting deeper than 64");
  // Objects count as well as arrays.
  std::string mixed;
  for (int i = 0; i < 32; ++i) mixed += R"({"k":[)";
  std::string closing;
  for (int i = 0; i < 32; ++i) closing += "]}";
  check_accepted(check_json(mixed + closing));
  check_rejected(check_json(mixed + "{}" + closing), body_format, "nesting deeper than 64");
  check_accepted(check_json(nested_arrays(3), {1 << 20, 3}));
  check_rejected(check_json(nested_arrays(4), {1 << 20, 3}), body_format, "deeper than 3");
}

BOOST_AUTO_TEST_CASE(check_json_rejects_hostile_nesting_without_recursing) {
  check_rejected(check_json(nested_arrays(100000)), body_format, "nesting deeper than 64");
  check_rejected(check_json(std::string(100000, '[')), body_format, "nesting deeper than 64");
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += R"({"a":)";
  check_rejected(check_json(objects), body_format, "nesting deeper than 64");
  check_rejected(parse_event(R"({"type":"t","content":)" + objects), body_format, "nesting");
}

BOOST_AUTO_TEST_CASE(check_json_rejects_invalid_utf8) {
  for (std::string bad :
       {"\xff", "\xc0\xaf", "\xe2\x82", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80", "ok\xfe"}) {
    check_rejected(check_json("{\"k\":\"" + bad + "\"}"), body_format, "body: invalid UTF-8");
    check_rejected(check_json("{\"" + bad + "\":1}"), body_format, "body: invalid UTF-8");
  }
  // A lone surrogate escape would decode to bytes that are not UTF-8.
  check_rejected(check_json(R"({"k":"\udc00"})"), body_format, "invalid UTF-8");
  check_rejected(check_json(R"({"k":"\ud800"})"), body_format, "not valid JSON");
  check_accepted(check_json("{\"k\":\"ünïcødé 🎉\"}"));
}

BOOST_AUTO_TEST_CASE(check_json_rejects_duplicate_keys_in_one_object) {
  check_rejected(check_json(R"({"x":1,"x":2})"), body_format, R"(body: duplicate key "x")");
  check_rejected(check_json(R"({"a":{"y":1,"b":2,"y":3}})"), body_format, R"(duplicate key "y")");
  check_rejected(check_json(R"([{"a":1},{"z":[],"z":{}}])"), body_format, R"(duplicate key "z")");
  check_rejected(check_json(R"({"ü":1,"ü":1})"), body_format, R"(duplicate key "ü")");
  // Same key in sibling or nested objects is fine, and keys differing in case are different.
  check_accepted(check_json(R"({"x":{"x":{"x":1}},"y":[{"x":1},{"x":2}],"X":0})"));
  // After an object closes, its keys are forgotten.
  check_accepted(check_json(R"([{"a":1,"b":2},{"a":1,"b":2}])"));
  check_rejected(parse_dispatcher(R"({"eventType":"a","eventType":"b"})"), body_format,
                 "duplicate key");
}

BOOST_AUTO_TEST_CASE(check_json_rejects_what_is_not_json) {
  for (const std::string& text :
       std::vector<std::string>{"", "   ", "{", "{} x", "{}{}", R"({"a":})", "{'a':1}", "NaN",
                                R"({"a":1,})", "[1,]", R"({"a" 1})", "tru", std::string("{}\0", 3),
                                std::string("{\"a\":\"\0\"}", 8), "{\"a\":\"\x01\"}", "01"})
    check_rejected(check_json(text), body_format, "body: not valid JSON (offset ");
  check_rejected(check_json("{} x"), body_format, "(offset 3: ");
  check_rejected(check_json("{\"a\":\"\x01\"}"), body_format,
                 "(offset 6: a control character in a string must be escaped)");
}

BOOST_AUTO_TEST_CASE(check_json_enforces_the_size_limit) {
  std::string text = "[" + std::string(98, ' ') + "]"; // 100 bytes
  check_accepted(check_json(text, {100, 64}));
  check_rejected(check_json(text + " ", {100, 64}), body_format, "body: larger than 100 bytes");
}

BOOST_AUTO_TEST_CASE(is_json_object_wants_a_valid_object) {
  BOOST_TEST(is_json_object(R"( {"a":1} )"));
  BOOST_TEST(!is_json_object("[]"));
  BOOST_TEST(!is_json_object(R"("{}")"));
  BOOST_TEST(!is_json_object(R"({"a":1,"a":2})"));
  BOOST_TEST(!is_json_object(""));
}

BOOST_AUTO_TEST_CASE(iso8601_dates) {
  struct sample {
    const char* text;
    timestamp_ms expected;
  };
  for (auto [text, expected] :
       {sample{"2030-01-02T03:04:05.678Z", 1893553445678},
        sample{"2030-01-02T03:04:05Z", 1893553445000},
        sample{"2030-01-02T03:04:05+02:00", 1893546245000},
        sample{"2030-01-02T03:04:05-05:30", 1893573245000},
        sample{"2030-01-02T03:04:05-0530", 1893573245000},
        sample{"2030-01-02t03:04:05.6z", 1893553445600},
        sample{"2030-01-02T03:04:05.678999Z", 1893553445678},
        sample{"2024-02-29T23:59:59.999Z", 1709251199999},
        sample{"2000-03-01T00:00:00Z", 951868800000}, sample{"1970-01-01T00:00:00.000Z", 0},
        sample{"9999-12-31T23:59:59.999Z", 253402300799999}}) {
    timestamp_ms out = -1;
    BOOST_TEST(parse_iso8601(text, out), text);
    BOOST_TEST(out == expected, text);
  }
  for (auto text : {"", "2030-01-02", "2030-01-02T03:04:05", "2030-01-02 03:04:05Z",
                    "2030-13-02T03:04:05Z", "2030-00-02T03:04:05Z", "2023-02-29T00:00:00Z",
                    "2030-04-31T00:00:00Z", "2030-01-02T24:00:00Z", "2030-01-02T03:60:05Z",
                    "2030-01-02T03:04:60Z", "2030-01-02T03:04:05.Z", "2030-01-02T03:04:05+2:00",
                    "2030-01-02T03:04:05+24:00", "2030-01-02T03:04:05Zjunk", "30-01-02T03:04:05Z",
                    "2030-01-02T03:04:05.1234567890Z", "２０３０-01-02T03:04:05Z"}) {
    timestamp_ms out = 0;
    BOOST_TEST(!parse_iso8601(text, out), text);
  }
}

BOOST_AUTO_TEST_CASE(events_with_every_field) {
  auto ev = parse_event(R"({"id":"65F0A1B2C3D4E5F601234567","type":"ünïcødé 🎉",)"
                        R"("content":{"zeta":1,"ünï":{"b":[true,null,"x\n"]},"alpha":2.5},)"
                        R"("creationTimestamp":"2030-01-02T03:04:05.678Z","extra":[1]})");
  check_accepted(ev);
  BOOST_TEST(ev->id == "65f0a1b2c3d4e5f601234567");
  BOOST_TEST(ev->type == "ünïcødé 🎉");
  BOOST_TEST(ev->content == R"({"zeta":1,"ünï":{"b":[true,null,"x\n"]},"alpha":2.5})");
  BOOST_TEST(ev->creation_timestamp == 1893553445678);
  auto bare = parse_event(R"({"type":"t","creationTimestamp":1700000000000})");
  check_accepted(bare);
  BOOST_TEST(bare->id.empty());
  BOOST_TEST(bare->content == "{}");
  BOOST_TEST(bare->creation_timestamp == 1700000000000);
  auto nulls = parse_event(R"({"type":"t","content":null,"id":null})");
  check_accepted(nulls); // null reads as absent
  BOOST_TEST(nulls->content == "{}");
}

BOOST_AUTO_TEST_CASE(event_errors) {
  check_rejected(parse_event(""), error_code::empty_body, "body: empty");
  check_rejected(parse_event(" \r\n\t"), error_code::empty_body, "body: empty");
  check_rejected(parse_event("[]"), body_format, "body: must be a JSON object");
  check_rejected(parse_event(R"("type")"), body_format, "must be a JSON object");
  check_rejected(parse_event("{}"), missing, "type: required");
  check_rejected(parse_event(R"({"type":""})"), missing, "type: required");
  check_rejected(parse_event(R"({"type":7})"), field_format, "type: must be a string");
  check_accepted(parse_event(R"({"type":")" + std::string(256, 'x') + "\"}"));
  check_rejected(parse_event(R"({"type":")" + std::string(257, 'x') + "\"}"), field_format,
                 "type: longer than 256 bytes");
  for (auto content : {"[]", "\"{}\"", "1", "true"})
    check_rejected(parse_event(std::string(R"({"type":"t","content":)") + content + "}"),
                   field_format, "content: must be a JSON object");
  for (auto id : {"\"65f0a1b2c3d4e5f60123456\"", "\"65f0a1b2c3d4e5f60123456z\"", "12", "\"\""})
    check_rejected(parse_event(std::string(R"({"type":"t","id":)") + id + "}"),
                   error_code::id_format, "id: must be 24 hex characters");
  for (auto ts : {"\"yesterday\"", "1.5", "true", "\"2030-01-02\"", "{}"})
    check_rejected(parse_event(std::string(R"({"type":"t","creationTimestamp":)") + ts + "}"),
                   field_format, "creationTimestamp: must be epoch milliseconds");
  check_rejected(parse_event(R"({"type":"t","creationTimestamp":-5})"), field_format,
                 "creationTimestamp: not a plausible time");
  check_rejected(parse_event(R"({"type":"t","creationTimestamp":"1969-12-31T23:59:59Z"})"),
                 field_format, "creationTimestamp: not a plausible time");
}

BOOST_AUTO_TEST_CASE(event_batches_report_each_element) {
  auto batch = parse_event_batch(R"([{"type":"a"},{"type":5},7,{"type":"b","id":"x"},{}])");
  check_accepted(batch);
  BOOST_TEST_REQUIRE(batch->size() == 5u);
  check_accepted((*batch)[0].error);
  BOOST_TEST((*batch)[0].value.type == "a");
  check_rejected((*batch)[1].error, field_format, "type: must be a string");
  check_rejected((*batch)[2].error, body_format, "must be a JSON object");
  check_rejected((*batch)[3].error, error_code::id_format, "id:");
  check_rejected((*batch)[4].error, missing, "type: required");
  check_accepted(parse_event_batch("[]"));
  BOOST_TEST(parse_event_batch("[]")->empty());
  check_rejected(parse_event_batch(R"({"type":"a"})"), body_format, "must be a JSON array");
  check_rejected(parse_event_batch(""), error_code::empty_body, "body: empty");
  check_rejected(parse_event_batch("[{]"), body_format, "not valid JSON");
}

BOOST_AUTO_TEST_CASE(dispatchers_with_every_field) {
  auto d = parse_dispatcher(
    R"({"id":"ignored","eventType":"ünïcødé 🎉","name":"n","description":"",)"
    R"("tags":[],"creationTimestamp":5,"actions":[)"
    R"({"type":"task","id":"x","name":"t","description":"d","functionName":"f",)"
    R"("data":{"ünï":{"z":1,"a":[]},"b":"c"},"tags":["x","y"],)"
    R"("startTimestamp":"2030-01-02T05:04:05.678+02:00","priority":-3},)"
    R"({"type":"mail","recipients":{"to":["a@example.com"],)"
    R"("cc":["b.c+d@mail.example.org"],"bcc":[]},)"
    R"("templateId":"65F0A1B2C3D4E5F601234567"}]})");
  check_accepted(d);
  BOOST_TEST(d->id.empty()); // the directory assigns ids
  BOOST_TEST(d->event_type == "ünïcødé 🎉");
  BOOST_TEST((d->name == std::string{"n"}));
  BOOST_TEST((d->description == std::string{}));
  BOOST_TEST_REQUIRE(static_cast<bool>(d->tags));
  BOOST_TEST(d->tags->empty());
  BOOST_TEST(d->creation_timestamp == 0);
  BOOST_TEST_REQUIRE(d->actions.size() == 2u);
  auto& task = d->actions[0];
  BOOST_TEST(task.id.empty());
  BOOST_TEST((task.kind == action_kind::task));
  BOOST_TEST((task.name == std::string{"t"}));
  BOOST_TEST((task.description == std::string{"d"}));
  BOOST_TEST(task.function_name == "f");
  BOOST_TEST((task.data == std::string{R"({"ünï":{"z":1,"a":[]},"b":"c"})"}));
  BOOST_TEST((task.tags == string_list{"x", "y"}));
  BOOST_TEST((task.start_timestamp == timestamp_ms{1893553445678}));
  BOOST_TEST((task.priority == int64_t{-3}));
  auto& mail = d->actions[1];
  BOOST_TEST((mail.kind == action_kind::mail));
  BOOST_TEST((mail.recipients.to == string_list{"a@example.com"}));
  BOOST_TEST((mail.recipients.cc == string_list{"b.c+d@mail.example.org"}));
  BOOST_TEST((mail.recipients.bcc == string_list{}));
  BOOST_TEST(mail.template_id == "65f0a1b2c3d4e5f601234567");
  BOOST_TEST(!mail.name);
  auto bare = parse_dispatcher(R"({"eventType":"e"})");
  check_accepted(bare);
  BOOST_TEST(bare->actions.empty());
  BOOST_TEST(!bare->name);
  BOOST_TEST(!bare->tags);
}

BOOST_AUTO_TEST_CASE(dispatcher_errors_name_the_field) {
  check_rejected(parse_dispatcher(""), error_code::empty_body, "body: empty");
  check_rejected(parse_dispatcher("[{}]"), body_format, "must be a JSON object");
  check_rejected(parse_dispatcher("{}"), missing, "eventType: required");
  check_rejected(parse_dispatcher(R"({"eventType":""})"), missing, "eventType: required");
  struct sample {
    const char* body;
    error_code code;
    const char* message;
  };
  for (auto [body, code, message] :
       {sample{R"({"eventType":1})", field_format, "eventType: must be a string"},
        sample{R"({"eventType":"e","name":[]})", field_format, "name: must be a string"},
        sample{R"({"eventType":"e","description":{}})", field_format, "description: must be"},
        sample{R"({"eventType":"e","tags":"a"})", field_format, "tags: must be an array"},
        sample{R"({"eventType":"e","tags":["a","b",3]})", field_format,
               "tags[2]: must be a string"},
        sample{R"({"eventType":"e","actions":{}})", field_format, "actions: must be an array"},
        sample{R"({"eventType":"e","actions":[1]})", field_format,
               "actions[0]: must be a JSON object"},
        sample{R"({"eventType":"e","actions":[{}]})", missing, "actions[0].type: required"},
        sample{R"({"eventType":"e","actions":[{"type":"sms"}]})", field_format,
               "actions[0].type: must be \"task\" or \"mail\""},
        sample{R"({"eventType":"e","actions":[{"type":1}]})", field_format, "actions[0].type"},
        sample{R"({"eventType":"e","actions":[{"type":"task"}]})", missing,
               "actions[0].functionName: required"},
        sample{R"({"eventType":"e","actions":[{"type":"task","functionName":2}]})", field_format,
               "actions[0].functionName: must be a string"},
        sample{R"({"eventType":"e","actions":[{"type":"mail"}]})", missing,
               "actions[0].recipients.to: required"}}) {
    check_rejected(parse_dispatcher(body), code, message);
  }
  check_rejected(parse_dispatcher(R"({"eventType":")" + std::string(257, 'e') + "\"}"),
                 field_format, "eventType: longer than 256 bytes");
  check_rejected(parse_dispatcher(R"({"eventType":"e","name":")" + std::string(1025, 'n') + "\"}"),
                 field_format, "name: longer than 1024 bytes");
}

BOOST_AUTO_TEST_CASE(task_action_field_errors) {
  struct sample {
    const char* field;
    const char* message;
  };
  for (auto [field, message] :
       {sample{R"("data":[])", "actions[0].data: must be a JSON object"},
        sample{R"("data":"{}")", "actions[0].data: must be a JSON object"},
        sample{R"("tags":[["a"]])", "actions[0].tags[0]: must be a string"},
        sample{R"("tags":["a","b",null])", "actions[0].tags[2]: must be a string"},
        sample{R"("startTimestamp":"soon")", "actions[0].startTimestamp: must be epoch"},
        sample{R"("startTimestamp":1.5)", "actions[0].startTimestamp: must be epoch"},
        sample{R"("priority":1.5)", "actions[0].priority: must be an integer"},
        sample{R"("priority":"1")", "actions[0].priority: must be an integer"},
        sample{R"("priority":18446744073709551615)", "actions[0].priority: must be an integer"},
        sample{R"("name":false)", "actions[0].name: must be a string"},
        sample{R"("description":1)", "actions[0].description: must be a string"},
        sample{R"("templateId":"65f0a1b2c3d4e5f601234567")",
               "actions[0].templateId: not allowed on a task action"},
        sample{R"("recipients":{"to":["a@example.com"]})",
               "actions[0].recipients: not allowed on a task action"}})
    check_rejected(parse_dispatcher(dispatcher_with_task_field(field)), field_format, message);
  check_rejected(parse_dispatcher(dispatcher_with_task_field(R"("startTimestamp":-1)")),
                 field_format, "actions[0].startTimestamp: not a plausible time");
  check_accepted(parse_dispatcher(dispatcher_with_task_field(R"("priority":null)")));
}

BOOST_AUTO_TEST_CASE(mail_action_field_errors) {
  struct sample {
    const char* field;
    error_code code;
    const char* message;
  };
  auto fmt = field_format;
  for (auto [field, code, message] :
       {sample{R"("x":1)", error_code::none, ""}, // unknown fields are ignored
        sample{R"("functionName":"f")", fmt, "actions[0].functionName: not allowed on a mail"},
        sample{R"("data":{})", fmt, "actions[0].data: not allowed on a mail action"},
        sample{R"("priority":1)", fmt, "actions[0].priority: not allowed on a mail action"}}) {
    auto result = parse_dispatcher(dispatcher_with_mail_field(field));
    if (code == error_code::none)
      check_accepted(result);
    else
      check_rejected(result, code, message);
  }
  auto mail = [](const std::string& recipients, const std::string& template_id) {
    return R"({"eventType":"e","actions":[{"type":"mail","recipients":)" + recipients
           + R"(,"templateId":)" + template_id + "}]}";
  };
  auto tid = std::string{R"("65f0a1b2c3d4e5f601234567")"};
  auto to = std::string{R"({"to":["a@example.com"]})"};
  check_accepted(parse_dispatcher(mail(to, tid)));
  check_rejected(parse_dispatcher(mail("[]", tid)), fmt, "actions[0].recipients: must be a JSON");
  check_rejected(parse_dispatcher(mail(R"({"to":"a@example.com"})", tid)), fmt,
                 "actions[0].recipients.to: must be an array");
  check_rejected(parse_dispatcher(mail(R"({"to":[1]})", tid)), fmt,
                 "actions[0].recipients.to[0]: must be a string");
  check_rejected(parse_dispatcher(mail(R"({"to":[]})", tid)), missing,
                 "actions[0].recipients.to: required");
  check_rejected(parse_dispatcher(mail(R"({"cc":["a@example.com"]})", tid)), missing,
                 "actions[0].recipients.to: required");
  check_rejected(parse_dispatcher(mail(R"({"to":["a@example.com","not an email"]})", tid)), fmt,
                 "actions[0].recipients.to[1]: not an email address");
  check_rejected(parse_dispatcher(mail(R"({"to":["a@example.com"],"cc":["x"]})", tid)), fmt,
                 "actions[0].recipients.cc[0]: not an email address");
  check_rejected(parse_dispatcher(mail(R"({"to":["a@example.com"],"bcc":[true]})", tid)), fmt,
                 "actions[0].recipients.bcc[0]: must be a string");
  check_rejected(parse_dispatcher(mail(to, "7")), fmt, "actions[0].templateId: must be a string");
  check_rejected(parse_dispatcher(mail(to, R"("abc")")), fmt,
                 "actions[0].templateId: must be 24 hex characters");
  check_rejected(parse_dispatcher(mail(to, "null")), missing, "actions[0].templateId: required");
}

BOOST_AUTO_TEST_CASE(dispatcher_patches) {
  auto p = parse_dispatcher_patch(R"({"name":"n2","tags":["a"],"actions":[{"bogus":1}]})");
  check_accepted(p); // ExH clients send `actions` on a PUT: ignored
  BOOST_TEST(!p->event_type);
  BOOST_TEST((p->name == std::string{"n2"}));
  BOOST_TEST(!p->description);
  BOOST_TEST((p->tags == string_list{"a"}));
  auto all = parse_dispatcher_patch(R"({"eventType":"e2","description":"d"})");
  check_accepted(all);
  BOOST_TEST((all->event_type == std::string{"e2"}));
  BOOST_TEST((all->description == std::string{"d"}));
  check_accepted(parse_dispatcher_patch("{}"));
  check_rejected(parse_dispatcher_patch(""), error_code::empty_body, "body: empty");
  check_rejected(parse_dispatcher_patch("1"), body_format, "must be a JSON object");
  check_rejected(parse_dispatcher_patch(R"({"eventType":""})"), missing, "eventType: required");
  check_rejected(parse_dispatcher_patch(R"({"eventType":[]})"), field_format, "eventType: must be");
  check_rejected(parse_dispatcher_patch(R"({"tags":[1]})"), field_format, "tags[0]: must be");
}

BOOST_AUTO_TEST_CASE(actions_and_action_patches) {
  auto a = parse_action(R"({"type":"task","functionName":"f","data":{"k":"v"}})");
  check_accepted(a);
  BOOST_TEST(a->function_name == "f");
  check_rejected(parse_action(""), error_code::empty_body, "body: empty");
  check_rejected(parse_action("[]"), body_format, "must be a JSON object");
  check_rejected(parse_action(R"({"functionName":"f"})"), missing, "type: required");
  check_rejected(parse_action(R"({"type":"task","tags":[1]})"), field_format, "tags[0]: must be");
  // A PUT ignores `type` (the ExH CLI sends it) and reads only what is present.
  auto p = parse_action_patch(R"({"type":"mail","functionName":"g","priority":4,"data":{}})");
  check_accepted(p);
  BOOST_TEST((p->function_name == std::string{"g"}));
  BOOST_TEST((p->priority == int64_t{4}));
  BOOST_TEST((p->data == std::string{"{}"}));
  BOOST_TEST(!p->recipients);
  auto m = parse_action_patch(R"({"recipients":{"to":["a@example.com"]},"templateId":)"
                              R"("65F0A1B2C3D4E5F601234567","name":"m"})");
  check_accepted(m);
  BOOST_TEST_REQUIRE(static_cast<bool>(m->recipients));
  BOOST_TEST((m->recipients->to == string_list{"a@example.com"}));
  BOOST_TEST((m->template_id == std::string{"65f0a1b2c3d4e5f601234567"}));
  check_rejected(parse_action_patch(R"({"functionName":"f","templateId":"x"})"), field_format,
                 "mixes task fields");
  check_rejected(parse_action_patch(R"({"recipients":{"to":[]}})"), missing,
                 "recipients.to: required");
  check_rejected(parse_action_patch(R"({"templateId":"nope"})"), field_format,
                 "templateId: must be 24 hex characters");
  check_rejected(parse_action_patch(R"({"functionName":""})"), missing, "functionName: required");
  check_rejected(parse_action_patch(R"({"startTimestamp":"x"})"), field_format, "startTimestamp");
  check_rejected(parse_action_patch(R"({"data":[]})"), field_format, "data: must be a JSON object");
  check_rejected(parse_action_patch(""), error_code::empty_body, "body: empty");
}

BOOST_AUTO_TEST_SUITE_END()
