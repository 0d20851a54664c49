// How dispatch-bench shows what it measured: a progress line on stderr, a table on stdout, one JSON
// object per scenario in the results file, and SVG figures drawn by gnuplot when it is installed.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "bench/scenario.hpp"

namespace dispatch::bench {

/// The limits an engine scenario is compared with (0 when not measured).
struct limit_set {
  double rocksdb_sync = 0;
  double rocksdb_nosync = 0;
  double store_sync = 0; // the engine's store alone (events/s)
  double store_nosync = 0;
  double caf_pipeline = 0;
};

/// Overwrites the progress line on stderr (`\r`); an empty text clears it.
void show_progress(const std::string& text);

/// One line naming a scenario's parameters, printed before it runs.
std::string describe(const scenario_params& p);

/// One JSON object (no newline) for an engine scenario, with its fractions of the limits.
std::string to_json(const engine_result& r, const limit_set& limits);

/// One JSON object (no newline) for a limit.
std::string to_json(const limit_result& r);

/// Reads a results file back: `expected` lines, each a JSON object with the fields its kind
/// promises (limit: records/s and CPU; engine: ok, params, rates, latency, CPU, RSS, bytes per
/// event). An empty string when it is sound, else what is wrong. The smoke run checks its own
/// file with it, so that the machine-readable output cannot rot unnoticed.
std::string check_results(const std::string& path, size_t expected);

/// The summary table of every limit and scenario.
void print_table(std::ostream& out, const std::vector<limit_result>& limits,
                 const std::vector<engine_result>& runs, const limit_set& set);

/// Writes the data files and SVGs beside the results file: the latency distribution of the
/// open-loop runs and throughput against shard count. Returns what it did (or why it did not).
std::string draw_figures(const std::string& dir, const std::vector<engine_result>& runs);

} // namespace dispatch::bench
