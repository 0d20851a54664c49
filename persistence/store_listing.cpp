// The RocksDB store, listings from keys: every delivery newest first (the log read backwards,
// deriving, merged with the records by creation time) and the exact number a listing holds (the
// emitters' per-day counts, the log past their cursors, the records' counts), without a pass over
// the log. Also what a listing derives with: a shard's dispatchers over time and its cursors.
#include <algorithm>
#include <array>
#include <limits>

#include <rocksdb/db.h>

#include "messages/derive.hpp"
#include "messages/error_code.hpp"
#include "messages/ids.hpp"
#include "persistence/codec.hpp"
#include "persistence/keys.hpp"
#include "persistence/store.hpp"
#include "persistence/store_impl.hpp"

namespace dispatch {

void shard_view::derive(uint32_t shard, uint64_t sequence, const event& ev,
                        delivery_list& out) const {
  if (std::binary_search(set_aside.begin(), set_aside.end(), sequence)) return;
  (void)derive_deliveries(timeline->at(ev.type, sequence), shard, sequence, ev, true, &out, &out);
}

caf::expected<std::shared_ptr<const dispatcher_timeline>> store::timeline(uint32_t shard) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  auto& state = *impl_; // the cache changes, not what it stands for
  if (shard >= state.opts.shards)
    return make_error(error_code::server, "store: no shard " + std::to_string(shard));
  auto changes = state.timeline_changes[shard].load();
  {
    std::lock_guard<std::mutex> guard{state.timeline_mutex};
    if (state.timelines[shard] && state.timelines_at[shard] == changes)
      return state.timelines[shard];
  }
  auto versions = load_dispatcher_versions(shard);
  if (!versions) return versions.error();
  auto built = std::make_shared<dispatcher_timeline>();
  for (auto& v : *versions) built->apply(v.from, v.id, v.value ? &*v.value : nullptr);
  std::lock_guard<std::mutex> guard{state.timeline_mutex};
  // Built from what was read after `changes` was: current at least up to that change.
  state.timelines[shard] = built;
  state.timelines_at[shard] = changes;
  return std::shared_ptr<const dispatcher_timeline>{std::move(built)};
}

caf::expected<shard_view> view_of(const store& db, uint32_t shard) {
  shard_view view;
  auto timeline = db.timeline(shard);
  if (!timeline) return timeline.error();
  view.timeline = std::move(*timeline);
  auto task = db.read_progress(action_kind::task, shard);
  if (!task) return task.error();
  auto mail = db.read_progress(action_kind::mail, shard);
  if (!mail) return mail.error();
  view.task = *task;
  view.mail = *mail;
  auto set_aside = db.set_aside_sequences(shard);
  if (!set_aside) return set_aside.error();
  view.set_aside = std::move(*set_aside);
  return view;
}

void settle(delivery& d, uint64_t sequence, const shard_view& view) {
  if (sequence <= view.of(d.kind).cursor) {
    d.status = delivery_status::delivered;
    d.attempts = 1;
    d.finished = d.created;
  }
}

caf::expected<progress> read_progress_in(const detail::store_state& s, action_kind kind,
                                         uint32_t shard, const rocksdb::Snapshot* snapshot) {
  rocksdb::ReadOptions options;
  options.snapshot = snapshot;
  auto key = keys::progress_key(kind, shard);
  std::string value;
  auto status = s.db->Get(options, s.progress, key, &value);
  progress result;
  if (status.IsNotFound()) return result;
  if (!status.ok()) return to_error(status, "read progress");
  if (value.size() != 16)
    return codec::corrupt_value(keys::progress_family, key.data(), key.size(),
                                "expected 16 bytes, found " + std::to_string(value.size()));
  result.cursor = keys::read_u64(value.data());
  result.delivered = keys::read_u64(value.data() + 8);
  // The per-day counts follow the cursor's entry, under its key and the day.
  auto lower = keys::progress_day_key(kind, shard, 0);
  auto upper = keys::progress_key(kind, shard + 1);
  rocksdb::Slice lower_bound{lower}, upper_bound{upper};
  options.iterate_lower_bound = &lower_bound;
  options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it{s.db->NewIterator(options, s.progress)};
  for (it->Seek(lower_bound); it->Valid(); it->Next()) {
    auto day_key = it->key();
    auto day_value = it->value();
    if (day_key.size() != key.size() + 4 || day_value.size() != 8)
      return codec::corrupt_value(keys::progress_family, day_key.data(), day_key.size(),
                                  "expected a day's count (8 bytes)");
    result.days[keys::read_u32(day_key.data() + key.size())] = keys::read_u64(day_value.data());
  }
  if (!it->status().ok()) return to_error(it->status(), "read progress");
  return result;
}

