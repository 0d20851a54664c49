// The RocksDB store, upkeep side: the built-in sink's log, retention by whole days, the health
// probe and flushing. Retention is DeleteRange over day-prefixed keys (one tombstone per family;
// the event log's sequences start with their accept time, so a day is a key range too), and for
// `seen` and the delivery index a floor day below which compactions drop entries.
#include <iterator>
#include <map>

#include <rocksdb/db.h>

#include "messages/derive.hpp"
#include "messages/error_code.hpp"
#include "messages/ids.hpp"
#include "persistence/codec.hpp"
#include "persistence/keys.hpp"
#include "persistence/store.hpp"
#include "persistence/store_impl.hpp"

namespace dispatch {

caf::error store::append_logs(const std::vector<log_record>& records) {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  auto& s = *impl_;
  rocksdb::WriteBatch batch;
  std::string value;
  // Each key once: the last record of a key in this batch is the one kept.
  std::map<std::string, action_kind> written;
  for (auto& r : records) {
    if (auto err = codec::encode(value, r.received, r.json)) return err;
    auto key = keys::log_key(r.kind, day_of(r.received), r.id);
    batch.Put(s.log, key, value);
    written.emplace(std::move(key), r.kind);
  }
  // Which keys are new decides the counts: looked up and written as one step.
  std::lock_guard<std::mutex> guard{s.log_mutex};
  std::vector<rocksdb::Slice> lookup;
  for (auto& entry : written) lookup.emplace_back(entry.first);
  std::vector<bool> known(lookup.size(), false);
  auto err = multi_get(s, s.log, lookup, "read the log", [&](size_t i, auto) {
    known[i] = true;
    return caf::error{};
  });
  if (err) return err;
  if (auto err = s.write(batch, false, "append to the log")) return err;
  size_t i = 0;
  for (auto& [key, kind] : written)
    if (!known[i++]) ++s.log_counts[{static_cast<uint8_t>(kind), keys::read_u32(key.data() + 1)}];
  return caf::none;
}

caf::error store::for_each_log(action_kind kind,
                               const std::function<bool(const log_record&)>& visit,
                               bool newest_first) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  // A newest-first walk stops at the end of its page: only a walk of every record is a scan.
  if (!newest_first) impl_->before_scan();
  detail::range_iterator it{*impl_->db, impl_->log, keys::kind_prefix(kind),
                            keys::next_kind_prefix(kind)};
  for (newest_first ? it->SeekToLast() : it.seek_first(); it->Valid();
       newest_first ? it->Prev() : it->Next()) {
    auto key = it->key();
    auto value = it->value();
    if (key.size() < 5)
      return codec::corrupt_value(keys::log_family, key.data(), key.size(), "malformed key");
    log_record record;
    record.kind = kind;
    record.id.assign(key.data() + 5, key.size() - 5);
    if (auto err = codec::decode(keys::log_family, key.data(), key.size(), value.data(),
                                 value.size(), record.received, record.json))
      return err;
    if (!visit(record)) return caf::none;
  }
  if (!it->status().ok())
    return to_error(it->status(), std::string{"read the "} + to_string(kind) + " log");
  return caf::none;
}

uint64_t store::log_size(action_kind kind) const {
  auto& s = *impl_;
  std::lock_guard<std::mutex> guard{s.log_mutex};
  uint64_t n = 0;
  auto k = static_cast<uint8_t>(kind);
  for (auto at = s.log_counts.lower_bound({k, 0}); at != s.log_counts.end() && at->first.first == k;
       ++at)
    n += at->second;
  return n;
}

caf::error store::set_aside(const set_aside_event& e) {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  std::string value;
  if (auto err = codec::encode(value, e.event, e.reason, e.at, e.replayed_at)) return err;
  rocksdb::WriteBatch batch;
  batch.Put(impl_->meta, keys::set_aside_key(e.shard, e.sequence), value);
  return impl_->write(batch, false, "set an event aside");
}

