// The Prometheus text exposition (version 0.0.4) of `GET /metrics`: the engine's counters and
// queue depths, the gateway's request counters, and the latency histograms.
#pragma once

#include <string>

#include "gateway/request_metrics.hpp"
#include "messages/latency.hpp"
#include "messages/stats.hpp"

namespace dispatch {

/// The Content-Type of the exposition.
inline constexpr const char* prometheus_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// Renders one histogram: cumulative `<name>_bucket{le=..}` lines ending with `+Inf`, `_sum` and
/// `_count`, under its HELP and TYPE lines.
std::string histogram_text(const std::string& name, const std::string& help,
                           const latency_snapshot& snapshot);

/// The whole exposition; `http` may be null (no gateway counters then).
std::string metrics_text(const engine_stats& stats, const request_metrics* http);

} // namespace dispatch