void stage_progress(detail::store_state& s, rocksdb::WriteBatch& batch, action_kind kind,
                    uint32_t shard, const progress& p) {
  std::string value;
  keys::append_u64(value, p.cursor);
  keys::append_u64(value, p.delivered);
  batch.Put(s.progress, keys::progress_key(kind, shard), value);
  for (auto& [day, count] : p.days) {
    std::string n;
    keys::append_u64(n, count);
    batch.Put(s.progress, keys::progress_day_key(kind, shard, day), n);
  }
}

caf::expected<caf::optional<delivery>> store::find_derived(const std::string& id) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  delivery_position pos;
  if (!position_of(id, pos) || pos.shard >= impl_->opts.shards) return caf::optional<delivery>{};
  auto recorded = has_record({id});
  if (!recorded) return recorded.error();
  if ((*recorded)[0]) return caf::optional<delivery>{};
  auto found = get_logged(pos.shard, pos.sequence);
  if (!found) return found.error();
  if (!*found) return caf::optional<delivery>{};
  auto view = view_of(*this, pos.shard);
  if (!view) return view.error();
  delivery_list derived;
  view->derive(pos.shard, pos.sequence, **found, derived);
  for (auto& d : derived)
    if (d.id == id) {
      settle(d, pos.sequence, *view);
      return caf::optional<delivery>{std::move(d)};
    }
  return caf::optional<delivery>{};
}

