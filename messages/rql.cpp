// The RQL parser: the percent-encoded query text of a `find` call into a typed `query` (filter
// tree, projection, sort order, page window); malformed input is refused with code 19.
#include "messages/rql.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "messages/error_code.hpp"
#include "messages/json.hpp"
#include "messages/query_eval.hpp"

namespace dispatch {

namespace {

// and(...)/or(...) nested deeper than this is refused: the parser recurses once per level.
constexpr size_t max_nesting = 32;

// Input quoted in an error message is cut to this many bytes so that a huge query still gives a
// readable message.
constexpr size_t max_quoted = 60;

caf::error rql_error(std::string message) {
  return make_error(error_code::invalid_rql, std::move(message));
}

std::string quoted(std::string_view text) {
  if (text.size() <= max_quoted) return "'" + std::string{text} + "'";
  auto cut = max_quoted;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
    --cut; // never split a UTF-8 sequence: the message ends up in a JSON body
  return "'" + std::string{text.substr(0, cut)} + "...'";
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int hex_digit(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The offset of the first byte that does not start a well-formed UTF-8 sequence (overlong forms,
// surrogates and code points past U+10FFFF included), or npos.
size_t first_invalid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto lead = static_cast<unsigned char>(text[i]);
    size_t extra = 0;
    uint32_t code = 0;
    uint32_t least = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    }
    if ((lead & 0xE0) == 0xC0) {
      extra = 1, code = lead & 0x1Fu, least = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      extra = 2, code = lead & 0x0Fu, least = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      extra = 3, code = lead & 0x07u, least = 0x10000;
    } else {
      return i;
    }
    if (text.size() - i <= extra) return i;
    for (size_t k = 1; k <= extra; ++k) {
      auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return i;
      code = (code << 6) | (next & 0x3Fu);
    }
    if (code < least || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return i;
    i += extra + 1;
  }
  return std::string_view::npos;
}

// The pieces of `text` between `separator`s outside parentheses. A ')' without its '(' does not
// take the depth below zero here; the term parser reports it with the term around it.
std::vector<std::string_view> split_top_level(std::string_view text, char separator) {
  std::vector<std::string_view> pieces;
  size_t depth = 0;
  size_t begin = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '(') {
      ++depth;
    } else if (text[i] == ')') {
      if (depth > 0) --depth;
    } else if (text[i] == separator && depth == 0) {
      pieces.push_back(text.substr(begin, i - begin));
      begin = i + 1;
    }
  }
  pieces.push_back(text.substr(begin));
  return pieces;
}

// One `name(arg,...)` term after the first decode; the arguments are still encoded once.
struct term {
  std::string_view text;
  std::string_view name;
  std::vector<std::string_view> args;