namespace {

// The set-aside entries of meta in [lower, upper), in key order: `visit(shard, sequence, value)`
// until it answers false. The one scan behind the listing, the lookups and the ranges.
template <class Visit>
caf::error scan_set_aside(const detail::store_state& s, const std::string& lower,
                          const std::string& upper, Visit visit) {
  detail::range_iterator it{*s.db, s.meta, lower, upper};
  auto prefix = std::string_view{keys::set_aside_prefix}.size();
  for (it.seek_first(); it->Valid(); it->Next()) {
    auto key = it->key();
    if (key.size() != prefix + 12)
      return codec::corrupt_value(keys::meta_family, key.data(), key.size(), "malformed key");
    if (!visit(keys::read_u32(key.data() + prefix), keys::read_u64(key.data() + prefix + 4), key,
               it->value()))
      return caf::none;
  }
  if (!it->status().ok()) return to_error(it->status(), "read the set-aside events");
  return caf::none;
}

// A set-aside entry's value into `e` (its shard and sequence come from the key).
caf::error decode_set_aside(rocksdb::Slice key, rocksdb::Slice value, set_aside_event& e) {
  return codec::decode(keys::meta_family, key.data(), key.size(), value.data(), value.size(),
                       e.event, e.reason, e.at, e.replayed_at);
}

} // namespace

caf::error
store::for_each_set_aside(const std::function<bool(const set_aside_event&)>& visit) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  caf::error failed;
  auto err = scan_set_aside(
    *impl_, keys::set_aside_prefix, keys::past_prefix(keys::set_aside_prefix),
    [&](uint32_t shard, uint64_t sequence, rocksdb::Slice key, rocksdb::Slice value) {
      set_aside_event e;
      e.shard = shard;
      e.sequence = sequence;
      failed = decode_set_aside(key, value, e);
      return !failed && visit(e);
    });
  return failed ? std::move(failed) : std::move(err);
}

caf::expected<caf::optional<set_aside_event>>
store::find_set_aside(const std::string& event_id) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  uint32_t shard = 0;
  uint64_t sequence = 0;
  if (logged_position_of(event_id, shard, sequence)) {
    // An id ingest made says where its event is: one read, however many are set aside.
    std::string value;
    auto key = keys::set_aside_key(shard, sequence);
    auto status = impl_->db->Get(rocksdb::ReadOptions{}, impl_->meta, key, &value);
    if (!status.ok() && !status.IsNotFound()) return to_error(status, "read a set-aside event");
    if (status.ok()) {
      set_aside_event e;
      e.shard = shard;
      e.sequence = sequence;
      if (auto err = decode_set_aside(key, value, e)) return err;
      if (e.event.id == event_id) return caf::optional<set_aside_event>{std::move(e)};
    }
  }
  // A publisher's own id: looked for among them all (setting aside is rare).
  caf::optional<set_aside_event> found;
  auto err = for_each_set_aside([&](const set_aside_event& e) {
    if (e.event.id == event_id) found = e;
    return !found;
  });
  if (err) return err;
  return found;
}

caf::expected<std::vector<uint64_t>> store::set_aside_sequences(uint32_t shard, uint64_t after,
                                                                uint64_t up_to) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  std::vector<uint64_t> sequences;
  if (after >= up_to) return sequences;
  // Just past the key of `up_to`: keys have one length, so a trailing byte sorts before the next.
  auto err = scan_set_aside(*impl_, keys::set_aside_key(shard, after + 1),
                            keys::set_aside_key(shard, up_to) + '\0',
                            [&](uint32_t, uint64_t sequence, rocksdb::Slice, rocksdb::Slice) {
                              sequences.push_back(sequence);
                              return true;
                            });
  if (err) return err;
  return sequences;
}

namespace {

// The first day kept when keeping `days` days up to and including today (0 keeps everything).
uint32_t first_kept_day(timestamp_ms now, uint32_t days) {
  auto today = day_of(now);
  if (days == 0 || days > today) return 0;
  return today - days + 1;
}

} // namespace

