// A typed query, the parsed form of RQL: a filter tree, a projection, a sort order and a page window.
// It is evaluated against the JSON shape of a record (see query_eval.hpp), so the same query works on
// dispatchers, deliveries, tasks and mails.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "messages/delivery.hpp"
#include "messages/dispatcher.hpp"
#include "messages/event.hpp"

namespace dispatch {

enum class value_kind : uint8_t { null = 0, boolean = 1, number = 2, string = 3 };

/// A literal of a filter. Dates and epochs are numbers (epoch ms) by the time they get here.
struct query_value {
  value_kind kind = value_kind::null;
  bool boolean = false;
  double number = 0;
  std::string text;
};

inline query_value null_value() {
  return {};
}
inline query_value bool_value(bool x) {
  return {value_kind::boolean, x, 0, {}};
}
inline query_value number_value(double x) {
  return {value_kind::number, false, x, {}};
}
inline query_value string_value(std::string x) {
  return {value_kind::string, false, 0, std::move(x)};
}

inline bool operator==(const query_value& x, const query_value& y) {
  return x.kind == y.kind && x.boolean == y.boolean && x.number == y.number && x.text == y.text;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, query_value& x) {
  return f(caf::meta::type_name("dispatch.query_value"), x.kind, x.boolean, x.number, x.text);
}

enum class filter_op : uint8_t {
  all = 0, // matches everything (the empty filter)
  eq,
  ne,
  gt,
  ge,
  lt,
  le,
  in,
  out,
  like,
  contains,
  excludes,
  and_,
  or_,
};

/// One node of the filter tree: a comparison on a dotted `path`, or `and_` / `or_` over children.
/// `contains(path)` / `excludes(path)` test whether the field is present.
struct filter {
  filter_op op = filter_op::all;
  std::string path;
  std::vector<query_value> values;
  std::vector<filter> children;
};

inline bool operator==(const filter& x, const filter& y) {
  return x.op == y.op && x.path == y.path && x.values == y.values && x.children == y.children;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, filter& x) {
  return f(caf::meta::type_name("dispatch.filter"), x.op, x.path, x.values, x.children);
}

/// A filter tree nested deeper than this is rejected rather than walked recursively.
constexpr size_t max_filter_depth = 64;

struct sort_key {
  std::string path;
  bool descending = false;
};

inline bool operator==(const sort_key& x, const sort_key& y) {
  return x.path == y.path && x.descending == y.descending;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sort_key& x) {
  return f(caf::meta::type_name("dispatch.sort_key"), x.path, x.descending);
}

constexpr uint32_t default_page_size = 20;
constexpr uint32_t max_page_size = 50;
/// The deepest window one engine answers for a page merged from several (offset + limit).
constexpr uint32_t max_window_depth = 10000;

struct query {
  filter where;                       // op == all: every record
  std::vector<std::string> select;    // empty: every field
  std::vector<sort_key> sort;         // empty: storage order
  uint32_t limit = default_page_size; // clamped to max_page_size
  uint32_t offset = 0;
};

/// The first `depth` records of a query's order: its offset and limit replaced (the limit at most
/// max_window_depth). One engine's share of a page merged from several.
inline query window_of(const query& q, uint32_t depth) {
  auto window = q;
  window.offset = 0;
  window.limit = depth < max_window_depth ? depth : max_window_depth;
  return window;
}

/// Deliveries are listed newest first unless a query sorts them: by creation time, then id, both
/// descending. `q` with that order when it has none of its own.
inline query newest_first(query q) {
  if (q.sort.empty()) q.sort = {sort_key{"creationTimestamp", true}, sort_key{"id", true}};
  return q;
}

inline bool operator==(const query& x, const query& y) {
  return x.where == y.where && x.select == y.select && x.sort == y.sort && x.limit == y.limit
         && x.offset == y.offset;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, query& x) {
  return f(caf::meta::type_name("dispatch.query"), x.where, x.select, x.sort, x.limit, x.offset);
}

/// The page window of an answer; `total` counts every match, not just this page.
struct page_info {
  uint64_t total = 0;
  uint32_t offset = 0;
  uint32_t limit = default_page_size;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, page_info& x) {
  return f(caf::meta::type_name("dispatch.page_info"), x.total, x.offset, x.limit);
}

struct dispatcher_page {
  page_info page;
  std::vector<dispatcher> data;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dispatcher_page& x) {
  return f(caf::meta::type_name("dispatch.dispatcher_page"), x.page, x.data);
}

struct delivery_page {
  page_info page;
  std::vector<delivery> data;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivery_page& x) {
  return f(caf::meta::type_name("dispatch.delivery_page"), x.page, x.data);
}

/// A page of records in their JSON (API) shape, e.g. what the built-in log sink received.
struct json_page {
  page_info page;
  std::vector<std::string> data;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, json_page& x) {
  return f(caf::meta::type_name("dispatch.json_page"), x.page, x.data);
}

} // namespace dispatch
