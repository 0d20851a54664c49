// Tests of the flat wire form of a query: the round trip, and the bounds the receiving node checks
// before it builds anything (term count, operands, depth, one root).
#include <boost/test/unit_test.hpp>

#include <limits>

#include "fixtures/samples.hpp"
#include "messages/error_code.hpp"
#include "messages/flat_query.hpp"
#include "printing.hpp"

using namespace dispatch;
using dispatch::test::group;
using dispatch::test::leaf;

namespace {

/// A chain of `depth` and_ terms over one comparison, in postfix: the wire form of a filter
/// nested `depth + 1` levels deep, built without building the tree.
flat_query chain(size_t depth) {
  flat_query q;
  q.where.push_back(filter_term{filter_op::eq, "type", {string_value("x")}, 0});
  for (size_t i = 0; i < depth; ++i) q.where.push_back(filter_term{filter_op::and_, "", {}, 1});
  return q;
}

std::string refusal(const caf::expected<query>& result) {
  BOOST_REQUIRE(!result);
  BOOST_TEST((code_of(result.error()) == error_code::invalid_rql));
  return message_of(result.error());
}

} // namespace

BOOST_AUTO_TEST_SUITE(flat_query_form)

BOOST_AUTO_TEST_CASE(a_query_survives_flatten_and_unflatten) {
  query q;
  q.where = group(filter_op::and_,
                  {leaf(filter_op::eq, "eventType", {string_value("user.created")}),
                   group(filter_op::or_, {leaf(filter_op::gt, "priority", {number_value(2)}),
                                          leaf(filter_op::contains, "tags")}),
                   leaf(filter_op::in, "status", {string_value("a"), string_value("b")})});
  q.select = {"id"};
  q.sort = {{"creationTimestamp", true}};
  q.limit = 7;
  q.offset = 3;
  auto flat = flatten(q);
  BOOST_TEST(flat.where.size() == 6u);
  BOOST_TEST((flat.where.back().op == filter_op::and_));
  BOOST_TEST(flat.where.back().operands == 3u);
  auto back = unflatten(flat);
  BOOST_REQUIRE(back);
  BOOST_TEST(*back == q);
  // The empty filter is no terms at all, and comes back as `all`.
  auto empty = flatten(query{});
  BOOST_TEST(empty.where.empty());
  BOOST_REQUIRE(unflatten(empty));
  BOOST_TEST(*unflatten(empty) == query{});
}

BOOST_AUTO_TEST_CASE(two_hundred_thousand_terms_are_refused_before_anything_is_built) {
  auto message = refusal(unflatten(chain(200000)));
  BOOST_TEST(message.find("200001 terms") != std::string::npos, message);
}

BOOST_AUTO_TEST_CASE(nesting_beyond_the_depth_limit_is_refused) {
  BOOST_TEST(unflatten(chain(max_filter_depth - 1)));
  auto message = refusal(unflatten(chain(max_filter_depth)));
  BOOST_TEST(message.find("nested deeper than 64 levels") != std::string::npos, message);
}

BOOST_AUTO_TEST_CASE(malformed_postfix_is_refused_naming_the_term) {
  flat_query too_few;
  too_few.where.push_back(filter_term{filter_op::eq, "a", {number_value(1)}, 0});
  too_few.where.push_back(filter_term{filter_op::or_, "", {}, 2});
  auto message = refusal(unflatten(too_few));
  BOOST_TEST(message.find("query.where[1]: takes 2 conditions, only 1 precede")
               != std::string::npos,
             message);
  flat_query two_roots;
  two_roots.where.push_back(filter_term{filter_op::eq, "a", {number_value(1)}, 0});
  two_roots.where.push_back(filter_term{filter_op::eq, "b", {number_value(2)}, 0});
  message = refusal(unflatten(two_roots));
  BOOST_TEST(message.find("2 conditions left over") != std::string::npos, message);
  flat_query huge_count;
  huge_count.where.push_back(filter_term{filter_op::and_, "", {}, UINT32_MAX});
  refusal(unflatten(huge_count));
  // What the tree form would refuse is refused too: an unknown operator, a missing value.
  flat_query unknown_op;
  unknown_op.where.push_back(filter_term{static_cast<filter_op>(200), "a", {}, 0});
  message = refusal(unflatten(unknown_op));
  BOOST_TEST(message.find("unknown operator") != std::string::npos, message);
  flat_query no_value;
  no_value.where.push_back(filter_term{filter_op::eq, "a", {}, 0});
  refusal(unflatten(no_value));
}

BOOST_AUTO_TEST_CASE(unknown_operators_kinds_and_non_finite_numbers_are_refused) {
  auto q = chain(0);
  q.where[0].op = static_cast<filter_op>(200);
  BOOST_TEST(refusal(unflatten(q)).find("unknown operator") != std::string::npos);
  q = chain(0);
  q.where[0].values[0].kind = static_cast<value_kind>(9);
  BOOST_TEST(refusal(unflatten(q)).find("unknown kind") != std::string::npos);
  for (double bad :
       {std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
        std::numeric_limits<double>::quiet_NaN()}) {
    q = chain(0);
    q.where[0].values[0] = number_value(bad);
    BOOST_TEST(refusal(unflatten(q)).find("not finite") != std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()
