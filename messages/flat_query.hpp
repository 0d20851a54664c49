// A query as it crosses the cluster's peer port: the filter tree written out flat, in postfix
// order, so that nothing recursive is deserialized from the wire (CAF 0.17's deserializer has no
// depth bound). The receiving node rebuilds the tree with bounds checked before it builds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>

#include "messages/query.hpp"

namespace dispatch {

/// One node of a filter in postfix order: a comparison (`operands == 0`), or `and_`, `or_`,
/// `contains`, `excludes` over the `operands` terms built just before it.
struct filter_term {
  filter_op op = filter_op::all;
  std::string path;
  std::vector<query_value> values;
  uint32_t operands = 0;
};

inline bool operator==(const filter_term& x, const filter_term& y) {
  return x.op == y.op && x.path == y.path && x.values == y.values && x.operands == y.operands;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, filter_term& x) {
  return f(caf::meta::type_name("dispatch.filter_term"), x.op, x.path, x.values, x.operands);
}

/// `query` with its filter in postfix order; an empty `where` matches everything.
struct flat_query {
  std::vector<filter_term> where;
  std::vector<std::string> select;
  std::vector<sort_key> sort;
  uint32_t limit = default_page_size;
  uint32_t offset = 0;
};

inline bool operator==(const flat_query& x, const flat_query& y) {
  return x.where == y.where && x.select == y.select && x.sort == y.sort && x.limit == y.limit
         && x.offset == y.offset;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, flat_query& x) {
  return f(caf::meta::type_name("dispatch.flat_query"), x.where, x.select, x.sort, x.limit,
           x.offset);
}

/// The most terms a flat filter may have; more is refused before anything is built.
constexpr size_t max_filter_terms = 1024;

/// Writes a query's filter out in postfix order. Walks the tree without recursion.
flat_query flatten(const query& q);

/// Rebuilds the query: refuses (invalid_rql, naming the term) more than `max_filter_terms`
/// terms, a term with more operands than precede it, a tree deeper than the engine's filter
/// depth limit or terms left over, before building; then checks the result with `validate`.
caf::expected<query> unflatten(const flat_query& q);

} // namespace dispatch
