// Evaluates typed queries (the parsed form of RQL) against records in their API JSON shape.
// Records are parsed once when stored; a query is compiled once per run and then walks the DOMs.
#include "messages/query_eval.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>
#include <unordered_map>

#include <rapidjson/document.h>

#include "messages/error_code.hpp"
#include "messages/json_dom.hpp"

namespace dispatch {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> segments;
  size_t begin = 0;
  for (;;) {
    auto dot = path.find('.', begin);
    segments.emplace_back(path.substr(begin, dot - begin));
    if (dot == std::string::npos) return segments;
    begin = dot + 1;
  }
}

bool is_path_segment(std::string_view segment) {
  if (segment.empty()) return false;
  for (char c : segment)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
          || c == '$' || c == '-'))
      return false;
  return true;
}

namespace {

using json_value = rapidjson::Value;

const char* op_name(filter_op op) {
  switch (op) {
    case filter_op::all:
      return "all";
    case filter_op::eq:
      return "eq";
    case filter_op::ne:
      return "ne";
    case filter_op::gt:
      return "gt";
    case filter_op::ge:
      return "ge";
    case filter_op::lt:
      return "lt";
    case filter_op::le:
      return "le";
    case filter_op::in:
      return "in";
    case filter_op::out:
      return "out";
    case filter_op::like:
      return "like";
    case filter_op::contains:
      return "contains";
    case filter_op::excludes:
      return "excludes";
    case filter_op::and_:
      return "and";
    case filter_op::or_:
      return "or";
  }
  return "unknown";
}

bool is_comparison(filter_op op) {
  return op >= filter_op::eq && op <= filter_op::like;
}

bool valid_path(const std::string& path) {
  if (path.empty()) return false;
  for (auto& segment : split_path(path))
    if (segment.empty()) return false;
  return true;
}

// A query string that spells a number ("3", "-1.5e3") as that number: RQL may leave a value
// untyped, and a numeric field must still compare numerically.
std::optional<double> as_number(const std::string& text) {
  double result = 0;
  auto last = text.data() + text.size();
  auto [end, ec] = std::from_chars(text.data(), last, result);
  if (text.empty() || ec != std::errc{} || end != last || !std::isfinite(result))
    return std::nullopt;
  return result;
}

// The text of a literal, for `like` and for a number compared with a string field.
std::string as_text(const query_value& v) {
  switch (v.kind) {
    case value_kind::null:
      return "null";
    case value_kind::boolean:
      return v.boolean ? "true" : "false";
    case value_kind::string:
      return v.text;
    case value_kind::number:
      // The literal as the user typed it: an id of 24 digits is beyond a double's precision.
      if (!v.text.empty()) return v.text;
      break;
  }
  char buf[32];
  if (std::floor(v.number) == v.number && std::fabs(v.number) < 1e15)
    std::snprintf(buf, sizeof(buf), "%.0f", v.number);
  else
    std::snprintf(buf, sizeof(buf), "%.17g", v.number);
  return buf;
}

std::string lowercase(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// One literal of a filter with its conversions done once per run instead of once per record.
struct literal {
  query_value value;
  std::optional<double> number; // the value as a number, when it is or spells one
  std::string text;             // the value as text
};

struct compiled_filter {
  filter_op op = filter_op::all;
  std::vector<std::string> path;
  std::vector<literal> values;
  std::vector<std::string> like_parts; // lowercase pieces between `*` wildcards
  std::vector<compiled_filter> children;
};

compiled_filter compile(const filter& f) {
  compiled_filter result;
  result.op = f.op;
  if (!f.path.empty()) result.path = split_path(f.path);
  for (auto& v : f.values) {
    literal lit{v, std::nullopt, as_text(v)};
    if (v.kind == value_kind::number)
      lit.number = v.number;
    else if (v.kind == value_kind::string)
      lit.number = as_number(v.text);
    result.values.emplace_back(std::move(lit));
  }
  if (f.op == filter_op::like && !result.values.empty()) {
    auto pattern = lowercase(result.values.front().text);
    size_t begin = 0;
    for (auto star = pattern.find('*'); star != std::string::npos;
         star = pattern.find('*', begin)) {
      if (star > begin) result.like_parts.emplace_back(pattern.substr(begin, star - begin));
      begin = star + 1;
    }
    if (begin < pattern.size()) result.like_parts.emplace_back(pattern.substr(begin));
  }
  for (auto& child : f.children) result.children.emplace_back(compile(child));
  return result;
}

// What a path resolves to in one record: the leaf values (arrays flattened, so every element of
// `tags` or every `type` of `actions` counts) and whether any non-null value was found at all.
struct resolved {
  std::vector<const json_value*> leaves;
  bool present = false;
};

void add_leaf(const json_value& v, resolved& out) {
  if (v.IsArray()) {
    out.present = true;
    for (auto& element : v.GetArray()) add_leaf(element, out);
    return;
  }
  if (!v.IsNull()) out.present = true;
  out.leaves.push_back(&v);
}

void collect(const json_value& v, const std::vector<std::string>& path, size_t depth,
             resolved& out) {
  if (depth == path.size()) {
    add_leaf(v, out);
    return;
  }
  if (v.IsArray()) {
    // A path through an array of objects continues into every element.
    for (auto& element : v.GetArray()) collect(element, path, depth, out);
    return;
  }
  if (!v.IsObject()) return;
  const auto& key = path[depth];
  auto member = v.FindMember(json_value(rapidjson::StringRef(key.data(), key.size())));
  if (member != v.MemberEnd()) collect(member->value, path, depth + 1, out);
}

// -1, 0 or 1 when a field value and a literal are comparable; nullopt when they are not.
std::optional<int> compare(const json_value& field, const literal& lit) {
  auto order = [](auto x, auto y) { return x < y ? -1 : (y < x ? 1 : 0); };
  switch (lit.value.kind) {
    case value_kind::null:
      return field.IsNull() ? std::optional<int>{0} : std::nullopt;
    case value_kind::boolean:
      if (field.IsBool()) return order(field.GetBool(), lit.value.boolean);
      return std::nullopt;
    case value_kind::number:
    case value_kind::string:
      break;
  }
  if (field.IsNumber()) {
    if (lit.number) return order(field.GetDouble(), *lit.number);
    return std::nullopt;
  }
  if (field.IsString()) {
    std::string_view text{field.GetString(), field.GetStringLength()};
    return order(text.compare(lit.text), 0);
  }
  if (field.IsBool() && (lit.text == "true" || lit.text == "false"))
    return order(field.GetBool(), lit.text == "true");
  return std::nullopt;
}

bool equals_any(const resolved& r, const literal& lit) {
  if (lit.value.kind == value_kind::null) return !r.present; // eq(x,null): absent or null
  for (auto leaf : r.leaves)
    if (compare(*leaf, lit) == 0) return true;
  return false;
}

bool like_matches(const json_value& field, const std::vector<std::string>& parts) {
  if (!field.IsString()) return false;
  auto text = lowercase(std::string{field.GetString(), field.GetStringLength()});
  size_t pos = 0;
  for (auto& part : parts) {
    pos = text.find(part, pos);
    if (pos == std::string::npos) return false;
    pos += part.size();
  }
  return true;
}

bool ordered_match(const resolved& r, const compiled_filter& f) {
  for (auto leaf : r.leaves) {
    auto order = compare(*leaf, f.values.front());
    if (!order || f.values.front().value.kind == value_kind::null) continue;
    switch (f.op) {
      case filter_op::gt:
        if (*order > 0) return true;
        break;
      case filter_op::ge:
        if (*order >= 0) return true;
        break;
      case filter_op::lt:
        if (*order < 0) return true;
        break;
      case filter_op::le:
        if (*order <= 0) return true;
        break;
      default:
        break;
    }
  }
  return false;
}

bool evaluate(const compiled_filter& f, const json_value& record) {
  switch (f.op) {
    case filter_op::all:
      return true;
    case filter_op::and_:
      return std::all_of(f.children.begin(), f.children.end(),
                         [&](auto& child) { return evaluate(child, record); });
    case filter_op::or_:
      return std::any_of(f.children.begin(), f.children.end(),
                         [&](auto& child) { return evaluate(child, record); });
    default:
      break;
  }
  if (f.path.empty() || (is_comparison(f.op) && f.values.empty()))
    return false; // malformed: `validate` rejects it; here it simply matches nothing
  resolved r;
  collect(record, f.path, 0, r);
  auto in_values = [&] {
    return std::any_of(f.values.begin(), f.values.end(),
                       [&](auto& lit) { return equals_any(r, lit); });
  };
  switch (f.op) {
    case filter_op::eq:
      return equals_any(r, f.values.front());
    case filter_op::ne:
      return !equals_any(r, f.values.front());
    case filter_op::in:
      return in_values();
    case filter_op::out:
      return !in_values();
    case filter_op::like:
      return std::any_of(r.leaves.begin(), r.leaves.end(),
                         [&](auto leaf) { return like_matches(*leaf, f.like_parts); });
    case filter_op::contains:
    case filter_op::excludes: {
      // With conditions, an element match: some element (an object) meets all of them.
      bool found = f.children.empty()
                     ? r.present
                     : std::any_of(r.leaves.begin(), r.leaves.end(), [&](auto leaf) {
                         return leaf->IsObject()
                                && std::all_of(f.children.begin(), f.children.end(),
                                               [&](auto& child) { return evaluate(child, *leaf); });
                       });
      return f.op == filter_op::contains ? found : !found;
    }
    default:
      return ordered_match(r, f);
  }
}

// Sort order of single values: missing (or null, or not a scalar) < booleans < numbers < strings.
int sort_rank(const json_value* v) {
  if (v == nullptr || v->IsNull() || v->IsObject() || v->IsArray()) return 0;
  if (v->IsBool()) return 1;
  return v->IsNumber() ? 2 : 3;
}

int compare_for_sort(const json_value* x, const json_value* y) {
  int rx = sort_rank(x);
  int ry = sort_rank(y);
  if (rx != ry || rx == 0) return rx < ry ? -1 : (rx > ry ? 1 : 0);
  auto order = [](auto a, auto b) { return a < b ? -1 : (b < a ? 1 : 0); };
  if (rx == 1) return order(x->GetBool(), y->GetBool());
  if (rx == 2) return order(x->GetDouble(), y->GetDouble());
  std::string_view a{x->GetString(), x->GetStringLength()};
  std::string_view b{y->GetString(), y->GetStringLength()};
  return order(a.compare(b), 0);
}

// The value a record sorts by: the first value the path reaches (an array sorts by its first
// element).
const json_value* sort_value(const json_value& record, const std::vector<std::string>& path) {
  resolved r;
  collect(record, path, 0, r);
  for (auto leaf : r.leaves)
    if (!leaf->IsNull()) return leaf;
  return nullptr;
}

caf::error check_filter(const filter& f, const std::string& where, size_t depth) {
  auto fail = [&](const std::string& reason) {
    return make_error(error_code::invalid_rql, where + ": " + op_name(f.op) + reason);
  };
  if (depth > max_filter_depth)
    return fail(" is nested deeper than " + std::to_string(max_filter_depth) + " levels");
  if (f.op > filter_op::or_)
    return make_error(error_code::invalid_rql,
                      where + ": unknown operator " + std::to_string(static_cast<int>(f.op)));
  if (f.op == filter_op::all) return caf::none;
  if (f.op == filter_op::and_ || f.op == filter_op::or_) {
    if (f.children.empty()) return fail(" needs at least one condition");
    if (!f.path.empty() || !f.values.empty())
      return fail(" takes conditions only, not a field or values");
    for (size_t i = 0; i < f.children.size(); ++i) {
      auto child_where = where + "." + op_name(f.op) + "[" + std::to_string(i) + "]";
      if (auto err = check_filter(f.children[i], child_where, depth + 1)) return err;
    }
    return caf::none;
  }
  if (!valid_path(f.path))
    return fail(" needs a field path such as actions.type, got \"" + f.path + "\"");
  auto count = std::to_string(f.values.size());
  if (f.op == filter_op::contains || f.op == filter_op::excludes) {
    if (!f.values.empty()) return fail("(" + f.path + ") takes no values, got " + count);
    // contains(path, cond...) matches elements: the conditions apply to each element of path.
    for (size_t i = 0; i < f.children.size(); ++i) {
      auto child_where = where + "." + op_name(f.op) + "[" + std::to_string(i) + "]";
      if (auto err = check_filter(f.children[i], child_where, depth + 1)) return err;
    }
    return caf::none;
  }
  if (!f.children.empty()) return fail("(" + f.path + ") cannot take nested conditions");
  if (f.op == filter_op::in || f.op == filter_op::out) {
    if (f.values.empty()) return fail("(" + f.path + ") needs at least one value");
  } else if (f.values.size() != 1) {
    return fail("(" + f.path + ") needs exactly one value, got " + count);
  }
  return caf::none;
}

rapidjson::Document parse_record(const std::string& json) {
  rapidjson::Document doc;
  // Iterative parsing: a deeply nested record cannot exhaust the stack.
  doc.Parse<dom_parse_flags>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject())
    doc.SetObject(); // not a record: kept (so `all` lists it) but without fields
  return doc;
}

} // namespace

