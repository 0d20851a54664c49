// The event archive at scale: fill a store through ingest's write (`accept_events`), then time the
// archive's listings (`list_archive`, what a reader runs for `GET /events/v1/`) on it.
#include "bench/archive.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "actors/event_archive.hpp"
#include "bench/workload.hpp"
#include "messages/clock.hpp"
#include "messages/ids.hpp"
#include "persistence/store.hpp"

namespace dispatch::bench {

namespace {

using clock_type = std::chrono::steady_clock;

constexpr uint32_t shards = 4;
constexpr uint32_t event_types = 1000;
constexpr uint32_t batch = 4096;
constexpr uint32_t content_bytes = 120;

query by(const char* path, const std::string& value) {
  query q;
  q.where = equals(path, value);
  return q;
}

} // namespace

filter equals(const char* path, const std::string& value) {
  filter f;
  f.op = filter_op::eq;
  f.path = path;
  f.values.push_back(string_value(value));
  return f;
}

store_options options_of(const std::string& path, uint32_t shards) {
  store_options options;
  options.data_dir = path;
  options.shards = shards;
  options.sync = false;
  return options;
}

caf::expected<std::shared_ptr<store>> fresh_store(const std::string& path, uint32_t shards) {
  std::filesystem::remove_all(path);
  return store::open(options_of(path, shards));
}

int run_archive(uint64_t events, uint32_t rounds, const std::string& dir, std::ostream& out) {
  auto path = dir + "/archive-" + std::to_string(events);
  auto opened = fresh_store(path, shards);
  if (!opened) {
    std::cerr << "archive: cannot open " << path << ": " << caf::to_string(opened.error()) << "\n";
    return 1;
  }
  auto db = std::move(*opened);
  // Sequences spread over the last 7 days, so the counts have a week of days per shard.
  auto now = now_ms();
  auto first = static_cast<uint64_t>(now - 7 * 86400000LL) * 1000;
  auto step = std::max<uint64_t>(1, (static_cast<uint64_t>(now) * 1000 - first) / events);
  auto fill_start = clock_type::now();
  std::string middle_id;
  std::vector<accepted_event> accepted;
  for (uint64_t n = 0; n < events;) {
    accepted.clear();
    for (uint32_t i = 0; i < batch && n < events; ++i, ++n) {
      accepted_event a;
      a.event.type = "bench.type" + std::to_string(n % event_types);
      a.shard = shard_of(a.event.type, shards);
      a.sequence = first + n * step;
      a.event.id = event_id_at(a.shard, a.sequence);
      a.event.content = event_content(0, n, content_bytes);
      a.event.creation_timestamp = static_cast<timestamp_ms>(a.sequence / 1000);
      if (n == events / 2) middle_id = a.event.id;
      accepted.push_back(std::move(a));
    }
    if (auto err = db->accept_events(accepted, now)) {
      std::cerr << "archive: fill failed: " << caf::to_string(err) << "\n";
      return 1;
    }
  }
  auto fill_s = ms_since(fill_start) / 1000;
  db->flush(); // the listings read table files, as after a restart, not only memtables
  struct listing {
    const char* name;
    query q;
  };
  auto deep = query{};
  deep.offset = 1000;
  std::vector<listing> listings{{"GET /events/v1/", query{}},
                                {"GET /events/v1/?eq(type,bench.type7)", by("type", "bench.type7")},
                                {"GET /events/v1/?eq(id,X)", by("id", middle_id)},
                                {"GET /events/v1/?limit(20,1000)", deep}};
  int status = 0;
  for (auto& l : listings) {
    auto timed = time_rounds(rounds, [&] { return list_archive(db, l.q, max_page_size); });
    if (!timed.error.empty()) {
      std::cerr << "archive: " << l.name << ": " << timed.error << "\n";
      return 1;
    }
    out << listing_line("archive", l.name, timed,
                        [&](auto& w) {
                          w.Key("archived_events"), w.Uint64(events);
                          w.Key("shards"), w.Uint(shards);
                          w.Key("event_types"), w.Uint(event_types);
                          w.Key("fill_s"), w.Double(fill_s);
                        })
        << "\n"
        << std::flush;
    auto total = timed.total;
    if (l.q.where.op == filter_op::all && total != events) status = 1; // the total must be exact
  }
  db.reset();
  std::filesystem::remove_all(path);
  return status;
}

} // namespace dispatch::bench
