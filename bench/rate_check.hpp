// The rate check: an engine whose task sink is a webhook on a loopback HTTP server, with
// `dispatch.sinks.task.rate` set, kept busy with more work than the rate lets through; the server
// timestamps every request, and the check counts what arrived in a measured window. Timing
// precision is checked here, not in the tests (which assert with generous slack).
#pragma once

#include <cstdint>
#include <string>

namespace dispatch::bench {

struct rate_check_result {
  uint32_t configured = 0; // deliveries a second
  double window_s = 0;
  uint64_t arrived = 0; // requests at the webhook within the window
  double measured = 0;  // arrived / window_s
  double deviation = 0; // measured / configured - 1
  bool ok = false;      // within ±5%, and the engine started
  std::string failure;
};

/// Runs the check for `rate` deliveries a second: `warmup_s` to settle, then `window_s`
/// measured. The events spread over four event types on four shards, so the shards' emitters
/// share the rate.
rate_check_result run_rate_check(uint32_t rate, double warmup_s, double window_s);

/// The result as one JSON object on one line.
std::string to_json(const rate_check_result& r);

} // namespace dispatch::bench
