// Limits without the engine: what RocksDB alone writes per second on this disk, and what three
// CAF actors alone pass along per second on these cores. The engine does both and more per event.
#include "bench/limits.hpp"

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <future>
#include <memory>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <caf/all.hpp>

#include "bench/system_config.hpp"
#include "bench/workload.hpp"
#include "messages/clock.hpp"
#include "messages/derive.hpp"
#include "messages/ids.hpp"
#include "messages/type_registry.hpp"
#include "persistence/store.hpp"

namespace dispatch::bench {

namespace {

using clock_type = std::chrono::steady_clock;

double elapsed_s(clock_type::time_point since) {
  return std::chrono::duration<double>(clock_type::now() - since).count();
}

/// A 24-character key that sorts by sequence, like the engine's inbox keys.
std::string sequence_key(uint64_t n) {
  char text[25];
  std::snprintf(text, sizeof text, "%024llu", static_cast<unsigned long long>(n));
  return text;
}

} // namespace

limit_result rocksdb_limit(bool sync, uint32_t record_bytes, uint32_t batch, double seconds,
                           const std::string& dir) {
  limit_result r;
  r.name = std::string{sync ? "rocksdb-sync-" : "rocksdb-nosync-"} + std::to_string(batch);
  r.description = std::string{"raw RocksDB WriteBatch puts, WAL on, sync "} + (sync ? "on" : "off");
  r.record_bytes = record_bytes;
  r.batch = batch;
  auto path = dir + "/" + r.name;
  std::filesystem::remove_all(path);
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  auto status = rocksdb::DB::Open(options, path, &raw);
  if (!status.ok()) {
    r.description += " (cannot open: " + status.ToString() + ")";
    return r;
  }
  std::unique_ptr<rocksdb::DB> db{raw};
  rocksdb::WriteOptions write_options;
  write_options.sync = sync;
  std::string value = event_content(0, 0, record_bytes);
  uint64_t records = 0;
  auto cpu_before = cpu_seconds();
  auto start = clock_type::now();
  while (elapsed_s(start) < seconds) {
    rocksdb::WriteBatch wb;
    for (uint32_t i = 0; i < batch; ++i) wb.Put(sequence_key(records++), value);
    if (!db->Write(write_options, &wb).ok()) break;
  }
  r.window_s = elapsed_s(start);
  r.records_per_s = records / r.window_s;
  r.cpu_s_per_m_records = (cpu_seconds() - cpu_before) / records * 1e6;
  db.reset();
  std::filesystem::remove_all(path);
  return r;
}

limit_result store_limit(bool sync, uint32_t event_bytes, uint32_t batch, uint32_t shards,
                         uint32_t event_types, double seconds, const std::string& dir) {
  limit_result r;
  r.name = std::string{sync ? "store-sync-" : "store-nosync-"} + std::to_string(batch);
  r.description = std::string{"the engine's store alone, one thread: accept (the log), then per "
                              "shard the outcome batch of its deliveries (the cursor), sync "} +
                  (sync ? "on" : "off");
  r.record_bytes = event_bytes;
  r.batch = batch;
  auto path = dir + "/" + r.name;
  std::filesystem::remove_all(path);
  store_options options;
  options.data_dir = path;
  options.shards = shards;
  options.sync = sync;
  auto opened = store::open(options);
  if (!opened) {
    r.description += " (cannot open: " + caf::to_string(opened.error()) + ")";
    return r;
  }
  auto db = std::move(*opened);
  // One dispatcher with one task action per type, as in the standard scenario.
  id_generator ids;
  std::vector<dispatcher> dispatchers(event_types);
  for (uint32_t t = 0; t < event_types; ++t) {
    auto& d = dispatchers[t];
    d.id = ids.next();
    d.event_type = "bench.type" + std::to_string(t);
    action a;
    a.id = ids.next();
    a.function_name = "bench-function-0";
    a.data = std::string{"{\"action\":0}"};
    d.actions.push_back(std::move(a));
  }
  // What a matcher holds for each type: its dispatchers in force.
  std::vector<dispatcher_timeline::dispatcher_set> sets;
  for (auto& d : dispatchers) sets.push_back({prepare(d)});
  uint64_t events = 0;
  uint64_t sequence = std::max<uint64_t>(db->last_log_sequence(),
                                         static_cast<uint64_t>(now_ms()) * 1000);
  std::vector<progress> cursors(shards);
  // One round: ingest's batch, then per shard the emitter's outcome batch (all delivered: only
  // the cursor is written). False on a failure.
  auto round = [&] {
    auto now = now_ms();
    std::vector<accepted_event> accepted(batch);
    std::vector<const dispatcher_timeline::dispatcher_set*> matched(batch);
    for (uint32_t i = 0; i < batch; ++i, ++events) {
      auto& a = accepted[i];
      matched[i] = &sets[events % event_types];
      a.event.id = ids.next();
      a.event.type = matched[i]->front()->value.event_type;
      a.event.content = event_content(now_ns(), events, event_bytes);
      a.event.creation_timestamp = now;
      a.shard = shard_of(a.event.type, shards);
      a.sequence = ++sequence;
    }
    if (db->accept_events(accepted, now)) return false;
    // Every delivery delivered at its first attempt: the store writes no delivery, only each
    // shard's cursor (deriving the deliveries is the matchers' CPU, not the store's).
    for (uint32_t i = 0; i < batch; ++i) {
      auto& a = accepted[i];
      cursors[a.shard].cursor = a.sequence;
      cursors[a.shard].delivered += matched[i]->front()->value.actions.size();
    }
    for (uint32_t shard = 0; shard < shards; ++shard)
      if (db->write_outcomes(action_kind::task, shard, {}, &cursors[shard])) return false;
    return true;
  };
  auto cpu_before = cpu_seconds();
  auto start = clock_type::now();
  while (elapsed_s(start) < seconds)
    if (!round()) {
      r.description += " (a write failed)";
      break;
    }
  r.window_s = elapsed_s(start);
  r.records_per_s = events / r.window_s;
  if (events > 0) r.cpu_s_per_m_records = (cpu_seconds() - cpu_before) / events * 1e6;
  db.reset();
  std::filesystem::remove_all(path);
  return r;
}

namespace {

using batch_atom = caf::atom_constant<caf::atom("bench_bat")>;
using credit_atom = caf::atom_constant<caf::atom("bench_cred")>;

/// Forwards every batch to the next actor, untouched.
caf::behavior stage(caf::event_based_actor* self, caf::actor next) {
  return {[self, next](batch_atom a, const event_list& xs) { self->send(next, a, xs); }};
}

/// Counts events and gives the source its credit back.
caf::behavior counter(caf::event_based_actor* self, caf::actor source,
                      std::shared_ptr<std::atomic<uint64_t>> count) {
  return {[self, source, count](batch_atom, const event_list& xs) {
    count->fetch_add(xs.size(), std::memory_order_relaxed);
    self->send(source, credit_atom::value);
  }};
}

/// Makes a fresh batch for every send, as a publisher does, and keeps `window` batches moving.
caf::behavior source(caf::event_based_actor* self, uint32_t record_bytes, uint32_t batch,
                     uint32_t window, std::shared_ptr<std::atomic<bool>> stop) {
  auto send_batch = [=](const caf::actor& first) {
    event_list xs(batch);
    for (auto& ev : xs) {
      ev.type = "bench.type0";
      ev.content = event_content(now_ns(), 0, record_bytes);
    }
    self->send(first, batch_atom::value, std::move(xs));
  };
  return {
    [=](caf::actor first) {
      self->become([=](credit_atom) {
        if (!stop->load()) send_batch(first);
      });
      for (uint32_t i = 0; i < window; ++i) send_batch(first);
    },
  };
}

} // namespace

limit_result caf_pipeline_limit(uint32_t record_bytes, uint32_t batch, uint32_t window,
                                double seconds) {
  limit_result r;
  r.name = "caf-pipeline";
  r.description = "raw CAF messages: source -> stage -> stage -> counter, batches with credit";
  r.record_bytes = record_bytes;
  r.batch = batch;
  auto count = std::make_shared<std::atomic<uint64_t>>(0);
  auto stop = std::make_shared<std::atomic<bool>>(false);
  bench_system_config cfg; // the scheduler the scenarios run on by default
  caf::actor_system sys{cfg};
  auto src = sys.spawn(source, record_bytes, batch, window, stop);
  auto last = sys.spawn(counter, src, count);
  auto middle = sys.spawn(stage, last);
  auto first = sys.spawn(stage, middle);
  auto cpu_before = cpu_seconds();
  auto start = clock_type::now();
  caf::anon_send(src, first);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop->store(true);
  r.window_s = elapsed_s(start);
  auto records = count->load();
  r.records_per_s = records / r.window_s;
  if (records > 0) r.cpu_s_per_m_records = (cpu_seconds() - cpu_before) / records * 1e6;
  for (auto& a : {src, first, middle, last})
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  return r;
}

} // namespace dispatch::bench
