// Evaluates a typed query against records in their JSON (API) shape: filter, sort, page.
// A `record_set` keeps parsed records by key so repeated queries do not re-parse them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>

#include "messages/query.hpp"

namespace dispatch {

/// Checks a query: known operators with the right number of values, non-empty paths. Error 19.
caf::error validate(const query& q);

class record_set {
public:
  record_set();
  ~record_set();
  record_set(record_set&&) noexcept;
  record_set& operator=(record_set&&) noexcept;

  /// Adds or replaces the record under `key` (JSON object text, as `to_json` writes it).
  void put(const std::string& key, const std::string& json);

  /// Removes a record; a missing key is ignored.
  void erase(const std::string& key);

  size_t size() const;

  /// The keys of the records matching `q.where`, sorted by `q.sort` (then by insertion order),
  /// windowed by `q.offset` and `q.limit` (clamped to `max_limit`); `total` receives the count of
  /// every match.
  std::vector<std::string> run(const query& q, uint64_t& total,
                               uint32_t max_limit = max_page_size) const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Whether one record (JSON object text) matches a filter; for one-off checks.
bool matches(const filter& f, const std::string& json);

} // namespace dispatch
