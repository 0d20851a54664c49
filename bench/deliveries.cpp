// Deliveries at scale: fill a store straight through its writes (ingest's `accept_events`, the
// emitters' `write_outcomes`, the built-in sink's `append_logs`), then time the listings a reader
// runs for `GET /deliveries/v1/`, `GET /events/v1/` and `GET /tasks/v1/` on it.
#include "bench/deliveries.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>
#include <unistd.h>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "actors/event_archive.hpp"
#include "actors/reader.hpp"
#include "bench/archive.hpp"
#include "bench/measure.hpp"
#include "messages/clock.hpp"
#include "messages/ids.hpp"
#include "persistence/store.hpp"

namespace dispatch::bench {

namespace {

using clock_type = std::chrono::steady_clock;

constexpr uint32_t shards = 4;
constexpr uint32_t batch = 4096;

// The event type of the shard's events: one that the shard owns (`shard_of`), as ingest would
// place it.
std::string type_of(uint32_t shard) {
  for (uint32_t k = 0;; ++k) {
    auto type = "bench.delivery" + std::to_string(k);
    if (shard_of(type, shards) == shard) return type;
  }
}

// One dispatcher per shard with one task action: every logged event derives one task delivery.
dispatcher dispatcher_of(uint32_t shard, timestamp_ms now) {
  dispatcher d;
  char id[32];
  std::snprintf(id, sizeof(id), "%024x", 0xd100 + shard);
  d.id = id;
  d.event_type = type_of(shard);
  d.creation_timestamp = now;
  d.update_timestamp = now;
  d.version = 1;
  action task;
  std::snprintf(id, sizeof(id), "%024x", 0xa100 + shard);
  task.id = id;
  task.kind = action_kind::task;
  task.function_name = "bench";
  d.actions = {task};
  return d;
}

// The machine the listings ran on: cores, memory, free disk and load, one JSON line.
std::string machine_line(const std::string& dir, double open_ms) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  std::error_code ec;
  auto space = std::filesystem::space(dir, ec);
  w.StartObject();
  w.Key("scenario"), w.String("deliveries");
  w.Key("kind"), w.String("machine");
  w.Key("cores"), w.Uint(std::thread::hardware_concurrency());
  w.Key("memory_bytes"), w.Uint64(static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES))
                                  * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)));
  w.Key("disk_free_bytes"), w.Uint64(ec ? 0 : space.available);
  w.Key("loadavg_1m"), w.Double(load_average());
  // Opening the filled store again: the dead letters and the log are counted then.
  w.Key("open_ms"), w.Double(open_ms);
  w.EndObject();
  return buf.GetString();
}

// A field of /proc/self/status in bytes (`VmRSS`, `VmHWM`); 0 when it cannot be read.
uint64_t status_bytes(const std::string& field) {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, field.size() + 1, field + ":") == 0)
      return std::strtoull(line.c_str() + field.size() + 1, nullptr, 10) * 1024;
  return 0;
}

// How far one run of `list` raises the resident memory above what the process holds before it:
// the high-water mark is reset first (clear_refs 5), then read after. Negative-free; 0 when the
// kernel does not let the mark be reset.
template <class List>
uint64_t rss_growth_of(List list) {
  std::ofstream{"/proc/self/clear_refs"} << "5";
  auto idle = status_bytes("VmRSS");
  list();
  auto peak = status_bytes("VmHWM");
  return peak > idle ? peak - idle : 0;
}

} // namespace