  // How messages name the term: the operator and its field, e.g. "eq(name)".
  std::string label() const {
    if (name == "and" || name == "or") return std::string{name} + "(...)";
    auto first = args.empty() ? std::string{} : std::string{args.front()};
    if (first.size() > max_quoted) first = quoted(first);
    return std::string{name} + "(" + first + ")";
  }
};

caf::error unbalanced(std::string_view text) {
  return rql_error("unbalanced parentheses in " + quoted(text));
}

// The syntax of one term: a name of letters, one balanced argument list, nothing after it.
caf::expected<term> split_term(std::string_view text) {
  auto open = text.find('(');
  auto name = text.substr(0, open);
  if (name.find(')') != std::string_view::npos) return unbalanced(text);
  if (name.find('=') != std::string_view::npos)
    return rql_error("RQL terms such as eq(field,value) expected, not key=value pairs: "
                     + quoted(text));
  if (open == std::string_view::npos)
    return rql_error("RQL term such as eq(field,value) expected, got " + quoted(text));
  if (name.empty()) return rql_error("empty operator name in " + quoted(text));
  for (char c : name)
    if (!is_letter(c))
      return rql_error("malformed operator name " + quoted(name) + " in " + quoted(text));
  size_t depth = 0;
  size_t close = open;
  for (; close < text.size(); ++close) {
    if (text[close] == '(') ++depth;
    if (text[close] == ')' && --depth == 0) break;
  }
  if (close == text.size()) return unbalanced(text);
  auto rest = text.substr(close + 1);
  if (!rest.empty()) {
    if (rest.front() == ')') return unbalanced(text);
    return rql_error("unexpected text " + quoted(rest) + " after ')' in " + quoted(text));
  }
  term result{text, name, {}};
  auto inner = text.substr(open + 1, close - open - 1);
  if (!inner.empty()) result.args = split_top_level(inner, ',');
  return result;
}

// The second decode of one argument, with the term named in the error.
caf::expected<std::string> decode_argument(const term& t, std::string_view arg) {
  if (arg.find_first_of("()") != std::string_view::npos)
    return rql_error(t.label() + ": unencoded parenthesis in argument " + quoted(arg));
  auto decoded = percent_decode(arg);
  if (!decoded) return rql_error(t.label() + ": " + message_of(decoded.error()));
  return decoded;
}

caf::error check_path(const term& t, const std::string& path) {
  if (path.empty()) return rql_error(t.label() + ": empty field path");
  for (char c : path)
    if (!is_letter(c) && !is_digit(c) && c != '_' && c != '.' && c != '$' && c != '-')
      return rql_error(t.label() + ": field path " + quoted(path)
                       + " may hold only letters, digits and _ . $ -");
  if (path.front() == '.' || path.back() == '.' || path.find("..") != std::string::npos)
    return rql_error(t.label() + ": field path " + quoted(path) + " has an empty segment");
  return caf::none;
}

// A JSON-style number: -?digits(.digits)?([eE][+-]?digits)?, finite as a double.
std::optional<double> to_number(std::string_view text) {
  size_t i = 0;
  auto digits = [&] {
    auto start = i;
    while (i < text.size() && is_digit(text[i])) ++i;
    return i > start;
  };
  if (i < text.size() && text[i] == '-') ++i;
  if (!digits()) return std::nullopt;
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (!digits()) return std::nullopt;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (!digits()) return std::nullopt;
  }
  double result = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), result);
  if (i != text.size() || ec != std::errc{} || end != text.data() + text.size()
      || !std::isfinite(result))
    return std::nullopt; // 1e999 and the like stay strings
  return result;
}

// A number as typed: the text is kept so that a string field compares with what the user wrote
// (an id of 24 digits is beyond a double's precision).
query_value number_literal(double number, std::string_view text) {
  auto result = number_value(number);
  result.text = std::string{text};
  return result;
}

std::optional<timestamp_ms> to_epoch(std::string_view text) {
  size_t i = text.size() > 0 && text[0] == '-' ? 1 : 0;
  if (i == text.size()) return std::nullopt;
  for (auto k = i; k < text.size(); ++k)
    if (!is_digit(text[k])) return std::nullopt;
  timestamp_ms result = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), result);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return result;
}

std::optional<timestamp_ms> to_date(std::string_view text) {
  timestamp_ms result = 0;
  bool plain_date = text.size() == 10 && text[4] == '-' && text[7] == '-';
  auto full = plain_date ? std::string{text} + "T00:00:00Z" : std::string{text};
  if (!parse_iso8601(full, result)) return std::nullopt;
  return result;
}

