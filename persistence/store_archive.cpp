// The RocksDB store, archive side: the event log read as an archive (newest first across the
// shards, on one snapshot), its running counts per shard and day (`event_counts`), lookups by
// event id, and the records of replays from the archive.
#include <algorithm>
#include <cstring>
#include <limits>
#include <string_view>
#include <map>
#include <queue>

#include "logging/log.hpp"
#include "messages/clock.hpp"
#include "messages/derive.hpp"
#include "messages/ids.hpp"
#include "persistence/codec.hpp"
#include "persistence/keys.hpp"
#include "persistence/store.hpp"
#include "persistence/store_impl.hpp"

namespace dispatch {

namespace {

/// The count of one shard and day: every event, and per type while the day met at most
/// `max_types` distinct types (past that the types are no longer told apart: `overflow`).
struct type_counts {
  int64_t total = 0;
  bool overflow = false;
  std::map<std::string, int64_t> types;
};

/// A type carrying a user id would make one entry per user: past this many, a day's count stays
/// a total and counting one type reads that day.
constexpr size_t max_types = 256;

// total(8) · overflow(1) · then per type: length(2) · type · count(8).
void encode_counts(std::string& out, const type_counts& c) {
  out.clear();
  keys::append_u64(out, static_cast<uint64_t>(c.total));
  out.push_back(c.overflow ? 1 : 0);
  if (c.overflow) return;
  for (auto& [type, n] : c.types) {
    auto len = std::min<size_t>(type.size(), 0xFFFF);
    keys::append_u16(out, static_cast<uint16_t>(len));
    out.append(type, 0, len);
    keys::append_u64(out, static_cast<uint64_t>(n));
  }
}

bool decode_counts(const char* data, size_t size, type_counts& out) {
  if (size < 9) return false;
  out.total = static_cast<int64_t>(keys::read_u64(data));
  out.overflow = data[8] != 0;
  out.types.clear();
  size_t pos = 9;
  while (pos < size) {
    if (size - pos < 2) return false;
    auto len = keys::read_u16(data + pos);
    pos += 2;
    if (size - pos < len + 8u) return false;
    std::string type(data + pos, len);
    pos += len;
    out.types[std::move(type)] += static_cast<int64_t>(keys::read_u64(data + pos));
    pos += 8;
  }
  return true;
}

void add_counts(type_counts& into, const type_counts& x) {
  into.total += x.total;
  into.overflow = into.overflow || x.overflow;
  if (!into.overflow)
    for (auto& [type, n] : x.types) into.types[type] += n;
  if (into.types.size() > max_types) into.overflow = true;
  if (into.overflow) into.types.clear();
}

using day_counts = std::map<std::pair<uint32_t, uint32_t>, type_counts>; // (shard, day)

void count_one(day_counts& counts, uint32_t shard, uint64_t sequence, const std::string& type,
               int64_t n) {
  auto& c = counts[{shard, day_of(accepted_at(sequence))}];
  c.total += n;
  if (c.overflow) return;
  c.types[type] += n;
  if (c.types.size() > max_types) {
    c.overflow = true;
    c.types.clear();
  }
}

// Decodes a log entry's key; false when malformed.
bool log_position(const rocksdb::Slice& key, uint32_t& shard, uint64_t& sequence) {
  if (key.size() != 12) return false;
  shard = keys::read_u32(key.data());
  sequence = keys::read_u64(key.data() + 4);
  return true;
}

// Visits the log entries of `shard` in [lower, upper) of sequences, oldest first, decoded.
template <class Visit>
caf::error scan_shard(const detail::store_state& s, uint32_t shard, uint64_t lower, uint64_t upper,
                      Visit visit) {
  detail::range_iterator it{*s.db, s.event_log, keys::log_entry_key(shard, lower),
                            keys::log_entry_key(shard, upper), false};
  for (it.seek_first(); it->Valid(); it->Next()) {
    uint32_t at = 0;
    uint64_t sequence = 0;
    auto key = it->key();
    if (!log_position(key, at, sequence))
      return codec::corrupt_value(keys::event_log_family, key.data(), key.size(), "malformed key");
    event ev;
    auto value = it->value();
    if (auto err = codec::decode_event(keys::event_log_family, key.data(), key.size(), value.data(),
                                       value.size(), ev))
      return err;
    visit(sequence, ev);
  }
  if (!it->status().ok()) return to_error(it->status(), "read the event archive");
  return caf::none;
}

} // namespace

namespace {

// Adds `more` to the entries of `counts` as they are now (read from the database) and stages the
// sums in `batch`.
caf::error stage_sums(const detail::store_state& s, rocksdb::WriteBatch& batch,
                      const day_counts& more) {
  std::string value;
  for (auto& [where, c] : more) {
    auto key = keys::event_count_key(where.first, where.second);
    type_counts sum;
    auto status = s.db->Get(rocksdb::ReadOptions{}, s.event_counts, key, &value);
    if (!status.ok() && !status.IsNotFound()) return to_error(status, "read the event counts");
    if (status.ok() && !decode_counts(value.data(), value.size(), sum))
      return codec::corrupt_value(keys::event_counts_family, key.data(), key.size(),
                                  "malformed count");
    add_counts(sum, c);
    encode_counts(value, sum);
    batch.Put(s.event_counts, key, value);
  }
  return caf::none;
}

} // namespace

caf::error stage_event_counts(const detail::store_state& s, rocksdb::WriteBatch& batch,
                              const std::vector<accepted_event>& events, bool negate) {
  day_counts counts;
  for (auto& e : events) count_one(counts, e.shard, e.sequence, e.event.type, negate ? -1 : 1);
  return stage_sums(s, batch, counts);
}

caf::error count_archive_once(detail::store_state& s) {
  std::string marker;
  auto status = s.db->Get(rocksdb::ReadOptions{}, s.meta, keys::event_counts_ready_key, &marker);
  if (status.ok()) return caf::none;
  if (!status.IsNotFound()) return to_error(status, "read meta event_counts_ready");
  DISPATCH_LOG(info, store) << "counting the event archive of " << s.opts.data_dir
                            << " once (written before the archive kept counts)";
  day_counts counts;
  for (uint32_t shard = 0; shard < s.opts.shards; ++shard)
    if (auto err = scan_shard(s, shard, 0, std::numeric_limits<uint64_t>::max(),
                              [&](uint64_t sequence, const event& ev) {
                                count_one(counts, shard, sequence, ev.type, 1);
                              }))
      return err;
  rocksdb::WriteBatch batch;
  // Nothing was counted before (an earlier count cut short cannot be: this batch is atomic).
  batch.DeleteRange(s.event_counts, keys::event_count_key(0, 0),
                    keys::event_count_key(s.opts.shards, 0));
  std::string value;
  uint64_t events = 0;
  for (auto& [where, c] : counts) {
    encode_counts(value, c);
    batch.Put(s.event_counts, keys::event_count_key(where.first, where.second), value);
    events += static_cast<uint64_t>(c.total);
  }
  std::string ready;
  keys::append_u32(ready, 1);
  batch.Put(s.meta, keys::event_counts_ready_key, ready);
  if (auto err = s.write(batch, true, "count the event archive")) return err;
  DISPATCH_LOG(info, store) << "the event archive holds " << events << " events";
  return caf::none;
}

namespace {

constexpr int64_t ms_per_minute = 60000;

/// The minute (since the epoch) of an accept time.
uint32_t minute_of(timestamp_ms t) {
  return t <= 0 ? 0 : static_cast<uint32_t>(t / ms_per_minute);
}

} // namespace

std::map<std::pair<uint32_t, uint32_t>, std::pair<timestamp_ms, timestamp_ms>>
stage_created_spans(const detail::store_state& s, rocksdb::WriteBatch& batch,
                    const std::vector<accepted_event>& events) {
  std::map<std::pair<uint32_t, uint32_t>, std::pair<timestamp_ms, timestamp_ms>> spans;
  for (auto& e : events) {
    auto t = e.event.creation_timestamp;
    auto [at, fresh] = spans.try_emplace({e.shard, minute_of(accepted_at(e.sequence))}, t, t);
    if (fresh) continue;
    at->second.first = std::min(at->second.first, t);
    at->second.second = std::max(at->second.second, t);
  }
  for (auto at = spans.begin(); at != spans.end();) {
    auto& [earliest, latest] = at->second;
    if (auto known = s.created_spans.find(at->first); known != s.created_spans.end()) {
      if (earliest >= known->second.first && latest <= known->second.second) {
        at = spans.erase(at); // held already
        continue;
      }
      earliest = std::min(earliest, known->second.first);
      latest = std::max(latest, known->second.second);
    }
    std::string value;
    keys::append_u64(value, static_cast<uint64_t>(earliest));
    keys::append_u64(value, static_cast<uint64_t>(latest));
    batch.Put(s.meta, keys::created_span_key(at->first.first, at->first.second), value);
    ++at;
  }
  return spans;
}

caf::error load_created_spans(detail::store_state& s) {
  std::lock_guard<std::mutex> counting{s.counts_mutex};
  s.created_spans.clear();
  std::string from;
  auto status = s.db->Get(rocksdb::ReadOptions{}, s.meta, keys::created_spans_from_key, &from);
  if (status.IsNotFound()) {
    // The first open by a release that keeps spans: what was accepted before can hold any time
    // (up to the next minute, to hold the one now); a directory with an empty log has none.
    detail::range_iterator log{*s.db, s.event_log, std::string{}, std::string{}};
    log.seek_first();
    if (!log->status().ok()) return to_error(log->status(), "read the event archive");
    from.clear();
    keys::append_u32(from, log->Valid() ? minute_of(now_ms()) + 1 : 0);
    rocksdb::WriteBatch batch;
    batch.Put(s.meta, keys::created_spans_from_key, from);
    if (auto err = s.write(batch, true, "mark where creation-time spans begin")) return err;
  } else if (!status.ok()) {
    return to_error(status, "read meta created_spans_from");
  }
  if (from.size() != 4)
    return codec::corrupt_value(keys::meta_family, keys::created_spans_from_key,
                                std::strlen(keys::created_spans_from_key), "expected 4 bytes");
  s.spans_from = keys::read_u32(from.data());
  detail::range_iterator it{*s.db, s.meta, keys::created_span_prefix,
                            keys::past_prefix(keys::created_span_prefix)};
  auto prefix = std::string_view{keys::created_span_prefix}.size();
  for (it.seek_first(); it->Valid(); it->Next()) {
    auto key = it->key();
    auto value = it->value();
    if (key.size() != prefix + 8 || value.size() != 16)
      return codec::corrupt_value(keys::meta_family, key.data(), key.size(),
                                  "malformed creation-time span");
    s.created_spans[{keys::read_u32(key.data() + prefix), keys::read_u32(key.data() + prefix + 4)}]
      = {static_cast<timestamp_ms>(keys::read_u64(value.data())),
         static_cast<timestamp_ms>(keys::read_u64(value.data() + 8))};
  }
  if (!it->status().ok()) return to_error(it->status(), "read the creation-time spans");
  return caf::none;
}

void forget_created_spans(detail::store_state& s, uint32_t shard, uint64_t limit) {
  s.created_spans.erase(s.created_spans.lower_bound({shard, 0}),
                        s.created_spans.lower_bound({shard, minute_of(accepted_at(limit))}));
}

caf::error stage_count_retention(const detail::store_state& s, rocksdb::WriteBatch& batch,
                                 uint32_t shard, uint64_t limit) {
  auto day = day_of(accepted_at(limit));
  batch.DeleteRange(s.event_counts, keys::event_count_key(shard, 0),
                    keys::event_count_key(shard, day));
  // The spans of the minutes let go (`forget_created_spans` once the batch is written).
  batch.DeleteRange(s.meta, keys::created_span_key(shard, 0),
                    keys::created_span_key(shard, minute_of(accepted_at(limit))));
  auto first = first_sequence_of_day(day);
  if (limit <= first) return caf::none;
  // A day cut in part (an emitter's cursor holds the rest): what goes is subtracted.
  day_counts dropped;
  auto err = scan_shard(s, shard, first, limit, [&](uint64_t sequence, const event& ev) {
    count_one(dropped, shard, sequence, ev.type, -1);
  });
  if (err) return err;
  return stage_sums(s, batch, dropped);
}

caf::error store::for_each_archived(const archive_range& range,
                                    const std::function<bool(const archived_event&)>& visit) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  auto& s = *impl_;
  s.before_scan();
  if (range.lower >= range.upper) return caf::none;
  // Entries of a batch whose publishers were told it failed are not read until taken back.
  if (s.undo_pending.load())
    if (auto err = s.apply_pending_undo("read the event archive")) return err;
  std::vector<uint32_t> shards = range.shards;
  if (shards.empty())
    for (uint32_t shard = 0; shard < s.opts.shards; ++shard) shards.push_back(shard);
  // One iterator per shard, all on one snapshot; the heap holds the shards by their current
  // sequence, so each step takes the newest (or oldest) entry of all.
  struct cursor {
    std::string lower, upper;
    rocksdb::Slice lower_bound, upper_bound;
    std::unique_ptr<rocksdb::Iterator> it;
    uint64_t sequence = 0;
  };
  detail::held_snapshot held{*s.db};
  auto* snapshot = held.get();
  std::vector<cursor> cursors(shards.size());
  // Ordered by sequence, then shard: entries of one sequence in two shards (never made by one
  // ingest, but possible) come in one order, and newest first is oldest first reversed.
  auto place = [&](size_t i) { return std::make_pair(cursors[i].sequence, shards[i]); };
  auto newer = [&](size_t a, size_t b) { return place(a) < place(b); };
  auto older = [&](size_t a, size_t b) { return place(a) > place(b); };
  std::vector<size_t> heap;
  auto position = [&](cursor& c) {
    if (!c.it->Valid()) return false;
    uint32_t shard = 0;
    return log_position(c.it->key(), shard, c.sequence);
  };
  for (size_t i = 0; i < shards.size(); ++i) {
    if (shards[i] >= s.opts.shards) continue;
    auto& c = cursors[i];
    c.lower = keys::log_entry_key(shards[i], range.lower);
    c.upper = range.upper == std::numeric_limits<uint64_t>::max()
                ? keys::shard_prefix(shards[i] + 1)
                : keys::log_entry_key(shards[i], range.upper);
    c.lower_bound = c.lower;
    c.upper_bound = c.upper;
    rocksdb::ReadOptions options;
    options.snapshot = snapshot;
    // A walk of the archive reads each block once: it would only push hot blocks out.
    options.fill_cache = false;
    options.iterate_lower_bound = &c.lower_bound;
    options.iterate_upper_bound = &c.upper_bound;
    c.it.reset(s.db->NewIterator(options, s.event_log));
    range.newest_first ? c.it->SeekToLast() : c.it->SeekToFirst();
    if (position(c)) heap.push_back(i);
    if (!c.it->status().ok()) return to_error(c.it->status(), "read the event archive");
  }
  auto order = [&](size_t a, size_t b) { return range.newest_first ? newer(a, b) : older(a, b); };
  std::make_heap(heap.begin(), heap.end(), order);
  archived_event x;
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), order);
    auto i = heap.back();
    heap.pop_back();
    auto& c = cursors[i];
    auto key = c.it->key();
    auto value = c.it->value();
    x.shard = shards[i];
    x.sequence = c.sequence;
    if (auto err = codec::decode_event(keys::event_log_family, key.data(), key.size(), value.data(),
                                       value.size(), x.event))
      return err;
    if (!visit(x)) return caf::none;
    range.newest_first ? c.it->Prev() : c.it->Next();
    if (!c.it->status().ok()) return to_error(c.it->status(), "read the event archive");
    if (position(c)) {
      heap.push_back(i);
      std::push_heap(heap.begin(), heap.end(), order);
    }
  }
  return caf::none;
}