caf::error validate(const query& q) {
  if (auto err = check_filter(q.where, "query.where", 0)) return err;
  for (size_t i = 0; i < q.sort.size(); ++i)
    if (!valid_path(q.sort[i].path))
      return make_error(error_code::invalid_rql, "query.sort[" + std::to_string(i)
                                                   + "]: sort needs a field path, got \""
                                                   + q.sort[i].path + "\"");
  for (size_t i = 0; i < q.select.size(); ++i)
    if (!valid_path(q.select[i]))
      return make_error(error_code::invalid_rql, "query.select[" + std::to_string(i)
                                                   + "]: select needs a field path, got \""
                                                   + q.select[i] + "\"");
  return caf::none;
}

// Records live in a map ordered by insertion sequence (the storage order of an unsorted answer);
// the key index finds them for replacement and removal.
struct record_set::impl {
  struct record {
    std::string key;
    rapidjson::Document doc;
  };
  std::map<uint64_t, record> records;
  std::unordered_map<std::string, uint64_t> by_key;
  uint64_t next_sequence = 0;
};

record_set::record_set() : impl_(std::make_unique<impl>()) {
  // nop
}

record_set::~record_set() = default;

record_set::record_set(record_set&&) noexcept = default;

record_set& record_set::operator=(record_set&&) noexcept = default;

