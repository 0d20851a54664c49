// Runs one engine scenario end to end: a fresh actor system and data directory, the dispatchers,
// a warmup, the measured window, the drain; then tears everything down.
#pragma once

#include <functional>
#include <string>

#include "bench/scenario.hpp"

namespace dispatch::bench {

/// Told a one-line status every ~200 ms while the scenario runs.
using progress_fn = std::function<void(const std::string&)>;

/// Runs `p` with its data directory under `base_dir` (removed before and after).
engine_result run_engine_scenario(const scenario_params& p, const std::string& base_dir,
                                  const progress_fn& progress);

} // namespace dispatch::bench