namespace {

/// The first sequence the log of `shard` holds on `snapshot`, if it holds any.
caf::expected<caf::optional<uint64_t>> first_logged(const detail::store_state& s, uint32_t shard,
                                                    const rocksdb::Snapshot* snapshot) {
  auto lower = keys::shard_prefix(shard);
  auto upper = keys::shard_prefix(shard + 1);
  rocksdb::Slice lower_bound{lower}, upper_bound{upper};
  rocksdb::ReadOptions options;
  options.snapshot = snapshot;
  options.iterate_lower_bound = &lower_bound;
  options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it{s.db->NewIterator(options, s.event_log)};
  it->Seek(lower_bound);
  if (!it->status().ok()) return to_error(it->status(), "read the event log");
  if (!it->Valid() || it->key().size() != 12) return caf::optional<uint64_t>{};
  return caf::optional<uint64_t>{keys::read_u64(it->key().data() + 4)};
}

/// The deliveries of `kind` derived from the log of `shard` in (`after`, `up_to`] that have no
/// record of their own, derived and looked up.
caf::expected<uint64_t> count_unrecorded(const store& db, uint32_t shard, action_kind kind,
                                         const shard_view& view, uint64_t after, uint64_t up_to) {
  uint64_t total = 0;
  caf::error failed;
  auto err = for_each_log_page(db, shard, after, [&](const logged_event_list& page) {
    delivery_list derived;
    for (auto& entry : page)
      if (entry.sequence <= up_to) view.derive(shard, entry.sequence, entry.event, derived);
    std::vector<std::string> ids;
    for (auto& d : derived)
      if (d.kind == kind) ids.push_back(d.id);
    auto recorded = db.has_record(ids);
    if (!recorded) {
      failed = std::move(recorded.error());
      return false;
    }
    total += static_cast<uint64_t>(std::count(recorded->begin(), recorded->end(), false));
    return page.back().sequence < up_to;
  });
  if (err) return err;
  if (failed) return failed;
  return total;
}

/// The deliveries of `kinds` past their cursors in the log of `shard` (from `after` on) that have
/// no record of their own: counted per event without being made, less the records of those
/// positions (index keys are delivery ids, which start with the sequence: one range).
caf::expected<uint64_t> count_past(const detail::store_state& s, const store& db, uint32_t shard,
                                   const std::vector<action_kind>& kinds,
                                   const std::array<uint64_t, 2>& cursors, const shard_view& view,
                                   uint64_t after) {
  auto aside = [&](uint64_t sequence) {
    return std::binary_search(view.set_aside.begin(), view.set_aside.end(), sequence);
  };
  int64_t total = 0;
  uint64_t last = after;
  auto err = for_each_log_page(db, shard, after, [&](const logged_event_list& page) {
    for (auto& entry : page) {
      last = entry.sequence;
      if (aside(entry.sequence)) continue;
      auto& set = view.timeline->at(entry.event.type, entry.sequence);
      for (auto kind : kinds)
        if (entry.sequence > cursors[index_of(kind)])
          total += static_cast<int64_t>(derived_count(set, entry.event, kind));
    }
    return true;
  });
  if (err) return err;
  if (last == after) return uint64_t{0};
  detail::range_iterator it{*s.db, s.delivery_index, delivery_id_at({after + 1, 0, 0}),
                            delivery_id_at({last + 1, 0, 0})};
  delivery_position pos;
  record_slot slot;
  for (it.seek_first(); it->Valid(); it->Next()) {
    auto key = it->key();
    auto value = it->value();
    if (!position_of(std::string_view{key.data(), key.size()}, pos) || pos.shard != shard
        || aside(pos.sequence) || !parse_record_value(value.data(), value.size(), slot))
      continue;
    for (auto kind : kinds)
      if (slot.kind == kind && pos.sequence > cursors[index_of(kind)]) --total;
  }
  if (!it->status().ok()) return to_error(it->status(), "read the delivery index");
  return static_cast<uint64_t>(std::max<int64_t>(total, 0));
}

/// Newest first: by creation time, then id, both descending.
bool newer(const delivery& a, const delivery& b) {
  return a.created != b.created ? a.created > b.created : a.id > b.id;
}

/// Whether `which` selects `d` by its kind, status and creation time.
bool selects(const delivery_selection& which, const delivery& d) {
  return which.has(d.kind) && which.has(d.status) && d.created >= which.from
         && d.created < which.to;
}

/// Records newest first, one at a time, for the merge with the log read backwards.
class record_source {
public:
  virtual ~record_source() = default;

  /// The newest record not taken yet, or null when there is none created at `floor` or after
  /// (a source that skips records may stop there: the merge asks again with a lower floor
  /// before it needs older ones); an error when a read fails.
  virtual caf::expected<const delivery*> peek(timestamp_ms floor) = 0;

  /// Takes the record `peek` answered.
  virtual void pop() = 0;
};

/// The records of the places `which` selects, newest first: `record_times` read backwards, one
/// iterator per kind, merged; each entry of a place selected leads to its record (an entry whose
/// record is gone, such as one of a history day retention let go, is passed over). The entries of
/// the places not selected are passed over by their value, without reading their records.
class newest_records : public record_source {
public:
  newest_records(const detail::store_state& s, const delivery_selection& which)
      : s_(s), which_(which) {
    for (auto kind : {action_kind::task, action_kind::mail}) {
      if (!which.has(kind)) continue;
      auto& k = kinds_[index_of(kind)];
      // Created in [from, to): the keys from `from`'s time to `to`'s (exclusive), in the kind.
      k.lower = keys::record_time_key(kind, which.from, std::string{});
      k.upper = which.to == std::numeric_limits<timestamp_ms>::max()
                  ? keys::next_kind_prefix(kind)
                  : keys::record_time_key(kind, which.to, std::string{});
      k.lower_bound = k.lower;
      k.upper_bound = k.upper;
      rocksdb::ReadOptions options;
      options.fill_cache = false;
      options.iterate_lower_bound = &k.lower_bound;
      options.iterate_upper_bound = &k.upper_bound;
      k.it.reset(s.db->NewIterator(options, s.record_times));
      k.it->SeekToLast();
      k.loaded = false;
    }
  }

