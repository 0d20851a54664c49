// Rendering results: JSON lines (RapidJSON's writer), a fixed-width table, the progress line, and
// gnuplot scripts with their data files.
#include "bench/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "actors/cpu_budget.hpp"

namespace dispatch::bench {

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

const char* sink_name(sink_kind k) {
  return k == sink_kind::counting ? "counting" : "log";
}

/// The limit a scenario is a fraction of: the embedded run of the same shape for an HTTP one,
/// messaging for in-memory, else storage.
double primary_limit(const engine_result& r, const limit_set& l) {
  auto& p = r.params;
  if (p.connections > 0) return r.reference_events_per_s;
  if (p.in_memory) return l.caf_pipeline;
  return p.sync ? l.rocksdb_sync : l.rocksdb_nosync;
}

void write_number(json_writer& w, const char* key, double value) {
  w.Key(key);
  if (std::isfinite(value))
    w.Double(std::round(value * 1000) / 1000);
  else
    w.Null();
}

void write_params(json_writer& w, const scenario_params& p) {
  w.Key("params");
  w.StartObject();
  w.Key("dispatchers"), w.Uint(p.dispatchers);
  w.Key("event_types"), w.Uint(p.event_types);
  w.Key("actions"), w.String(p.actions_min == p.actions_max ? std::to_string(p.actions_min)
                                                            : std::to_string(p.actions_min) + "-"
                                                                + std::to_string(p.actions_max));
  w.Key("shards"), w.Uint(p.shards);
  w.Key("event_bytes"), w.Uint(p.event_bytes);
  w.Key("sink"), w.String(sink_name(p.sink));
  w.Key("sync"), w.Bool(p.sync);
  w.Key("in_memory"), w.Bool(p.in_memory);
  if (!p.filter.empty()) w.Key("filter"), w.String(p.filter);
  if (!p.store.empty()) w.Key("store"), w.String(p.store);
  if (p.listers > 0) w.Key("listing_clients"), w.Uint(p.listers);
  w.Key("loop"), w.String(p.rate == 0 ? "closed" : "open");
  w.Key("rate"), w.Uint64(p.rate);
  w.Key("batch"), w.Uint(p.batch);
  w.Key("window"), w.Uint(p.window);
  w.Key("backlog"), w.Uint64(p.backlog);
  write_number(w, "warmup_s", p.warmup_s);
  write_number(w, "duration_s", p.duration_s);
  w.Key("scheduler"), w.String(p.scheduler);
  w.Key("readers_idle"), w.Bool(p.readers.idle);
  w.Key("readers_nice"), w.Uint(p.readers.nice);
  w.Key("readers"), w.Uint(p.readers.count);
  // What the engine ran with: 0 leaves it to the machine.
  w.Key("readers_cpu"), w.Double(p.readers.cpu > 0 ? p.readers.cpu : default_reader_cores());
  w.Key("transport"), w.String(p.connections > 0 ? "http" : "in-process");
  if (p.connections > 0) {
    w.Key("connections"), w.Uint(p.connections);
    w.Key("io_threads"), w.Uint(p.io_threads);
  }
  w.EndObject();
}

/// Percentiles under `key`, or null when nothing was measured.
void write_latency(json_writer& w, const char* key, const latency_summary& l, bool measured) {
  w.Key(key);
  if (!measured || l.samples == 0) {
    w.Null();
    return;
  }
  w.StartObject();
  w.Key("samples"), w.Uint64(l.samples);
  write_number(w, "p50", l.p50_ms);
  write_number(w, "p90", l.p90_ms);
  write_number(w, "p99", l.p99_ms);
  write_number(w, "p99.9", l.p999_ms);
  write_number(w, "max", l.max_ms);
  w.EndObject();
}

/// What the listing clients saw: how many listings, how many failed, and how long each took.
void write_listings(json_writer& w, const engine_result& r) {
  w.Key("listings");
  w.StartObject();
  w.Key("count"), w.Uint64(r.listing_latency.samples);
  w.Key("failures"), w.Uint64(r.listing_failures);
  write_number(w, "p50_ms", r.listing_latency.p50_ms);
  write_number(w, "p99_ms", r.listing_latency.p99_ms);
  write_number(w, "max_ms", r.listing_latency.max_ms);
  w.EndObject();
}

} // namespace

void show_progress(const std::string& text) {
  // Pad to a fixed width so that a shorter line hides the longer one it overwrites.
  std::fprintf(stderr, "\r%-100.100s%s", text.c_str(), text.empty() ? "\r" : "");
  std::fflush(stderr);
}