int run_deliveries(uint64_t deliveries, bool smoke, const std::string& dir, const std::string& keep,
                   std::ostream& out) {
  auto path = dir + "/deliveries-" + std::to_string(deliveries);
  auto opened = fresh_store(path, shards);
  if (!opened) {
    std::cerr << "deliveries: cannot open " << path << ": " << caf::to_string(opened.error())
              << "\n";
    return 1;
  }
  auto db = std::move(*opened);
  auto fail = [](const char* what, const caf::error& err) {
    std::cerr << "deliveries: " << what << ": " << caf::to_string(err) << "\n";
    return 1;
  };
  auto now = now_ms();
  // Nine in ten derived from logged events (one task each), delivered: no record of their own.
  auto dead = std::max<uint64_t>(1, deliveries / 10);
  auto derived = deliveries - dead;
  // Sequences spread over the last 7 days, in shard order per step.
  auto first = static_cast<uint64_t>(now - 7 * 86400000LL) * 1000;
  auto step = std::max<uint64_t>(1, (static_cast<uint64_t>(now) * 1000 - first) / deliveries);
  auto fill_start = clock_type::now();
  std::vector<uint64_t> last(shards, 0);
  std::vector<std::string> types;
  for (uint32_t shard = 0; shard < shards; ++shard) types.push_back(type_of(shard));
  // What each task emitter counts per day of the log as it delivers without a record.
  std::vector<std::map<uint32_t, uint64_t>> delivered_days(shards);
  for (uint32_t shard = 0; shard < shards; ++shard) {
    auto d = dispatcher_of(shard, now);
    if (auto err = db->write_dispatcher_versions(shard, {dispatcher_version{0, d.id, d}}))
      return fail("write the dispatchers", err);
  }
  std::string middle_id;
  std::string middle_event;
  uint64_t shard0_events = 0;
  // The events of the hour before the middle one: what a time range of the archive finds.
  auto hour_to = static_cast<timestamp_ms>((first + derived / 2 * step) / 1000);
  auto hour_from = hour_to - 3600000;
  uint64_t hour_events = 0;
  std::vector<accepted_event> accepted;
  std::vector<log_record> logged;
  for (uint64_t n = 0; n < derived;) {
    accepted.clear();
    logged.clear();
    for (uint32_t i = 0; i < batch && n < derived; ++i, ++n) {
      accepted_event a;
      a.shard = static_cast<uint32_t>(n % shards);
      a.sequence = first + n * step;
      a.event.type = types[a.shard];
      a.event.id = event_id_at(a.shard, a.sequence);
      a.event.content = R"({"n":)" + std::to_string(n) + "}";
      a.event.creation_timestamp = static_cast<timestamp_ms>(a.sequence / 1000);
      last[a.shard] = a.sequence;
      ++delivered_days[a.shard][day_of(a.event.creation_timestamp)];
      auto id = delivery_id_at({a.sequence, a.shard, 0});
      if (n == derived / 2) {
        middle_id = id;
        middle_event = a.event.id;
      }
      if (a.shard == 0) ++shard0_events;
      if (a.event.creation_timestamp >= hour_from && a.event.creation_timestamp < hour_to)
        ++hour_events;
      logged.push_back(log_record{id, action_kind::task, a.event.creation_timestamp,
                                  R"({"id":")" + id + R"(","functionName":"bench"})"});
      accepted.push_back(std::move(a));
    }
    if (auto err = db->accept_events(accepted, now)) return fail("fill the log", err);
    if (auto err = db->append_logs(logged)) return fail("fill the task log", err);
  }
  // Every emitter past its shard's last event: all of them delivered.
  for (uint32_t shard = 0; shard < shards; ++shard)
    for (auto kind : {action_kind::task, action_kind::mail}) {
      progress passed{last[shard], 0, {}};
      if (kind == action_kind::task)
        for (auto& [day, n] : delivered_days[shard]) {
          passed.days[day] = n;
          passed.delivered += n;
        }
      if (auto err = db->write_outcomes(kind, shard, {}, &passed))
        return fail("move the cursors", err);
    }
  // Records of deliveries whose events retention already let go (a record outlives its event),
  // `count` of them with the status `status`, spread evenly between the derived ones in id order.
  auto fill_records = [&](uint64_t count, delivery_status status) {
    auto spacing = std::max<uint64_t>(1, derived / count);
    std::vector<delivery_outcome> outcomes;
    for (uint64_t n = 0; n < count;) {
      outcomes.clear();
      uint32_t shard = static_cast<uint32_t>(n % shards);
      for (uint32_t i = 0; i < batch && n < count; ++i, ++n) {
        delivery d;
        auto sequence = first + (n * spacing + spacing / 2) * step + 1;
        // Action slots of their own: a dead letter and a waiting one never share an id.
        d.id = delivery_id_at({sequence, shard, status == delivery_status::dead ? 1u : 2u});
        d.kind = action_kind::task;
        d.event_id = event_id_at(shard, sequence);
        d.event_type = "bench.gone";
        d.dispatcher_id = "bench";
        d.action_id = "bench";
        d.status = status;
        d.attempts = 1;
        d.created = static_cast<timestamp_ms>(sequence / 1000);
        if (status == delivery_status::dead)
          d.finished = d.created;
        else
          d.next_attempt = now + 3600000;
        d.last_error = "bench: refused";
        d.task.function_name = "bench";
        outcomes.push_back(delivery_outcome{0, false, std::move(d)});
      }
      if (auto err = db->write_outcomes(action_kind::task, shard, outcomes)) return err;
    }
    return caf::error{};
  };
  // One in ten dead at its first attempt; one in a thousand more waiting for a retry (what
  // `eq(status,retrying)` reads by itself).
  if (auto err = fill_records(dead, delivery_status::dead))
    return fail("fill the dead letters", err);
  auto waiting = std::max<uint64_t>(1, deliveries / 1000);
  if (auto err = fill_records(waiting, delivery_status::retrying))
    return fail("fill the waiting deliveries", err);
  auto fill_s = ms_since(fill_start) / 1000;
  db->flush(); // the listings read table files, as after a restart, not only memtables
  db.reset();
  auto open_start = clock_type::now();
  auto reopened = store::open(options_of(path, shards));
  auto open_ms = ms_since(open_start);
  if (!reopened) return fail("open the filled store", reopened.error());
  db = std::move(*reopened);
  out << machine_line(path, open_ms) << "\n" << std::flush;
  struct listing {
    const char* name;
    query q;
    uint64_t expected; // the exact total
  };
  query all;
  query dead_only;
  dead_only.where = equals("status", "dead");
  query tasks_newest;
  filter of_tasks = equals("type", "task");
  tasks_newest.where = of_tasks;
  tasks_newest.sort.push_back(sort_key{"creationTimestamp", true});
  query delivered_only;
  delivered_only.where = equals("status", "delivered");
  query retrying_only;
  retrying_only.where = equals("status", "retrying");
  query one;
  one.where = equals("id", middle_id);
  query of_event;
  of_event.where = equals("eventId", middle_event);
  query of_type;
  of_type.where = equals("type", types[0]);
  query hour;
  hour.where.op = filter_op::and_;
  for (auto [op, t] : {std::pair{filter_op::ge, hour_from}, std::pair{filter_op::lt, hour_to}}) {
    filter term;
    term.op = op;
    term.path = "creationTimestamp";
    term.values.push_back(number_value(static_cast<double>(t)));
    hour.where.children.push_back(std::move(term));
  }
  query deep;
  deep.offset = 1000;
  std::vector<listing> deliveries_listings{
    {"GET /deliveries/v1/?eq(status,dead)", dead_only, dead},
    {"GET /deliveries/v1/?eq(id,X)", one, 1},
    {"GET /deliveries/v1/?eq(eventId,X)", of_event, 1},
    {"GET /deliveries/v1/?eq(status,delivered)", delivered_only, derived},
    {"GET /deliveries/v1/?eq(status,retrying)", retrying_only, waiting},
    {"GET /deliveries/v1/", all, deliveries + waiting},
    {"GET /deliveries/v1/?eq(type,task)&sort(-creationTimestamp)", tasks_newest,
     deliveries + waiting},
  };
  std::vector<listing> event_listings{
    {"GET /events/v1/", all, derived},
    {"GET /events/v1/?eq(type,T)", of_type, shard0_events},
    {"GET /events/v1/?ge(creationTimestamp,T-1h)&lt(creationTimestamp,T)", hour, hour_events},
  };
  std::vector<listing> log_listings{
    {"GET /tasks/v1/", all, derived},
    {"GET /tasks/v1/?limit(20,1000)", deep, derived},
  };
  int status = 0;
  auto time = [&](const listing& l, auto list) {
    auto rounds = smoke ? 2u : 21u;
    auto timed = time_rounds(rounds, [&] { return list(l.q); });
    if (!timed.error.empty()) {
      std::cerr << "deliveries: " << l.name << ": " << timed.error << "\n";
      return false;
    }
    auto total = timed.total;
    out << listing_line("deliveries", l.name, timed,
                        [&](auto& w) {
                          w.Key("finished_deliveries"), w.Uint64(deliveries);
                          w.Key("dead_letters"), w.Uint64(dead);
                          w.Key("waiting_deliveries"), w.Uint64(waiting);
                          w.Key("task_log_records"), w.Uint64(derived);
                          w.Key("shards"), w.Uint(shards);
                          w.Key("fill_s"), w.Double(fill_s);
                          w.Key("exact"), w.Bool(total == l.expected);
                          w.Key("loadavg_1m"), w.Double(load_average());
                        })
        << "\n"
        << std::flush;
    if (total != l.expected) status = 1;
    return true;
  };
  for (auto& l : deliveries_listings)
    if (!time(l, [&](const query& q) { return list_deliveries(db, q, max_page_size); })) return 1;
  // A sorted listing holds only its page: how much memory one takes over the whole store, from
  // keys (newest first) and by a full read (any other order: a bounded heap).
  query by_attempts;
  by_attempts.sort.push_back(sort_key{"attempts", true});
  for (auto& [name, q] : std::vector<std::pair<std::string, query>>{
         {"GET /deliveries/v1/?eq(type,task)&sort(-creationTimestamp)", tasks_newest},
         {"GET /deliveries/v1/?sort(-attempts)", by_attempts}}) {
    auto started = clock_type::now();
    uint64_t total = 0;
    auto growth = rss_growth_of([&] {
      auto page = list_deliveries(db, q, max_page_size);
      if (page) total = page->page.total;
    });
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w{buf};
    w.StartObject();
    w.Key("scenario"), w.String("deliveries");
    w.Key("kind"), w.String("sorted_listing_memory");
    w.Key("listing"), w.String(name);
    w.Key("finished_deliveries"), w.Uint64(deliveries);
    w.Key("total"), w.Uint64(total);
    w.Key("exact"), w.Bool(total == deliveries + waiting);
    w.Key("ms"), w.Double(ms_since(started));
    w.Key("rss_growth_bytes"), w.Uint64(growth);
    w.Key("loadavg_1m"), w.Double(load_average());
    w.EndObject();
    out << buf.GetString() << "\n" << std::flush;
    if (total != deliveries + waiting) status = 1;
  }
  for (auto& l : event_listings)
    if (!time(l, [&](const query& q) -> caf::expected<json_page> {
          return list_archive(db, q, max_page_size);
        }))
      return 1;
  for (auto& l : log_listings)
    if (!time(l, [&](const query& q) { return list_log(db, action_kind::task, q, max_page_size); }))
      return 1;
  db.reset();
  if (!keep.empty()) {
    std::error_code failed;
    std::filesystem::rename(path, keep, failed);
    if (failed) {
      std::cerr << "deliveries: cannot move the store to " << keep << ": " << failed.message()
                << "\n";
      status = 1;
    } else {
      std::cerr << "deliveries: the filled store is kept in " << keep << "\n";
    }
  }
  std::filesystem::remove_all(path);
  return status;
}

} // namespace dispatch::bench
