// Prometheus text for `GET /metrics`. Counters end in `_total`; one family with a label where the
// values are parts of one whole (events by result, deliveries by outcome, queues by name).
#include "gateway/metrics_text.hpp"

#include <sstream>

namespace dispatch {

namespace {

void family(std::ostringstream& out, const char* name, const char* type, const char* help) {
  out << "# HELP " << name << ' ' << help << '\n' << "# TYPE " << name << ' ' << type << '\n';
}

template <class T>
void sample(std::ostringstream& out, const char* name, T value, const char* labels = nullptr) {
  out << name;
  if (labels) out << '{' << labels << '}';
  out << ' ' << value << '\n';
}

void engine_series(std::ostringstream& out, const engine_stats& s) {
  family(out, "dispatch_events_total", "counter", "Events published, by result.");
  sample(out, "dispatch_events_total", s.accepted, "result=\"accepted\"");
  sample(out, "dispatch_events_total", s.duplicates, "result=\"duplicate\"");
  sample(out, "dispatch_events_total", s.rejected, "result=\"rejected\"");
  family(out, "dispatch_events_matched_total", "counter", "Events run through the matchers.");
  sample(out, "dispatch_events_matched_total", s.matched);
  family(out, "dispatch_events_set_aside_total", "counter",
         "Events set aside because their deliveries could not be derived (GET /events/v1/ lists "
         "them with setAside).");
  sample(out, "dispatch_events_set_aside_total", s.set_aside);
  family(out, "dispatch_deliveries_created_total", "counter", "Deliveries made from events.");
  sample(out, "dispatch_deliveries_created_total", s.deliveries_created);
  family(out, "dispatch_delivery_outcomes_total", "counter",
         "Delivery attempts by outcome: delivered, retry (a retry was scheduled), dead (a dead "
         "letter was made).");
  sample(out, "dispatch_delivery_outcomes_total", s.delivered, "outcome=\"delivered\"");
  sample(out, "dispatch_delivery_outcomes_total", s.retries, "outcome=\"retry\"");
  sample(out, "dispatch_delivery_outcomes_total", s.dead_letters, "outcome=\"dead\"");
  family(out, "dispatch_dead_letters_total", "counter", "Deliveries moved to the dead letters.");
  sample(out, "dispatch_dead_letters_total", s.dead_letters);
  family(out, "dispatch_deliveries_replayed_total", "counter", "Dead letters re-queued.");
  sample(out, "dispatch_deliveries_replayed_total", s.replayed);
  family(out, "dispatch_restarts_total", "counter", "Engine actors restarted by the supervisor.");
  sample(out, "dispatch_restarts_total", s.restarts);
  family(out, "dispatch_storage_probes_total", "counter",
         "Synced storage probes of the health check (at most one a second).");
  sample(out, "dispatch_storage_probes_total", s.storage_probes);
  family(out, "dispatch_queue_depth", "gauge",
         "Work waiting: inbox (accepted, not yet matched), pending (deliveries waiting), "
         "in_flight (deliveries at a sink).");
  sample(out, "dispatch_queue_depth", s.inbox_depth, "queue=\"inbox\"");
  sample(out, "dispatch_queue_depth", s.pending_depth, "queue=\"pending\"");
  sample(out, "dispatch_queue_depth", s.in_flight, "queue=\"in_flight\"");
}

// Only on a cluster node: how it sees each peer, and what waits for each owner.
void cluster_series(std::ostringstream& out, const cluster_stats& c) {
  if (c.node == 0) return;
  family(out, "dispatch_cluster_peer_up", "gauge", "1 while the peer answers heartbeats, else 0.");
  for (auto& p : c.peers) {
    auto labels = "peer=\"" + std::to_string(p.id) + "\"";
    sample(out, "dispatch_cluster_peer_up", p.state == peer_state::up ? 1 : 0, labels.c_str());
  }
  family(out, "dispatch_cluster_forward_queue", "gauge",
         "Events accepted here and queued for the node owning their shard.");
  for (auto& p : c.peers) {
    auto labels = "owner=\"" + std::to_string(p.id) + "\"";
    sample(out, "dispatch_cluster_forward_queue", p.forward_depth, labels.c_str());
  }
  family(out, "dispatch_cluster_events_total", "counter",
         "Events forwarded to their owners, and received from other nodes.");
  sample(out, "dispatch_cluster_events_total", c.forwarded, "direction=\"forwarded\"");
  sample(out, "dispatch_cluster_events_total", c.received, "direction=\"received\"");
  family(out, "dispatch_cluster_log_version", "gauge",
         "The last replicated dispatcher change applied on this node.");
  sample(out, "dispatch_cluster_log_version", c.log_version);
}

void http_series(std::ostringstream& out, const request_metrics& m) {
  auto load = [](const auto& counter) { return counter.load(std::memory_order_relaxed); };
  family(out, "dispatch_http_requests_total", "counter", "HTTP requests read.");
  sample(out, "dispatch_http_requests_total", load(m.requests));
  family(out, "dispatch_http_responses_total", "counter", "HTTP responses by status class.");
  sample(out, "dispatch_http_responses_total", load(m.responses_2xx), "class=\"2xx\"");
  sample(out, "dispatch_http_responses_total", load(m.responses_4xx), "class=\"4xx\"");
  sample(out, "dispatch_http_responses_total", load(m.responses_5xx), "class=\"5xx\"");
  family(out, "dispatch_http_connections_total", "counter",
         "HTTP connections accepted, and refused over the connection cap.");
  sample(out, "dispatch_http_connections_total", load(m.connections_accepted),
         "result=\"accepted\"");
  sample(out, "dispatch_http_connections_total", load(m.connections_refused), "result=\"refused\"");
  family(out, "dispatch_http_connections_open", "gauge", "HTTP connections open now.");
  sample(out, "dispatch_http_connections_open", load(m.connections_open));
  family(out, "dispatch_http_timeouts_total", "counter",
         "HTTP connections cut off by a header, body or idle deadline.");
  sample(out, "dispatch_http_timeouts_total", load(m.timeouts));
}

} // namespace

std::string histogram_text(const std::string& name, const std::string& help,
                           const latency_snapshot& snapshot) {
  std::ostringstream out;
  out << "# HELP " << name << ' ' << help << '\n' << "# TYPE " << name << " histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= latency_bounds.size(); ++i) {
    cumulative += i < snapshot.counts.size() ? snapshot.counts[i] : 0;
    out << name << "_bucket{le=\"";
    if (i < latency_bounds.size())
      out << latency_bounds[i]; // default precision prints 0.00025, 2.5, 3600
    else
      out << "+Inf";
    out << "\"} " << cumulative << '\n';
  }
  // +Inf holds every observation: a snapshot whose buckets lag its count (taken while being
  // updated) must not make `_count` disagree with it.
  out.precision(9);
  out << name << "_sum " << snapshot.sum_seconds << '\n';
  out << name << "_count " << cumulative << '\n';
  return out.str();
}

std::string metrics_text(const engine_stats& stats, const request_metrics* http) {
  std::ostringstream out;
  engine_series(out, stats);
  cluster_series(out, stats.cluster);
  out << histogram_text("dispatch_delivery_latency_seconds",
                        "From an event's match (right after acceptance) to its delivery.",
                        stats.delivery_latency);
  if (http) {
    http_series(out, *http);
    out << histogram_text("dispatch_http_request_duration_seconds",
                          "From a request fully read to its response written.",
                          http->latency.snapshot());
  }
  return out.str();
}

} // namespace dispatch
