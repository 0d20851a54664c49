// Parsing dispatch-bench's arguments: every option is --key=value (or a bare flag), checked for
// range, so that a typo is an error and not a silently different benchmark.
#include "bench/options.hpp"

#include <cstdlib>
#include <functional>
#include <map>

namespace dispatch::bench {

namespace {

bool to_number(const std::string& text, double lo, double hi, double& out) {
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return !text.empty() && *end == '\0' && out >= lo && out <= hi;
}

template <class T>
std::function<bool(const std::string&)> number(T& target, double lo, double hi) {
  return [&target, lo, hi](const std::string& v) {
    double x = 0;
    if (!to_number(v, lo, hi, x)) return false;
    target = static_cast<T>(x);
    return true;
  };
}

std::function<bool(const std::string&)> on_off(bool& target) {
  return [&target](const std::string& v) {
    if (v != "on" && v != "off" && v != "true" && v != "false") return false;
    target = v == "on" || v == "true";
    return true;
  };
}

bool parse_actions(const std::string& v, scenario_params& p) {
  auto dash = v.find('-');
  double lo = 0;
  double hi = 0;
  if (dash == std::string::npos) {
    if (!to_number(v, 1, 3, lo)) return false;
    hi = lo;
  } else if (!to_number(v.substr(0, dash), 1, 3, lo) || !to_number(v.substr(dash + 1), 1, 3, hi)
             || hi < lo) {
    return false;
  }
  p.actions_min = static_cast<uint32_t>(lo);
  p.actions_max = static_cast<uint32_t>(hi);
  return true;
}

} // namespace

std::string usage() {
  return R"(dispatch-bench: throughput, latency and cost of the dispatch engine, with its limits.
  --scenario=standard      the standard set (default); or a comma list of its names; or custom;
                           http and http-batch go through the HTTP gateway (see bench/README.md)
  --smoke                  a few seconds with tiny sizes (ctest runs it)
  --duration=S             measured seconds per scenario (default 10), after --warmup=S (2)
  --limit-duration=S       seconds per limit (default 3); --no-limits skips them
  --out=FILE               JSON lines (default bench/results/latest.jsonl; smoke: smoke.jsonl)
  --data-dir=DIR           where data directories go (default: a fresh one under /tmp)
  --no-figures             do not draw the SVGs
  --scheduler=sharing      CAF's scheduler policy for every scenario: sharing (default) or
                           stealing (CAF's default; idle workers poll, see bench/README.md)
  --repeat=N               run the selected scenarios N times, round after round (1); the table
                           ends with the median of what listing clients cost, over the rounds
  --readers-idle=on|off    the engine's readers under SCHED_IDLE (on, the engine's default)
  --readers-nice=N         nice steps the readers run below the rest (0..19, 10)
  --readers=N              the engine's reader threads (1..16, 2)
  --readers-cpu=C          cores' worth of CPU the readers use together at most (0: half the
                           cores beyond the first, at least 0.25; the engine's default)
  --archive=N              only the event archive: fill a store with N events, time the listings
                           of GET /events/v1/ (one JSON line each to stdout, and to --out if given)
  --deliveries=N           only the delivery listings: fill a store with N finished deliveries,
                           time the listings of deliveries, events and tasks (JSON lines as --archive)
  --keep-store=DIR         with --deliveries: move the filled store to DIR (it must not exist)
  --store=DIR              engine scenarios start from a copy of the data directory DIR (its
                           table files hard-linked), e.g. one --keep-store left: the publisher
                           with listing clients on a store of 10,000,000 deliveries
  --rate-check=N           only the rate check: dispatch.sinks.task.rate=N against a loopback
                           webhook, --warmup then --duration measured (use 60); one JSON line
                           on stdout (and appended to --out when given); exit 1 beyond ±5%
  --dispatcher-rate-check=N  the same for a dispatcher's rateLimit {perSecond: N} (no sink rate)
 custom scenario (--scenario=custom):
  --dispatchers=N (1..10000, 1000)  --types=N (1..1000, 1000)  --actions=N|A-B (1..3, 1)
  --shards=N (1..8, 4)  --event-bytes=N (64..65536, 400)  --sink=counting|log
  --sync=on|off  --in-memory  --rate=N|P% (open loop; P% of a closed run measured first)
  --batch=N (100)  --window=N (16)  --backlog=N (20000 deliveries in flight, closed loop)
  --connections=N (0: in process) through the HTTP gateway, N keep-alive connections, each with
                  one call of --batch events in flight  --io-threads=N (1) the gateway's
  --filter=RQL    a content filter on every dispatcher, e.g. 'gt(content.seq,10)'
  --listers=N (0) clients listing deliveries and events all through the measured window
)";
}

