// Tests of query evaluation: every filter operator on API-shaped records, arrays and nested paths,
// null and absent fields, sorting, paging and query validation.
#include <boost/test/unit_test.hpp>

#include <set>

#include "messages/error_code.hpp"
#include "messages/query_eval.hpp"
#include "fixtures/samples.hpp"

using namespace dispatch;
using dispatch::test::group;
using dispatch::test::leaf;

namespace {

query where(filter f) {
  query q;
  q.where = std::move(f);
  return q;
}

// Three dispatchers in the API shape, plus one record that lacks most fields.
struct dispatcher_records {
  record_set records;
  dispatcher_records() {
    records.put("a", R"({"id":"a","eventType":"user.created","name":"Welcome","tags":["mail","new"],
      "actions":[{"id":"a1","type":"mail","templateId":"t1","recipients":{"to":["x@y.z"]}},
                 {"id":"a2","type":"task","functionName":"greet","priority":3,
                  "data":{"user":{"id":42}}}],
      "creationTimestamp":300,"enabled":true})");
    records.put("b", R"({"id":"b","eventType":"user.deleted","name":"Goodbye","tags":["old"],
      "actions":[{"id":"b1","type":"task","functionName":"cleanup","priority":1}],
      "creationTimestamp":100,"enabled":false,"description":null})");
    records.put("c", R"({"id":"c","eventType":"order.paid","name":"Invoice","tags":[],
      "actions":[],"creationTimestamp":200,"description":"Sends the INVOICE mail"})");
    records.put("d", R"({"id":"d","eventType":"misc"})");
  }
  std::vector<std::string> find(filter f) const {
    uint64_t total = 0;
    return records.run(where(std::move(f)), total);
  }
  std::vector<std::string> run(const query& q, uint64_t& total) const {
    return records.run(q, total);
  }
};

using keys = std::vector<std::string>;

} // namespace

BOOST_AUTO_TEST_SUITE(query_eval)

BOOST_FIXTURE_TEST_CASE(all_lists_every_record_in_insertion_order, dispatcher_records) {
  BOOST_TEST(find(filter{}) == (keys{"a", "b", "c", "d"}));
  BOOST_TEST(records.size() == 4u);
}

BOOST_FIXTURE_TEST_CASE(eq_and_ne_on_strings_numbers_and_booleans, dispatcher_records) {
  BOOST_TEST(find(leaf(filter_op::eq, "eventType", {string_value("user.created")})) == keys{"a"});
  BOOST_TEST(find(leaf(filter_op::eq, "creationTimestamp", {number_value(100)})) == keys{"b"});
  BOOST_TEST(find(leaf(filter_op::eq, "enabled", {bool_value(false)})) == keys{"b"});
  BOOST_TEST(find(leaf(filter_op::ne, "eventType", {string_value("user.created")}))
             == (keys{"b", "c", "d"}));
  // Case matters for eq: it is a byte-wise comparison.
  BOOST_TEST(find(leaf(filter_op::eq, "name", {string_value("welcome")})).empty());
}

BOOST_FIXTURE_TEST_CASE(string_literal_that_spells_a_number_compares_numerically,
                        dispatcher_records) {
  BOOST_TEST(find(leaf(filter_op::eq, "creationTimestamp", {string_value("200")})) == keys{"c"});
  BOOST_TEST(find(leaf(filter_op::gt, "creationTimestamp", {string_value("1.5e2")}))
             == (keys{"a", "c"}));
  BOOST_TEST(find(leaf(filter_op::eq, "creationTimestamp", {string_value("2oo")})).empty());
  // A number literal against a string field compares with the number's text.
  records.put("e", R"({"id":"e","name":"2024"})");
  BOOST_TEST(find(leaf(filter_op::eq, "name", {number_value(2024)})) == keys{"e"});
}

