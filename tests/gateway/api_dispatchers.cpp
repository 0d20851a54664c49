// The dispatcher endpoints of docs/api.md over the HTTP API: create, find (paging, select, sort), get,
// update, remove, and the action calls, with their error answers.
#include <boost/test/unit_test.hpp>

#include <set>

#include "api_fixture.hpp"

using namespace dispatch;
using namespace dispatch::test;

namespace {

struct started : api_fixture {
  started() { start(); }
};

const char* unknown_id = "0123456789abcdef01234567";

} // namespace

BOOST_FIXTURE_TEST_SUITE(api_dispatchers, started)

BOOST_AUTO_TEST_CASE(create_answers_the_stored_dispatcher_in_api_shape) {
  auto res = ok(
    "POST", "/dispatchers/v1/",
    R"({"eventType":"user.created","name":"welcome","description":"d","tags":["a"],)"
    R"("actions":[{"type":"task","functionName":"f","data":{"Key":1}},)"
    R"({"type":"mail","recipients":{"to":["x@example.com"]},"templateId":"5f0c1d2e3a4b5c6d7e8f9012"}]})");
  BOOST_TEST(res.content_type == "application/json");
  auto& d = res.json;
  BOOST_TEST(text(d, "id").size() == 24u);
  BOOST_TEST(text(d, "eventType") == "user.created");
  BOOST_TEST(text(d, "name") == "welcome");
  BOOST_TEST(d["creationTimestamp"].IsInt64());
  BOOST_TEST(d["updateTimestamp"].IsInt64());
  BOOST_TEST(!d.HasMember("version")); // internal, never on the wire
  BOOST_REQUIRE(d["actions"].Size() == 2u);
  BOOST_TEST(text(d["actions"][0], "id").size() == 24u);
  BOOST_TEST(dump(d["actions"][0]["data"]) == R"({"Key":1})"); // keys come back as sent
  BOOST_TEST(text(d["actions"][1], "type") == "mail");
  BOOST_TEST(text(d["actions"][1], "templateId") == "5f0c1d2e3a4b5c6d7e8f9012");
}

BOOST_AUTO_TEST_CASE(a_created_dispatcher_has_no_null_fields) {
  auto res = ok("POST", "/dispatchers/v1", R"({"eventType":"a"})");
  BOOST_TEST(res.body.find("null") == std::string::npos);
  BOOST_TEST(!res.json.HasMember("name"));
  BOOST_TEST(res.json["actions"].IsArray());
}

BOOST_AUTO_TEST_CASE(get_by_id_with_and_without_trailing_slash_and_in_upper_case) {
  auto id = create_task_dispatcher("order.paid", "paid");
  BOOST_TEST(text(ok("GET", "/dispatchers/v1/" + id).json, "name") == "paid");
  BOOST_TEST(text(ok("GET", "/dispatchers/v1/" + id + "/").json, "id") == id);
  std::string upper = id;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  BOOST_TEST(text(ok("GET", "/dispatchers/v1/" + upper).json, "id") == id);
  auto unknown = call("GET", std::string{"/dispatchers/v1/"} + unknown_id);
  BOOST_TEST(unknown.status == 404u);
  BOOST_TEST(unknown.code() == 16u);
  auto bad = call("GET", "/dispatchers/v1/not-an-id");
  BOOST_TEST(bad.status == 400u);
  BOOST_TEST(bad.code() == 12u);
  BOOST_TEST(text(bad.json, "name") == "ID_FORMAT_EXCEPTION");
}

BOOST_AUTO_TEST_CASE(find_by_id_with_rql_and_an_unknown_id_gives_an_empty_page) {
  auto id = create_task_dispatcher("a.b");
  create_task_dispatcher("c.d");
  auto page = ok("GET", "/dispatchers/v1/?eq(id," + id + ")");
  BOOST_TEST(page.json["page"]["total"].GetUint64() == 1u);
  BOOST_TEST(text(page.json["data"][0], "id") == id);
  auto empty = ok("GET", std::string{"/dispatchers/v1/?eq(id,"} + unknown_id + ")");
  BOOST_TEST(empty.json["page"]["total"].GetUint64() == 0u);
  BOOST_TEST(empty.json["data"].Size() == 0u);
}

