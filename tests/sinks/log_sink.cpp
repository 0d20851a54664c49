// Tests of the built-in log sink: what it stores is the ExH shape of a task or a mail, readable
// with `for_each_log`, one record per delivery id; corrupt payloads are refused, not logged.
#include <boost/test/unit_test.hpp>

#include <rapidjson/document.h>

#include <caf/all.hpp>

#include "fixtures/engine_fixture.hpp"
#include "fixtures/poll.hpp"
#include "actors/emitter.hpp"
#include "messages/error_code.hpp"
#include "messages/ids.hpp"
#include "messages/type_registry.hpp"
#include "sinks/log_sink.hpp"
#include "fixtures/samples.hpp"

using namespace dispatch;
using namespace std::chrono_literals;

namespace {

struct fixture {
  test::temp_dir dir;
  store_ptr db;
  test::test_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  sink_actor sink;
  std::vector<caf::actor> spawned;

  fixture() {
    store_options opts;
    opts.data_dir = dir.path();
    opts.sync = false;
    auto opened = store::open(opts);
    BOOST_REQUIRE_MESSAGE(
      opened, "cannot open the store: " << (opened ? std::string{} : message_of(opened.error())));
    db = std::move(*opened);
    sink = sys.spawn(dispatch::log_sink, db, wall_clock());
    spawned.push_back(caf::actor_cast<caf::actor>(sink));
  }

  ~fixture() {
    for (auto& handle : spawned) caf::anon_send_exit(handle, caf::exit_reason::kill);
  }

  delivery make(action_kind kind) { return dispatch::test::new_delivery(kind); }

  delivery_result deliver(const delivery& d) {
    delivery_result result = retry_later("no answer");
    self->request(sink, 10s, deliver_atom::value, delivery_list{d})
      .receive(
        [&](const delivery_result_list& r) {
          BOOST_REQUIRE_EQUAL(r.size(), 1u);
          result = r.front();
        },
        [&](const caf::error& err) { result = retry_later(message_of(err)); });
    return result;
  }

  std::vector<log_record> logged(action_kind kind) {
    std::vector<log_record> records;
    auto err = db->for_each_log(kind, [&](const log_record& r) {
      records.push_back(r);
      return true;
    });
    BOOST_REQUIRE_MESSAGE(!err, "for_each_log: " << message_of(err));
    return records;
  }
};

rapidjson::Document parsed(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.c_str(), json.size());
  BOOST_REQUIRE_MESSAGE(!doc.HasParseError() && doc.IsObject(), "not a JSON object: " << json);
  return doc;
}

bool delivered_ok(const delivery_result& r) {
  return r.verdict == sink_verdict::delivered;
}

} // namespace

BOOST_AUTO_TEST_SUITE(log_sink)

BOOST_FIXTURE_TEST_CASE(a_task_is_logged_in_exh_shape, fixture) {
  auto d = make(action_kind::task);
  d.task.function_name = "sendWelcome";
  d.task.data = R"({"Lang":"nl","event":{"type":"user.created","content":{"a":[1,2]}}})";
  d.task.tags = string_list{"onboarding", "mail"};
  d.task.start_timestamp = 1'900'000'000'000;
  d.task.priority = 3;
  auto before = now_ms();
  BOOST_REQUIRE(delivered_ok(deliver(d)));
  auto records = logged(action_kind::task);
  BOOST_REQUIRE(records.size() == 1u);
  BOOST_TEST(records[0].id == d.id);
  BOOST_TEST(logged(action_kind::mail).empty());
  auto doc = parsed(records[0].json);
  BOOST_TEST(doc["id"].GetString() == d.id);
  BOOST_TEST(doc["functionName"].GetString() == std::string{"sendWelcome"});
  BOOST_TEST(doc["data"]["Lang"].GetString() == std::string{"nl"}); // keys keep their spelling
  BOOST_TEST(doc["data"]["event"]["content"]["a"][1].GetInt() == 2);
  BOOST_TEST(doc["tags"].Size() == 2u);
  BOOST_TEST(doc["tags"][1].GetString() == std::string{"mail"});
  BOOST_TEST(doc["startTimestamp"].GetInt64() == 1'900'000'000'000);
  BOOST_TEST(doc["priority"].GetInt64() == 3);
  BOOST_TEST(doc["status"].GetString() == std::string{"new"});
  BOOST_TEST(doc["creationTimestamp"].GetInt64() >= before);
  BOOST_TEST(doc["updateTimestamp"].GetInt64() == doc["creationTimestamp"].GetInt64());
}

BOOST_FIXTURE_TEST_CASE(absent_task_fields_are_omitted, fixture) {
  auto d = make(action_kind::task);
  d.task.function_name = "bare";
  BOOST_REQUIRE(delivered_ok(deliver(d)));
  auto records = logged(action_kind::task);
  BOOST_REQUIRE(records.size() == 1u);
  auto doc = parsed(records[0].json);
  BOOST_TEST(!doc.HasMember("tags"));
  BOOST_TEST(!doc.HasMember("startTimestamp"));
  BOOST_TEST(!doc.HasMember("priority"));
  BOOST_TEST(doc["data"].IsObject());
  BOOST_TEST(doc["data"].MemberCount() == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_mail_is_logged_in_exh_shape, fixture) {
  auto d = make(action_kind::mail);
  d.mail.template_id = "5e9f1b2c3d4e5f6a7b8c9d0e";
  d.mail.recipients.to = {"a@example.com", "b@example.com"};
  d.mail.recipients.cc = string_list{"c@example.com"};
  d.mail.content = R"({"event":{"type":"user.created","content":{"name":"Zoë \"Z\""}}})";
  BOOST_REQUIRE(delivered_ok(deliver(d)));
  auto records = logged(action_kind::mail);
  BOOST_REQUIRE(records.size() == 1u);
  BOOST_TEST(logged(action_kind::task).empty());
  auto doc = parsed(records[0].json);
  BOOST_TEST(doc["id"].GetString() == d.id);
  BOOST_TEST(doc["templateId"].GetString() == d.mail.template_id);
  BOOST_TEST(doc["recipients"]["to"].Size() == 2u);
  BOOST_TEST(doc["recipients"]["cc"][0].GetString() == std::string{"c@example.com"});
  BOOST_TEST(!doc["recipients"].HasMember("bcc"));
  BOOST_TEST(doc["content"]["event"]["content"]["name"].GetString() == std::string{"Zoë \"Z\""});
  BOOST_TEST(doc.HasMember("creationTimestamp"));
}