bool parse_options(int argc, char** argv, bench_options& o, std::string& error) {
  auto& c = o.custom;
  std::map<std::string, std::function<bool(const std::string&)>> values{
    {"scenario", [&](const std::string& v) { return !(o.scenario = v).empty(); }},
    {"duration", number(o.duration_s, 0.1, 3600)},
    {"warmup", number(o.warmup_s, 0, 600)},
    {"limit-duration", number(o.limit_s, 0.1, 600)},
    {"out", [&](const std::string& v) { return !(o.out = v).empty(); }},
    {"data-dir", [&](const std::string& v) { return !(o.data_dir = v).empty(); }},
    {"dispatchers", number(c.dispatchers, 1, 10000)},
    {"types", number(c.event_types, 1, 1000)},
    {"actions", [&](const std::string& v) { return parse_actions(v, c); }},
    {"shards", number(c.shards, 1, 8)},
    {"event-bytes", number(c.event_bytes, 64, 65536)},
    {"sink",
     [&](const std::string& v) {
       c.sink = v == "log" ? sink_kind::log : sink_kind::counting;
       return v == "log" || v == "counting";
     }},
    {"sync", on_off(c.sync)},
    {"rate", [&](const std::string& v) { return !(o.custom_rate = v).empty(); }},
    {"batch", number(c.batch, 1, 4096)},
    {"window", number(c.window, 1, 1024)},
    {"backlog", number(c.backlog, 1, 1e7)},
    {"archive", number(o.archive_events, 1, 1e9)},
    {"deliveries", number(o.deliveries, 10, 1e9)},
    {"keep-store", [&](const std::string& v) { return !(o.keep_store = v).empty(); }},
    {"store", [&](const std::string& v) { return !(o.store = v).empty(); }},
    {"connections", number(c.connections, 0, 1024)},
    {"filter", [&](const std::string& v) { return !(c.filter = v).empty(); }},
    {"io-threads", number(c.io_threads, 1, 64)},
    {"listers", number(c.listers, 0, 64)},
    {"repeat", number(o.repeat, 1, 100)},
    {"readers-idle", on_off(o.readers.idle)},
    {"readers-nice", number(o.readers.nice, 0, 19)},
    {"readers", number(o.readers.count, 1, 16)},
    {"readers-cpu", number(o.readers.cpu, 0, 64)},
    {"rate-check", number(o.rate_check, 1, 100000)},
    {"dispatcher-rate-check", number(o.dispatcher_rate_check, 1, 100000)},
    {"scheduler",
     [&](const std::string& v) {
       o.scheduler = v;
       return v == "sharing" || v == "stealing";
     }},
  };
  std::map<std::string, std::function<void()>> flags{
    {"smoke", [&] { o.smoke = true; }},       {"in-memory", [&] { c.in_memory = true; }},
    {"no-limits", [&] { o.limits = false; }}, {"no-figures", [&] { o.figures = false; }},
    {"help", [&] { o.help = true; }},
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.compare(0, 2, "--") != 0) {
      error = arg + ": expected --key=value";
      return false;
    }
    auto eq = arg.find('=');
    auto key = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    if (eq == std::string::npos && flags.count(key)) {
      flags[key]();
    } else if (eq != std::string::npos && values.count(key)) {
      if (!values[key](arg.substr(eq + 1))) {
        error = arg + ": invalid value (see --help)";
        return false;
      }
    } else {
      error = arg + ": unknown option (see --help)";
      return false;
    }
  }
  return true;
}

} // namespace dispatch::bench