void record_set::put(const std::string& key, const std::string& json) {
  auto doc = parse_record(json);
  auto known = impl_->by_key.find(key);
  if (known != impl_->by_key.end()) {
    impl_->records.at(known->second).doc.Swap(doc);
    return;
  }
  auto sequence = impl_->next_sequence++;
  auto& slot = impl_->records[sequence];
  slot.key = key;
  slot.doc.Swap(doc);
  impl_->by_key.emplace(key, sequence);
}

void record_set::erase(const std::string& key) {
  auto known = impl_->by_key.find(key);
  if (known == impl_->by_key.end()) return;
  impl_->records.erase(known->second);
  impl_->by_key.erase(known);
}

size_t record_set::size() const {
  return impl_->records.size();
}

std::vector<std::string> record_set::run(const query& q, uint64_t& total,
                                         uint32_t max_limit) const {
  auto where = compile(q.where);
  std::vector<const impl::record*> hits;
  for (auto& [sequence, rec] : impl_->records)
    if (evaluate(where, rec.doc)) hits.push_back(&rec);
  total = hits.size();
  if (!q.sort.empty()) {
    // Resolve every sort value once, then sort positions; stable keeps insertion order on ties.
    std::vector<std::vector<std::string>> paths;
    for (auto& key : q.sort) paths.emplace_back(split_path(key.path));
    std::vector<std::vector<const json_value*>> values(hits.size());
    for (size_t i = 0; i < hits.size(); ++i)
      for (auto& path : paths) values[i].push_back(sort_value(hits[i]->doc, path));
    std::vector<size_t> order(hits.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
      for (size_t k = 0; k < paths.size(); ++k) {
        auto c = compare_for_sort(values[x][k], values[y][k]);
        if (c != 0) return q.sort[k].descending ? c > 0 : c < 0;
      }
      return false;
    });
    std::vector<const impl::record*> sorted;
    for (auto i : order) sorted.push_back(hits[i]);
    hits.swap(sorted);
  }
  std::vector<std::string> page;
  auto limit = std::min(q.limit, max_limit);
  for (size_t i = q.offset; i < hits.size() && page.size() < limit; ++i)
    page.push_back(hits[i]->key);
  return page;
}