BOOST_AUTO_TEST_CASE(number_literal_with_its_typed_text_matches_an_all_digit_id_exactly) {
  // Both ids round to the same double; only the text the user typed tells them apart.
  record_set set;
  set.put("x", R"({"id":"123456789012345678901234"})");
  set.put("y", R"({"id":"123456789012345678901235"})");
  auto typed = number_value(123456789012345678901234.0);
  typed.text = "123456789012345678901234";
  uint64_t total = 0;
  BOOST_TEST(set.run(where(leaf(filter_op::eq, "id", {typed})), total) == keys{"x"});
  BOOST_TEST(set.run(where(leaf(filter_op::in, "id", {typed})), total) == keys{"x"});
  BOOST_TEST(set.run(where(leaf(filter_op::ne, "id", {typed})), total) == keys{"y"});
  // Without the text the number renders as 1.2345678901234568e+23 and matches neither.
  BOOST_TEST(
    set.run(where(leaf(filter_op::eq, "id", {number_value(123456789012345678901234.0)})), total)
      .empty());
  // A number field still compares numerically, whatever the text says.
  auto padded = number_value(7);
  padded.text = "007";
  BOOST_TEST(matches(leaf(filter_op::eq, "n", {padded}), R"({"n":7})"));
  BOOST_TEST(matches(leaf(filter_op::eq, "n", {padded}), R"({"n":"007"})"));
  BOOST_TEST(!matches(leaf(filter_op::eq, "n", {padded}), R"({"n":"7"})"));
}

BOOST_FIXTURE_TEST_CASE(ordering_operators, dispatcher_records) {
  BOOST_TEST(find(leaf(filter_op::gt, "creationTimestamp", {number_value(200)})) == keys{"a"});
  BOOST_TEST(find(leaf(filter_op::ge, "creationTimestamp", {number_value(200)}))
             == (keys{"a", "c"}));
  BOOST_TEST(find(leaf(filter_op::lt, "creationTimestamp", {number_value(200)})) == keys{"b"});
  BOOST_TEST(find(leaf(filter_op::le, "creationTimestamp", {number_value(200)}))
             == (keys{"b", "c"}));
  // Strings order byte-wise; a record without the field never satisfies an ordering.
  BOOST_TEST(find(leaf(filter_op::lt, "name", {string_value("I")})) == keys{"b"});
  BOOST_TEST(find(leaf(filter_op::ge, "name", {string_value("I")})) == (keys{"a", "c"}));
  // Different kinds do not compare: a string literal is no bound for a boolean field.
  BOOST_TEST(find(leaf(filter_op::gt, "enabled", {string_value("abc")})).empty());
}

BOOST_FIXTURE_TEST_CASE(paths_through_arrays_of_objects_match_any_element, dispatcher_records) {
  BOOST_TEST(find(leaf(filter_op::eq, "actions.type", {string_value("mail")})) == keys{"a"});
  BOOST_TEST(find(leaf(filter_op::eq, "actions.type", {string_value("task")})) == (keys{"a", "b"}));
  // ne matches records where no element is a task, including those without actions.
  BOOST_TEST(find(leaf(filter_op::ne, "actions.type", {string_value("task")})) == (keys{"c", "d"}));
  BOOST_TEST(find(leaf(filter_op::gt, "actions.priority", {number_value(2)})) == keys{"a"});
  BOOST_TEST(find(leaf(filter_op::eq, "actions.recipients.to", {string_value("x@y.z")}))
             == keys{"a"});
}

BOOST_FIXTURE_TEST_CASE(nested_object_paths, dispatcher_records) {
  BOOST_TEST(find(leaf(filter_op::eq, "actions.data.user.id", {number_value(42)})) == keys{"a"});
  BOOST_TEST(find(leaf(filter_op::eq, "actions.data.user.id", {number_value(43)})).empty());
  // A path that runs into a scalar resolves to nothing rather than failing.
  BOOST_TEST(find(leaf(filter_op::contains, "name.first")).empty());
}

BOOST_FIXTURE_TEST_CASE(array_of_scalars_in_and_out, dispatcher_records) {
  BOOST_TEST(find(leaf(filter_op::eq, "tags", {string_value("new")})) == keys{"a"});
  BOOST_TEST(find(leaf(filter_op::ne, "tags", {string_value("new")})) == (keys{"b", "c", "d"}));
  BOOST_TEST(find(leaf(filter_op::in, "tags", {string_value("old"), string_value("new")}))
             == (keys{"a", "b"}));
  BOOST_TEST(find(leaf(filter_op::out, "tags", {string_value("old"), string_value("new")}))
             == (keys{"c", "d"}));
  BOOST_TEST(find(leaf(filter_op::in, "id", {string_value("c"), string_value("zz")})) == keys{"c"});
  BOOST_TEST(find(leaf(filter_op::out, "id", {string_value("c")})) == (keys{"a", "b", "d"}));
}