  caf::expected<const delivery*> peek(timestamp_ms floor) override {
    best_ = nullptr;
    for (auto& k : kinds_) {
      if (!k.it) continue;
      if (auto err = load(k, floor)) return err;
      if (k.current && (best_ == nullptr || newer(*k.current, *best_->current))) best_ = &k;
    }
    return best_ ? &*best_->current : nullptr;
  }

  void pop() override {
    if (best_ == nullptr) return;
    best_->current = caf::none;
    best_->loaded = false;
    best_->it->Prev();
    best_ = nullptr;
  }

private:
  struct per_kind {
    std::string lower, upper;
    rocksdb::Slice lower_bound, upper_bound;
    std::unique_ptr<rocksdb::Iterator> it;
    caf::optional<delivery> current;
    bool loaded = false;
  };

  action_kind index_kind(const per_kind& k) const {
    return &k == &kinds_[index_of(action_kind::task)] ? action_kind::task : action_kind::mail;
  }

  bool wanted(record_place place) const {
    switch (place) {
      case record_place::waiting:
        return which_.waiting();
      case record_place::dead:
        return which_.has(delivery_status::dead);
      case record_place::finished:
        return which_.has(delivery_status::delivered);
      default:
        return false; // purged: listed nowhere
    }
  }

  /// Reads the record of the kind's current entry, passing over entries whose record is gone or
  /// whose place or status is not selected, down to the entries created at `floor` (the older
  /// ones are left for a later call: a walk that skips many entries reads no further than the
  /// log has come).
  caf::error load(per_kind& k, timestamp_ms floor) {
    auto floor_key = keys::record_time_key(index_kind(k), floor, std::string{});
    for (; !k.loaded; k.it->Prev()) {
      if (!k.it->Valid()) {
        if (!k.it->status().ok()) return to_error(k.it->status(), "read record times");
        k.loaded = true;
        return caf::none;
      }
      auto key = k.it->key();
      if (key.compare(floor_key) < 0) return caf::none; // older than asked for, for now
      auto value = k.it->value();
      record_slot slot;
      if (key.size() < 10 || !parse_record_value(value.data(), value.size(), slot))
        return codec::corrupt_value(keys::record_times_family, key.data(), key.size(),
                                    "malformed entry");
      if (!wanted(slot.place)) continue;
      std::string id{key.data() + 9, key.size() - 9};
      std::string record_key;
      rocksdb::ColumnFamilyHandle* family = nullptr;
      const char* name = nullptr;
      switch (slot.place) {
        case record_place::waiting:
          family = s_.exceptions, name = keys::exceptions_family;
          record_key = keys::exception_key(slot.kind, slot.shard, slot.field, id);
          break;
        case record_place::dead:
          family = s_.dead_letters, name = keys::dead_letters_family;
          record_key = id;
          break;
        default:
          family = s_.history, name = keys::history_family;
          record_key = keys::history_key(static_cast<uint32_t>(slot.field), id);
          break;
      }
      std::string record;
      auto status = s_.db->Get(rocksdb::ReadOptions{}, family, record_key, &record);
      if (status.IsNotFound()) continue;
      if (!status.ok()) return to_error(status, std::string{"read "} + name);
      delivery x;
      if (auto err = codec::decode(name, record_key.data(), record_key.size(), record.data(),
                                   record.size(), x))
        return err;
      if (!which_.has(x.status)) continue; // a waiting record of a status not selected
      k.current = std::move(x);
      k.loaded = true;
      return caf::none;
    }
    return caf::none;
  }

  const detail::store_state& s_;
  const delivery_selection& which_;
  std::array<per_kind, 2> kinds_;
  per_kind* best_ = nullptr;
};

/// The waiting records `which` selects, newest first: the exception records are read once (one
/// consistent iterator), counting those selected and keeping the newest `depth` of them.
class waiting_records : public record_source {
public:
  waiting_records(const detail::store_state& s, const delivery_selection& which, size_t depth)
      : s_(s), which_(which), depth_(depth) {
    // nop
  }