caf::error store::apply_retention(timestamp_ms now, uint32_t seen_days, uint32_t history_days,
                                  uint32_t log_days, uint32_t event_days) {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  auto& s = *impl_;
  // The counts it takes off are read and written back in this batch (see `counts_mutex`).
  std::lock_guard<std::mutex> counting{s.counts_mutex};
  rocksdb::WriteBatch batch;
  auto put_floor = [&](const char* key, uint32_t day) {
    std::string value;
    keys::append_u32(value, day);
    batch.Put(s.meta, key, value);
  };
  // The event log is the archive too: kept for the longer of the two (0 days keep everything).
  auto archive_days = history_days == 0 ? 0 : std::max(history_days, event_days);
  // `seen` and the index of finished deliveries are keyed by id: a floor hides older entries at
  // once, compactions drop them. `seen` also finds the archived events of publisher-chosen ids,
  // so it is kept as long as the archive (for ever when either is kept for ever).
  auto seen_floor = first_kept_day(
    now, (seen_days == 0 || archive_days == 0) ? 0 : std::max(seen_days, archive_days));
  if (seen_floor > s.seen_floor.load()) put_floor(keys::seen_floor_key, seen_floor);
  auto history_floor = first_kept_day(now, history_days);
  auto archive_floor = first_kept_day(now, archive_days);
  // The index entries of finished, dead and purged deliveries go with history, but never while
  // their event is still in the log (an emitter lagging behind, or the archive, keeps it):
  // derived again without them, a purged delivery would come back and a dead one would be listed
  // twice. The log is kept from `kept_from`: the archive's first day, or an earlier one where an
  // emitter lags.
  auto kept_from = archive_floor;
  std::vector<std::pair<uint32_t, uint64_t>> dropped_below; // per shard: the log's new start
  if (history_floor > 0)
    batch.DeleteRange(s.history, keys::day_prefix(0), keys::day_prefix(history_floor));
  if (archive_floor > 0) {
    // The log as long as history, so that finished deliveries can be derived for as long as
    // they are listed, and as the archive; never an entry some emitter has not passed yet.
    for (uint32_t shard = 0; shard < s.opts.shards; ++shard) {
      auto limit = first_sequence_of_day(archive_floor);
      for (auto kind : {action_kind::task, action_kind::mail}) {
        auto p = read_progress(kind, shard);
        if (!p) return p.error();
        limit = std::min(limit, p->cursor + 1);
      }
      // The counts lose what the log loses, in the same batch.
      if (auto err = stage_count_retention(s, batch, shard, limit)) return err;
      dropped_below.emplace_back(shard, limit);
      batch.DeleteRange(s.event_log, keys::log_entry_key(shard, 0),
                        keys::log_entry_key(shard, limit));
      // Set-aside events go with their log days: kept as long as the log entry they stand for.
      batch.DeleteRange(s.meta, keys::set_aside_key(shard, 0), keys::set_aside_key(shard, limit));
      kept_from = std::min(kept_from, day_of(accepted_at(limit)));
      // The emitters' counts of the whole days the log lets go (listings sum the days the log
      // holds: a count written again for a day let go is not summed).
      for (auto kind : {action_kind::task, action_kind::mail})
        batch.DeleteRange(s.progress, keys::progress_day_key(kind, shard, 0),
                          keys::progress_day_key(kind, shard, day_of(accepted_at(limit))));
      // The dispatcher versions only the dropped entries needed go with them.
      if (auto err = prune_dispatcher_versions(shard, limit)) return err;
    }
  }
  auto index_floor = std::min(history_floor, kept_from);
  if (index_floor > s.history_floor.load()) put_floor(keys::history_floor_key, index_floor);
  auto log_floor = first_kept_day(now, log_days);
  if (log_floor > 0)
    for (auto kind : {action_kind::task, action_kind::mail})
      batch.DeleteRange(s.log, keys::log_day_prefix(kind, 0),
                        keys::log_day_prefix(kind, log_floor));
  // The log's counts lose the days it loses, with the write (an append in between would count
  // a record of a day being dropped).
  std::lock_guard<std::mutex> logging{s.log_mutex};
  if (batch.Count() > 0)
    if (auto err = s.write(batch, false, "apply retention")) return err;
  for (auto [shard, limit] : dropped_below) forget_created_spans(s, shard, limit);
  for (auto at = s.log_counts.begin(); at != s.log_counts.end();)
    at = at->first.second < log_floor ? s.log_counts.erase(at) : std::next(at);
  if (seen_floor > s.seen_floor.load()) s.seen_floor = seen_floor;
  if (history_floor > 0) {
    std::lock_guard<std::mutex> guard{s.delivery_mutex};
    for (auto at = s.finished_counts.begin(); at != s.finished_counts.end();)
      at = at->first.second < history_floor ? s.finished_counts.erase(at) : std::next(at);
  }
  if (index_floor > s.history_floor.load()) s.history_floor = index_floor;
  if (kept_from > s.archive_floor.load()) s.archive_floor = kept_from;
  return caf::none;
}

caf::error store::probe_write() {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  rocksdb::WriteBatch batch;
  batch.Put(impl_->meta, keys::probe_key, std::to_string(now_ms()));
  batch.Delete(impl_->meta, keys::probe_key);
  return impl_->write(batch, true, "probe write");
}

caf::error store::flush() {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  rocksdb::FlushOptions options;
  options.wait = true;
  auto status = impl_->db->Flush(options, impl_->handles);
  if (!status.ok()) return to_error(status, "flush");
  return caf::none;
}

} // namespace dispatch
