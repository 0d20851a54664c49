// dispatch-bench: runs the limits and the engine scenarios, prints a table, writes one JSON object
// per scenario to the results file and draws the figures. Exit status 1 when a scenario failed.
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>
#include <thread>

#include "bench/archive.hpp"
#include "bench/deliveries.hpp"
#include "bench/engine_run.hpp"
#include "bench/isolate.hpp"
#include "bench/limits.hpp"
#include "bench/options.hpp"
#include "bench/rate_check.hpp"
#include "bench/report.hpp"

using namespace dispatch::bench;

namespace {

/// A scenario to run; an open-loop one takes its rate from a closed-loop one run before it, an
/// HTTP one is compared with the embedded one of the same shape.
struct planned {
  scenario_params params;
  std::string rate_base; // name of the closed-loop run whose events/s sets the rate
  std::string reference; // the run it is compared with: the embedded one of the same shape for an
                         // HTTP run, the one without listing clients for a run with them
};

/// `p` with what the command line sets for every scenario, standard or custom.
scenario_params with_run_options(scenario_params p, const bench_options& o) {
  p.duration_s = o.duration_s;
  p.warmup_s = o.warmup_s;
  p.scheduler = o.scheduler;
  p.readers = o.readers;
  p.store = o.store;
  return p;
}

std::vector<planned> standard_set(const bench_options& o) {
  auto base = with_run_options(scenario_params{}, o);
  if (o.smoke) {
    base.dispatchers = 20;
    base.event_types = 10;
    base.backlog = 2000;
  }
  auto with = [&](std::string name, auto change) {
    auto p = base;
    p.name = std::move(name);
    change(p);
    return planned{p, {}, {}};
  };
  std::vector<planned> set{
    with("standard-sync", [](auto& p) { p.series = "shards"; }),
    with("standard-nosync", [](auto& p) { p.sync = false; }),
    with("standard-memory", [](auto& p) { p.in_memory = true; }),
    with("standard-log", [](auto& p) { p.sink = sink_kind::log; }),
    with("open-50", [](auto& p) { p.rate_fraction = 0.5; }),
    with("open-90", [](auto& p) { p.rate_fraction = 0.9; }),
    with("mixed-sync",
         [&](auto& p) {
           p.event_types = p.dispatchers = o.smoke ? 5 : 50;
           p.actions_max = 3;
         }),
  };
  set[4].rate_base = set[5].rate_base = "standard-sync";
  // Every dispatcher with a content filter that every event passes (numbers and a string
  // compared): the cost of filtering, against standard-sync (the issue wants >= 80% of it).
  set.push_back(with("filtered-sync", [](auto& p) {
    p.filter = "and(ge(content.seq,0),gt(content.bench_t,0),ne(type,none))";
  }));
  for (uint32_t shards : {1u, 2u, 8u})
    set.push_back(with("shards-" + std::to_string(shards), [&](auto& p) {
      p.shards = shards;
      p.series = "shards";
    }));
  set.push_back(with("dispatchers-10k", [&](auto& p) { p.dispatchers = o.smoke ? 100 : 10000; }));
  // Through the gateway: one event per call on 32 connections, compared with the engine fed the
  // same way in process (single-32); batches of 100 on 16 connections, like standard-sync.
  set.push_back(with("single-32", [](auto& p) {
    p.batch = 1;
    p.window = 32;
  }));
  set.push_back(with("http", [&](auto& p) {
    p.batch = 1;
    p.connections = o.smoke ? 4 : 32;
  }));
  set.back().reference = "single-32";
  set.push_back(with("http-batch", [](auto& p) { p.connections = p.window; }));
  set.back().reference = "standard-sync";
  // Four clients listing deliveries and events all through the window (bench/listers.hpp):
  // what reads cost the publisher's throughput (closed loop) and its p99 (open loop at 50%).
  set.push_back(with("standard-listing", [](auto& p) { p.listers = 4; }));
  set.back().reference = "standard-sync";
  set.push_back(with("open-50-listing", [](auto& p) {
    p.listers = 4;
    p.rate_fraction = 0.5;
  }));
  set.back().rate_base = "standard-sync";
  set.back().reference = "open-50";
  // A publisher as a service is one: single events at 1,000/s, each request awaited for its
  // answer (accepted and synced), without and with the same 4 listing clients. Its request p99
  // is "a publisher's p99" of issue 14's target; open-50 shows the same at half the capacity.
  set.push_back(with("publisher", [](auto& p) {
    p.rate = 1000;
    p.batch = 1;
  }));
  set.push_back(with("publisher-listing", [](auto& p) {
    p.rate = 1000;
    p.batch = 1;
    p.listers = 4;
  }));
  set.back().reference = "publisher";
  if (o.smoke) // a few seconds: one of each kind
    set.erase(std::remove_if(set.begin(), set.end(),
                             [](auto& x) {
                               auto& n = x.params.name;
                               return n == "standard-nosync" || n == "open-90"
                                      || n.compare(0, 6, "shards") == 0 || n == "single-32"
                                      || n == "http-batch";
                             }),
              set.end());
  return set;
}

/// The scenarios the options ask for, or an error naming an unknown one.
bool select_scenarios(const bench_options& o, std::vector<planned>& out, std::string& error) {
  if (o.scenario == "custom") {
    auto p = with_run_options(o.custom, o);
    p.name = "custom";
    if (o.custom_rate.empty() || o.custom_rate.back() != '%') {
      p.rate = o.custom_rate.empty() ? 0 : std::strtoull(o.custom_rate.c_str(), nullptr, 10);
      out.push_back({p, {}, {}});
      return true;
    }
    auto closed = p;
    closed.name = "custom-closed";
    p.rate_fraction = std::strtod(o.custom_rate.c_str(), nullptr) / 100;
    out.push_back({closed, {}, {}});
    out.push_back({p, "custom-closed", {}});
    return p.rate_fraction > 0 || (error = "--rate=" + o.custom_rate + ": invalid", false);
  }
  auto all = standard_set(o);
  if (o.scenario == "standard") {
    out = all;
    return true;
  }
  std::set<std::string> wanted;
  for (size_t start = 0; start <= o.scenario.size();) {
    auto comma = std::min(o.scenario.find(',', start), o.scenario.size());
    wanted.insert(o.scenario.substr(start, comma - start));
    start = comma + 1;
  }
  for (auto& x : all) {
    if (!wanted.count(x.params.name)) continue;
    if (!x.rate_base.empty()) wanted.insert(x.rate_base); // the closed run it is a fraction of
    if (!x.reference.empty()) wanted.insert(x.reference); // the run it is compared with
  }
  for (auto& x : all)
    if (wanted.erase(x.params.name)) out.push_back(x);
  if (!wanted.empty())
    error = "--scenario: unknown scenario '" + *wanted.begin() + "' (see bench/README.md)";
  return wanted.empty();
}

/// A limit measured in a child process; a failed child gives a zero rate that says why.
limit_result isolated_limit(const std::function<limit_result()>& body) {
  limit_result r;
  uint64_t rss = 0;
  auto failure = run_isolated(body, r, rss);
  if (!failure.empty()) r.description += " (failed: " + failure + ")";
  return r;
}

/// An engine scenario run in a child process, whose peak RSS is the scenario's.
engine_result isolated_scenario(const scenario_params& p, const std::string& dir) {
  engine_result r;
  uint64_t rss = 0;
  auto failure = run_isolated<engine_result>(
    [&] { return run_engine_scenario(p, dir, show_progress); }, r, rss);
  if (!failure.empty()) {
    r = engine_result{};
    r.params = p;
    r.failure = failure;
  }
  r.peak_rss_bytes = rss;
  return r;
}

std::vector<limit_result> run_limits(const bench_options& o, const std::string& dir, limit_set& set,
                                     std::ofstream& results) {
  std::vector<limit_result> limits;
  if (!o.limits) return limits;
  scenario_params p; // the standard sizes: event bytes, batch, window
  // A publish batch as sent, and the largest group commit the publisher's window allows.
  for (bool sync : {true, false})
    for (uint32_t batch : {p.batch, p.batch * p.window}) {
      show_progress("limits: rocksdb sync " + std::string{sync ? "on" : "off"} + ", batch "
                    + std::to_string(batch));
      limits.push_back(
        isolated_limit([&] { return rocksdb_limit(sync, p.event_bytes, batch, o.limit_s, dir); }));
      auto& best = sync ? set.rocksdb_sync : set.rocksdb_nosync;
      best = std::max(best, limits.back().records_per_s);
    }
  // The engine's store without its actors, with the largest group commit.
  for (bool sync : {true, false}) {
    show_progress("limits: the store alone, sync " + std::string{sync ? "on" : "off"});
    limits.push_back(isolated_limit([&] {
      return store_limit(sync, p.event_bytes, p.batch * p.window, p.shards, p.event_types,
                         o.limit_s, dir);
    }));
    (sync ? set.store_sync : set.store_nosync) = limits.back().records_per_s;
  }
  show_progress("limits: caf pipeline");
  limits.push_back(isolated_limit(
    [&] { return caf_pipeline_limit(p.event_bytes, p.batch, p.window, o.limit_s); }));
  set.caf_pipeline = limits.back().records_per_s;
  // The HTTP server alone, with the http scenario's client and connections.
  for (auto path : {http_answer_path::io_thread, http_answer_path::actor}) {
    show_progress(std::string{"limits: http, answered "}
                  + (path == http_answer_path::io_thread ? "on the io thread" : "by an actor"));
    limits.push_back(
      isolated_limit([&] { return http_limit(path, 32, p.event_bytes, o.limit_s); }));
  }
  show_progress("");
  for (auto& l : limits) {
    l.loadavg = load_average();
    std::cout << "limit " << l.name << ": " << static_cast<uint64_t>(l.records_per_s)
              << " records/s (" << l.description << ", " << l.record_bytes << "-byte records, "
              << l.batch << " per batch)\n";
    results << to_json(l) << "\n" << std::flush;
  }
  return limits;
}

/// The runs done, latest first.
auto reverse(const std::vector<engine_result>& done) {
  struct view {
    const std::vector<engine_result>& runs;
    auto begin() const { return runs.rbegin(); }
    auto end() const { return runs.rend(); }
  };
  return view{done};
}

/// Resolves an open-loop rate from the run it is a fraction of; false when that run failed.
bool resolve_rate(planned& x, const std::vector<engine_result>& done) {
  if (x.rate_base.empty()) return true;
  for (auto& r : reverse(done)) // the latest round's
    if (r.params.name == x.rate_base && r.ok && r.events_per_s > 0) {
      x.params.rate = std::max<uint64_t>(1, r.events_per_s * x.params.rate_fraction);
      return true;
    }
  return false;
}

std::string default_out(const bench_options& o) {
  return std::string{DISPATCH_BENCH_RESULTS} + (o.smoke ? "/smoke.jsonl" : "/latest.jsonl");
}

/// A fresh directory for the data directories, unless --data-dir names one.
std::string make_data_dir(const bench_options& o) {
  if (!o.data_dir.empty()) {
    std::filesystem::create_directories(o.data_dir);
    return o.data_dir;
  }
  char pattern[] = "/tmp/dispatch-bench-XXXXXX";
  auto made = mkdtemp(pattern);
  return made ? made : "/tmp/dispatch-bench";
}

void print_conditions(const std::string& out, const std::string& dir) {
  auto now = std::time(nullptr);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
  std::cout << "dispatch-bench " << when << ", " << std::thread::hardware_concurrency()
            << " cores, load average " << load_average() << ", data under " << dir
            << ", results to " << out << "\n";
}

int run_all(const bench_options& o, std::vector<planned>& plan) {
  auto out = o.out.empty() ? default_out(o) : o.out;
  auto parent = std::filesystem::path{out}.parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  std::ofstream results{out, std::ios::trunc};
  if (!results) {
    std::cerr << "dispatch-bench: cannot write " << out << "\n";
    return 2;
  }
  auto dir = make_data_dir(o);
  print_conditions(out, dir);
  limit_set set;
  auto limits = run_limits(o, dir, set, results);
  std::vector<engine_result> done;
  bool all_ok = true;
  for (uint32_t round = 1; round <= o.repeat; ++round)
    for (auto x : plan) {
      if (!resolve_rate(x, done)) {
        std::cout << x.params.name << ": skipped, " << x.rate_base << " measured no rate\n";
        all_ok = false;
        continue;
      }
      std::cout << describe(x.params) << "\n" << std::flush;
      auto r = isolated_scenario(x.params, dir);
      r.loadavg = load_average();
      r.round = round;
      show_progress("");
      all_ok = all_ok && r.ok;
      std::cout << "  -> " << static_cast<uint64_t>(r.events_per_s) << " events/s, "
                << static_cast<uint64_t>(r.deliveries_per_s) << " deliveries/s"
                << (r.ok ? "" : ", FAILED: " + r.failure) << "\n";
      for (auto& base : reverse(done)) // the latest round's
        if (base.params.name == x.reference && base.ok) {
          r.reference = base.params.name;
          r.reference_events_per_s = base.events_per_s;
          r.reference_p99_ms = base.latency.p99_ms;
          r.reference_publish_p99_ms = base.publish_latency.p99_ms;
          break;
        }
      results << to_json(r, set) << "\n" << std::flush;
      done.push_back(std::move(r));
    }
  results.close();
  if (auto why = check_results(out, limits.size() + done.size()); !why.empty()) {
    std::cerr << "dispatch-bench: the results file is not sound: " << why << "\n";
    all_ok = false;
  }
  print_table(std::cout, limits, done, set);
  if (o.figures) { // of the last round
    std::vector<engine_result> last;
    std::copy_if(done.begin(), done.end(), std::back_inserter(last),
                 [&](auto& r) { return r.round == o.repeat; });
    std::cout << draw_figures(parent.empty() ? "." : parent.string(), last) << "\n";
  }
  if (o.data_dir.empty()) std::filesystem::remove_all(dir);
  std::cout << "results: " << out << "\n";
  return all_ok ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  bench_options o;
  std::string error;
  if (!parse_options(argc, argv, o, error)) {
    std::cerr << "dispatch-bench: " << error << "\n";
    return 2;
  }
  if (o.help) {
    std::cout << usage();
    return 0;
  }
  if (o.rate_check != 0 || o.dispatcher_rate_check != 0) {
    auto per_dispatcher = o.dispatcher_rate_check != 0;
    auto r = run_rate_check(per_dispatcher ? o.dispatcher_rate_check : o.rate_check, o.warmup_s,
                            o.duration_s, per_dispatcher);
    auto line = to_json(r);
    std::cout << line << "\n";
    if (!o.out.empty()) std::ofstream{o.out, std::ios::app} << line << "\n";
    return r.ok ? 0 : 1;
  }
  if (o.smoke) {
    o.duration_s = std::min(o.duration_s, 1.0);
    o.warmup_s = std::min(o.warmup_s, 0.3);
    o.limit_s = std::min(o.limit_s, 0.3);
  }
  if (o.deliveries > 0) {
    auto dir = make_data_dir(o);
    std::ostringstream lines;
    auto status = run_deliveries(o.deliveries, o.smoke, dir, o.keep_store, lines);
    std::cout << lines.str();
    if (!o.out.empty()) std::ofstream{o.out, std::ios::app} << lines.str();
    return status;
  }
  if (o.archive_events > 0) {
    auto dir = make_data_dir(o);
    std::ostringstream lines;
    auto status = run_archive(o.archive_events, o.smoke ? 3 : 21, dir, lines);
    std::cout << lines.str();
    if (!o.out.empty()) std::ofstream{o.out, std::ios::app} << lines.str();
    return status;
  }
  std::vector<planned> plan;
  if (!select_scenarios(o, plan, error)) {
    std::cerr << "dispatch-bench: " << error << "\n";
    return 2;
  }
  return run_all(o, plan);
}