BOOST_AUTO_TEST_CASE(paging_55_dispatchers_by_50) {
  for (int i = 0; i < 55; ++i) create_task_dispatcher("paged", "d" + std::to_string(i));
  auto first = ok("GET", "/dispatchers/v1/?limit(50)");
  BOOST_TEST(first.json["page"]["total"].GetUint64() == 55u);
  BOOST_TEST(first.json["page"]["limit"].GetUint() == 50u);
  BOOST_TEST(first.json["page"]["offset"].GetUint() == 0u);
  BOOST_TEST(first.json["data"].Size() == 50u);
  auto second = ok("GET", "/dispatchers/v1?limit(50,50)");
  BOOST_TEST(second.json["page"]["total"].GetUint64() == 55u);
  BOOST_TEST(second.json["page"]["offset"].GetUint() == 50u);
  BOOST_TEST(second.json["data"].Size() == 5u);
  std::set<std::string> ids;
  for (auto* page : {&first, &second})
    for (auto& row : page->json["data"].GetArray()) ids.insert(text(row, "id"));
  BOOST_TEST(ids.size() == 55u); // the two pages do not overlap
  auto defaulted = ok("GET", "/dispatchers/v1/");
  BOOST_TEST(defaulted.json["data"].Size() == 20u);
  auto clamped = ok("GET", "/dispatchers/v1/?limit(500)");
  BOOST_TEST(clamped.json["data"].Size() == 50u);
}

BOOST_AUTO_TEST_CASE(select_keeps_only_the_selected_fields_and_id) {
  create_task_dispatcher("s", "selected");
  auto page = ok("GET", "/dispatchers/v1/?select(name,eventType)");
  auto& row = page.json["data"][0];
  BOOST_TEST(text(row, "name") == "selected");
  BOOST_TEST(text(row, "eventType") == "s");
  BOOST_TEST(row.HasMember("id"));
  BOOST_TEST(!row.HasMember("actions"));
  BOOST_TEST(!row.HasMember("creationTimestamp"));
  // A dotted path selects inside every action.
  auto narrowed = ok("GET", "/dispatchers/v1/?select(actions.type)");
  auto& actions = narrowed.json["data"][0]["actions"];
  BOOST_REQUIRE(actions.IsArray());
  BOOST_REQUIRE_EQUAL(actions.Size(), 1u);
  BOOST_TEST(text(actions[0], "type") == "task");
  BOOST_TEST(!actions[0].HasMember("functionName"));
  BOOST_TEST(!narrowed.json["data"][0].HasMember("eventType"));
}