BOOST_FIXTURE_TEST_CASE(null_and_absent_fields, dispatcher_records) {
  // b has description null, d has none: both count as null.
  BOOST_TEST(find(leaf(filter_op::eq, "description", {null_value()})) == (keys{"a", "b", "d"}));
  BOOST_TEST(find(leaf(filter_op::ne, "description", {null_value()})) == keys{"c"});
  BOOST_TEST(find(leaf(filter_op::contains, "description")) == keys{"c"});
  BOOST_TEST(find(leaf(filter_op::excludes, "description")) == (keys{"a", "b", "d"}));
  BOOST_TEST(find(leaf(filter_op::in, "description", {null_value(), string_value("x")}))
             == (keys{"a", "b", "d"}));
  // An empty array is present, and it holds no element equal to anything.
  BOOST_TEST(find(leaf(filter_op::contains, "tags")) == (keys{"a", "b", "c"}));
  BOOST_TEST(find(leaf(filter_op::contains, "actions.functionName")) == (keys{"a", "b"}));
  BOOST_TEST(find(leaf(filter_op::excludes, "actions.templateId")) == (keys{"b", "c", "d"}));
}

BOOST_FIXTURE_TEST_CASE(like_is_a_case_insensitive_substring_match, dispatcher_records) {
  BOOST_TEST(find(leaf(filter_op::like, "description", {string_value("invoice")})) == keys{"c"});
  BOOST_TEST(find(leaf(filter_op::like, "name", {string_value("OO")})) == keys{"b"});
  BOOST_TEST(find(leaf(filter_op::like, "eventType", {string_value("user*ed")}))
             == (keys{"a", "b"}));
  BOOST_TEST(find(leaf(filter_op::like, "eventType", {string_value("*paid*")})) == keys{"c"});
  BOOST_TEST(find(leaf(filter_op::like, "eventType", {string_value("ed*user")})).empty());
  BOOST_TEST(find(leaf(filter_op::like, "actions.functionName", {string_value("EAN")}))
             == keys{"b"});
  // like never matches numbers or absent fields.
  BOOST_TEST(find(leaf(filter_op::like, "creationTimestamp", {string_value("1")})).empty());
}

BOOST_FIXTURE_TEST_CASE(and_or_combine_conditions, dispatcher_records) {
  auto user = leaf(filter_op::like, "eventType", {string_value("user.")});
  auto recent = leaf(filter_op::gt, "creationTimestamp", {number_value(150)});
  BOOST_TEST(find(group(filter_op::and_, {user, recent})) == keys{"a"});
  BOOST_TEST(find(group(filter_op::or_, {user, recent})) == (keys{"a", "b", "c"}));
  auto nested = group(filter_op::and_, {group(filter_op::or_, {user, recent}),
                                        leaf(filter_op::eq, "tags", {string_value("old")})});
  BOOST_TEST(find(nested) == keys{"b"});
  BOOST_TEST(matches(nested, R"({"eventType":"user.x","tags":["old"]})"));
  BOOST_TEST(!matches(nested, R"({"eventType":"order","tags":["old"]})"));
}

BOOST_FIXTURE_TEST_CASE(sort_ascending_puts_missing_first_and_numbers_before_strings,
                        dispatcher_records) {
  records.put("e", R"({"id":"e","creationTimestamp":"later"})");
  auto q = where(filter{});
  q.sort = {{"creationTimestamp", false}};
  uint64_t total = 0;
  BOOST_TEST(run(q, total) == (keys{"d", "b", "c", "a", "e"}));
  q.sort = {{"creationTimestamp", true}};
  BOOST_TEST(run(q, total) == (keys{"e", "a", "c", "b", "d"}));
}