caf::expected<uint64_t> store::count_archived(const std::string* type) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  auto& s = *impl_;
  // Every shard, or the one that holds the type.
  uint32_t first = 0;
  uint32_t last = s.opts.shards;
  if (type) {
    first = shard_of(*type, s.opts.shards);
    last = first + 1;
  }
  int64_t total = 0;
  detail::range_iterator it{*s.db, s.event_counts, keys::event_count_key(first, 0),
                            keys::event_count_key(last, 0)};
  type_counts c;
  for (it.seek_first(); it->Valid(); it->Next()) {
    auto key = it->key();
    auto value = it->value();
    if (key.size() != 8 || !decode_counts(value.data(), value.size(), c))
      return codec::corrupt_value(keys::event_counts_family, key.data(), key.size(),
                                  "malformed count");
    if (!type) {
      total += c.total;
    } else if (!c.overflow) {
      auto found = c.types.find(*type);
      if (found != c.types.end()) total += found->second;
    } else {
      // Too many types that day to count them apart: that day of the shard is read.
      auto day = keys::read_u32(key.data() + 4);
      auto err = scan_shard(s, first, first_sequence_of_day(day), first_sequence_of_day(day + 1),
                            [&](uint64_t, const event& ev) { total += ev.type == *type ? 1 : 0; });
      if (err) return err;
    }
  }
  if (!it->status().ok()) return to_error(it->status(), "read the event counts");
  return static_cast<uint64_t>(std::max<int64_t>(total, 0));
}

