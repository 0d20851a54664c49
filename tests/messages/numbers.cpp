// Numbers come out as they went in: doubles value-exact (bit for bit), 64-bit integers text for
// text, through an event's content, a task action's data and the filter that reads a record.
#include <boost/test/unit_test.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "messages/json.hpp"
#include "messages/query_eval.hpp"
#include "printing.hpp"

using namespace dispatch;

namespace {

uint64_t bits_of(double x) {
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
}

// The shortest text that reads back to `x`, as a careful client writes it.
std::string shortest(double x) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, x);
  BOOST_REQUIRE(ec == std::errc{});
  return {buffer, end};
}

// `count` finite doubles from random bit patterns (every exponent, subnormals included), led by
// the values that are hard to read back.
std::vector<double> doubles(size_t count) {
  std::vector<double> out{0.47203854259185996,
                          -0.0,
                          5e-324,
                          2.2250738585072009e-308,
                          2.2250738585072014e-308,
                          std::numeric_limits<double>::max(),
                          std::numeric_limits<double>::lowest(),
                          0.1,
                          1e23,
                          9007199254740993.0,
                          4.35679716e-10};
  std::mt19937_64 random{20261206};
  while (out.size() < count) {
    uint64_t bits = random();
    double x;
    std::memcpy(&x, &bits, sizeof x);
    if (std::isfinite(x)) out.push_back(x);
  }
  return out;
}

// The elements of a JSON array of numbers that is the only value in `text` (`{"x":[...]}` or the
// like): the texts between `[` and `]`, split at commas.
std::vector<std::string_view> array_elements(std::string_view text) {
  auto open = text.find('[');
  auto close = text.rfind(']');
  BOOST_REQUIRE(open != std::string_view::npos && close != std::string_view::npos);
  std::vector<std::string_view> out;
  auto rest = text.substr(open + 1, close - open - 1);
  while (!rest.empty()) {
    auto comma = rest.find(',');
    out.push_back(rest.substr(0, comma));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return out;
}

double read_double(std::string_view text) {
  double x = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), x);
  BOOST_REQUIRE(ec == std::errc{});
  BOOST_REQUIRE(end == text.data() + text.size());
  return x;
}

// Checks that `written` holds `sent`'s values in order, each the same double bit for bit.
void check_same_doubles(const std::vector<double>& sent, size_t from, std::string_view written,
                        size_t& changed) {
  auto back = array_elements(written);
  BOOST_REQUIRE(back.size() + from <= sent.size());
  for (size_t i = 0; i < back.size(); ++i) {
    if (bits_of(read_double(back[i])) != bits_of(sent[from + i])) {
      if (++changed <= 5) BOOST_ERROR("sent " << shortest(sent[from + i]) << ", got " << back[i]);
    }
  }
}

std::string number_array(const std::vector<double>& values, size_t from, size_t count) {
  std::string out = "[";
  for (size_t i = from; i < from + count; ++i) {
    if (i > from) out += ',';
    out += shortest(values[i]);
  }
  return out + "]";
}

const std::vector<std::string> integer_edges{
  "0",
  "-1",
  "9007199254740993", // 2^53 + 1: not a double
  "-9007199254740993",
  "2147483648",
  "-2147483649",
  "4294967296",
  "9223372036854775807",  // INT64_MAX
  "-9223372036854775808", // INT64_MIN
  "9223372036854775808",  // INT64_MAX + 1: unsigned
  "18446744073709551615", // UINT64_MAX
};

std::string integer_array() {
  std::string out = "[";
  for (auto& x : integer_edges) out += (out.size() > 1 ? "," : "") + x;
  return out + "]";
}

} // namespace

BOOST_AUTO_TEST_SUITE(numbers)

BOOST_AUTO_TEST_CASE(a_million_doubles_keep_their_value_through_event_content) {
  constexpr size_t per_event = 1000;
  auto sent = doubles(1000 * per_event);
  size_t changed = 0;
  for (size_t from = 0; from < sent.size(); from += per_event) {
    auto ev = parse_event(R"({"type":"t","content":{"x":)" + number_array(sent, from, per_event)
                          + "}}");
    BOOST_REQUIRE(ev);
    check_same_doubles(sent, from, ev->content, changed);
  }
  BOOST_TEST(changed == 0u, changed << " of " << sent.size() << " doubles changed");
}

BOOST_AUTO_TEST_CASE(doubles_keep_their_value_through_task_data) {
  auto sent = doubles(20000);
  size_t changed = 0;
  constexpr size_t per_action = 1000;
  for (size_t from = 0; from < sent.size(); from += per_action) {
    auto d = parse_dispatcher(R"({"eventType":"e","actions":[{"type":"task","functionName":"f",)"
                              R"("data":{"x":)"
                              + number_array(sent, from, per_action) + "}}]}");
    BOOST_REQUIRE(d);
    BOOST_REQUIRE(d->actions.at(0).data);
    check_same_doubles(sent, from, *d->actions[0].data, changed);
    // The frame the task's data is composed from at delivery: the data re-read and re-written.
    auto frame = task_data_frame(d->actions[0].data);
    auto framed = frame.first + frame.second;
    check_same_doubles(sent, from, framed, changed);
  }
  BOOST_TEST(changed == 0u);
}

BOOST_AUTO_TEST_CASE(integers_at_the_edges_come_out_as_they_went_in) {
  auto ev = parse_event(R"({"type":"t","content":{"x":)" + integer_array() + "}}");
  BOOST_REQUIRE(ev);
  auto back = array_elements(ev->content);
  BOOST_REQUIRE(back.size() == integer_edges.size());
  for (size_t i = 0; i < back.size(); ++i) BOOST_TEST(back[i] == integer_edges[i]);

  auto d = parse_dispatcher(R"({"eventType":"e","actions":[{"type":"task","functionName":"f",)"
                            R"("data":{"x":)"
                            + integer_array() + "}}]}");
  BOOST_REQUIRE(d);
  auto frame = task_data_frame(d->actions.at(0).data);
  auto framed_text = frame.first + frame.second;
  auto framed = array_elements(framed_text);
  BOOST_REQUIRE(framed.size() == integer_edges.size());
  for (size_t i = 0; i < framed.size(); ++i) BOOST_TEST(framed[i] == integer_edges[i]);
}

BOOST_AUTO_TEST_CASE(negative_zero_stays_negative) {
  // RapidJSON's integer path reads `-0` as 0; a client that sent it meant the negative zero.
  auto ev = parse_event(R"({"type":"t","content":{"a":-0,"b":-0.0,"c":0,"d":-0e5}})");
  BOOST_REQUIRE(ev);
  BOOST_TEST(ev->content == R"({"a":-0.0,"b":-0.0,"c":0,"d":-0.0})");
}

BOOST_AUTO_TEST_CASE(a_filter_compares_the_exact_value_of_a_record) {
  // Read with the fast path, the record's number was 0.47203854259186 and matched neither.
  filter exact{filter_op::eq, "x", {number_value(0.47203854259185996)}, {}};
  BOOST_TEST(matches(exact, R"({"x":0.47203854259185996})"));
  filter next{filter_op::eq, "x", {number_value(0.47203854259186)}, {}};
  BOOST_TEST(!matches(next, R"({"x":0.47203854259185996})"));
}

BOOST_AUTO_TEST_SUITE_END()