// A max-heap on the sort order (the last record of the window on top), so the record that falls out
// when one more is offered is found at once.
struct sorted_window::impl {
  struct entry {
    std::string key;
    uint64_t sequence;
    std::unique_ptr<rapidjson::Document> doc; // the sort values point into it
    std::vector<const json_value*> values;
  };
  std::vector<sort_key> sort;
  std::vector<std::vector<std::string>> paths;
  uint64_t offset = 0;
  size_t capacity = 0;
  uint64_t next_sequence = 0;
  std::vector<entry> heap;

  // True when `x` comes before `y` in the answer.
  bool before(const entry& x, const entry& y) const {
    for (size_t k = 0; k < paths.size(); ++k) {
      auto c = compare_for_sort(x.values[k], y.values[k]);
      if (c != 0) return sort[k].descending ? c > 0 : c < 0;
    }
    return x.sequence < y.sequence;
  }
};

sorted_window::sorted_window(const query& q, uint32_t max_limit) : impl_(std::make_unique<impl>()) {
  impl_->sort = q.sort;
  for (auto& key : q.sort) impl_->paths.emplace_back(split_path(key.path));
  impl_->offset = q.offset;
  impl_->capacity = static_cast<size_t>(std::min<uint64_t>(q.offset + std::min(q.limit, max_limit),
                                                           std::numeric_limits<size_t>::max()));
}