  caf::expected<const delivery*> peek(timestamp_ms) override {
    if (!read_) {
      read_ = true;
      auto keep = [&](const delivery& d) {
        if (!selects(which_, d)) return true;
        ++matched_;
        if (depth_ == 0) return true;
        if (kept_.size() == depth_ && !newer(d, kept_.front())) return true;
        kept_.push_back(d);
        std::push_heap(kept_.begin(), kept_.end(), newer); // the oldest kept on top
        if (kept_.size() > depth_) {
          std::pop_heap(kept_.begin(), kept_.end(), newer);
          kept_.pop_back();
        }
        return true;
      };
      if (auto err = visit_family(s_, s_.exceptions, keys::exceptions_family, false, keep))
        return err;
      std::sort(kept_.begin(), kept_.end(), newer);
    }
    return next_ < kept_.size() ? &kept_[next_] : nullptr;
  }

  void pop() override { ++next_; }

  /// How many waiting records the selection holds (all of them, not only those kept).
  uint64_t matched() const { return matched_; }

private:
  const detail::store_state& s_;
  const delivery_selection& which_;
  size_t depth_;
  bool read_ = false;
  delivery_list kept_;
  size_t next_ = 0;
  uint64_t matched_ = 0;
};

/// The dead letters `which` selects, newest first by id (their keys read backwards).
class dead_records : public record_source {
public:
  dead_records(const detail::store_state& s, const delivery_selection& which) : which_(which) {
    rocksdb::ReadOptions options;
    options.fill_cache = false;
    it_.reset(s.db->NewIterator(options, s.dead_letters));
    it_->SeekToLast();
  }

  caf::expected<const delivery*> peek(timestamp_ms) override {
    for (; !current_ && it_->Valid(); it_->Prev()) {
      auto key = it_->key();
      auto value = it_->value();
      delivery x;
      if (auto err = codec::decode(keys::dead_letters_family, key.data(), key.size(), value.data(),
                                   value.size(), x))
        return err;
      if (selects(which_, x)) {
        current_ = std::move(x);
        break;
      }
    }
    if (!current_ && !it_->status().ok()) return to_error(it_->status(), "read dead letters");
    return current_ ? &*current_ : nullptr;
  }