// The typed value of a decoded argument: a `type:` prefix forces the type, otherwise true, false,
// null and numbers are recognised and everything else is a string.
caf::expected<query_value> typed_value(const std::string& text) {
  auto colon = text.find(':');
  auto prefix = std::string_view{text}.substr(0, colon);
  auto rest = colon == std::string::npos ? std::string_view{}
                                         : std::string_view{text}.substr(colon + 1);
  if (colon != std::string::npos) {
    if (prefix == "string") return string_value(std::string{rest});
    if (prefix == "number") {
      if (auto number = to_number(rest)) return number_literal(*number, rest);
      return rql_error(quoted(text) + " is not a finite number");
    }
    if (prefix == "boolean") {
      if (rest == "true" || rest == "false") return bool_value(rest == "true");
      return rql_error(quoted(text) + " is not true or false");
    }
    if (prefix == "date") {
      if (auto ms = to_date(rest)) return number_value(static_cast<double>(*ms));
      return rql_error(quoted(text) + " is not an ISO-8601 date such as 2030-01-02T03:04:05Z");
    }
    if (prefix == "epoch") {
      if (auto ms = to_epoch(rest)) return number_value(static_cast<double>(*ms));
      return rql_error(quoted(text) + " is not an integer of epoch milliseconds");
    }
  }
  if (text == "true" || text == "false") return bool_value(text == "true");
  if (text == "null") return null_value();
  if (auto number = to_number(text)) return number_literal(*number, text);
  return string_value(text);
}

// A non-negative integer, saturating at the largest uint64_t; nullopt for anything else.
std::optional<uint64_t> to_count(std::string_view text) {
  if (text.empty()) return std::nullopt;
  for (char c : text)
    if (!is_digit(c)) return std::nullopt;
  uint64_t result = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), result);
  if (ec == std::errc::result_out_of_range) return std::numeric_limits<uint64_t>::max();
  return result;
}

std::optional<filter_op> filter_op_named(std::string_view name) {
  static constexpr std::pair<std::string_view, filter_op> known[] = {
    {"eq", filter_op::eq},
    {"ne", filter_op::ne},
    {"gt", filter_op::gt},
    {"ge", filter_op::ge},
    {"lt", filter_op::lt},
    {"le", filter_op::le},
    {"in", filter_op::in},
    {"out", filter_op::out},
    {"like", filter_op::like},
    {"contains", filter_op::contains},
    {"excludes", filter_op::excludes},
    {"and", filter_op::and_},
    {"or", filter_op::or_},
  };
  for (auto& [spelling, op] : known)
    if (spelling == name) return op;
  return std::nullopt;
}

std::string count_text(size_t n) {
  return std::to_string(n) + (n == 1 ? " argument" : " arguments");
}

caf::expected<filter> parse_filter(const term& t, size_t depth);

// The field path of a term: its first argument, decoded and checked.
caf::error read_path(const term& t, filter& out) {
  auto path = decode_argument(t, t.args.front());
  if (!path) return path.error();
  if (auto err = check_path(t, *path)) return err;
  out.path = std::move(*path);
  return caf::none;
}

// Nested conditions (of and/or, or of an element match) parsed into `out.children`.
caf::error read_conditions(const term& t, std::vector<std::string_view>::const_iterator first,
                           size_t depth, filter& out) {
  if (depth > max_nesting)
    return rql_error(t.label() + ": nested deeper than " + std::to_string(max_nesting) + " levels");
  for (auto arg = first; arg != t.args.end(); ++arg) {
    if (arg->empty()) return rql_error(t.label() + ": empty condition in " + quoted(t.text));
    auto child = split_term(*arg);
    if (!child) return child.error();
    auto parsed = parse_filter(*child, depth + 1);
    if (!parsed) return parsed.error();
    out.children.push_back(std::move(*parsed));
  }
  return caf::none;
}

// `contains(path)` / `excludes(path)` test presence; `contains(path, cond...)` matches elements of
// an array of objects (ExH: `contains(actions, eq(type,mail))`), `excludes` the opposite.
caf::expected<filter> parse_presence(const term& t, filter_op op, size_t depth) {
  if (t.args.empty()) return rql_error(t.label() + ": expected at least 1 argument, got 0");
  filter result;
  result.op = op;
  if (auto err = read_path(t, result)) return err;
  if (auto err = read_conditions(t, t.args.begin() + 1, depth, result)) return err;
  return result;
}