BOOST_FIXTURE_TEST_CASE(sort_by_several_keys_and_ties_keep_insertion_order, dispatcher_records) {
  record_set set;
  set.put("1", R"({"group":"x","rank":2})");
  set.put("2", R"({"group":"y","rank":1})");
  set.put("3", R"({"group":"x","rank":1})");
  set.put("4", R"({"group":"y","rank":1})");
  set.put("5", R"({"group":"x","rank":2})");
  auto q = where(filter{});
  q.sort = {{"group", true}, {"rank", false}};
  uint64_t total = 0;
  BOOST_TEST(set.run(q, total) == (keys{"2", "4", "3", "1", "5"}));
  q.sort = {{"rank", true}};
  BOOST_TEST(set.run(q, total) == (keys{"1", "5", "2", "3", "4"}));
  // Sorting by an array field uses its first element.
  q.sort = {{"tags", false}};
  BOOST_TEST(run(q, total) == (keys{"c", "d", "a", "b"}));
}

BOOST_AUTO_TEST_CASE(paging_counts_every_match_and_clamps_the_limit) {
  record_set set;
  for (int i = 0; i < 120; ++i)
    set.put("k" + std::to_string(i), R"({"n":)" + std::to_string(i) + "}");
  auto q = where(leaf(filter_op::ge, "n", {number_value(10)}));
  uint64_t total = 0;
  auto page = set.run(q, total);
  BOOST_TEST(total == 110u);
  BOOST_REQUIRE(page.size() == size_t{default_page_size});
  BOOST_TEST(page.front() == "k10");
  q.limit = 1000;
  page = set.run(q, total);
  BOOST_TEST(page.size() == size_t{max_page_size});
  q.limit = 5;
  q.offset = 100;
  page = set.run(q, total);
  BOOST_TEST(page == (keys{"k110", "k111", "k112", "k113", "k114"}));
  q.offset = 108;
  BOOST_TEST(set.run(q, total) == (keys{"k118", "k119"}));
  q.offset = 500;
  BOOST_TEST(set.run(q, total).empty());
  BOOST_TEST(total == 110u);
  q.limit = 0;
  q.offset = 0;
  BOOST_TEST(set.run(q, total).empty());
}

BOOST_AUTO_TEST_CASE(put_replaces_in_place_and_erase_removes) {
  record_set set;
  set.put("a", R"({"v":1})");
  set.put("b", R"({"v":2})");
  set.put("c", R"({"v":3})");
  set.put("a", R"({"v":9})");
  uint64_t total = 0;
  BOOST_TEST(set.size() == 3u);
  BOOST_TEST(set.run(where(filter{}), total) == (keys{"a", "b", "c"}));
  BOOST_TEST(set.run(where(leaf(filter_op::eq, "v", {number_value(9)})), total) == keys{"a"});
  BOOST_TEST(set.run(where(leaf(filter_op::eq, "v", {number_value(1)})), total).empty());
  set.erase("b");
  set.erase("missing");
  BOOST_TEST(set.size() == 2u);
  BOOST_TEST(set.run(where(filter{}), total) == (keys{"a", "c"}));
  set.put("b", R"({"v":2})");
  BOOST_TEST(set.run(where(filter{}), total) == (keys{"a", "c", "b"}));
  auto moved = std::move(set);
  BOOST_TEST(moved.size() == 3u);
}

BOOST_AUTO_TEST_CASE(malformed_records_have_no_fields) {
  record_set set;
  set.put("bad", "{not json");
  set.put("array", "[1,2]");
  set.put("deep", std::string(100000, '[') + std::string(100000, ']'));
  uint64_t total = 0;
  BOOST_TEST(set.run(where(filter{}), total).size() == 3u);
  BOOST_TEST(set.run(where(leaf(filter_op::contains, "x")), total).empty());
  BOOST_TEST(!matches(leaf(filter_op::eq, "a", {number_value(1)}), "garbage"));
}

BOOST_AUTO_TEST_CASE(validate_accepts_well_formed_queries) {
  BOOST_TEST(!validate(query{}));
  auto q = where(group(filter_op::and_,
                       {leaf(filter_op::eq, "a.b", {number_value(1)}),
                        leaf(filter_op::in, "c", {string_value("x"), string_value("y")}),
                        leaf(filter_op::contains, "d"),
                        group(filter_op::or_, {leaf(filter_op::like, "e", {string_value("z")})})}));
  q.sort = {{"a.b", true}};
  BOOST_TEST(!validate(q));
}

