// Tests of the RQL parser: the filter tree of every operator, double-encoded values, value typing,
// select/sort/limit, parsed queries evaluated on JSON records, and malformed input (code 19).
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "messages/rql.hpp"
#include "messages/error_code.hpp"
#include "messages/printing.hpp"
#include "messages/query_eval.hpp"
#include "fixtures/samples.hpp"

using namespace dispatch;
using dispatch::test::group;
using dispatch::test::leaf;

namespace {

query parse(const std::string& raw) {
  auto result = parse_rql(raw);
  // Boost builds the message eagerly: ask for the error only when there is one.
  if (!result) BOOST_FAIL("'" << raw << "' failed: " << message_of(result.error()));
  return *result;
}

filter where(const std::string& raw) {
  return parse(raw).where;
}

// The message of the invalid_rql error that `raw` must cause.
std::string error_of(const std::string& raw) {
  auto result = parse_rql(raw);
  BOOST_REQUIRE_MESSAGE(!result, "'" << raw << "' parsed but must fail");
  BOOST_TEST((code_of(result.error()) == error_code::invalid_rql), "code of '" << raw << "'");
  return message_of(result.error());
}

bool contains_text(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

query_value str(std::string text) {
  return string_value(std::move(text));
}

// A number as the parser makes it: the value plus the text the user typed.
query_value num(double x, std::string text) {
  auto v = number_value(x);
  v.text = std::move(text);
  return v;
}

// Whether the query `raw` selects the record `json`.
bool hit(const std::string& raw, const std::string& json) {
  return matches(where(raw), json);
}

std::string nested_ands(size_t levels) {
  std::string text;
  for (size_t i = 0; i < levels; ++i) text += "and(";
  return text + "eq(a,1)" + std::string(levels, ')');
}

} // namespace

BOOST_AUTO_TEST_SUITE(rql)

BOOST_AUTO_TEST_CASE(empty_text_and_empty_terms_give_the_default_query) {
  for (auto raw : {"", "&", "&&&"}) {
    auto q = parse(raw);
    BOOST_TEST(q == query{}, "'" << raw << "'");
    BOOST_TEST((q.where.op == filter_op::all));
    BOOST_TEST(q.limit == 20u);
    BOOST_TEST(q.offset == 0u);
  }
  // Empty terms between '&' (and a trailing '&') are ignored, not errors.
  BOOST_TEST(where("eq(a,x)&&eq(b,y)&")
             == group(filter_op::and_, {leaf(filter_op::eq, "a", {str("x")}),
                                        leaf(filter_op::eq, "b", {str("y")})}));
}

BOOST_AUTO_TEST_CASE(each_comparison_operator_builds_its_filter) {
  BOOST_TEST(where("eq(name,Welcome)") == leaf(filter_op::eq, "name", {str("Welcome")}));
  BOOST_TEST(where("ne(name,x)") == leaf(filter_op::ne, "name", {str("x")}));
  BOOST_TEST(where("gt(n,1)") == leaf(filter_op::gt, "n", {num(1, "1")}));
  BOOST_TEST(where("ge(n,2)") == leaf(filter_op::ge, "n", {num(2, "2")}));
  BOOST_TEST(where("lt(n,3)") == leaf(filter_op::lt, "n", {num(3, "3")}));
  BOOST_TEST(where("le(data.user.id,4)") == leaf(filter_op::le, "data.user.id", {num(4, "4")}));
  BOOST_TEST(where("in(tags,a,b,7)")
             == leaf(filter_op::in, "tags", {str("a"), str("b"), num(7, "7")}));
  BOOST_TEST(where("in(tags,a)") == leaf(filter_op::in, "tags", {str("a")}));
  BOOST_TEST(where("out(actions.type,mail,task)")
             == leaf(filter_op::out, "actions.type", {str("mail"), str("task")}));
  BOOST_TEST(where("contains(description)") == leaf(filter_op::contains, "description"));
  BOOST_TEST(where("excludes(x.$y-z_1)") == leaf(filter_op::excludes, "x.$y-z_1"));
  // A like pattern stays text even when it spells a number or a keyword.
  BOOST_TEST(where("like(name,vo*ce)") == leaf(filter_op::like, "name", {str("vo*ce")}));
  BOOST_TEST(where("like(code,12)") == leaf(filter_op::like, "code", {str("12")}));
  BOOST_TEST(where("like(flag,true)") == leaf(filter_op::like, "flag", {str("true")}));
  // An empty value is the empty string.
  BOOST_TEST(where("eq(name,)") == leaf(filter_op::eq, "name", {str("")}));
}

BOOST_AUTO_TEST_CASE(terms_are_anded_and_may_nest_and_or_to_any_depth) {
  auto a = leaf(filter_op::eq, "a", {num(1, "1")});
  auto b = leaf(filter_op::ne, "b", {str("x")});
  auto c = leaf(filter_op::contains, "c");
  BOOST_TEST(where("eq(a,1)&ne(b,x)&contains(c)") == group(filter_op::and_, {a, b, c}));
  BOOST_TEST(where("or(eq(a,1),ne(b,x))") == group(filter_op::or_, {a, b}));
  BOOST_TEST(where("and(eq(a,1))") == group(filter_op::and_, {a}));
  BOOST_TEST(where("and(or(eq(a,1),and(ne(b,x),contains(c))),contains(c))&ne(b,x)")
             == group(filter_op::and_,
                      {group(filter_op::and_,
                             {group(filter_op::or_, {a, group(filter_op::and_, {b, c})}), c}),
                       b}));
  // 32 levels are fine, 33 are refused.
  auto deep = where(nested_ands(32));
  size_t levels = 0;
  for (auto* node = &deep; node->op == filter_op::and_; node = &node->children.front()) ++levels;
  BOOST_TEST(levels == 32u);
  BOOST_TEST(contains_text(error_of(nested_ands(33)), "nested deeper than 32 levels"));
  // Far deeper input fails the same way instead of exhausting the stack.
  BOOST_TEST(contains_text(error_of(nested_ands(100000)), "nested deeper than 32 levels"));
}

BOOST_AUTO_TEST_CASE(plain_values_are_typed) {
  auto value = [](const std::string& text) { return where("eq(f," + text + ")").values.at(0); };
  BOOST_TEST(value("true") == bool_value(true));
  BOOST_TEST(value("false") == bool_value(false));
  BOOST_TEST(value("null") == null_value());
  BOOST_TEST(value("42") == num(42, "42"));
  BOOST_TEST(value("-1.5") == num(-1.5, "-1.5"));
  BOOST_TEST(value("2e3") == num(2000, "2e3"));
  BOOST_TEST(value("1.25E-2") == num(0.0125, "1.25E-2"));
  BOOST_TEST(value("007") == num(7, "007"));
  // Not numbers, so strings: a sign alone, bare dots, hex, words, out-of-range exponents.
  for (auto text : {"-", "1.", ".5", "+5", "0x10", "Infinity", "NaN", "1e999", "12abc", "True"})
    BOOST_TEST(value(text) == str(text), text);
  BOOST_TEST(value("http://x.y/z") == str("http://x.y/z")); // an unknown prefix is text
  BOOST_TEST(value("a+b") == str("a+b"));                   // '+' is not a space
}

BOOST_AUTO_TEST_CASE(prefixes_force_the_type) {
  auto value = [](const std::string& text) { return where("eq(f," + text + ")").values.at(0); };
  BOOST_TEST(value("string:123") == str("123"));
  BOOST_TEST(value("string:true") == str("true"));
  BOOST_TEST(value("string:") == str(""));
  BOOST_TEST(value("string:a:b") == str("a:b"));
  BOOST_TEST(value("number:12") == num(12, "12"));
  BOOST_TEST(value("number:-1.5e2") == num(-150, "-1.5e2"));
  BOOST_TEST(value("boolean:true") == bool_value(true));
  BOOST_TEST(value("boolean:false") == bool_value(false));
  BOOST_TEST(value("date:2030-01-02T03:04:05.678Z") == number_value(1893553445678.0));
  BOOST_TEST(value("date:2030-01-02T04:04:05.678+01:00") == number_value(1893553445678.0));
  BOOST_TEST(value("date:2030-01-02") == number_value(1893542400000.0));
  BOOST_TEST(value("epoch:1700000000000") == number_value(1700000000000.0));
  BOOST_TEST(value("epoch:-5") == number_value(-5));
  // The prefix works inside in/out as well.
  BOOST_TEST(where("in(f,string:1,number:2)") == leaf(filter_op::in, "f", {str("1"), num(2, "2")}));
}

BOOST_AUTO_TEST_CASE(values_are_decoded_twice) {
  auto value = [](const std::string& text) { return where("eq(f," + text + ")").values.at(0); };
  BOOST_TEST(value("a%252Cb") == str("a,b")); // an encoded comma stays in the value
  BOOST_TEST(value("a%2526b") == str("a&b")); // an encoded '&' does not split the query
  BOOST_TEST(value("a%2529b") == str("a)b")); // an encoded ')' does not close the term
  BOOST_TEST(value("%2528x%2529") == str("(x)"));
  BOOST_TEST(value("caf%C3%A9") == str("caf\xC3\xA9"));     // encoded once: é
  BOOST_TEST(value("caf%25C3%25A9") == str("caf\xC3\xA9")); // encoded twice: é
  BOOST_TEST(value("100%2525") == str("100%"));
  BOOST_TEST(value("string%253A12") == str("12")); // the prefix is read after decoding
  BOOST_TEST(where("in(f,a%252Cb,c)") == leaf(filter_op::in, "f", {str("a,b"), str("c")}));
  // The first decode applies to the whole text: an encoded term is a term.
  BOOST_TEST(where("eq%28name%2Cx%29%26ne%28b%2Cy%29")
             == group(filter_op::and_, {leaf(filter_op::eq, "name", {str("x")}),
                                        leaf(filter_op::ne, "b", {str("y")})}));
  // A comma encoded only once is a separator by the time terms are split.
  BOOST_TEST(contains_text(error_of("eq(f,a%2Cb)"), "eq(f): expected 2 arguments, got 3"));
  // Paths and sort keys are decoded too.
  BOOST_TEST(where("eq(data%252Euser,x)").path == "data.user");
  BOOST_TEST(parse("sort(%252Dn)").sort.at(0).descending);
}

BOOST_AUTO_TEST_CASE(select_sort_and_limit) {
  auto q = parse("select(id,name,actions.type)");
  BOOST_TEST(q.select == (std::vector<std::string>{"id", "name", "actions.type"}));
  BOOST_TEST((q.where.op == filter_op::all));
  q = parse("sort(a,-b,+c)");
  BOOST_TEST(q.sort == (std::vector<sort_key>{{"a", false}, {"b", true}, {"c", false}}));
  BOOST_TEST(parse("limit(10)").limit == 10u);
  BOOST_TEST(parse("limit(10)").offset == 0u);
  BOOST_TEST(parse("limit(10,30)").offset == 30u);
  BOOST_TEST(parse("limit(0)").limit == 0u);
  BOOST_TEST(parse("limit(50)").limit == 50u);
  BOOST_TEST(parse("limit(51)").limit == 50u);
  BOOST_TEST(parse("limit(99999999999999999999999)").limit == 50u);
  BOOST_TEST(parse("limit(5,4294967295)").offset == 4294967295u);
  BOOST_TEST(parse("eq(a,b)").limit == 20u);
  // Any order among the filters; the filters are still ANDed.
  q = parse("limit(5,2)&eq(a,x)&sort(-a)&select(a)&ne(b,y)");
  BOOST_TEST(q.limit == 5u);
  BOOST_TEST(q.offset == 2u);
  BOOST_TEST(q.sort == (std::vector<sort_key>{{"a", true}}));
  BOOST_TEST(q.select == std::vector<std::string>{"a"});
  BOOST_TEST(q.where
             == group(filter_op::and_, {leaf(filter_op::eq, "a", {str("x")}),
                                        leaf(filter_op::ne, "b", {str("y")})}));
}

BOOST_AUTO_TEST_CASE(percent_decode_cases) {
  auto decoded = [](const std::string& text) {
    auto result = percent_decode(text);
    if (!result) BOOST_FAIL(text << ": " << message_of(result.error()));
    return *result;
  };
  BOOST_TEST(decoded("") == "");
  BOOST_TEST(decoded("plain") == "plain");
  BOOST_TEST(decoded("%41%62c") == "Abc");
  BOOST_TEST(decoded("a+b") == "a+b");
  BOOST_TEST(decoded("%2525") == "%25");
  BOOST_TEST(decoded("%c3%a9") == "\xC3\xA9");
  BOOST_TEST(decoded("%F0%9F%98%80") == "\xF0\x9F\x98\x80");
  BOOST_TEST(decoded("%00") == std::string(1, '\0'));
  struct bad_case {
    std::string text;
    std::string reason;
  };
  std::vector<bad_case> cases = {
    {"%zz", "%zz: malformed percent escape"},
    {"ab%4", "%4: malformed percent escape"},
    {"%", "%: malformed percent escape"},
    {"%g0", "%g0: malformed percent escape"},
    {"%C3", "invalid UTF-8 at byte 0"},    // a lead byte without its continuation
    {"ab%FF", "invalid UTF-8 at byte 2"},  // never valid in UTF-8
    {"%C0%AF", "invalid UTF-8"},           // overlong '/'
    {"%ED%A0%80", "invalid UTF-8"},        // a UTF-16 surrogate
    {"%F4%90%80%80", "invalid UTF-8"},     // past U+10FFFF
    {"x\x80y", "invalid UTF-8 at byte 1"}, // raw bytes are checked as well
  };
  for (auto& c : cases) {
    auto result = percent_decode(c.text);
    BOOST_REQUIRE_MESSAGE(!result, c.text << " decoded");
    BOOST_TEST((code_of(result.error()) == error_code::invalid_rql));
    BOOST_TEST(contains_text(message_of(result.error()), c.reason),
               c.text << " -> " << message_of(result.error()));
  }
  // The message quotes only the ASCII of a bad escape, so it stays valid UTF-8.
  auto result = percent_decode("%\xC3\xA9");
  BOOST_REQUIRE(!result);
  BOOST_TEST(message_of(result.error()) == "%: malformed percent escape");
}

BOOST_AUTO_TEST_CASE(parsed_queries_select_the_right_records) {
  // Arrays: eq/in match any element, ne/out match none.
  BOOST_TEST(hit("in(tags,a)", R"({"tags":["b","a"]})"));
  BOOST_TEST(!hit("in(tags,a)", R"({"tags":["b","c"]})"));
  BOOST_TEST(hit("eq(tags,a)", R"({"tags":["b","a"]})"));
  BOOST_TEST(hit("ne(tags,a)", R"({"tags":["b","c"]})"));
  BOOST_TEST(!hit("ne(tags,a)", R"({"tags":["b","a"]})"));
  BOOST_TEST(hit("out(tags,x,y)", R"({"tags":["b","c"]})"));
  BOOST_TEST(!hit("out(tags,x,c)", R"({"tags":["b","c"]})"));
  BOOST_TEST(hit("eq(actions.type,mail)", R"({"actions":[{"type":"task"},{"type":"mail"}]})"));
  // like: case-insensitive substring, '*' a wildcard.
  BOOST_TEST(hit("like(name,ELCO)", R"({"name":"Welcome"})"));
  BOOST_TEST(hit("like(name,w*me)", R"({"name":"Welcome"})"));
  BOOST_TEST(!hit("like(name,me*w)", R"({"name":"Welcome"})"));
  BOOST_TEST(hit("like(name,a%252Cb)", R"({"name":"xa,by"})"));
  // Dates compare with epoch-ms fields.
  BOOST_TEST(
    hit("gt(creationTimestamp,date:2030-01-01)", R"({"creationTimestamp":1893542400000})"));
  BOOST_TEST(
    !hit("gt(creationTimestamp,date:2030-01-02)", R"({"creationTimestamp":1893542400000})"));
  BOOST_TEST(
    hit("le(t,date:2030-01-02T00:00:00Z)&ge(t,epoch:1893542400000)", R"({"t":1893542400000})"));
  // An all-digit id matches its string field exactly, not its neighbour of the same double.
  BOOST_TEST(hit("eq(id,123456789012345678901234)", R"({"id":"123456789012345678901234"})"));
  BOOST_TEST(!hit("eq(id,123456789012345678901234)", R"({"id":"123456789012345678901235"})"));
  BOOST_TEST(hit("in(id,111111111111111111111111,123456789012345678901234)",
                 R"({"id":"123456789012345678901234"})"));
  // What the user typed decides string comparisons; numbers compare numerically.
  BOOST_TEST(hit("eq(code,007)", R"({"code":"007"})"));
  BOOST_TEST(!hit("eq(code,7)", R"({"code":"007"})"));
  BOOST_TEST(hit("eq(code,007)", R"({"code":7})"));
  BOOST_TEST(hit("eq(enabled,true)", R"({"enabled":true})"));
  BOOST_TEST(!hit("eq(enabled,false)", R"({"enabled":true})"));
  BOOST_TEST(hit("eq(description,null)", R"({"name":"x"})"));
  BOOST_TEST(hit("excludes(description)&contains(name)", R"({"name":"x"})"));
  BOOST_TEST(hit("eq(name,caf%25C3%25A9)", "{\"name\":\"caf\xC3\xA9\"}"));
  // contains/excludes with conditions match elements of an array of objects (ExH's elemMatch).
  auto actions = R"({"actions":[{"type":"task","functionName":"f"},{"type":"mail"}]})";
  BOOST_TEST(hit("contains(actions,eq(type,mail))", actions));
  BOOST_TEST(hit("contains(actions,eq(type,task),eq(functionName,f))", actions));
  BOOST_TEST(!hit("contains(actions,eq(type,mail),eq(functionName,f))", actions));
  BOOST_TEST(!hit("excludes(actions,eq(type,mail))", actions));
  BOOST_TEST(hit("excludes(actions,eq(type,sms))", actions));
  BOOST_TEST(!hit("contains(actions,eq(type,mail))", R"({"actions":[]})"));
  // skipCount() (the SDK's rqlBuilder emits it) is accepted; the total is counted anyway.
  BOOST_TEST(hit("skipCount()&eq(name,x)", R"({"name":"x"})"));
  BOOST_TEST(hit("or(eq(a,1),eq(b,2))", R"({"a":0,"b":2})"));
  BOOST_TEST(!hit("and(eq(a,1),eq(b,2))", R"({"a":0,"b":2})"));
}

BOOST_AUTO_TEST_CASE(parsed_sort_and_limit_page_a_record_set) {
  record_set records;
  for (int n = 0; n < 60; ++n)
    records.put("r" + std::to_string(n), R"({"n":)" + std::to_string(n) + "}");
  uint64_t total = 0;
  auto page = records.run(parse("gt(n,9)&sort(-n)&limit(100,2)"), total);
  BOOST_TEST(total == 50u);
  BOOST_REQUIRE(page.size() == 48u); // the clamped 50 from offset 2 of 50 matches
  BOOST_TEST(page.front() == "r57");
  BOOST_TEST(page.back() == "r10");
  page = records.run(parse("lt(n,5)"), total);
  BOOST_TEST(page == (std::vector<std::string>{"r0", "r1", "r2", "r3", "r4"}));
}

BOOST_AUTO_TEST_CASE(malformed_input_is_invalid_rql_naming_term_and_reason) {
  struct bad_case {
    std::string raw;
    std::string reason;
  };
  std::vector<bad_case> cases = {
    {"eq(name)", "eq(name): expected 2 arguments, got 1"},
    {"eq(a,b,c)", "eq(a): expected 2 arguments, got 3"},
    {"eq()", "eq(): expected 2 arguments, got 0"},
    {"in(tags)", "in(tags): expected at least 2 arguments, got 1"},
    {"contains(a,b)", "'b'"},
    {"contains()", "contains(): expected at least 1 argument, got 0"},
    {"skipCount(x)", "skipCount(x): takes no arguments"},
    {"foo(a,b)", "unknown operator 'foo' in 'foo(a,b)'"},
    {"EQ(a,b)", "unknown operator 'EQ'"},
    {"eq(a,b)&or(foo(a))", "unknown operator 'foo' in 'foo(a)'"},
    {"eq(a,b", "unbalanced parentheses in 'eq(a,b'"},
    {"eq(a,b))", "unbalanced parentheses in 'eq(a,b))'"},
    {"eq(a,b)&)", "unbalanced parentheses in ')'"},
    {"and(eq(a,b)", "unbalanced parentheses"},
    {"eq(a,b)x", "unexpected text 'x' after ')' in 'eq(a,b)x'"},
    {"(a,b)", "empty operator name in '(a,b)'"},
    {"e q(a,b)", "malformed operator name 'e q'"},
    {"name=foo&limit=10", "not key=value pairs: 'name=foo'"},
    {"eq(a,b)&foo", "RQL term such as eq(field,value) expected, got 'foo'"},
    {"eq(,b)", "eq(): empty field path"},
    {"eq(a b,c)", "eq(a b): field path 'a b' may hold only letters"},
    {"eq(a..b,c)", "field path 'a..b' has an empty segment"},
    {"eq(a.,c)", "has an empty segment"},
    {"eq(a,foo(b))", "eq(a): unencoded parenthesis in argument 'foo(b)'"},
    {"and()", "and(...): expected at least 1 condition, got 0"},
    {"and(eq(a,1),)", "and(...): empty condition"},
    {"or(limit(5))", "limit(5): limit is allowed only at the top level"},
    {"select()", "select(): expected at least 1 field, got 0"},
    {"select(a)&select(b)", "select(b): select given twice"},
    {"sort(a)&sort(b)", "sort(b): sort given twice"},
    {"limit(1)&limit(2)", "limit(2): limit given twice"},
    {"sort(a,-)", "sort(a): empty field path"},
    {"select(a,b!)", "field path 'b!' may hold only"},
    {"limit(x)", "limit(x): count is not a non-negative integer"},
    {"limit(-1)", "limit(-1): count is not a non-negative integer"},
    {"limit(1.5)", "count is not a non-negative integer"},
    {"limit()", "limit(): expected 1 or 2 arguments, got 0"},
    {"limit(1,2,3)", "limit(1): expected 1 or 2 arguments, got 3"},
    {"limit(1,x)", "limit(1): offset is not a non-negative integer"},
    {"limit(1,4294967296)", "offset is larger than 4294967295"},
    {"eq(n,number:abc)", "eq(n): 'number:abc' is not a finite number"},
    {"eq(n,number:1e999)", "'number:1e999' is not a finite number"},
    {"eq(d,date:yesterday)", "eq(d): 'date:yesterday' is not an ISO-8601 date"},
    {"eq(d,date:2030-02-30)", "'date:2030-02-30' is not an ISO-8601 date"},
    {"eq(b,boolean:yes)", "eq(b): 'boolean:yes' is not true or false"},
    {"eq(e,epoch:1.5)", "eq(e): 'epoch:1.5' is not an integer of epoch milliseconds"},
    {"eq(e,epoch:)", "is not an integer of epoch milliseconds"},
    {"eq(a,b)&%zz", "%zz: malformed percent escape"},
    {"eq(a,%25zz)", "eq(a): %zz: malformed percent escape"},
    {"eq(a,%FF)", "invalid UTF-8 at byte 5 after percent-decoding"},
    {"eq(a,%25FF)", "eq(a): invalid UTF-8 at byte 0 after percent-decoding"},
  };
  BOOST_TEST(cases.size() >= 20u);
  for (auto& c : cases) {
    auto message = error_of(c.raw);
    BOOST_TEST(contains_text(message, c.reason), c.raw << " -> " << message);
  }
}

BOOST_AUTO_TEST_CASE(messages_about_huge_input_stay_short) {
  auto long_arg = std::string(5000, 'x');
  auto message = error_of("foo(" + long_arg + ")");
  BOOST_TEST(contains_text(message, "unknown operator 'foo'"));
  BOOST_TEST(message.size() < 200u);
  message = error_of("eq(" + long_arg + ")");
  BOOST_TEST(contains_text(message, "expected 2 arguments, got 1"));
  BOOST_TEST(message.size() < 200u);
  // A cut never splits a UTF-8 sequence: 59 ASCII bytes, then é straddling the limit.
  message = error_of("foo(" + std::string(55, 'x') + "\xC3\xA9" + std::string(100, 'y') + ")");
  auto decoded = percent_decode(message);
  BOOST_TEST(static_cast<bool>(decoded), message);
}

BOOST_AUTO_TEST_SUITE_END()