// A comparison: a field path, then the values the operator takes.
caf::expected<filter> parse_comparison(const term& t, filter_op op) {
  bool several = op == filter_op::in || op == filter_op::out;
  size_t wanted = 2;
  if (several ? t.args.size() < wanted : t.args.size() != wanted)
    return rql_error(t.label() + ": expected " + (several ? "at least " : "") + count_text(wanted)
                     + ", got " + std::to_string(t.args.size()));
  filter result;
  result.op = op;
  if (auto err = read_path(t, result)) return err;
  for (size_t i = 1; i < t.args.size(); ++i) {
    auto text = decode_argument(t, t.args[i]);
    if (!text) return text.error();
    if (op == filter_op::like) { // a pattern is text whatever it looks like
      result.values.push_back(string_value(std::move(*text)));
      continue;
    }
    auto value = typed_value(*text);
    if (!value) return rql_error(t.label() + ": " + message_of(value.error()));
    result.values.push_back(std::move(*value));
  }
  return result;
}

caf::expected<filter> parse_group(const term& t, filter_op op, size_t depth) {
  if (t.args.empty()) return rql_error(t.label() + ": expected at least 1 condition, got 0");
  filter result;
  result.op = op;
  if (auto err = read_conditions(t, t.args.begin(), depth, result)) return err;
  return result;
}

caf::expected<filter> parse_filter(const term& t, size_t depth) {
  auto op = filter_op_named(t.name);
  if (op == filter_op::and_ || op == filter_op::or_) return parse_group(t, *op, depth);
  if (op == filter_op::contains || op == filter_op::excludes) return parse_presence(t, *op, depth);
  if (op) return parse_comparison(t, *op);
  if (t.name == "select" || t.name == "sort" || t.name == "limit")
    return rql_error(t.label() + ": " + std::string{t.name}
                     + " is allowed only at the top level, not inside and/or");
  return rql_error("unknown operator " + quoted(t.name) + " in " + quoted(t.text));
}

// The top level of a query: filters (ANDed) and at most one each of select, sort and limit.
class rql_parser {
public:
  /// With `filters_only`, a term other than a filter is refused (a dispatcher's `filter`).
  explicit rql_parser(bool filters_only = false) : filters_only_(filters_only) {}

  caf::error add(std::string_view text) {
    if (text.empty()) return caf::none; // "a&&b" or a trailing '&': nothing to add
    auto t = split_term(text);
    if (!t) return t.error();
    if (filters_only_
        && (t->name == "select" || t->name == "sort" || t->name == "limit"
            || t->name == "skipCount"))
      return rql_error(t->label() + ": a filter holds filter terms only, not "
                       + std::string{t->name});
    if (t->name == "select") return once(seen_select_, *t, &rql_parser::parse_select);
    if (t->name == "sort") return once(seen_sort_, *t, &rql_parser::parse_sort);
    if (t->name == "limit") return once(seen_limit_, *t, &rql_parser::parse_limit);
    // The SDK's rqlBuilder().skipCount() asks not to count the total; counting anyway is harmless.
    if (t->name == "skipCount") {
      if (!t->args.empty()) return rql_error(t->label() + ": takes no arguments");
      return caf::none;
    }
    auto parsed = parse_filter(*t, 1);
    if (!parsed) return parsed.error();
    filters_.push_back(std::move(*parsed));
    return caf::none;
  }

  query finish() {
    if (filters_.size() == 1) {
      result_.where = std::move(filters_.front());
    } else if (filters_.size() > 1) {
      result_.where.op = filter_op::and_;
      result_.where.children = std::move(filters_);
    }
    return std::move(result_);
  }

private:
  using part_parser = caf::error (rql_parser::*)(const term&);

  bool filters_only_;

  caf::error once(bool& seen, const term& t, part_parser parse) {
    if (seen)
      return rql_error(t.label() + ": " + std::string{t.name} + " given twice; use one "
                       + std::string{t.name} + "(...)");
    seen = true;
    return (this->*parse)(t);
  }

  caf::error parse_select(const term& t) {
    if (t.args.empty()) return rql_error(t.label() + ": expected at least 1 field, got 0");
    for (auto arg : t.args) {
      auto path = decode_argument(t, arg);
      if (!path) return path.error();
      if (auto err = check_path(t, *path)) return err;
      result_.select.push_back(std::move(*path));
    }
    return caf::none;
  }

