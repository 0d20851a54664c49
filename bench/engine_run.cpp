// One engine scenario: setup, warmup, measured window and drain, with the figures taken from the
// process (CPU, RSS, bytes written), the data directory and the counting sink.
#include "bench/engine_run.hpp"

#include <filesystem>
#include <optional>
#include <sstream>
#include <thread>

#include <caf/all.hpp>

#include "actors/spawn_engine.hpp"
#include "bench/http_load.hpp"
#include "bench/listers.hpp"
#include "bench/system_config.hpp"
#include "bench/workload.hpp"
#include "gateway/api.hpp"
#include "gateway/http_server.hpp"
#include "messages/type_registry.hpp"

namespace dispatch::bench {

namespace {

using clock_type = std::chrono::steady_clock;

/// Counters read at the edges of the measured window.
struct snapshot {
  clock_type::time_point at;
  uint64_t acked = 0;
  uint64_t received = 0;
  double cpu = 0;
  uint64_t written = 0;
  uint64_t disk = 0;
};

/// Everything a running scenario holds.
struct scenario_run {
  scenario_run(const scenario_params& p, std::string dir, const progress_fn& report)
      : params(p), data_dir(std::move(dir)), progress(report) {}

  const scenario_params& params;
  std::string data_dir;
  const progress_fn& progress;
  std::shared_ptr<type_plan> plan;
  sink_tally_ptr sink_seen = std::make_shared<sink_tally>();
  publish_tally_ptr published = std::make_shared<publish_tally>();
  engine_stats stats;
  clock_type::time_point started;
};

/// Asks the engine for its stats; for the built-in log sink, what it delivered is the count.
void poll_stats(caf::actor_system& sys, const engine_actor& engine, scenario_run& run) {
  caf::scoped_actor self{sys};
  self->request(engine, std::chrono::seconds(2), stats_atom::value)
    .receive([&](const engine_stats& s) { run.stats = s; }, [](caf::error&) {});
  if (run.params.sink == sink_kind::log) run.sink_seen->received.store(run.stats.delivered);
}

void report_progress(scenario_run& run, const char* phase) {
  auto secs = std::chrono::duration<double>(clock_type::now() - run.started).count();
  std::ostringstream line;
  line.precision(1);
  line << std::fixed << run.params.name << " " << phase << " " << secs << " s  published "
       << run.published->acked.load() << "  at sink " << run.sink_seen->received.load()
       << "  inbox " << run.stats.inbox_depth << "  pending " << run.stats.pending_depth;
  run.progress(line.str());
}

/// Polls and reports until `seconds` have passed or `done()` holds.
template <class Predicate>
void observe(caf::actor_system& sys, const engine_actor& engine, scenario_run& run,
             const char* phase, double seconds, Predicate done) {
  auto until = clock_type::now()
               + std::chrono::duration_cast<clock_type::duration>(
                 std::chrono::duration<double>(seconds));
  auto next_report = clock_type::now();
  while (clock_type::now() < until && !done()) {
    if (clock_type::now() >= next_report) {
      poll_stats(sys, engine, run);
      report_progress(run, phase);
      next_report = clock_type::now() + std::chrono::milliseconds(200);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

snapshot take_snapshot(scenario_run& run) {
  snapshot s;
  s.at = clock_type::now();
  s.acked = run.published->acked.load();
  s.received = run.sink_seen->received.load();
  s.cpu = cpu_seconds();
  s.written = written_bytes();
  s.disk = directory_bytes(run.data_dir);
  return s;
}

/// Fills the rates and per-event figures from the two snapshots.
void compute_figures(engine_result& r, const snapshot& a, const snapshot& b,
                     const type_plan& plan) {
  r.window_s = std::chrono::duration<double>(b.at - a.at).count();
  r.events_acked = b.acked - a.acked;
  r.deliveries = b.received - a.received;
  r.deliveries_per_event = plan.mean_deliveries;
  r.acked_per_s = r.events_acked / r.window_s;
  r.deliveries_per_s = r.deliveries / r.window_s;
  r.events_per_s = plan.mean_deliveries > 0 ? r.deliveries_per_s / plan.mean_deliveries : 0;
  auto events = r.events_per_s * r.window_s;
  if (events > 0) r.cpu_s_per_m_events = (b.cpu - a.cpu) / events * 1e6;
  if (r.events_acked > 0) {
    auto disk_growth = b.disk > a.disk ? b.disk - a.disk : 0;
    r.disk_bytes_per_event = static_cast<double>(disk_growth) / r.events_acked;
    r.write_bytes_per_event = static_cast<double>(b.written - a.written) / r.events_acked;
  }
}

/// A copy of the data directory `from` in `to`: table files, which RocksDB never changes once
/// written, are hard-linked (copied where a link cannot be made), every other file copied.
std::string copy_store(const std::string& from, const std::string& to) {
  namespace fs = std::filesystem;
  std::error_code failed;
  if (!fs::is_directory(from, failed)) return from + " is not a directory";
  for (auto& entry : fs::recursive_directory_iterator(from, failed)) {
    auto target = fs::path{to} / fs::relative(entry.path(), from);
    if (entry.is_directory()) {
      fs::create_directories(target, failed);
    } else {
      fs::create_directories(target.parent_path(), failed);
      failed.clear();
      if (entry.path().extension() == ".sst") fs::create_hard_link(entry.path(), target, failed);
      if (entry.path().extension() != ".sst" || failed) fs::copy_file(entry.path(), target, failed);
    }
    if (failed) return "cannot copy " + entry.path().string() + ": " + failed.message();
  }
  return failed ? "cannot read " + from + ": " + failed.message() : "";
}

/// What a run that starts from a copied store must find in it: its deliveries, counted by the
/// engine (an empty answer means the copy, or the engine's reading of it, lost them).
std::string check_copied_store(caf::actor_system& sys, const engine_actor& engine,
                               const std::string& store) {
  caf::scoped_actor self{sys};
  std::string failure;
  self->request(engine, std::chrono::seconds(60), deliveries_atom::value, query{})
    .receive(
      [&](const delivery_page& page) {
        if (page.page.total == 0) failure = "the copy of " + store + " lists no deliveries";
      },
      [&](caf::error& err) {
        failure = "cannot list the copy of " + store + ": " + message_of(err);
      });
  return failure;
}

engine_config engine_config_of(const scenario_params& p, const std::string& data_dir) {
  engine_config config;
  config.data_dir = data_dir;
  config.shards = p.shards;
  config.sync = p.sync;
  config.in_memory = p.in_memory;
  config.readers = p.readers;
  return config;
}

/// The gateway in front of the engine for an HTTP scenario: loopback, a free port, no auth.
caf::expected<std::unique_ptr<http_server>>
start_gateway(caf::actor_system& sys, const engine_actor& engine, const scenario_params& p) {
  http_config cfg;
  cfg.hosts = {"127.0.0.1"};
  cfg.port = 0;
  cfg.io_threads = p.io_threads;
  api_options options;
  options.request_timeout = cfg.request_timeout;
  options.body_limit = cfg.body_limit;
  return http_server::start(cfg, make_api_handler(sys, engine, options), nullptr,
                            make_api_header_check(options));
}

/// Warmup, window, drain: the part of a run that loads the engine, in process or through the
/// gateway listening on `http_port` (0: in process).
void drive(caf::actor_system& sys, const engine_actor& engine, scenario_run& run, engine_result& r,
           uint16_t http_port) {
  auto& p = run.params;
  caf::actor publisher;
  std::unique_ptr<http_load> load;
  if (http_port != 0)
    load = std::make_unique<http_load>(http_port, p, run.plan, run.published, run.sink_seen);
  else
    publisher = spawn_publisher(sys, engine, p, run.plan, run.published, run.sink_seen);
  observe(sys, engine, run, "warmup", p.warmup_s, [] { return false; });
  auto first = take_snapshot(run);
  run.sink_seen->record_from.store(now_ns());
  std::optional<listing_clients> listers;
  if (p.listers > 0) listers.emplace(sys, engine, p.listers);
  observe(sys, engine, run, "measuring", p.duration_s, [] { return false; });
  run.sink_seen->record_until.store(now_ns());
  auto last = take_snapshot(run);
  if (listers) {
    r.listing_latency = listers->stop();
    r.listing_failures = listers->failures();
  }
  run.published->stop.store(true);
  auto drained = [&] {
    return run.published->answered.load() >= run.published->sent.load()
           && run.sink_seen->received.load() >= run.published->expected_deliveries.load();
  };
  observe(sys, engine, run, "draining", 120, drained);
  if (load) {
    load->join();
    r.latency_sorted_us = load->take_latencies();
  }
  if (p.sink == sink_kind::log) poll_stats(sys, engine, run);
  r.drain_s = std::chrono::duration<double>(clock_type::now() - last.at).count();
  auto expected = run.published->expected_deliveries.load();
  auto seen = run.sink_seen->received.load();
  r.lost = expected > seen ? expected - seen : 0;
  compute_figures(r, first, last, *run.plan);
  r.rejected = run.published->rejected.load();
  if (run.published->has_error.load()) r.first_rejection = run.published->first_error;
  if (publisher) caf::anon_send_exit(publisher, caf::exit_reason::user_shutdown);
}

/// Runs the loaded part of a scenario, through a gateway started for it when it is an HTTP one.
void drive_scenario(caf::actor_system& sys, const engine_actor& engine, scenario_run& run,
                    engine_result& r) {
  if (run.params.connections == 0) return drive(sys, engine, run, r, 0);
  auto server = start_gateway(sys, engine, run.params);
  if (!server) {
    r.failure = "cannot start the gateway: " + message_of(server.error());
    return;
  }
  drive(sys, engine, run, r, (*server)->endpoints().front().port);
  (*server)->shutdown(std::chrono::seconds(5));
}

} // namespace

engine_result run_engine_scenario(const scenario_params& p, const std::string& base_dir,
                                  const progress_fn& progress) {
  engine_result r;
  r.params = p;
  scenario_run run{p, base_dir + "/" + p.name, progress};
  run.plan = std::make_shared<type_plan>(plan_types(p));
  run.started = clock_type::now();
  std::filesystem::remove_all(run.data_dir);
  if (!p.store.empty()) {
    progress(p.name + " copying " + p.store);
    r.failure = copy_store(p.store, run.data_dir);
  }
  if (r.failure.empty()) {
    bench_system_config cfg{p.scheduler};
    caf::actor_system sys{cfg};
    engine_sinks sinks;
    sink_actor sink;
    if (p.sink == sink_kind::counting) {
      sink = spawn_counting_sink(sys, run.sink_seen);
      sinks.task = sink_binding{sink, false};
    }
    auto engine = spawn_engine(sys, engine_config_of(p, run.data_dir), sinks);
    if (!engine) {
      r.failure = "cannot start the engine: " + message_of(engine.error());
    } else {
      progress(p.name + " creating " + std::to_string(p.dispatchers) + " dispatchers");
      if (!p.store.empty()) r.failure = check_copied_store(sys, *engine, p.store);
      if (r.failure.empty()) r.failure = create_dispatchers(sys, *engine, p, *run.plan);
      r.setup_s = std::chrono::duration<double>(clock_type::now() - run.started).count();
      if (r.failure.empty()) drive_scenario(sys, *engine, run, r);
      caf::anon_send_exit(*engine, caf::exit_reason::user_shutdown);
    }
    if (sink) caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
  } // the actor system waits for every actor here: the store is closed after it
  std::filesystem::remove_all(run.data_dir);
  if (p.connections == 0) {
    std::lock_guard<std::mutex> guard{run.sink_seen->samples_mutex};
    r.latency_sorted_us = std::move(run.sink_seen->samples_us);
  }
  r.latency = summarize(r.latency_sorted_us);
  {
    std::lock_guard<std::mutex> guard{run.published->samples_mutex};
    r.publish_latency = summarize(run.published->answer_us);
  }
  if (r.failure.empty() && r.lost > 0)
    r.failure = std::to_string(r.lost) + " deliveries did not reach the sink within 120 s";
  if (r.failure.empty() && r.events_acked == 0)
    r.failure = "no event was acknowledged in the measured window";
  r.ok = r.failure.empty();
  return r;
}

} // namespace dispatch::bench
