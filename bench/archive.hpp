// The event archive at scale: a store filled with millions of archived events, then the listings of
// `GET /events/v1/` timed as the readers answer them (`--archive=N`).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <caf/error.hpp>

namespace dispatch::bench {

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
    r.ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - start).count());
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

/// Fills a fresh store under `dir` with `events` events (the standard scenario's 1,000 types over 4
/// shards, spread over the last 7 days) and times each listing `rounds` times; prints one JSON
/// object per listing to `out`. Answers 0, or 1 when the store could not be filled or read.
int run_archive(uint64_t events, uint32_t rounds, const std::string& dir, std::ostream& out);

} // namespace dispatch::bench
