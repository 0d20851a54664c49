// Content filters (docs/api.md, "Beyond ExH"): a dispatcher with a `filter` acts only on the events
// of its type that match, next to dispatchers without one on the same type; an update that changes
// or clears the filter takes effect for the events after it; deliveries derived again after a
// restart (the listing reads them from the log) agree with what the sink got.
#include <boost/test/unit_test.hpp>

#include <map>
#include <set>

#include "fixtures/engine_fixture.hpp"
#include "fixtures/why.hpp"

using namespace dispatch;
using namespace dispatch::test;

namespace {

struct filtered_engine : engine_fixture {
  filtered_engine() { start(); }

  std::string create_filtered(const std::string& name, const std::string& filter) {
    auto d = make_dispatcher("order.paid", {task_action("f-" + name)}, name);
    if (!filter.empty()) d.filter = filter;
    return create(d).id;
  }

  /// For each task function, the `seq` of every delivery it got (one received twice counts twice).
  std::map<std::string, std::multiset<int>> got() const {
    std::map<std::string, std::multiset<int>> result;
    for (auto& r : tasks->snapshot()) {
      auto& data = r.value.task.data;
      auto text = data.str();
      auto at = text.find("\"seq\":");
      BOOST_REQUIRE(at != std::string::npos);
      result[r.value.task.function_name].insert(std::stoi(text.substr(at + 6)));
    }
    return result;
  }

  void publish_order(int seq, const std::string& plan, double amount,
                     const std::string& extra = "") {
    publish("order.paid", R"({"seq":)" + std::to_string(seq) + R"(,"plan":")" + plan
                            + R"(","amount":)" + std::to_string(amount) + extra + "}");
  }

  void update_filter(const std::string& id, const std::string& filter) {
    dispatcher_patch patch;
    patch.filter = filter;
    auto answer = call<uint32_t>(update_atom::value, id, patch);
    BOOST_REQUIRE_MESSAGE(answer, why(answer));
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(content_filters, filtered_engine)

BOOST_AUTO_TEST_CASE(filtered_and_unfiltered_dispatchers_on_one_type_each_get_theirs) {
  create_filtered("all", "");
  create_filtered("pro", "eq(content.plan,pro)");
  create_filtered("big", "gt(content.amount,100)");
  create_filtered("pro-and-big", "and(eq(content.plan,pro),ge(content.amount,100.5))");
  create_filtered("nested", "eq(content.customer.tier,gold)&lt(content.customer.age,40)");
  create_filtered("listed", "in(content.plan,free,trial)");
  create_filtered("none", "eq(content.plan,enterprise)");
  publish_order(1, "pro", 50);
  publish_order(2, "pro", 100.5);
  publish_order(3, "free", 500);
  publish_order(4, "trial", 7, R"(,"customer":{"tier":"gold","age":30})");
  publish_order(5, "pro", 1000, R"(,"customer":{"tier":"gold","age":40})");
  publish("order.other", R"({"seq":6,"plan":"pro","amount":1000})"); // another type
  wait_until_settled();
  auto by_function = got();
  BOOST_TEST((by_function["f-all"] == std::multiset<int>{1, 2, 3, 4, 5}));
  BOOST_TEST((by_function["f-pro"] == std::multiset<int>{1, 2, 5}));
  BOOST_TEST((by_function["f-big"] == std::multiset<int>{2, 3, 5}));
  BOOST_TEST((by_function["f-pro-and-big"] == std::multiset<int>{2, 5}));
  BOOST_TEST((by_function["f-nested"] == std::multiset<int>{4}));
  BOOST_TEST((by_function["f-listed"] == std::multiset<int>{3, 4}));
  BOOST_TEST(by_function.count("f-none") == 0u);
  BOOST_TEST(tasks->size() == 5u + 3 + 3 + 2 + 1 + 2);
}

BOOST_AUTO_TEST_CASE(filters_on_the_event_fields_beside_content) {
  create_filtered("by-type", "eq(type,order.paid)");
  create_filtered("by-time", "gt(creationTimestamp,1000)&lt(creationTimestamp,2000)");
  create_filtered("by-id", "eq(id,aaaaaaaaaaaaaaaaaa000001)");
  create_filtered("absent", "excludes(content.coupon)");
  create_filtered("text-compare", "gt(content.plan,m)"); // strings compare as text
  publish("order.paid", R"({"seq":1,"plan":"a"})", "aaaaaaaaaaaaaaaaaa000001");
  publish("order.paid", R"({"seq":2,"plan":"z","coupon":"x"})", "aaaaaaaaaaaaaaaaaa000002");
  event timed;
  timed.type = "order.paid";
  timed.content = R"({"seq":3,"plan":"n"})";
  timed.creation_timestamp = 1500;
  auto answer = call<event>(publish_atom::value, timed);
  BOOST_REQUIRE_MESSAGE(answer, why(answer));
  wait_until_settled();
  auto by_function = got();
  BOOST_TEST((by_function["f-by-type"] == std::multiset<int>{1, 2, 3}));
  BOOST_TEST((by_function["f-by-time"] == std::multiset<int>{3}));
  BOOST_TEST((by_function["f-by-id"] == std::multiset<int>{1}));
  BOOST_TEST((by_function["f-absent"] == std::multiset<int>{1, 3}));
  BOOST_TEST((by_function["f-text-compare"] == std::multiset<int>{2, 3}));
}

BOOST_AUTO_TEST_CASE(an_update_that_changes_or_clears_the_filter_takes_effect) {
  auto id = create_filtered("changing", "eq(content.plan,pro)");
  publish_order(1, "pro", 1);
  publish_order(2, "free", 1);
  wait_until_settled();
  BOOST_TEST((got()["f-changing"] == std::multiset<int>{1}));
  update_filter(id, "eq(content.plan,free)");
  publish_order(3, "pro", 1);
  publish_order(4, "free", 1);
  wait_until_settled();
  BOOST_TEST((got()["f-changing"] == std::multiset<int>{1, 4}));
  update_filter(id, ""); // cleared: every event of the type
  publish_order(5, "pro", 1);
  publish_order(6, "free", 1);
  wait_until_settled();
  BOOST_TEST((got()["f-changing"] == std::multiset<int>{1, 4, 5, 6}));
  auto now = call<dispatcher>(get_atom::value, id);
  BOOST_REQUIRE(now);
  BOOST_TEST(!now->filter);
}

BOOST_AUTO_TEST_CASE(deliveries_derived_again_after_a_restart_agree_with_the_filter) {
  auto id = create_filtered("pro", "eq(content.plan,pro)");
  for (int i = 1; i <= 6; ++i) publish_order(i, i % 2 == 0 ? "pro" : "free", i);
  wait_until_settled();
  update_filter(id, "eq(content.plan,free)"); // later events only; earlier ones keep theirs
  restart();
  query q;
  q.where.op = filter_op::eq;
  q.where.path = "dispatcherId";
  q.where.values.push_back(string_value(id));
  q.limit = 50;
  auto page = call<delivery_page>(deliveries_atom::value, q);
  BOOST_REQUIRE_MESSAGE(page, why(page));
  std::multiset<int> listed;
  for (auto& d : page->data) {
    auto text = d.task.data.str();
    listed.insert(std::stoi(text.substr(text.find("\"seq\":") + 6)));
  }
  BOOST_TEST((listed == std::multiset<int>{2, 4, 6}));
  BOOST_TEST(page->page.total == 3u);
  BOOST_TEST(tasks->distinct() == 3u); // nothing delivered again after the restart
}

BOOST_AUTO_TEST_SUITE_END()