std::string describe(const scenario_params& p) {
  std::ostringstream out;
  out << p.name << ": " << p.dispatchers << " dispatchers, " << p.event_types << " event types, "
      << p.actions_min;
  if (p.actions_max != p.actions_min) out << "-" << p.actions_max;
  out << " task action(s) each, " << p.shards << " shards, " << p.event_bytes << "-byte events, "
      << sink_name(p.sink) << " sink, sync " << (p.sync ? "on" : "off")
      << (p.in_memory ? ", in-memory RocksDB" : "")
      << (p.filter.empty() ? "" : ", filter " + p.filter + " on every dispatcher")
      << (p.listers == 0 ? "" : ", " + std::to_string(p.listers) + " clients listing")
      << (p.store.empty() ? "" : ", on a copy of " + p.store) << ", ";
  if (p.connections > 0)
    out << "HTTP on loopback (" << p.connections << " keep-alive connections, " << p.io_threads
        << " io thread(s), " << (p.batch > 1 ? "POST /events/v1/batch of " : "POST /events/v1/ of ")
        << p.batch << ", backlog <= " << p.backlog << " deliveries)";
  else if (p.rate == 0)
    out << "closed loop (batches of " << p.batch << ", " << p.window
        << " in flight, backlog <= " << p.backlog << " deliveries)";
  else
    out << "open loop at " << p.rate << " events/s";
  out << ", " << p.warmup_s << " s warmup + " << p.duration_s << " s";
  return out.str();
}

std::string to_json(const engine_result& r, const limit_set& limits) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  w.Key("scenario"), w.String(r.params.name);
  w.Key("kind"), w.String("engine");
  w.Key("ok"), w.Bool(r.ok);
  if (!r.ok) w.Key("failure"), w.String(r.failure);
  w.Key("round"), w.Uint(r.round);
  write_params(w, r.params);
  write_number(w, "window_s", r.window_s);
  write_number(w, "events_per_s", r.events_per_s);
  write_number(w, "deliveries_per_s", r.deliveries_per_s);
  write_number(w, "acked_per_s", r.acked_per_s);
  write_number(w, "deliveries_per_event", r.deliveries_per_event);
  write_latency(w, "latency_ms", r.latency, r.params.sink == sink_kind::counting);
  if (r.params.connections > 0) w.Key("latency_kind"), w.String("request");
  // Publish request -> answer, for the in-process publisher.
  write_latency(w, "publish_latency_ms", r.publish_latency, true);
  write_number(w, "cpu_s_per_million_events", r.cpu_s_per_m_events);
  w.Key("peak_rss_bytes"), w.Uint64(r.peak_rss_bytes);
  write_number(w, "disk_growth_bytes_per_event", r.disk_bytes_per_event);
  write_number(w, "write_syscall_bytes_per_event", r.write_bytes_per_event);
  w.Key("rejected"), w.Uint64(r.rejected);
  if (!r.first_rejection.empty()) w.Key("first_rejection"), w.String(r.first_rejection);
  w.Key("lost"), w.Uint64(r.lost);
  write_number(w, "setup_s", r.setup_s);
  write_number(w, "drain_s", r.drain_s);
  write_number(w, "loadavg_1m", r.loadavg);
  auto storage = r.params.sync ? limits.rocksdb_sync : limits.rocksdb_nosync;
  if (storage > 0 && !r.params.in_memory)
    write_number(w, "fraction_of_rocksdb_limit", r.events_per_s / storage);
  auto store = r.params.sync ? limits.store_sync : limits.store_nosync;
  if (store > 0 && !r.params.in_memory)
    write_number(w, "fraction_of_store_limit", r.events_per_s / store);
  if (limits.caf_pipeline > 0)
    write_number(w, "fraction_of_caf_limit", r.events_per_s / limits.caf_pipeline);
  if (r.reference_events_per_s > 0) {
    w.Key("reference"), w.String(r.reference);
    write_number(w, r.params.listers > 0 ? "fraction_of_reference" : "fraction_of_embedded",
                 r.events_per_s / r.reference_events_per_s);
    if (r.params.listers > 0 && r.latency.samples > 0 && r.reference_p99_ms > 0)
      write_number(w, "p99_growth_ms", r.latency.p99_ms - r.reference_p99_ms);
    if (r.params.listers > 0 && r.publish_latency.samples > 0 && r.reference_publish_p99_ms > 0)
      write_number(w, "publish_p99_growth_ms",
                   r.publish_latency.p99_ms - r.reference_publish_p99_ms);
  }
  if (r.params.listers > 0) write_listings(w, r);
  w.EndObject();
  return buf.GetString();
}

