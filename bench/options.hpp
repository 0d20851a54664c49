// dispatch-bench's command line: which scenarios to run, for how long, where results go, and the
// parameters of a custom scenario.
#pragma once

#include <string>
#include <vector>

#include "bench/scenario.hpp"

namespace dispatch::bench {

struct bench_options {
  std::string scenario = "standard"; // standard, custom, http, http-batch, or standard names
  bool smoke = false;
  double duration_s = 10;
  double warmup_s = 2;
  double limit_s = 3;   // each limit's window
  std::string out;      // results file; empty: the default for the mode
  std::string data_dir; // empty: a fresh directory under /tmp
  bool limits = true;
  bool figures = true;
  scenario_params custom;  // --scenario=custom
  std::string custom_rate; // "N" events/s or "P%" of a closed-loop run measured first
  bool help = false;
  std::string scheduler = "sharing"; // CAF's scheduler policy, every scenario
  uint32_t repeat = 1;               // rounds of the selected scenarios, one after the other
  reader_settings readers;           // the engine's readers, every scenario
  uint64_t archive_events = 0;       // --archive=N: only the archive listings over N events
  uint64_t deliveries = 0;           // --deliveries=N: only the delivery listings over N finished
  std::string keep_store;            // --keep-store=DIR: --deliveries leaves its filled store there
  std::string store;                 // --store=DIR: engine scenarios start from a copy of DIR
  uint32_t rate_check = 0;           // --rate-check=N: only the sink-rate check at N deliveries/s
  uint32_t dispatcher_rate_check = 0; // --dispatcher-rate-check=N: a dispatcher's rateLimit instead
};

/// Parses `--key=value` arguments; the error names the argument and the reason.
bool parse_options(int argc, char** argv, bench_options& out, std::string& error);

/// The text of --help.
std::string usage();

} // namespace dispatch::bench