BOOST_AUTO_TEST_CASE(sort_both_ways) {
  for (auto name : {"bravo", "alpha", "charlie"}) create_task_dispatcher("sorted", name);
  auto names = [&](const std::string& target) {
    std::vector<std::string> result;
    auto res = ok("GET", target); // the rows live in the response's document: keep it
    for (auto& row : res.json["data"].GetArray()) result.push_back(text(row, "name"));
    return result;
  };
  std::vector<std::string> up{"alpha", "bravo", "charlie"};
  std::vector<std::string> down{"charlie", "bravo", "alpha"};
  BOOST_TEST(names("/dispatchers/v1/?sort(name)") == up, boost::test_tools::per_element());
  BOOST_TEST(names("/dispatchers/v1/?sort(%2Bname)") == up, boost::test_tools::per_element());
  BOOST_TEST(names("/dispatchers/v1/?sort(-name)") == down, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(update_and_remove_answer_affected_records) {
  auto id = create_task_dispatcher("u", "before");
  // The ExH CLI sends `actions` along with a PUT: ignored.
  auto updated = ok("PUT", "/dispatchers/v1/" + id,
                    R"({"name":"after","description":"new","actions":[{"type":"bogus"}]})");
  BOOST_TEST(updated.body == R"({"affectedRecords":1})");
  auto now = ok("GET", "/dispatchers/v1/" + id);
  BOOST_TEST(text(now.json, "name") == "after");
  BOOST_TEST(now.json["actions"].Size() == 1u);
  BOOST_TEST(ok("DELETE", "/dispatchers/v1/" + id).body == R"({"affectedRecords":1})");
  BOOST_TEST(call("GET", "/dispatchers/v1/" + id).status == 404u);
  auto again = call("DELETE", "/dispatchers/v1/" + id);
  BOOST_TEST(again.status == 404u);
  BOOST_TEST(again.code() == 16u);
  BOOST_TEST(call("PUT", std::string{"/dispatchers/v1/"} + unknown_id, R"({"name":"x"})").code()
             == 16u);
}

BOOST_AUTO_TEST_CASE(action_add_update_remove) {
  auto id = create_task_dispatcher("acts");
  auto added = ok("POST", "/dispatchers/v1/" + id + "/actions/",
                  R"({"type":"mail","name":"m","recipients":{"to":["a@example.com"]},)"
                  R"("templateId":"aaaaaaaaaaaaaaaaaaaaaaa1"})");
  auto action_id = text(added.json, "id");
  BOOST_TEST(action_id.size() == 24u);
  BOOST_TEST(text(added.json, "templateId") == "aaaaaaaaaaaaaaaaaaaaaaa1");
  auto path = "/dispatchers/v1/" + id + "/actions/" + action_id;
  // `type` on an action PUT is ignored (the ExH CLI sends it).
  BOOST_TEST(ok("PUT", path, R"({"type":"task","templateId":"aaaaaaaaaaaaaaaaaaaaaaa2"})").body
             == R"({"affectedRecords":1})");
  auto now = ok("GET", "/dispatchers/v1/" + id);
  BOOST_REQUIRE(now.json["actions"].Size() == 2u);
  BOOST_TEST(text(now.json["actions"][1], "templateId") == "aaaaaaaaaaaaaaaaaaaaaaa2");
  BOOST_TEST(text(now.json["actions"][1], "type") == "mail");
  BOOST_TEST(ok("DELETE", path).body == R"({"affectedRecords":1})");
  BOOST_TEST(ok("GET", "/dispatchers/v1/" + id).json["actions"].Size() == 1u);
  BOOST_TEST(call("DELETE", path).code() == 16u);
  BOOST_TEST(call("DELETE", "/dispatchers/v1/" + id + "/actions/xyz").code() == 12u);
  BOOST_TEST(call("POST", std::string{"/dispatchers/v1/"} + unknown_id + "/actions",
                  R"({"type":"task","functionName":"f"})")
               .code()
             == 16u);
}

BOOST_AUTO_TEST_CASE(input_errors_carry_their_codes) {
  auto missing = call("POST", "/dispatchers/v1/", R"({"name":"no type"})");
  BOOST_TEST(missing.status == 400u);
  BOOST_TEST(missing.code() == 14u);
  BOOST_TEST(text(missing.json, "message").find("eventType") != std::string::npos);
  auto format = call("POST", "/dispatchers/v1/",
                     R"({"eventType":"x","actions":[{"type":"mail","recipients":{"to":["nope"]},)"
                     R"("templateId":"cccccccccccccccccccccccc"}]})");
  BOOST_TEST(format.status == 400u);
  BOOST_TEST(format.code() == 15u);
  BOOST_TEST(text(format.json, "message").find("actions[0].recipients.to[0]") != std::string::npos);
  auto no_function = call("POST", "/dispatchers/v1/",
                          R"({"eventType":"x","actions":[{"type":"task"}]})");
  BOOST_TEST(no_function.code() == 14u);
  create_task_dispatcher("x", "taken");
  auto clash = call("POST", "/dispatchers/v1/", R"({"eventType":"y","name":"taken"})");
  BOOST_TEST(clash.status == 400u);
  BOOST_TEST(clash.code() == 17u);
  BOOST_TEST(text(clash.json, "name") == "RESOURCE_ALREADY_EXISTS_EXCEPTION");
}

BOOST_AUTO_TEST_CASE(an_action_name_clash_within_a_dispatcher_is_17) {
  auto id = create_task_dispatcher("names");
  auto path = "/dispatchers/v1/" + id + "/actions";
  ok("POST", path, R"({"type":"task","name":"same","functionName":"f"})");
  auto clash = call("POST", path, R"({"type":"task","name":"same","functionName":"g"})");
  BOOST_TEST(clash.status == 400u);
  BOOST_TEST(clash.code() == 17u);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

struct with_fan_out_limits : api_fixture {
  with_fan_out_limits() {
    config.max_actions_per_dispatcher = 3;
    config.max_dispatchers_per_type = 2;
    config.max_delivery_bytes_per_event = 3000;
    start();
  }
};

std::string with_tasks(const std::string& type, int count) {
  std::string actions;
  for (int i = 0; i < count; ++i)
    actions += std::string{i > 0 ? "," : ""} + R"({"type":"task","functionName":"f"})";
  return R"({"eventType":")" + type + R"(","actions":[)" + actions + "]}";
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(api_fan_out_limits, with_fan_out_limits)

BOOST_AUTO_TEST_CASE(actions_per_dispatcher_are_limited_on_create_and_add) {
  auto over = call("POST", "/dispatchers/v1/", with_tasks("a", 4));
  BOOST_TEST(over.status == 400u);
  BOOST_TEST(text(over.json, "message").find("actions: at most 3 actions per dispatcher")
               != std::string::npos,
             over.body);
  auto id = text(ok("POST", "/dispatchers/v1/", with_tasks("a", 3)).json, "id");
  auto added = call("POST", "/dispatchers/v1/" + id + "/actions",
                    R"({"type":"task","functionName":"g"})");
  BOOST_TEST(added.status == 400u, added.body);
  BOOST_TEST(ok("GET", "/dispatchers/v1/" + id).json["actions"].Size() == 3u);
}

BOOST_AUTO_TEST_CASE(dispatchers_per_event_type_are_limited_on_create_and_update) {
  ok("POST", "/dispatchers/v1/", with_tasks("x", 1));
  auto second = text(ok("POST", "/dispatchers/v1/", with_tasks("x", 1)).json, "id");
  auto third = call("POST", "/dispatchers/v1/", with_tasks("x", 1));
  BOOST_TEST(third.status == 400u);
  BOOST_TEST(text(third.json, "message").find("eventType: 'x' has 2 dispatchers already")
               != std::string::npos,
             third.body);
  auto other = text(ok("POST", "/dispatchers/v1/", with_tasks("y", 1)).json, "id");
  BOOST_TEST(call("PUT", "/dispatchers/v1/" + other, R"({"eventType":"x"})").status == 400u);
  ok("PUT", "/dispatchers/v1/" + second, R"({"name":"still x"})"); // a change within x is fine
  ok("DELETE", "/dispatchers/v1/" + second);
  ok("PUT", "/dispatchers/v1/" + other, R"({"eventType":"x"})"); // room again
  BOOST_TEST(ok("GET", "/dispatchers/v1/?eq(eventType,x)").json["page"]["total"].GetUint64() == 2u);
}

BOOST_AUTO_TEST_CASE(an_event_whose_deliveries_would_be_too_large_is_refused) {
  auto id = text(ok("POST", "/dispatchers/v1/", with_tasks("z", 3)).json, "id");
  auto content = [](size_t bytes) {
    return R"({"type":"z","content":{"pad":")" + std::string(bytes - 10, 'p') + R"("}})";
  };
  // 3 actions: 500 bytes make about 1,700 bytes of deliveries, 1,000 bytes about 3,200.
  ok("POST", "/events/v1/", content(500));
  auto refused = call("POST", "/events/v1/", content(1000));
  BOOST_TEST(refused.status == 400u);
  BOOST_TEST(text(refused.json, "message").find("to 3 actions of event type 'z'")
               != std::string::npos,
             refused.body);
  BOOST_TEST(text(refused.json, "message").find("dispatch.limits.delivery-bytes-per-event")
             != std::string::npos);
  ok("DELETE", "/dispatchers/v1/" + id);
  ok("POST", "/events/v1/", content(1000)); // no actions now: nothing to deliver
}

BOOST_AUTO_TEST_SUITE_END()
