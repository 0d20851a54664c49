// The event archive at scale: a store filled with millions of archived events, then the listings of
// `GET /events/v1/` timed as the readers answer them (`--archive=N`).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace dispatch::bench {

/// Fills a fresh store under `dir` with `events` events (the standard scenario's 1,000 types over 4
/// shards, spread over the last 7 days) and times each listing `rounds` times; prints one JSON
/// object per listing to `out`. Answers 0, or 1 when the store could not be filled or read.
int run_archive(uint64_t events, uint32_t rounds, const std::string& dir, std::ostream& out);

} // namespace dispatch::bench
