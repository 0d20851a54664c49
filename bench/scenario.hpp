// The shape of one benchmark run (what the engine holds and how it is driven) and the figures a run
// produces. Plain values: main builds the standard set from them, report renders them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "bench/measure.hpp"
#include "config/engine_config.hpp"

namespace dispatch::bench {

enum class sink_kind { counting, log };

struct scenario_params {
  std::string name;
  std::string series; // "shards": a point of the throughput-against-shards figure
  uint32_t dispatchers = 1000;
  uint32_t event_types = 1000;
  uint32_t actions_min = 1; // dispatcher i gets actions_min + i % (actions_max - actions_min + 1)
  uint32_t actions_max = 1;
  uint32_t shards = 4;
  uint32_t event_bytes = 400; // length of the event's content (JSON text)
  sink_kind sink = sink_kind::counting;
  bool sync = true;
  bool in_memory = false;
  uint64_t rate = 0;        // events/s in open loop; 0: closed loop (as fast as it keeps up)
  double rate_fraction = 0; // open loop at this fraction of a measured maximum (main resolves it)
  uint32_t batch = 100;     // events per publish request (closed loop; open loop sends what is due)
  uint32_t window = 16;     // publish requests in flight (closed loop)
  uint64_t backlog = 20000; // closed loop: deliveries published but not yet at the sink, at most
  double warmup_s = 2;
  double duration_s = 10; // the measured window, after the warmup
  // Through the HTTP gateway (http_server + make_api_handler on loopback) instead of the
  // in-process publisher: keep-alive connections, one call of `batch` events in flight on each.
  uint32_t connections = 0; // 0: the in-process publisher
  uint32_t io_threads = 1;  // the gateway's io threads
  // CAF's scheduler policy: "sharing" (one queue, idle workers block) or "stealing" (CAF's
  // default; idle workers poll with 50 µs sleeps, which costs more than the engine on 2 cores).
  std::string scheduler = "sharing";
  reader_settings readers; // the engine's readers (engine_config::readers)
  // A data directory the run starts from a copy of (bench_options::store); empty: a new one.
  std::string store;
  // A content filter (RQL filter terms) on every dispatcher; empty: none.
  std::string filter;
  // Clients listing deliveries and events continuously through the measured window
  // (bench/listers.hpp); 0: none.
  uint32_t listers = 0;
};

/// What one engine scenario measured. Rates are over the measured window.
struct engine_result {
  scenario_params params;
  bool ok = false;
  std::string failure; // why the run is not valid (empty when ok)
  double window_s = 0;
  uint64_t events_acked = 0; // accepted events acknowledged in the window
  uint64_t deliveries = 0;   // deliveries that reached the sink in the window
  double deliveries_per_event = 0;
  double acked_per_s = 0;
  double events_per_s = 0; // end to end: deliveries_per_s / deliveries_per_event
  double deliveries_per_s = 0;
  uint64_t rejected = 0;       // publishes refused (e.g. overloaded), whole run
  std::string first_rejection; // the reason of the first refusal
  uint64_t lost = 0;           // expected deliveries that never arrived before the drain deadline
  double drain_s = 0;          // from the last publish until the sink had everything
  double setup_s = 0;          // creating the dispatchers
  latency_summary latency;     // publish -> sink, events published in the window (counting sink)
  // Publish request -> its answer (accepted and, with sync, on disk), requests sent in the window
  // by the in-process publisher: what a publisher waits for.
  latency_summary publish_latency;
  std::vector<uint32_t> latency_sorted_us;
  double cpu_s_per_m_events = 0;
  uint64_t peak_rss_bytes = 0;      // of the child process that ran the scenario (ru_maxrss)
  double disk_bytes_per_event = 0;  // growth of the data directory over the window (du)
  double write_bytes_per_event = 0; // write(2) bytes of the process over the window (/proc/self/io)
  double loadavg = 0;               // the machine's 1-minute load average at the end
  uint32_t round = 1;               // of --repeat
  // HTTP scenarios: `latency` is the request latency (send until the answer is read), and the
  // run is compared with the embedded scenario of the same shape, `reference` (set by main).
  // Runs with listing clients are compared the same way with the run of the same shape without
  // them: its events/s and publish -> sink p99.
  std::string reference;
  double reference_events_per_s = 0;
  double reference_p99_ms = 0;
  double reference_publish_p99_ms = 0;
  latency_summary listing_latency; // of the listing clients' requests
  uint64_t listing_failures = 0;   // listings answered with an error
};

/// What a limit measured: a rate with nothing of the engine around it.
struct limit_result {
  std::string name; // rocksdb-sync, rocksdb-nosync, caf-pipeline
  std::string description;
  uint32_t record_bytes = 0;
  uint32_t batch = 0;
  double window_s = 0;
  double records_per_s = 0;
  double cpu_s_per_m_records = 0;
  double loadavg = 0;
};

// Results cross from the child process that ran a scenario to the parent through CAF's binary
// serializer: every field, in declaration order.

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, scenario_params& x) {
  return f(caf::meta::type_name("bench.scenario_params"), x.name, x.series, x.dispatchers,
           x.event_types, x.actions_min, x.actions_max, x.shards, x.event_bytes, x.sink, x.sync,
           x.in_memory, x.rate, x.rate_fraction, x.batch, x.window, x.backlog, x.warmup_s,
           x.duration_s, x.connections, x.io_threads, x.scheduler, x.readers.count, x.readers.nice,
           x.readers.idle, x.readers.cpu, x.store, x.filter, x.listers);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, latency_summary& x) {
  return f(caf::meta::type_name("bench.latency_summary"), x.samples, x.p50_ms, x.p90_ms, x.p99_ms,
           x.p999_ms, x.max_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, engine_result& x) {
  return f(caf::meta::type_name("bench.engine_result"), x.params, x.ok, x.failure, x.window_s,
           x.events_acked, x.deliveries, x.deliveries_per_event, x.acked_per_s, x.events_per_s,
           x.deliveries_per_s, x.rejected, x.first_rejection, x.lost, x.drain_s, x.setup_s,
           x.latency, x.publish_latency, x.latency_sorted_us, x.cpu_s_per_m_events,
           x.peak_rss_bytes, x.disk_bytes_per_event, x.write_bytes_per_event, x.loadavg,
           x.reference, x.reference_events_per_s, x.reference_p99_ms, x.reference_publish_p99_ms,
           x.listing_latency, x.listing_failures);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, limit_result& x) {
  return f(caf::meta::type_name("bench.limit_result"), x.name, x.description, x.record_bytes,
           x.batch, x.window_s, x.records_per_s, x.cpu_s_per_m_records, x.loadavg);
}

} // namespace dispatch::bench