  void pop() override {
    if (!current_) return;
    current_ = caf::none;
    it_->Prev();
  }

private:
  const delivery_selection& which_;
  std::unique_ptr<rocksdb::Iterator> it_;
  caf::optional<delivery> current_;
};

/// Where the log derives pending deliveries of the kinds `which` selects: the shards whose log
/// goes past an emitter's cursor, and the smallest of those cursors (before it, a shard's log
/// derives only delivered deliveries).
struct pending_tail {
  std::vector<uint32_t> shards;
  uint64_t after = std::numeric_limits<uint64_t>::max();
};

caf::expected<pending_tail> pending_tail_of(const store& db, const delivery_selection& which) {
  pending_tail tail;
  for (uint32_t shard = 0; shard < db.shards(); ++shard) {
    auto last = db.last_log_sequence(shard);
    auto least = std::numeric_limits<uint64_t>::max();
    for (auto kind : {action_kind::task, action_kind::mail}) {
      if (!which.has(kind)) continue;
      auto p = db.read_progress(kind, shard);
      if (!p) return p.error();
      least = std::min(least, p->cursor);
    }
    if (least >= last) continue; // every emitter passed its whole log
    tail.shards.push_back(shard);
    tail.after = std::min(tail.after, least);
  }
  return tail;
}

/// `for_each_delivery_newest`, also saying how many waiting records it found selected when it
/// read them by themselves (`waiting_matched`; then it visits only the newest `depth` of them).
caf::error walk_newest(const store& db, const detail::store_state& s,
                       const delivery_selection& which,
                       const std::function<bool(const delivery&)>& visit, size_t depth,
                       uint64_t* waiting_matched) {
  if (which.empty()) return caf::none;
  auto delivered = which.has(delivery_status::delivered);
  auto dead = which.has(delivery_status::dead);
  // Where the records come from: with `delivered` (or dead and waiting together), the record
  // times, since finished records are listed nowhere else by time; otherwise the waiting records
  // and the dead letters by themselves, which no walk through history can be as quick as.
  std::vector<std::unique_ptr<record_source>> sources;
  waiting_records* waiting = nullptr;
  if (delivered || (dead && which.waiting())) {
    sources.push_back(std::make_unique<newest_records>(s, which));
  } else {
    if (which.waiting()) {
      auto made = std::make_unique<waiting_records>(s, which, depth);
      waiting = made.get();
      sources.push_back(std::move(made));
    }
    if (dead) sources.push_back(std::make_unique<dead_records>(s, which));
  }
  caf::error failed;
  // The records newer than `d` (every one left, without `d`) go first.
  auto records_before = [&](const delivery* d) {
    for (;;) {
      record_source* best = nullptr;
      const delivery* next = nullptr;
      auto floor = d != nullptr ? d->created : std::numeric_limits<timestamp_ms>::min();
      for (auto& source : sources) {
        auto peeked = source->peek(floor);
        if (!peeked) {
          failed = std::move(peeked.error());
          return false;
        }
        if (*peeked != nullptr && (next == nullptr || newer(**peeked, *next))) {
          best = source.get();
          next = *peeked;
        }
      }
      if (next == nullptr || (d != nullptr && !newer(*next, *d))) return true;
      if (!visit(*next)) return false;
      best->pop();
    }
  };
  auto finish = [&](bool go_on) {
    if (go_on && !failed) records_before(nullptr);
    if (waiting_matched != nullptr && waiting != nullptr && !failed) {
      auto read = waiting->peek(0); // reads them if the walk stopped before
      if (!read) return std::move(read.error());
      *waiting_matched = waiting->matched();
    }
    return std::move(failed);
  };
  if (!delivered && !which.has(delivery_status::pending)) return finish(true);
  // A derived delivery is created when its event was accepted: the log positions of [from, to);
  // without `delivered`, only those past the smallest cursor.
  auto sequence_at = [](timestamp_ms t) {
    constexpr auto most = std::numeric_limits<uint64_t>::max();
    return t > 0 && static_cast<uint64_t>(t) > most / 1000 ? most : first_sequence_at(t);
  };
  archive_range range;
  range.lower = sequence_at(which.from);
  if (which.to != std::numeric_limits<timestamp_ms>::max()) range.upper = sequence_at(which.to);
  if (!delivered) {
    auto tail = pending_tail_of(db, which);
    if (!tail) return tail.error();
    if (tail->shards.empty()) return finish(true);
    range.shards = std::move(tail->shards);
    range.lower = std::max(range.lower, tail->after + 1);
  }
  std::vector<caf::optional<shard_view>> views(s.opts.shards);
  bool go_on = true;
  auto err = db.for_each_archived(range, [&](const archived_event& entry) {
    auto& view = views[entry.shard];
    if (!view) {
      auto loaded = view_of(db, entry.shard);
      if (!loaded) {
        failed = std::move(loaded.error());
        return go_on = false;
      }
      view = std::move(*loaded);
    }
    delivery_list derived;
    view->derive(entry.shard, entry.sequence, entry.event, derived);
    for (auto& d : derived) settle(d, entry.sequence, *view);
    derived.erase(std::remove_if(derived.begin(), derived.end(),
                                 [&](const delivery& d) { return !selects(which, d); }),
                  derived.end());
    if (derived.empty()) return true;
    std::vector<std::string> ids;
    for (auto& d : derived) ids.push_back(d.id);
    auto recorded = db.has_record(ids);
    if (!recorded) {
      failed = std::move(recorded.error());
      return go_on = false;
    }
    std::vector<size_t> order;
    for (size_t i = 0; i < derived.size(); ++i)
      if (!(*recorded)[i]) order.push_back(i); // one with a record is listed from it
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return derived[a].id > derived[b].id; });
    for (auto i : order)
      if (!records_before(&derived[i]) || !visit(derived[i])) return go_on = false;
    return true;
  });
  if (err) return err;
  return finish(go_on);
}

} // namespace

