// The rate check: an engine whose task sink is a webhook on a loopback HTTP server, with
// `dispatch.sinks.task.rate` set, kept busy with more work than the rate lets through; the server
// timestamps every request, and the check counts what arrived in a measured window. Timing
// precision is checked here, not in the tests (which assert with generous slack).
#pragma once

#include <cstdint>
#include <string>

namespace dispatch::bench {

struct rate_check_result {
  bool per_dispatcher = false; // the rate is a dispatcher's `rateLimit`, not the sink's
  uint32_t configured = 0;     // deliveries a second
  double window_s = 0;
  uint64_t arrived = 0; // requests at the webhook within the window
  double measured = 0;  // arrived / window_s
  double deviation = 0; // measured / configured - 1
  bool ok = false;      // within ±5%, and the engine started
  std::string failure;
};

/// Runs the check for `rate` deliveries a second: `warmup_s` to settle, then `window_s`
/// measured. The sink's rate: the events spread over four event types on four shards, so the
/// shards' emitters share the rate. `per_dispatcher`: the rate is instead the `rateLimit` of one
/// dispatcher with a task and a mail action (both to the webhook), so its shard's two emitters
/// share it, and the sinks have none.
rate_check_result run_rate_check(uint32_t rate, double warmup_s, double window_s,
                                 bool per_dispatcher = false);

/// The result as one JSON object on one line.
std::string to_json(const rate_check_result& r);

} // namespace dispatch::bench
