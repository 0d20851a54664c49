// Tests of the codec's output side: API shapes (absent fields omitted, empty arrays kept), the
// Task and Mail Service bodies, the event merged into task data, round trips and the 1 MiB limit.
#include <boost/test/unit_test.hpp>

#include <string>

#include "codec_helpers.hpp"
#include "messages/json.hpp"
#include "printing.hpp"

using namespace dispatch;
using dispatch::test::check_accepted;
using dispatch::test::check_rejected;

namespace {

event sample_event() {
  return {"65f0a1b2c3d4e5f601234567", "ünïcødé 🎉", R"({"ünï":1,"a":[true]})", 1893553445678};
}

const std::string sample_event_json = R"({"id":"65f0a1b2c3d4e5f601234567","type":"ünïcødé 🎉",)"
                                      R"("content":{"ünï":1,"a":[true]},)"
                                      R"("creationTimestamp":1893553445678})";

action task_action() {
  action x;
  x.id = "65f0a1b2c3d4e5f601234568";
  x.kind = action_kind::task;
  x.name = "resize";
  x.function_name = "resize-image";
  x.data = R"({"z":1,"a":{"b":"c"}})";
  x.tags = string_list{};
  x.start_timestamp = 1893553445000;
  x.priority = 2;
  return x;
}

action mail_action() {
  action x;
  x.id = "65f0a1b2c3d4e5f601234569";
  x.kind = action_kind::mail;
  x.description = "";
  x.recipients = {{"a@example.com"}, string_list{"b@example.com"}, caf::none};
  x.template_id = "65f0a1b2c3d4e5f60123456a";
  return x;
}

dispatcher sample_dispatcher() {
  dispatcher x;
  x.id = "65f0a1b2c3d4e5f60123456b";
  x.event_type = "user.created";
  x.tags = string_list{"t"};
  x.actions = {task_action(), mail_action()};
  x.creation_timestamp = 1700000000001;
  x.update_timestamp = 1700000000002;
  x.version = 9;
  return x;
}

} // namespace

BOOST_AUTO_TEST_SUITE(codec_output)

BOOST_AUTO_TEST_CASE(events_are_written_in_the_api_shape) {
  BOOST_TEST(to_json(sample_event()) == sample_event_json);
  event unassigned{"", "t", "{}", 0}; // before ingest: id and timestamp are absent, not empty
  BOOST_TEST(to_json(unassigned) == R"({"type":"t","content":{}})");
  event odd{"", "quote\" back\\ nl\n tab\t", "", 0};
  BOOST_TEST(to_json(odd) == R"({"type":"quote\" back\\ nl\n tab\t","content":{}})");
}

BOOST_AUTO_TEST_CASE(actions_omit_absent_fields_and_keep_empty_ones) {
  BOOST_TEST(to_json(task_action())
             == R"({"id":"65f0a1b2c3d4e5f601234568","type":"task","name":"resize",)"
                R"("functionName":"resize-image","data":{"z":1,"a":{"b":"c"}},"tags":[],)"
                R"("startTimestamp":1893553445000,"priority":2})");
  BOOST_TEST(to_json(mail_action())
             == R"({"id":"65f0a1b2c3d4e5f601234569","type":"mail","description":"",)"
                R"("recipients":{"to":["a@example.com"],"cc":["b@example.com"]},)"
                R"("templateId":"65f0a1b2c3d4e5f60123456a"})");
  action bare;
  bare.function_name = "f";
  BOOST_TEST(to_json(bare) == R"({"type":"task","functionName":"f"})");
}