  caf::error parse_sort(const term& t) {
    if (t.args.empty()) return rql_error(t.label() + ": expected at least 1 field, got 0");
    for (auto arg : t.args) {
      auto key = decode_argument(t, arg);
      if (!key) return key.error();
      bool descending = !key->empty() && key->front() == '-';
      if (!key->empty() && (key->front() == '-' || key->front() == '+')) key->erase(0, 1);
      if (auto err = check_path(t, *key)) return err;
      result_.sort.push_back({std::move(*key), descending});
    }
    return caf::none;
  }

  caf::error parse_limit(const term& t) {
    if (t.args.empty() || t.args.size() > 2)
      return rql_error(t.label() + ": expected 1 or 2 arguments, got "
                       + std::to_string(t.args.size()));
    auto count_arg = decode_argument(t, t.args[0]);
    if (!count_arg) return count_arg.error();
    auto count = to_count(*count_arg);
    if (!count) return rql_error(t.label() + ": count is not a non-negative integer");
    result_.limit = static_cast<uint32_t>(std::min<uint64_t>(*count, max_page_size));
    if (t.args.size() == 1) return caf::none;
    auto offset_arg = decode_argument(t, t.args[1]);
    if (!offset_arg) return offset_arg.error();
    auto offset = to_count(*offset_arg);
    if (!offset) return rql_error(t.label() + ": offset is not a non-negative integer");
    if (*offset > std::numeric_limits<uint32_t>::max())
      return rql_error(t.label() + ": offset is larger than "
                       + std::to_string(std::numeric_limits<uint32_t>::max()));
    result_.offset = static_cast<uint32_t>(*offset);
    return caf::none;
  }

  query result_;
  std::vector<filter> filters_;
  bool seen_select_ = false;
  bool seen_sort_ = false;
  bool seen_limit_ = false;
};

} // namespace

caf::expected<std::string> percent_decode(std::string_view text) {
  std::string result;
  result.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      result += text[i];
      continue;
    }
    int high = i + 1 < text.size() ? hex_digit(text[i + 1]) : -1;
    int low = i + 2 < text.size() ? hex_digit(text[i + 2]) : -1;
    if (high < 0 || low < 0) {
      // Show the escape as written, but only its ASCII part: the message must stay valid UTF-8.
      std::string shown = "%";
      for (size_t k = i + 1; k < text.size() && k <= i + 2 && text[k] > ' ' && text[k] < 0x7F; ++k)
        shown += text[k];
      return rql_error(shown + ": malformed percent escape");
    }
    result += static_cast<char>(high * 16 + low);
    i += 2;
  }
  if (auto bad = first_invalid_utf8(result); bad != std::string::npos)
    return rql_error("invalid UTF-8 at byte " + std::to_string(bad) + " after percent-decoding");
  return result;
}

caf::expected<filter> parse_rql_filter(std::string_view text) {
  // Not percent-decoded as a whole: the text comes from a JSON string, not a URL. Arguments are
  // decoded once, so that `%2C` still writes a comma inside a value.
  if (auto bad = first_invalid_utf8(text); bad != std::string_view::npos)
    return rql_error("invalid UTF-8 at byte " + std::to_string(bad));
  rql_parser parser{true};
  for (auto piece : split_top_level(text, '&'))
    if (auto err = parser.add(piece)) return err;
  auto result = parser.finish();
  if (auto err = validate(result)) return err;
  return std::move(result.where);
}

caf::expected<query> parse_rql(std::string_view raw) {
  auto text = percent_decode(raw);
  if (!text) return text.error();
  rql_parser parser;
  for (auto piece : split_top_level(*text, '&'))
    if (auto err = parser.add(piece)) return err;
  auto result = parser.finish();
  if (auto err = validate(result)) return err;
  return result;
}

} // namespace dispatch
