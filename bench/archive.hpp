// The event archive at scale: a store filled with millions of archived events, then the listings of
// `GET /events/v1/` timed as the readers answer them (`--archive=N`).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "persistence/store.hpp"

namespace dispatch::bench {

/// Milliseconds since `since` on the steady clock.
inline double ms_since(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since)
    .count();
}

/// What `rounds` runs of one listing answered: the times sorted (ms), the last total and rows, or
/// why a run failed (then the rest were not run).
struct listing_rounds {
  std::vector<double> ms;
  uint64_t total = 0;
  size_t rows = 0;
  std::string error;
};

/// Runs `list()` (answering an expected page with `page.total` and `data`) `rounds` times.
template <class List>
listing_rounds time_rounds(uint32_t rounds, List list) {
  using clock_type = std::chrono::steady_clock;
  listing_rounds r;
  for (uint32_t i = 0; i < rounds; ++i) {
    auto start = clock_type::now();
    auto page = list();
    r.ms.push_back(ms_since(start));
    if (!page) {
      r.error = caf::to_string(page.error());
      return r;
    }
    r.total = page->page.total;
    r.rows = page->data.size();
  }
  std::sort(r.ms.begin(), r.ms.end());
  return r;
}

/// The filter `eq(path,value)` with a string value.
filter equals(const char* path, const std::string& value);

/// The options of a bench's store at `path`: `shards` shards, unsynced.
store_options options_of(const std::string& path, uint32_t shards);

/// A fresh store of `shards` shards at `path` (what was there is removed), unsynced: a bench's fill
/// is not what it measures.
caf::expected<std::shared_ptr<store>> fresh_store(const std::string& path, uint32_t shards);

/// One JSON line for a timed listing: scenario, `kind` `listing`, its name, what `fields(writer)`
/// adds (the store's sizes), then total, rows, rounds, p50 and max ms.
template <class Fields>
std::string listing_line(const char* scenario, const char* listing, const listing_rounds& r,
                         Fields fields) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  w.Key("scenario"), w.String(scenario);
  w.Key("kind"), w.String("listing");
  w.Key("listing"), w.String(listing);
  fields(w);
  w.Key("total"), w.Uint64(r.total);
  w.Key("rows"), w.Uint64(r.rows);
  w.Key("rounds"), w.Uint(static_cast<unsigned>(r.ms.size()));
  w.Key("p50_ms"), w.Double(r.ms[r.ms.size() / 2]);
  w.Key("max_ms"), w.Double(r.ms.back());
  w.EndObject();
  return buf.GetString();
}

/// Fills a fresh store under `dir` with `events` events (the standard scenario's 1,000 types over 4
/// shards, spread over the last 7 days) and times each listing `rounds` times; prints one JSON
/// object per listing to `out`. Answers 0, or 1 when the store could not be filled or read.
int run_archive(uint64_t events, uint32_t rounds, const std::string& dir, std::ostream& out);

} // namespace dispatch::bench