BOOST_AUTO_TEST_CASE(validate_rejects_malformed_queries_naming_the_operator) {
  auto rejects = [](query q, const std::string& fragment) {
    auto err = validate(q);
    BOOST_TEST_CONTEXT(fragment) {
      BOOST_REQUIRE(err);
      BOOST_TEST(static_cast<int>(code_of(err)) == static_cast<int>(error_code::invalid_rql));
      BOOST_TEST(message_of(err).find(fragment) != std::string::npos, message_of(err));
    }
  };
  rejects(where(leaf(filter_op::eq, "", {number_value(1)})), "eq needs a field path");
  rejects(where(leaf(filter_op::eq, "a..b", {number_value(1)})), "eq needs a field path");
  rejects(where(leaf(filter_op::eq, "a", {})), "eq(a) needs exactly one value, got 0");
  rejects(where(leaf(filter_op::gt, "a", {number_value(1), number_value(2)})),
          "gt(a) needs exactly one value, got 2");
  rejects(where(leaf(filter_op::like, "a", {})), "like(a) needs exactly one value");
  rejects(where(leaf(filter_op::in, "a", {})), "in(a) needs at least one value");
  rejects(where(leaf(filter_op::out, "a", {})), "out(a) needs at least one value");
  rejects(where(leaf(filter_op::contains, "a", {number_value(1)})), "contains(a) takes no values");
  rejects(where(leaf(filter_op::excludes, "")), "excludes needs a field path");
  rejects(where(group(filter_op::and_, {})), "and needs at least one condition");
  rejects(where(group(filter_op::or_, {})), "or needs at least one condition");
  // The error names where inside the tree the bad node sits.
  rejects(where(group(filter_op::or_, {leaf(filter_op::contains, "a"), leaf(filter_op::ne, "b")})),
          "query.where.or[1]: ne(b) needs exactly one value");
  filter bogus;
  bogus.op = static_cast<filter_op>(200);
  bogus.path = "a";
  rejects(where(bogus), "unknown operator 200");
  query bad_sort;
  bad_sort.sort = {{"", false}};
  rejects(bad_sort, "query.sort[0]: sort needs a field path");
  filter deep = leaf(filter_op::contains, "a");
  for (int i = 0; i < 100; ++i) deep = group(filter_op::and_, {deep});
  rejects(where(deep), "nested deeper than 64");
}

BOOST_AUTO_TEST_CASE(a_sorted_window_keeps_one_page_and_answers_as_a_full_sort) {
  // Records with ties, missing fields and mixed types, in an order that is not the sorted one.
  std::vector<std::pair<std::string, std::string>> records;
  for (int i = 0; i < 5000; ++i) {
    auto key = "r" + std::to_string(i);
    std::string json;
    if (i % 97 == 0)
      json = R"({"name":"no number"})";
    else if (i % 89 == 0)
      json = R"({"n":"text","name":"x"})";
    else
      json = R"({"n":)" + std::to_string((i * 7919) % 613) + R"(,"name":"n)" + std::to_string(i % 5)
             + "\"}";
    records.emplace_back(key, json);
  }
  for (auto descending : {false, true})
    for (auto [offset, limit] :
         {std::pair<uint64_t, uint32_t>{0, 10}, {37, 20}, {4990, 50}, {6000, 10}, {0, 0}}) {
      query q;
      q.sort = {sort_key{"n", descending}, sort_key{"name", false}};
      q.offset = offset;
      q.limit = limit;
      record_set all;
      sorted_window window{q, max_window_depth};
      size_t most_held = 0;
      std::set<std::string> held;
      for (auto& [key, json] : records) {
        all.put(key, json);
        held.insert(key);
        auto dropped = window.offer(key, json);
        if (!dropped.empty()) held.erase(dropped);
        most_held = std::max(most_held, window.size());
        BOOST_REQUIRE_EQUAL(window.size(), held.size());
      }
      uint64_t total = 0;
      auto expected = all.run(q, total, max_window_depth);
      BOOST_TEST_CONTEXT("descending " << descending << ", offset " << offset << ", limit "
                                       << limit) {
        BOOST_TEST(window.page() == expected, boost::test_tools::per_element());
        BOOST_TEST(most_held <= offset + limit);
      }
    }
}

BOOST_AUTO_TEST_SUITE_END()