BOOST_FIXTURE_TEST_CASE(the_same_id_twice_makes_one_record, fixture) {
  auto d = make(action_kind::task);
  d.task.function_name = "twice";
  BOOST_REQUIRE(delivered_ok(deliver(d)));
  BOOST_REQUIRE(delivered_ok(deliver(d)));
  auto other = make(action_kind::task);
  other.task.function_name = "other";
  BOOST_REQUIRE(delivered_ok(deliver(other)));
  auto records = logged(action_kind::task);
  BOOST_REQUIRE(records.size() == 2u);
  BOOST_TEST((records[0].id == d.id || records[1].id == d.id));
  BOOST_TEST((records[0].id == other.id || records[1].id == other.id));
}

BOOST_FIXTURE_TEST_CASE(corrupt_payloads_are_refused_and_not_logged, fixture) {
  auto d = make(action_kind::task);
  d.task.function_name = "broken";
  for (auto bad : {std::string{R"({"a":)"}, std::string{"[1,2]"}, std::string{"{} {}"},
                   std::string{""}, std::string{"{\"a\":\"\xff\"}"}, std::string{"{}\0{", 4}}) {
    d.task.data = bad;
    auto r = deliver(d);
    BOOST_TEST((r.verdict == sink_verdict::permanent), "accepted data: " << bad);
    BOOST_TEST(r.reason.find("log sink") != std::string::npos);
  }
  auto m = make(action_kind::mail);
  m.mail.template_id = "t";
  m.mail.recipients.to = {"a@example.com"};
  m.mail.content = "not json";
  BOOST_TEST((deliver(m).verdict == sink_verdict::permanent));
  BOOST_TEST(logged(action_kind::task).empty());
  BOOST_TEST(logged(action_kind::mail).empty());
}

BOOST_FIXTURE_TEST_CASE(deep_nesting_does_not_crash_the_sink, fixture) {
  auto d = make(action_kind::task);
  d.task.function_name = "deep";
  std::string deep = "{\"x\":" + std::string(200000, '[') + std::string(200000, ']') + "}";
  d.task.data = deep;
  BOOST_TEST(delivered_ok(deliver(d))); // well-formed, however deep: logged verbatim
  auto records = logged(action_kind::task);
  BOOST_REQUIRE(records.size() == 1u);
  BOOST_TEST(records[0].json.find(deep) != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(a_batch_gets_one_answer_per_delivery_in_order, fixture) {
  auto good = make(action_kind::task);
  auto bad = make(action_kind::task);
  bad.task.data = "[1,2]";
  auto mail = make(action_kind::mail);
  delivery_result_list results;
  self->request(sink, 10s, deliver_atom::value, delivery_list{good, bad, mail})
    .receive([&](const delivery_result_list& r) { results = r; },
             [&](const caf::error& err) { BOOST_FAIL(message_of(err)); });
  BOOST_REQUIRE_EQUAL(results.size(), 3u);
  BOOST_TEST((results[0].verdict == sink_verdict::delivered));
  BOOST_TEST((results[1].verdict == sink_verdict::permanent));
  BOOST_TEST((results[2].verdict == sink_verdict::delivered));
  BOOST_TEST(logged(action_kind::task).size() == 1u);
  BOOST_TEST(logged(action_kind::mail).size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(an_emitter_delivers_into_the_log, fixture) {
  engine_config config;
  auto metrics = std::make_shared<engine_metrics>();
  auto em = sys.spawn(dispatch::emitter, action_kind::task, uint32_t{0}, config, db, metrics,
                      sink_binding{sink, false}, dispatcher_rates_ptr{});
  spawned.push_back(caf::actor_cast<caf::actor>(em));
  auto d = make(action_kind::task);
  d.task.function_name = "viaEmitter";
  // A stand-in for the matcher: the delivery is in "the log" right after the emitter's cursor (0),
  // and the emitter reads it there when it catches up at start.
  auto reader = sys.spawn([d]() -> log_reader_actor::behavior_type {
    return {[d](rederive_atom, action_kind, uint64_t after, uint32_t) {
      if (after == 0) return delivery_batch{0, 1, true, {d}};
      return delivery_batch{after, after, true, {}};
    }};
  });
  spawned.push_back(caf::actor_cast<caf::actor>(reader));
  caf::anon_send(em, handles_atom::value, reader);
  dispatch::test::eventually([&] { return !logged(action_kind::task).empty(); }, 20s);
  auto records = logged(action_kind::task);
  BOOST_REQUIRE(records.size() == 1u);
  BOOST_TEST(records[0].id == d.id);
  BOOST_TEST(parsed(records[0].json)["functionName"].GetString() == std::string{"viaEmitter"});
}

BOOST_AUTO_TEST_SUITE_END()