caf::error store::bound_by_creation(archive_range& range, timestamp_ms from,
                                    timestamp_ms to) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  auto& s = *impl_;
  auto taken = [&](uint32_t shard) {
    return range.shards.empty()
           || std::find(range.shards.begin(), range.shards.end(), shard) != range.shards.end();
  };
  // The first and last minute of a taken shard whose events' creation times meet [from, to).
  auto first = std::numeric_limits<uint32_t>::max();
  uint32_t last = 0;
  uint32_t spans_from = 0;
  {
    std::lock_guard<std::mutex> counting{s.counts_mutex};
    spans_from = s.spans_from;
    for (auto& [where, span] : s.created_spans)
      if (taken(where.first) && span.second >= from && span.first < to) {
        first = std::min(first, where.second);
        last = std::max(last, where.second);
      }
  }
  // What was accepted before the spans were kept can hold any time: read while the log has it.
  auto spans_begin = first_sequence_at(spans_from * ms_per_minute);
  for (uint32_t shard = 0; shard < s.opts.shards && first > 0; ++shard) {
    if (!taken(shard)) continue;
    detail::range_iterator it{*s.db, s.event_log, keys::log_entry_key(shard, 0),
                              keys::log_entry_key(shard, spans_begin)};
    it.seek_first();
    if (!it->status().ok()) return to_error(it->status(), "read the event archive");
    if (!it->Valid()) continue;
    first = 0;
    last = std::max(last, spans_from);
  }
  if (first > last) {
    range.upper = range.lower; // no minute can hold one
    return caf::none;
  }
  range.lower = std::max(range.lower, first_sequence_at(first * ms_per_minute));
  range.upper = std::min(range.upper, first_sequence_at((int64_t{last} + 1) * ms_per_minute));
  if (range.upper < range.lower) range.upper = range.lower;
  return caf::none;
}

