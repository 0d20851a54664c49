// The fields of docs/api.md "Beyond ExH" on dispatchers over HTTP: filter, orderingKey, rateLimit
// and a task action's templated round-trip through create, find, update and find again; select
// and sort see them; malformed values are refused with the field named.
#include <boost/test/unit_test.hpp>

#include "api_fixture.hpp"

using namespace dispatch;
using namespace dispatch::test;

namespace {

struct started : api_fixture {
  started() { start(); }

  std::string create(const std::string& body) {
    return text(ok("POST", "/dispatchers/v1/", body).json, "id");
  }

  // The message of a refusal, after checking its status and code.
  std::string refusal(const std::string& method, const std::string& target, const std::string& body,
                      unsigned status, unsigned code) {
    auto res = call(method, target, body);
    BOOST_TEST(res.status == status, body);
    BOOST_TEST(res.code() == code, body);
    return res.json.IsObject() ? text(res.json, "message") : std::string{};
  }
};

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(api_dispatcher_fields, started)

BOOST_AUTO_TEST_CASE(the_fields_round_trip_through_create_find_update_and_find) {
  auto created = ok(
    "POST", "/dispatchers/v1/",
    R"~({"eventType":"order.paid","filter":"and(eq(content.plan,pro),gt(content.amount,100))",)~"
    R"~("orderingKey":"content.userId","rateLimit":{"perSecond":5},)~"
    R"~("actions":[{"type":"task","functionName":"f","templated":true,)~"
    R"~("data":{"user":"{{event.content.userId}}"}}]})~");
  auto& d = created.json;
  BOOST_TEST(text(d, "filter") == "and(eq(content.plan,pro),gt(content.amount,100))");
  BOOST_TEST(text(d, "orderingKey") == "content.userId");
  BOOST_TEST(dump(d["rateLimit"]) == R"~({"perSecond":5})~");
  BOOST_REQUIRE(d["actions"][0].HasMember("templated"));
  BOOST_TEST(d["actions"][0]["templated"].GetBool());
  auto id = text(d, "id");

  auto found = ok("GET", "/dispatchers/v1/?eq(id," + id + ")");
  auto& row = found.json["data"][0];
  BOOST_TEST(text(row, "filter") == "and(eq(content.plan,pro),gt(content.amount,100))");
  BOOST_TEST(text(row, "orderingKey") == "content.userId");
  BOOST_TEST(dump(row["rateLimit"]) == R"~({"perSecond":5})~");
  BOOST_TEST(dump(row["actions"][0]["data"]) == R"~({"user":"{{event.content.userId}}"})~");
  BOOST_REQUIRE(row["actions"][0].HasMember("templated"));
  BOOST_TEST(row["actions"][0]["templated"].GetBool());

  ok("PUT", "/dispatchers/v1/" + id,
     R"~({"filter":"eq(content.plan,free)","orderingKey":"content.accountId",)~"
     R"~("rateLimit":{"perSecond":0.5}})~");
  auto changed = ok("GET", "/dispatchers/v1/" + id);
  BOOST_TEST(text(changed.json, "filter") == "eq(content.plan,free)");
  BOOST_TEST(text(changed.json, "orderingKey") == "content.accountId");
  BOOST_TEST(dump(changed.json["rateLimit"]) == R"~({"perSecond":0.5})~");
  BOOST_TEST(text(changed.json, "eventType") == "order.paid"); // untouched fields stay

  auto action_id = text(changed.json["actions"][0], "id");
  ok("PUT", "/dispatchers/v1/" + id + "/actions/" + action_id, R"~({"templated":false})~");
  auto turned_off = ok("GET", "/dispatchers/v1/" + id);
  BOOST_REQUIRE(turned_off.json["actions"][0].HasMember("templated"));
  BOOST_TEST(!turned_off.json["actions"][0]["templated"].GetBool());

  // "" clears filter and orderingKey, a rate of 0 clears rateLimit.
  ok("PUT", "/dispatchers/v1/" + id,
     R"~({"filter":"","orderingKey":"","rateLimit":{"perSecond":0}})~");
  auto cleared = ok("GET", "/dispatchers/v1/?eq(id," + id + ")");
  auto& now = cleared.json["data"][0];
  BOOST_TEST(!now.HasMember("filter"));
  BOOST_TEST(!now.HasMember("orderingKey"));
  BOOST_TEST(!now.HasMember("rateLimit"));
  BOOST_TEST(cleared.body.find("null") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(absent_fields_stay_absent_and_clear_values_on_create_mean_none) {
  auto plain = ok("POST", "/dispatchers/v1/",
                  R"~({"eventType":"a","actions":[{"type":"task","functionName":"f"}]})~");
  for (auto key : {"filter", "orderingKey", "rateLimit"}) BOOST_TEST(!plain.json.HasMember(key));
  BOOST_TEST(!plain.json["actions"][0].HasMember("templated"));
  auto cleared = ok(
    "POST", "/dispatchers/v1/",
    R"~({"eventType":"a","filter":"","orderingKey":"","rateLimit":{"perSecond":0}})~");
  for (auto key : {"filter", "orderingKey", "rateLimit"}) BOOST_TEST(!cleared.json.HasMember(key));
}

BOOST_AUTO_TEST_CASE(select_and_sort_see_the_fields) {
  create(
    R"~({"eventType":"s","name":"b","filter":"eq(content.n,2)","rateLimit":{"perSecond":20}})~");
  create(
    R"~({"eventType":"s","name":"a","filter":"eq(content.n,1)","rateLimit":{"perSecond":3}})~");
  create(R"~({"eventType":"s","name":"c","orderingKey":"content.k"})~");
  auto selected = ok("GET", "/dispatchers/v1/?select(filter,rateLimit)&sort(filter)");
  auto& rows = selected.json["data"];
  BOOST_REQUIRE_EQUAL(rows.Size(), 3u);
  // Missing sorts first, then by text.
  BOOST_TEST(!rows[0].HasMember("filter"));
  BOOST_TEST(text(rows[1], "filter") == "eq(content.n,1)");
  BOOST_TEST(text(rows[2], "filter") == "eq(content.n,2)");
  BOOST_TEST(!rows[1].HasMember("name"));
  BOOST_TEST(!rows[1].HasMember("orderingKey"));
  BOOST_TEST(dump(rows[1]["rateLimit"]) == R"~({"perSecond":3})~");
  auto by_rate = ok("GET", "/dispatchers/v1/?gt(rateLimit.perSecond,5)&select(name)");
  BOOST_REQUIRE_EQUAL(by_rate.json["data"].Size(), 1u);
  BOOST_TEST(text(by_rate.json["data"][0], "name") == "b");
  auto by_key = ok("GET", "/dispatchers/v1/?eq(orderingKey,content.k)&select(name,orderingKey)");
  BOOST_REQUIRE_EQUAL(by_key.json["data"].Size(), 1u);
  BOOST_TEST(text(by_key.json["data"][0], "orderingKey") == "content.k");
  auto desc = ok("GET", "/dispatchers/v1/?sort(-rateLimit.perSecond)&select(name)");
  BOOST_TEST(text(desc.json["data"][0], "name") == "b");
}

BOOST_AUTO_TEST_CASE(a_malformed_filter_is_19_naming_filter_on_create_and_update) {
  for (std::string bad : {"eq(content.plan", "bogus(content.x,1)", "eq(content.x)", "select(name)",
                          "limit(5)", "gt(..x,1)"}) {
    auto message = refusal("POST", "/dispatchers/v1/",
                           R"~({"eventType":"f","filter":")~" + bad + "\"}", 400, 19);
    BOOST_TEST(starts_with(message, "filter: "), bad << ": " << message);
  }
  auto id = create(R"~({"eventType":"f","filter":"eq(type,f)"})~");
  auto message = refusal("PUT", "/dispatchers/v1/" + id, R"~({"filter":"and("})~", 400, 19);
  BOOST_TEST(starts_with(message, "filter: "), message);
  BOOST_TEST(text(ok("GET", "/dispatchers/v1/" + id).json, "filter") == "eq(type,f)");
  refusal("POST", "/dispatchers/v1/", R"~({"eventType":"f","filter":5})~", 400, 15);
}

BOOST_AUTO_TEST_CASE(orderingKey_and_rateLimit_are_checked) {
  for (std::string bad :
       {"content..x", "content.", ".content", "nothing.x", "content.a b", "id.x"}) {
    auto message = refusal("POST", "/dispatchers/v1/",
                           R"~({"eventType":"o","orderingKey":")~" + bad + "\"}", 400, 15);
    BOOST_TEST(starts_with(message, "orderingKey: "), bad << ": " << message);
  }
  for (std::string good : {"id", "type", "creationTimestamp", "content.user.id", "content.a_b-c$"})
    create(R"~({"eventType":"o","orderingKey":")~" + good + "\"}");
  for (std::string bad : {"-1", "0.0001", "1000001", "\"5\"", "1e308"}) {
    auto message = refusal("POST", "/dispatchers/v1/",
                           R"~({"eventType":"r","rateLimit":{"perSecond":)~" + bad + "}}", 400, 15);
    BOOST_TEST(starts_with(message, "rateLimit.perSecond: "), bad << ": " << message);
  }
  auto message = refusal("POST", "/dispatchers/v1/", R"~({"eventType":"r","rateLimit":{}})~", 400,
                         14);
  BOOST_TEST(starts_with(message, "rateLimit.perSecond: required"), message);
  refusal("POST", "/dispatchers/v1/", R"~({"eventType":"r","rateLimit":7})~", 400, 15);
  auto id = create(R"~({"eventType":"r","rateLimit":{"perSecond":1}})~");
  message = refusal("PUT", "/dispatchers/v1/" + id, R"~({"rateLimit":{"perSecond":-3}})~", 400, 15);
  BOOST_TEST(starts_with(message, "rateLimit.perSecond: "), message);
}

BOOST_AUTO_TEST_CASE(a_template_that_does_not_parse_is_15_naming_the_field) {
  auto message = refusal(
    "POST", "/dispatchers/v1/",
    R"~({"eventType":"t","actions":[{"type":"task","functionName":"f","templated":true,)~"
    R"~("data":{"a":{"b":["x","{{event.content.x"]}}}]})~",
    400, 15);
  BOOST_TEST(starts_with(message, "actions[0].data.a.b[1]: "), message);
  message = refusal("POST", "/dispatchers/v1/",
                    R"~({"eventType":"t","actions":[{"type":"task","functionName":"f",)~"
                    R"~("templated":true,"data":{"u":"id {{user.id}}"}}]})~",
                    400, 15);
  BOOST_TEST(starts_with(message, "actions[0].data.u: "), message);
  // Without templated the same data is verbatim and fine.
  auto id = create(R"~({"eventType":"t","actions":[{"type":"task","functionName":"f",)~"
                   R"~("data":{"u":"id {{user.id}}"}}]})~");
  // Turning templated on for that data is refused, naming the field; nothing changes.
  auto stored = ok("GET", "/dispatchers/v1/" + id);
  auto action_path = "/dispatchers/v1/" + id + "/actions/" + text(stored.json["actions"][0], "id");
  message = refusal("PUT", action_path, R"~({"templated":true})~", 400, 15);
  BOOST_TEST(starts_with(message, "data.u: "), message);
  BOOST_TEST(!ok("GET", "/dispatchers/v1/" + id).json["actions"][0].HasMember("templated"));
  // A mail action has no templated.
  message = refusal("POST", "/dispatchers/v1/" + id + "/actions",
                    R"~({"type":"mail","templated":true,"recipients":{"to":["a@example.com"]},)~"
                    R"~("templateId":"aaaaaaaaaaaaaaaaaaaaaaa1"})~",
                    400, 15);
  BOOST_TEST(message.find("templated") != std::string::npos, message);
  refusal("POST", "/dispatchers/v1/" + id + "/actions",
          R"~({"type":"task","functionName":"g","templated":"yes"})~", 400, 15);
}

BOOST_AUTO_TEST_SUITE_END()