BOOST_AUTO_TEST_CASE(dispatchers_and_their_selection) {
  auto text = to_json(sample_dispatcher());
  BOOST_TEST(text
             == R"({"id":"65f0a1b2c3d4e5f60123456b","eventType":"user.created","tags":["t"],)"
                R"("actions":[)"
                  + to_json(task_action()) + "," + to_json(mail_action())
                  + R"(],"creationTimestamp":1700000000001,"updateTimestamp":1700000000002})");
  BOOST_TEST(text.find("version") == std::string::npos); // internal, never on the wire
  BOOST_TEST(to_json(sample_dispatcher(), {"eventType", "updateTimestamp"})
             == R"({"id":"65f0a1b2c3d4e5f60123456b","eventType":"user.created",)"
                R"("updateTimestamp":1700000000002})");
  // A dotted path selects its top-level field; an unknown field selects nothing more than `id`.
  BOOST_TEST(to_json(sample_dispatcher(), {"tags.0"})
             == R"({"id":"65f0a1b2c3d4e5f60123456b","tags":["t"]})");
  BOOST_TEST(to_json(sample_dispatcher(), {"nope", "event"})
             == R"({"id":"65f0a1b2c3d4e5f60123456b"})");
}

BOOST_AUTO_TEST_CASE(task_and_mail_service_bodies) {
  task_request t{"resize-image", R"({"k":1,"event":{}})", string_list{"a"}, 1893553445000, 3};
  BOOST_TEST(task_body(t)
             == R"({"functionName":"resize-image","data":{"k":1,"event":{}},"tags":["a"],)"
                R"("startTimestamp":1893553445000,"priority":3})");
  task_request bare{"f", "{}", caf::none, caf::none, caf::none};
  BOOST_TEST(task_body(bare) == R"({"functionName":"f","data":{}})");
  mail_request m{"65f0a1b2c3d4e5f60123456a",
                 {{"a@example.com", "b@example.com"}, caf::none, string_list{}},
                 R"({"event":{}})"};
  BOOST_TEST(mail_body(m)
             == R"({"template_id":"65f0a1b2c3d4e5f60123456a","recipients":{"to":)"
                R"(["a@example.com","b@example.com"],"bcc":[]},"content":{"event":{}}})");
}

BOOST_AUTO_TEST_CASE(deliveries_with_their_request) {
  delivery d;
  d.id = "3d907a529e9bb6faf78c8354";
  d.kind = action_kind::task;
  d.event_id = "e1";
  d.event_type = "user.created";
  d.dispatcher_id = "d1";
  d.action_id = "a1";
  d.status = delivery_status::retrying;
  d.attempts = 2;
  d.created = 1700000000000;
  d.next_attempt = 1700000005000;
  d.last_error = "HTTP 503";
  d.task = {"f", "{}", caf::none, caf::none, caf::none};
  auto head = R"({"id":"3d907a529e9bb6faf78c8354","type":"task","eventId":"e1",)"
              R"("eventType":"user.created","dispatcherId":"d1","actionId":"a1",)";
  BOOST_TEST(to_json(d)
             == std::string{head}
                  + R"("status":"retrying","attempts":2,"creationTimestamp":1700000000000,)"
                    R"("nextAttemptTimestamp":1700000005000,"lastError":"HTTP 503",)"
                    R"("task":{"functionName":"f","data":{}}})");
  d.kind = action_kind::mail;
  d.status = delivery_status::delivered;
  d.next_attempt = 0;
  d.finished = 1700000009000;
  d.last_error.clear();
  d.mail = {"65f0a1b2c3d4e5f60123456a", {{"a@example.com"}, caf::none, caf::none}, "{}"};
  auto mail_text = to_json(d);
  BOOST_TEST(mail_text.find(R"("status":"delivered")") != std::string::npos);
  BOOST_TEST(mail_text.find(R"("finishedTimestamp":1700000009000)") != std::string::npos);
  BOOST_TEST(mail_text.find("nextAttemptTimestamp") == std::string::npos);
  BOOST_TEST(mail_text.find("lastError") == std::string::npos);
  BOOST_TEST(mail_text.find(R"("task")") == std::string::npos);
  BOOST_TEST(mail_text.find(R"(,"mail":{"template_id":"65f0a1b2c3d4e5f60123456a")")
             != std::string::npos);
  BOOST_TEST(to_json(d, {"status"}) == R"({"id":"3d907a529e9bb6faf78c8354","status":"delivered"})");
}