std::string to_json(const limit_result& r) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  w.Key("scenario"), w.String(r.name);
  w.Key("kind"), w.String("limit");
  w.Key("description"), w.String(r.description);
  w.Key("record_bytes"), w.Uint(r.record_bytes);
  w.Key("batch"), w.Uint(r.batch);
  write_number(w, "window_s", r.window_s);
  write_number(w, "records_per_s", r.records_per_s);
  write_number(w, "cpu_s_per_million_records", r.cpu_s_per_m_records);
  write_number(w, "loadavg_1m", r.loadavg);
  w.EndObject();
  return buf.GetString();
}

namespace {

// What is wrong with the percentiles under `key` (an object in rising order, or null).
std::string check_percentiles(const rapidjson::Value& x, const char* key) {
  if (!x.HasMember(key)) return std::string{"no "} + key;
  auto& latency = x[key];
  if (latency.IsNull()) return "";
  if (!latency.IsObject()) return std::string{key} + " is neither an object nor null";
  double previous = 0;
  for (auto p : {"p50", "p90", "p99", "p99.9", "max"}) {
    if (!latency.HasMember(p) || !latency[p].IsNumber())
      return std::string{"no number "} + key + "." + p;
    auto value = latency[p].GetDouble();
    if (value < previous) return std::string{key} + "." + p + " below the percentile before";
    previous = value;
  }
  return "";
}

// What is wrong with one line of a results file, or an empty string.
std::string check_line(const rapidjson::Value& x) {
  auto number = [&x](const char* key) { return x.HasMember(key) && x[key].IsNumber(); };
  if (!x.IsObject()) return "not a JSON object";
  if (!x.HasMember("scenario") || !x["scenario"].IsString() || x["scenario"].GetStringLength() == 0)
    return "no scenario name";
  if (!x.HasMember("kind") || !x["kind"].IsString()) return "no kind";
  std::string kind = x["kind"].GetString();
  if (kind == "limit") {
    for (auto key : {"records_per_s", "cpu_s_per_million_records", "window_s"})
      if (!number(key)) return std::string{"no number "} + key;
    return x["records_per_s"].GetDouble() > 0 ? "" : "records_per_s is not positive";
  }
  if (kind != "engine") return "unknown kind " + kind;
  if (!x.HasMember("ok") || !x["ok"].IsBool()) return "no ok";
  if (!x.HasMember("params") || !x["params"].IsObject()) return "no params";
  for (auto key :
       {"window_s", "events_per_s", "deliveries_per_s", "cpu_s_per_million_events",
        "peak_rss_bytes", "disk_growth_bytes_per_event", "write_syscall_bytes_per_event", "lost"})
    if (!number(key)) return std::string{"no number "} + key;
  if (auto why = check_percentiles(x, "latency_ms"); !why.empty()) return why;
  return check_percentiles(x, "publish_latency_ms");
}

} // namespace

std::string check_results(const std::string& path, size_t expected) {
  std::ifstream in{path};
  if (!in) return "cannot read " + path;
  size_t lines = 0;
  for (std::string line; std::getline(in, line);) {
    ++lines;
    rapidjson::Document doc;
    doc.Parse(line.c_str(), line.size());
    auto why = doc.HasParseError() ? std::string{"not JSON"} : check_line(doc);
    if (!why.empty()) return path + " line " + std::to_string(lines) + ": " + why;
  }
  if (lines != expected)
    return path + ": " + std::to_string(lines) + " lines, " + std::to_string(expected)
           + " expected (one per limit and scenario)";
  return "";
}

