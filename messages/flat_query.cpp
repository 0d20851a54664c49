// The flat wire form of a query: postfix out, bounded rebuild in.
#include "messages/flat_query.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>

#include "messages/error_code.hpp"
#include "messages/query_eval.hpp"

namespace dispatch {

namespace {

caf::error wire_error(size_t index, const std::string& reason) {
  return make_error(error_code::invalid_rql,
                    "query.where[" + std::to_string(index) + "]: " + reason);
}

filter_term term_of(const filter& f) {
  filter_term t;
  t.op = f.op;
  t.path = f.path;
  t.values = f.values;
  t.operands = static_cast<uint32_t>(f.children.size());
  return t;
}

} // namespace

flat_query flatten(const query& q) {
  flat_query out;
  out.select = q.select;
  out.sort = q.sort;
  out.limit = q.limit;
  out.offset = q.offset;
  if (q.where.op == filter_op::all && q.where.children.empty()) return out;
  // Post-order with an explicit stack: a node is written once all its children are.
  std::vector<std::pair<const filter*, size_t>> pending{{&q.where, 0}};
  while (!pending.empty()) {
    auto& [node, next_child] = pending.back();
    if (next_child < node->children.size()) {
      auto child = &node->children[next_child++];
      pending.emplace_back(child, 0);
      continue;
    }
    out.where.push_back(term_of(*node));
    pending.pop_back();
  }
  return out;
}

caf::expected<query> unflatten(const flat_query& q) {
  if (q.where.size() > max_filter_terms)
    return make_error(error_code::invalid_rql,
                      "query.where: " + std::to_string(q.where.size()) + " terms, more than the "
                        + std::to_string(max_filter_terms) + " a filter may have");
  // First the shape alone, on counts: every term finds its operands and the tree stays within
  // the depth limit. Only then is anything built.
  std::vector<size_t> heights;
  for (size_t i = 0; i < q.where.size(); ++i) {
    auto& t = q.where[i];
    // Enums arrive as any byte, and a non-finite double hangs CAF 0.17's serializer when the
    // query or a record of it is written again.
    if (static_cast<uint8_t>(t.op) > static_cast<uint8_t>(filter_op::or_))
      return wire_error(i, "has an unknown operator");
    for (auto& v : t.values) {
      if (static_cast<uint8_t>(v.kind) > static_cast<uint8_t>(value_kind::string))
        return wire_error(i, "has a value of an unknown kind");
      if (!std::isfinite(v.number)) return wire_error(i, "has a number that is not finite");
    }
    if (t.operands > heights.size())
      return wire_error(i, "takes " + std::to_string(t.operands) + " conditions, only "
                             + std::to_string(heights.size()) + " precede it");
    size_t height = 0;
    for (uint32_t k = 0; k < t.operands; ++k) {
      height = std::max(height, heights.back());
      heights.pop_back();
    }
    if (height + 1 > max_filter_depth)
      return wire_error(i, "nested deeper than " + std::to_string(max_filter_depth) + " levels");
    heights.push_back(height + 1);
  }
  if (heights.size() > 1)
    return make_error(error_code::invalid_rql, "query.where: " + std::to_string(heights.size())
                                                 + " conditions left over; a filter has one root");
  query out;
  out.select = q.select;
  out.sort = q.sort;
  out.limit = q.limit;
  out.offset = q.offset;
  std::vector<filter> built;
  for (auto& t : q.where) {
    filter f;
    f.op = t.op;
    f.path = t.path;
    f.values = t.values;
    auto first = built.end() - static_cast<std::ptrdiff_t>(t.operands);
    f.children.assign(std::make_move_iterator(first), std::make_move_iterator(built.end()));
    built.erase(first, built.end());
    built.push_back(std::move(f));
  }
  if (!built.empty()) out.where = std::move(built.front());
  if (auto err = validate(out)) return err;
  return out;
}

} // namespace dispatch
