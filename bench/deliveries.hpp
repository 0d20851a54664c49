// Deliveries at scale: a store filled with millions of finished deliveries (derived from the log
// and delivered, dead letters, the built-in log's records), then the listings of
// `GET /deliveries/v1/` and `GET /tasks/v1/` timed as the readers answer them (`--deliveries=N`).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace dispatch::bench {

/// Fills a fresh store under `dir` with `deliveries` finished deliveries straight through the store
/// (nine in ten derived from logged events and delivered, each also a record of the built-in task
/// log; one in ten a dead letter), spread over the last 7 days, and times each listing; prints one
/// JSON object for the machine and one per listing to `out`. Answers 0, or 1 when the store could
/// not be filled or read or a total is not exact.
/// With `keep` not empty, the filled store is moved there at the end (for --store).
int run_deliveries(uint64_t deliveries, bool smoke, const std::string& dir, const std::string& keep,
                   std::ostream& out);

} // namespace dispatch::bench
