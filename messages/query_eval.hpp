// Evaluates a typed query against records in their JSON (API) shape: filter, sort, page.
// A `record_set` keeps parsed records by key so repeated queries do not re-parse them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <rapidjson/fwd.h>

#include "messages/query.hpp"

namespace dispatch {

/// Checks a query: known operators with the right number of values, non-empty paths. Error 19.
caf::error validate(const query& q);

/// Narrows the times [`from`, `to`) by `term` when it compares `path` with a number (`gt`, `ge`,
/// `lt`, `le`), in whole milliseconds: what a walk by time can be bounded to. False for any other
/// term, and for a number beyond what a time can be (such a term is evaluated, not bounded by).
bool narrow_times(const filter& term, const std::string& path, int64_t& from, int64_t& to);

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

/// The records of a stream that a sorted page answers: the first `offset + limit` in the query's
/// sort order (ties in the order offered), keeping no more than that many at any time, so a sorted
/// listing over millions of records holds one page, not every match. Filtering is the caller's.
class sorted_window {
public:
  /// For `q.sort` (not empty), `q.offset` and `q.limit` clamped to `max_limit`.
  sorted_window(const query& q, uint32_t max_limit);
  ~sorted_window();
  sorted_window(sorted_window&&) noexcept;
  sorted_window& operator=(sorted_window&&) noexcept;

  /// Offers a record (JSON object text) under `key`. Answers the key of the record that no longer
  /// fits (this one or one kept before), or empty when every record offered so far still fits.
  std::string offer(const std::string& key, const std::string& json);

  /// How many records it holds now (at most offset + limit).
  size_t size() const;

  /// The keys of the page, in sort order: the records past `offset`.
  std::vector<std::string> page() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// A filter compiled once (paths split, literals converted, `like` patterns cut) and evaluated
/// against many records held as DOMs: a dispatcher's content filter, once per event.
/// A dotted path split at its dots (`content.user.id` → `content`, `user`, `id`).
std::vector<std::string> split_path(const std::string& path);

/// Whether `segment` may be one step of a dotted path that a dispatcher stores (an `orderingKey`,
/// a template's `{{event.<path>}}`): not empty, only letters, digits and `_ $ -`.
bool is_path_segment(std::string_view segment);

class record_filter {
public:
  explicit record_filter(const filter& f);
  ~record_filter();
  record_filter(record_filter&&) noexcept;
  record_filter& operator=(record_filter&&) noexcept;

  /// Whether `record` (a JSON object) matches.
  bool matches(const rapidjson::Value& record) const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Whether one record (JSON object text) matches a filter; for one-off checks.
bool matches(const filter& f, const std::string& json);

} // namespace dispatch