namespace {

double median(std::vector<double> xs) {
  if (xs.empty()) return NAN;
  std::sort(xs.begin(), xs.end());
  auto n = xs.size();
  return n % 2 == 1 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

/// Each run with listing clients against the run of its round without them, then, over more than
/// one round, the median of each difference.
void print_listing_costs(std::ostream& out, const std::vector<engine_result>& runs) {
  struct costs {
    std::vector<double> ratio, sink_growth, publish_growth;
  };
  std::map<std::string, costs> by_name;
  for (auto& r : runs) {
    if (r.params.listers == 0 || r.reference.empty()) continue;
    if (by_name.empty()) out << "\nwith listing clients, against the same run without them\n";
    auto& c = by_name[r.params.name];
    c.ratio.push_back(r.events_per_s / r.reference_events_per_s);
    out << std::left << std::setw(18) << r.params.name << std::right << std::fixed
        << std::setprecision(3) << " events/s x" << c.ratio.back();
    if (r.latency.samples > 0 && r.reference_p99_ms > 0) {
      c.sink_growth.push_back(r.latency.p99_ms - r.reference_p99_ms);
      out << std::setprecision(1) << ", publish -> sink p99 " << r.reference_p99_ms << " -> "
          << r.latency.p99_ms << " ms";
    }
    if (r.publish_latency.samples > 0 && r.reference_publish_p99_ms > 0) {
      c.publish_growth.push_back(r.publish_latency.p99_ms - r.reference_publish_p99_ms);
      out << std::setprecision(2) << ", publish request p99 " << r.reference_publish_p99_ms
          << " -> " << r.publish_latency.p99_ms << " ms";
    }
    out << ", " << r.listing_latency.samples << " listings (p50 " << std::setprecision(1)
        << r.listing_latency.p50_ms << " ms, " << r.listing_failures << " failed)\n";
  }
  for (auto& [name, c] : by_name) {
    if (c.ratio.size() < 2) continue;
    out << std::left << std::setw(18) << name << std::right << std::fixed << " median of "
        << c.ratio.size() << " rounds: events/s x" << std::setprecision(3) << median(c.ratio);
    if (!c.sink_growth.empty())
      out << std::setprecision(2) << ", publish -> sink p99 " << std::showpos
          << median(c.sink_growth) << std::noshowpos << " ms";
    if (!c.publish_growth.empty())
      out << std::setprecision(2) << ", publish request p99 " << std::showpos
          << median(c.publish_growth) << std::noshowpos << " ms";
    out << "\n";
  }
}

} // namespace

void print_table(std::ostream& out, const std::vector<limit_result>& limits,
                 const std::vector<engine_result>& runs, const limit_set& set) {
  out << "\nlimits (same run, a child process each, like every scenario)\n";
  out << std::left << std::setw(22) << "limit" << std::right << std::setw(12) << "records/s"
      << std::setw(14) << "cpu s/M"
      << "\n";
  for (auto& l : limits)
    out << std::left << std::setw(22) << l.name << std::right << std::fixed << std::setprecision(0)
        << std::setw(12) << l.records_per_s << std::setprecision(2) << std::setw(14)
        << l.cpu_s_per_m_records << "\n";
  out << "\n"
      << std::left << std::setw(18) << "scenario" << std::right << std::setw(9) << "events/s"
      << std::setw(10) << "deliv/s" << std::setw(8) << "p50 ms" << std::setw(8) << "p99 ms"
      << std::setw(9) << "p99.9 ms" << std::setw(9) << "max ms" << std::setw(8) << "cpu s/M"
      << std::setw(8) << "RSS MiB" << std::setw(8) << "B/event" << std::setw(9) << "of limit"
      << std::setw(9) << "of store"
      << "  status\n";
  for (auto& r : runs) {
    auto limit = primary_limit(r, set);
    bool lat = r.params.sink == sink_kind::counting && r.latency.samples > 0;
    auto cell = [&out](int width, int precision, double v, bool known = true) {
      if (known && std::isfinite(v))
        out << std::setw(width) << std::fixed << std::setprecision(precision) << v;
      else
        out << std::setw(width) << "-";
    };
    out << std::left << std::setw(18) << r.params.name << std::right;
    cell(9, 0, r.events_per_s);
    cell(10, 0, r.deliveries_per_s);
    cell(8, 1, r.latency.p50_ms, lat);
    cell(8, 1, r.latency.p99_ms, lat);
    cell(9, 1, r.latency.p999_ms, lat);
    cell(9, 1, r.latency.max_ms, lat);
    cell(8, 1, r.cpu_s_per_m_events);
    cell(8, 1, r.peak_rss_bytes / 1048576.0);
    cell(8, 0, r.write_bytes_per_event);
    cell(9, 3, limit > 0 ? r.events_per_s / limit : NAN);
    auto store = r.params.sync ? set.store_sync : set.store_nosync;
    cell(9, 3, r.events_per_s / store, store > 0 && !r.params.in_memory);
    out << "  " << (r.ok ? "ok" : "FAILED: " + r.failure)
        << (r.rejected > 0 ? " (" + std::to_string(r.rejected) + " rejected)" : "") << "\n";
  }
  out << "(- : not measured; events/s end to end: publish until the sink has every delivery; of "
         "limit: events/s\n"
         " over raw RocksDB records/s with the same sync, or over the CAF pipeline for in-memory,\n"
         " or for http*: over the embedded run of the same shape (single-32, standard-sync), "
         "whose\n"
         " latency is the request's (sent until answered), not publish until the sink; of store:\n"
         " events/s over the engine's store alone with the same sync (store-sync-N);\n"
         " B/event: bytes the process wrote with write(2) per event, WAL and compactions "
         "included)\n";
  print_listing_costs(out, runs);
}

} // namespace dispatch::bench