caf::expected<caf::optional<archived_event>> store::find_archived(const std::string& id) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  auto& s = *impl_;
  using result = caf::optional<archived_event>;
  uint32_t shard = 0;
  uint64_t sequence = 0;
  if (logged_position_of(id, shard, sequence) && shard < s.opts.shards) {
    auto logged = get_logged(shard, sequence);
    if (!logged) return logged.error();
    if (*logged && (*logged)->id == id)
      return result{archived_event{shard, sequence, std::move(**logged)}};
  }
  // A publisher's id: `seen` holds the event as first stored, with the day it was accepted.
  std::string value;
  auto status = s.db->Get(rocksdb::ReadOptions{}, s.seen, id, &value);
  if (status.IsNotFound()) return result{};
  if (!status.ok()) return to_error(status, "look up an archived event");
  detail::seen_entry entry;
  if (auto err = detail::decode_seen(id, value.data(), value.size(), entry)) return err;
  if (entry.day < s.seen_floor.load() || entry.day < s.archive_floor.load()) return result{};
  archived_event x;
  x.event = std::move(entry.event);
  x.shard = entry.placed ? entry.shard : shard_of(x.event.type, s.opts.shards);
  x.sequence = entry.sequence; // 0 when `seen` did not keep it yet
  return result{std::move(x)};
}

caf::error store::write_replay(const replay_status& status, const filter& where) {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  std::string value;
  if (auto err = codec::encode(value, status, where)) return err;
  rocksdb::WriteBatch batch;
  batch.Put(impl_->meta, keys::replay_key(status.id), value);
  return impl_->write(batch, false, "write a replay");
}

caf::expected<std::vector<std::pair<replay_status, filter>>> store::load_replays() const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  std::vector<std::pair<replay_status, filter>> result;
  detail::range_iterator it{*impl_->db, impl_->meta, keys::replay_prefix,
                            keys::past_prefix(keys::replay_prefix)};
  for (it.seek_first(); it->Valid(); it->Next()) {
    auto key = it->key();
    auto value = it->value();
    std::pair<replay_status, filter> x;
    if (auto err = codec::decode(keys::meta_family, key.data(), key.size(), value.data(),
                                 value.size(), x.first, x.second))
      return err;
    result.push_back(std::move(x));
  }
  if (!it->status().ok()) return to_error(it->status(), "read the replays");
  return result;
}

} // namespace dispatch