sorted_window::~sorted_window() = default;

sorted_window::sorted_window(sorted_window&&) noexcept = default;

sorted_window& sorted_window::operator=(sorted_window&&) noexcept = default;

std::string sorted_window::offer(const std::string& key, const std::string& json) {
  auto& w = *impl_;
  if (w.capacity == 0) return key;
  impl::entry e{
    key, w.next_sequence++, std::make_unique<rapidjson::Document>(parse_record(json)), {}};
  for (auto& path : w.paths) e.values.push_back(sort_value(*e.doc, path));
  auto worse_on_top = [&w](const impl::entry& x, const impl::entry& y) { return w.before(x, y); };
  if (w.heap.size() < w.capacity) {
    w.heap.push_back(std::move(e));
    std::push_heap(w.heap.begin(), w.heap.end(), worse_on_top);
    return {};
  }
  // Full: the new record replaces the last one of the window if it comes before it.
  if (!w.before(e, w.heap.front())) return key;
  std::pop_heap(w.heap.begin(), w.heap.end(), worse_on_top);
  auto dropped = std::move(w.heap.back().key);
  w.heap.back() = std::move(e);
  std::push_heap(w.heap.begin(), w.heap.end(), worse_on_top);
  return dropped;
}

size_t sorted_window::size() const {
  return impl_->heap.size();
}

std::vector<std::string> sorted_window::page() const {
  auto& w = *impl_;
  std::vector<const impl::entry*> order;
  for (auto& e : w.heap) order.push_back(&e);
  std::sort(order.begin(), order.end(),
            [&w](const impl::entry* x, const impl::entry* y) { return w.before(*x, *y); });
  std::vector<std::string> keys;
  for (size_t i = static_cast<size_t>(std::min<uint64_t>(w.offset, order.size())); i < order.size();
       ++i)
    keys.push_back(order[i]->key);
  return keys;
}

struct record_filter::impl {
  compiled_filter compiled;
};

record_filter::record_filter(const filter& f) : impl_(std::make_unique<impl>(impl{compile(f)})) {}

record_filter::~record_filter() = default;

record_filter::record_filter(record_filter&&) noexcept = default;

record_filter& record_filter::operator=(record_filter&&) noexcept = default;

bool record_filter::matches(const rapidjson::Value& record) const {
  return evaluate(impl_->compiled, record);
}

bool narrow_times(const filter& term, const std::string& path, int64_t& from, int64_t& to) {
  if (term.path != path || term.values.size() != 1 || term.values[0].kind != value_kind::number)
    return false;
  auto number = term.values[0].number;
  constexpr double most = 4e18;
  if (!std::isfinite(number) || number < -most || number > most) return false;
  auto below = static_cast<int64_t>(std::floor(number));
  auto above = static_cast<int64_t>(std::ceil(number));
  switch (term.op) {
    case filter_op::ge: // at or after x
      from = std::max(from, above);
      return true;
    case filter_op::gt: // after x
      from = std::max(from, below + 1);
      return true;
    case filter_op::lt: // before x
      to = std::min(to, above);
      return true;
    case filter_op::le: // at or before x
      to = std::min(to, below + 1);
      return true;
    default:
      return false;
  }
}

bool matches(const filter& f, const std::string& json) {
  auto doc = parse_record(json);
  return evaluate(compile(f), doc);
}

} // namespace dispatch