caf::error store::for_each_delivery_newest(const delivery_selection& which,
                                           const std::function<bool(const delivery&)>& visit,
                                           size_t depth) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  return walk_newest(*this, *impl_, which, visit, depth, nullptr);
}

caf::expected<uint64_t> store::delivery_count(const delivery_selection& which) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  auto& s = *impl_;
  if (which.empty()) return uint64_t{0};
  if (which.bounded()) {
    // A time range is read (both walks are bounded by it); the waiting records, when read by
    // themselves, are counted without being kept.
    uint64_t total = 0;
    uint64_t waiting = 0;
    auto err = walk_newest(
      *this, s, which,
      [&](const delivery&) {
        ++total;
        return true;
      },
      0, &waiting);
    if (err) return err;
    return total + waiting;
  }
  auto delivered = which.has(delivery_status::delivered);
  auto pending = which.has(delivery_status::pending);
  std::vector<action_kind> kinds;
  for (auto kind : {action_kind::task, action_kind::mail})
    if (which.has(kind)) kinds.push_back(kind);
  uint64_t total = 0;
  detail::held_snapshot held{*s.db};
  auto* snapshot = held.get();
  {
    std::lock_guard<std::mutex> guard{s.delivery_mutex};
    for (auto kind : kinds) {
      if (which.all_waiting()) total += s.waiting_counts[index_of(kind)].load();
      if (which.has(delivery_status::dead)) total += s.dead_counts[index_of(kind)].load();
      if (!delivered) continue;
      auto k = static_cast<uint8_t>(kind);
      for (auto at = s.finished_counts.lower_bound({k, 0});
           at != s.finished_counts.end() && at->first.first == k; ++at)
        total += at->second;
    }
  }
  if (which.waiting() && !which.all_waiting()) {
    // Some waiting statuses, not all: the waiting records are read (the counts are per kind).
    auto err = visit_family(s, s.exceptions, keys::exceptions_family, false,
                            [&](const delivery& d) {
                              total += selects(which, d) ? 1 : 0;
                              return true;
                            });
    if (err) return err;
  }
  if (!delivered && !pending) return total;
  for (uint32_t shard = 0; shard < s.opts.shards; ++shard) {
    auto first = first_logged(s, shard, snapshot);
    if (!first) return first.error();
    if (!*first) continue; // nothing logged: nothing derived
    auto view = view_of(*this, shard);
    if (!view) return view.error();
    std::array<uint64_t, 2> cursors{};
    auto tail_from = std::numeric_limits<uint64_t>::max();
    for (auto kind : kinds) {
      auto p = read_progress_in(s, kind, shard, snapshot);
      if (!p) return p.error();
      cursors[index_of(kind)] = p->cursor;
      tail_from = std::min(tail_from, p->cursor);
      if (!delivered) continue;
      // Delivered without a record up to the cursor: the days the log still holds.
      auto first_day = day_of(accepted_at(**first));
      for (auto at = p->days.lower_bound(first_day); at != p->days.end(); ++at) total += at->second;
      // What an upgraded directory's emitter passed before it counted per day is read.
      auto from = s.counted_from[index_of(kind) * s.opts.shards + shard];
      if (from > 0 && **first <= from) {
        auto read = count_unrecorded(*this, shard, kind, *view, **first - 1,
                                     std::min(from, p->cursor));
        if (!read) return read.error();
        total += *read;
      }
    }
    if (!pending) continue;
    // Past the cursors (pending): what their log holds (counted, not derived), less the
    // deliveries there that have a record of their own (the index keys from there on).
    auto tail = count_past(s, *this, shard, kinds, cursors, *view, tail_from);
    if (!tail) return tail.error();
    total += *tail;
  }
  return total;
}

} // namespace dispatch