BOOST_AUTO_TEST_CASE(task_data_carries_the_event) {
  auto ev = sample_event();
  BOOST_TEST(task_data_with_event(caf::none, ev) == R"({"event":)" + sample_event_json + "}");
  BOOST_TEST(task_data_with_event(std::string{"{}"}, ev)
             == R"({"event":)" + sample_event_json + "}");
  // Keys keep their order and spelling; an `event` key of the action is overridden in place.
  std::string data = R"({"zeta":1,"event":"mine","ünï":{"b":[1,2]},"Alpha":null})";
  BOOST_TEST(task_data_with_event(data, ev)
             == R"({"zeta":1,"event":)" + sample_event_json
                  + R"(,"ünï":{"b":[1,2]},"Alpha":null})");
  BOOST_TEST(task_data_with_event(std::string{R"({"a":"x"})"}, ev)
             == R"({"a":"x","event":)" + sample_event_json + "}");
  // Unvalidated input that is not an object is never walked.
  BOOST_TEST(task_data_with_event(std::string(100000, '['), ev)
             == R"({"event":)" + sample_event_json + "}");
  BOOST_TEST(mail_content_of(ev) == R"({"event":)" + sample_event_json + "}");
  check_accepted(check_json(task_data_with_event(data, ev)));
}

BOOST_AUTO_TEST_CASE(round_trips_through_the_api_shape) {
  auto body = R"({"eventType":"ünïcødé 🎉","name":"n","tags":[],"actions":[)"
              R"({"type":"task","functionName":"f","data":{"ü":{"z":[1,{"y":null}]},"a":"\u0000"},)"
              R"("tags":["x"],"startTimestamp":"2030-01-02T03:04:05.678Z","priority":7},)"
              R"({"type":"mail","name":"m","recipients":{"to":["a@example.com"],"bcc":[]},)"
              R"("templateId":"65f0a1b2c3d4e5f60123456a"}]})";
  auto first = parse_dispatcher(body);
  check_accepted(first);
  auto second = parse_dispatcher(to_json(*first));
  check_accepted(second);
  BOOST_TEST(*second == *first);
  BOOST_TEST(to_json(*second) == to_json(*first));
  auto ev = parse_event(R"({"type":"t","content":{"k":["ünï",1.5e300,-0]},"id":)"
                        R"("65F0A1B2C3D4E5F601234567","creationTimestamp":1})");
  check_accepted(ev);
  auto ev2 = parse_event(to_json(*ev));
  check_accepted(ev2);
  BOOST_TEST(*ev2 == *ev);
  auto a = parse_action(to_json(mail_action()));
  check_accepted(a);
  auto expected = mail_action();
  expected.id.clear(); // an action's id is assigned by the directory, never read from a body
  BOOST_TEST(*a == expected);
  BOOST_TEST(to_json(*a) == to_json(expected));
}

BOOST_AUTO_TEST_CASE(one_mebibyte_bodies) {
  constexpr size_t limit = 1 << 20;
  auto body_of_size = [](size_t size) {
    std::string head = R"({"eventType":"e","actions":[{"type":"task","functionName":"f",)"
                       R"("data":{"blob":")";
    std::string tail = "\"}}]}";
    return head + std::string(size - head.size() - tail.size(), 'x') + tail;
  };
  auto just_under = body_of_size(limit);
  BOOST_TEST_REQUIRE(just_under.size() == limit);
  auto d = parse_dispatcher(just_under);
  check_accepted(d);
  BOOST_TEST(d->actions[0].data->size() > limit - 100);
  check_rejected(parse_dispatcher(body_of_size(limit + 1)), error_code::body_format,
                 "body: larger than 1048576 bytes");
  std::string event_head = R"({"type":"t","content":{"k":")";
  auto event_body = event_head + std::string(limit - event_head.size() - 3, 'y') + "\"}}";
  BOOST_TEST_REQUIRE(event_body.size() == limit);
  check_accepted(parse_event(event_body));
  check_rejected(parse_event(event_body + " "), error_code::body_format, "larger than");
  // A smaller configured limit applies to the body.
  check_rejected(parse_event(R"({"type":"t"})", {8, 64}), error_code::body_format,
                 "larger than 8 bytes");
}

BOOST_AUTO_TEST_SUITE_END()
