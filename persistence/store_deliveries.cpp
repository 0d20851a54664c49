// The RocksDB store, delivery side: exception records (kind · shard · due · id), the index of
// every delivery that has a record, dead letters, history, and the deliveries derived from the
// log for listings and lookups by id. A happy delivery has no record: it is derived again from its
// log entry and the dispatchers in force at its sequence, its status from its emitter's cursor.
#include <signal.h>

#include <filesystem>
#include <unordered_map>
#include <unordered_set>

#include <algorithm>

#include <rocksdb/db.h>

#include "messages/derive.hpp"
#include "messages/error_code.hpp"
#include "messages/ids.hpp"
#include "persistence/codec.hpp"
#include "persistence/keys.hpp"
#include "persistence/store.hpp"
#include "persistence/store_impl.hpp"

namespace dispatch {

std::string record_value(record_place place, action_kind kind, uint32_t shard, int64_t field) {
  std::string value;
  value.reserve(12);
  value.push_back(static_cast<char>(place));
  value.push_back(static_cast<char>(kind));
  keys::append_u16(value, static_cast<uint16_t>(shard));
  if (place == record_place::waiting) {
    keys::append_u64(value, keys::due_field(field));
  } else {
    keys::append_u32(value, 0);
    keys::append_u32(value, static_cast<uint32_t>(field)); // the day, where the filter reads it
  }
  return value;
}

bool parse_record_value(const char* data, size_t size, record_slot& out) {
  if (size != 12 || static_cast<uint8_t>(data[0]) > static_cast<uint8_t>(record_place::purged)
      || static_cast<uint8_t>(data[1]) > static_cast<uint8_t>(action_kind::mail))
    return false;
  out.place = static_cast<record_place>(data[0]);
  out.kind = static_cast<action_kind>(data[1]);
  out.shard = keys::read_u16(data + 2);
  out.field = out.place == record_place::waiting ? keys::due_from_field(keys::read_u64(data + 4))
                                                 : keys::read_u32(data + 8);
  return true;
}

namespace {

using optional_record = caf::optional<record_slot>;

caf::expected<optional_record> read_record(const detail::store_state& s, const std::string& id) {
  std::string value;
  auto status = s.db->Get(rocksdb::ReadOptions{}, s.delivery_index, id, &value);
  if (status.IsNotFound()) return optional_record{};
  if (!status.ok()) return to_error(status, "read the delivery index");
  record_slot slot;
  if (!parse_record_value(value.data(), value.size(), slot))
    return codec::corrupt_value(keys::delivery_index_family, id.data(), id.size(),
                                "malformed slot");
  return optional_record{slot};
}

// Reads and decodes one value; none when absent.
caf::expected<caf::optional<delivery>> read_delivery(const detail::store_state& s,
                                                     rocksdb::ColumnFamilyHandle* family,
                                                     const char* family_name,
                                                     const std::string& key) {
  std::string value;
  auto status = s.db->Get(rocksdb::ReadOptions{}, family, key, &value);
  if (status.IsNotFound()) return caf::optional<delivery>{};
  if (!status.ok()) return to_error(status, std::string{"read "} + family_name);
  delivery x;
  if (auto err = codec::decode(family_name, key.data(), key.size(), value.data(), value.size(), x))
    return err;
  return caf::optional<delivery>{std::move(x)};
}

// Adds where a delivery's record is to `batch`: its index entry, and its entry by creation time.
void put_slot(detail::store_state& s, rocksdb::WriteBatch& batch, const delivery& d,
              const std::string& slot) {
  batch.Put(s.delivery_index, d.id, slot);
  batch.Put(s.record_times, keys::record_time_key(d.kind, d.created, d.id), slot);
}

// Adds the exception record and the index entry of a waiting delivery to `batch`.
caf::error put_waiting(detail::store_state& s, rocksdb::WriteBatch& batch, const delivery& d,
                       uint32_t shard) {
  std::string value;
  if (auto err = codec::encode(value, d)) return err;
  batch.Put(s.exceptions, keys::exception_key(d.kind, shard, d.next_attempt, d.id), value);
  put_slot(s, batch, d, record_value(record_place::waiting, d.kind, shard, d.next_attempt));
  return caf::none;
}

bool is_finished(const delivery& d) {
  return d.status == delivery_status::delivered || d.status == delivery_status::dead;
}

// Stages one outcome: a recorded delivery leaves its old key; a finished one goes to history (a
// dead one also to the dead letters) and its index entry says where; one still waiting is written
// under its due time.
caf::error stage_outcome(detail::store_state& s, rocksdb::WriteBatch& batch, uint32_t shard,
                         const delivery_outcome& o) {
  auto& d = o.value;
  if (o.recorded)
    batch.Delete(s.exceptions, keys::exception_key(d.kind, shard, o.previous_due, d.id));
  if (!is_finished(d)) return put_waiting(s, batch, d, shard);
  std::string value;
  if (auto err = codec::encode(value, d)) return err;
  auto day = day_of(d.finished);
  batch.Put(s.history, keys::history_key(day, d.id), value);
  auto dead = d.status == delivery_status::dead;
  if (dead) batch.Put(s.dead_letters, d.id, value);
  put_slot(s, batch, d,
           record_value(dead ? record_place::dead : record_place::finished, d.kind, shard, day));
  return caf::none;
}

// How many of the dead outcomes are new dead letters, per kind (an id already there is replaced,
// not added: the count stays exact whatever an emitter writes twice). The caller holds
// `delivery_mutex` until its batch is written.
caf::expected<std::array<uint64_t, 2>>
new_dead_letters(const detail::store_state& s, const std::vector<delivery_outcome>& outcomes) {
  std::unordered_map<std::string, action_kind> dead;
  for (auto& o : outcomes)
    if (o.value.status == delivery_status::dead) dead.emplace(o.value.id, o.value.kind);
  std::array<uint64_t, 2> added{};
  if (dead.empty()) return added;
  std::vector<rocksdb::Slice> keys;
  std::vector<action_kind> kinds;
  for (auto& [id, kind] : dead) {
    keys.emplace_back(id);
    kinds.push_back(kind);
  }
  std::vector<bool> known(keys.size(), false);
  auto err = multi_get(s, s.dead_letters, keys, "read dead letters", [&](size_t i, auto) {
    known[i] = true;
    return caf::error{};
  });
  if (err) return err;
  for (size_t i = 0; i < keys.size(); ++i)
    if (!known[i]) ++added[index_of(kinds[i])];
  return added;
}

// The index entries the outcomes replace (none for a derived delivery's first record), so that
// the count of deliveries finished after a record moves with them. Under `delivery_mutex`.
caf::expected<std::vector<caf::optional<record_slot>>>
previous_slots(const detail::store_state& s, const std::vector<delivery_outcome>& outcomes) {
  std::vector<caf::optional<record_slot>> result(outcomes.size());
  if (outcomes.empty()) return result;
  std::vector<rocksdb::Slice> keys;
  keys.reserve(outcomes.size());
  for (auto& o : outcomes) keys.emplace_back(o.value.id);
  auto err = multi_get(s, s.delivery_index, keys, "read the delivery index",
                       [&](size_t i, const rocksdb::Slice& value) {
                         record_slot slot;
                         if (parse_record_value(value.data(), value.size(), slot)) result[i] = slot;
                         return caf::error{};
                       });
  if (err) return err;
  return result;
}

// One less delivery finished after a record on `day` (it left history, or finished again).
void uncount_finished(detail::store_state& s, action_kind kind, int64_t day) {
  auto at = s.finished_counts.find({static_cast<uint8_t>(kind), static_cast<uint32_t>(day)});
  if (at == s.finished_counts.end()) return;
  if (--at->second == 0) s.finished_counts.erase(at);
}

} // namespace

caf::error store::write_outcomes(action_kind kind, uint32_t shard,
                                 const std::vector<delivery_outcome>& outcomes,
                                 const progress* advance) {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  if (outcomes.empty() && advance == nullptr) return caf::none;
  auto& s = *impl_;
  std::lock_guard<std::mutex> guard{s.delivery_mutex};
  auto added_dead = new_dead_letters(s, outcomes);
  if (!added_dead) return added_dead.error();
  auto previous = previous_slots(s, outcomes);
  if (!previous) return previous.error();
  rocksdb::WriteBatch batch;
  for (auto& o : outcomes)
    if (auto err = stage_outcome(s, batch, shard, o)) return err;
  if (advance != nullptr) stage_progress(s, batch, kind, shard, *advance);
  std::error_code ec;
  if (!s.fail_outcomes_while.empty() && std::filesystem::exists(s.fail_outcomes_while, ec))
    return make_error(error_code::server, "store: write " + std::to_string(outcomes.size())
                                            + " delivery outcomes: IO error (injected)");
  auto kill_here = !outcomes.empty() && s.kill_countdown.load() > 0 && --s.kill_countdown == 0;
  if (kill_here && !s.kill_after_write) ::raise(SIGKILL);
  if (auto err = s.write(batch, false,
                         "write " + std::to_string(outcomes.size()) + " delivery outcomes"))
    return err;
  if (kill_here) ::raise(SIGKILL);
  for (size_t k = 0; k < added_dead->size(); ++k) s.dead_counts[k] += (*added_dead)[k];
  // Finished after a record: counted under the day it finished (once, however often written).
  std::unordered_map<std::string, int64_t> finished_on; // met in this batch: its day, or -1
  for (size_t i = 0; i < outcomes.size(); ++i) {
    auto& d = outcomes[i].value;
    auto& before = (*previous)[i];
    auto [at, first] = finished_on.try_emplace(d.id, -1);
    if (!first && at->second >= 0)
      uncount_finished(s, d.kind, at->second);
    else if (first && before && before->place == record_place::finished)
      uncount_finished(s, before->kind, before->field);
    at->second = -1;
    if (d.status != delivery_status::delivered) continue;
    auto day = day_of(d.finished);
    ++s.finished_counts[{static_cast<uint8_t>(d.kind), day}];
    at->second = day;
  }
  for (auto& o : outcomes) {
    auto& count = s.waiting_counts[index_of(o.value.kind)];
    if (o.recorded && is_finished(o.value))
      --count;
    else if (!o.recorded && !is_finished(o.value))
      ++count;
  }
  return caf::none;
}

namespace {

// Visits the exception records of (`kind`, `shard`) in due-time order, decoded, except those
// whose id `skip` names; `next` answers whether to go on.
template <class Skip, class Next>
caf::error visit_exceptions(const detail::store_state& s, action_kind kind, uint32_t shard,
                            Skip&& skip, Next&& next) {
  detail::range_iterator it{*s.db, s.exceptions, keys::exception_prefix(kind, shard),
                            keys::exception_prefix(kind, shard + 1)};
  std::string id;
  for (it.seek_first(); it->Valid(); it->Next()) {
    auto key = it->key();
    action_kind key_kind;
    uint32_t key_shard = 0;
    timestamp_ms due = 0;
    if (!keys::parse_exception_key(key.data(), key.size(), key_kind, key_shard, due, id))
      return codec::corrupt_value(keys::exceptions_family, key.data(), key.size(), "malformed key");
    if (skip(id)) continue;
    delivery x;
    auto value = it->value();
    if (auto err = codec::decode(keys::exceptions_family, key.data(), key.size(), value.data(),
                                 value.size(), x))
      return err;
    if (!next(x)) return caf::none;
  }
  if (!it->status().ok())
    return to_error(it->status(), std::string{"scan "} + to_string(kind) + " records");
  return caf::none;
}

} // namespace

caf::expected<delivery_list>
store::scan_due(action_kind kind, uint32_t shard, size_t limit,
                const std::function<bool(const std::string&)>& skip) const {
  delivery_list result;
  if (limit == 0) return result;
  auto skipped = [&skip](const std::string& id) { return skip && skip(id); };
  auto err = visit_exceptions(*impl_, kind, shard, skipped, [&](delivery& x) {
    result.push_back(std::move(x));
    return result.size() < limit;
  });
  if (err) return err;
  return result;
}

caf::expected<std::vector<recorded_key>> store::recorded_keys(action_kind kind,
                                                              uint32_t shard) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  std::vector<recorded_key> result;
  auto none = [](const std::string&) { return false; };
  auto err = visit_exceptions(*impl_, kind, shard, none, [&](delivery& x) {
    if (x.ordering_key)
      result.push_back(recorded_key{std::move(x.id), *x.ordering_key, x.created, x.status});
    return true;
  });
  if (err) return err;
  return result;
}

caf::expected<std::vector<bool>> store::has_record(const std::vector<std::string>& ids) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  auto& s = *impl_;
  std::vector<bool> result(ids.size(), false);
  if (ids.empty()) return result;
  std::vector<rocksdb::Slice> keys(ids.begin(), ids.end());
  auto err = multi_get(s, s.delivery_index, keys, "read the delivery index", [&](size_t i, auto) {
    result[i] = true;
    return caf::error{};
  });
  if (err) return err;
  return result;
}

caf::expected<caf::optional<record_slot>> store::find_record(const std::string& id) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  return read_record(*impl_, id);
}

caf::expected<caf::optional<delivery>> store::get_waiting(const std::string& id) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  auto slot = read_record(*impl_, id);
  if (!slot) return slot.error();
  if (!*slot || (*slot)->place != record_place::waiting) return caf::optional<delivery>{};
  auto& r = **slot;
  return read_delivery(*impl_, impl_->exceptions, keys::exceptions_family,
                       keys::exception_key(r.kind, r.shard, r.field, id));
}

caf::expected<caf::optional<delivery>> store::get_dead_letter(const std::string& id) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  return read_delivery(*impl_, impl_->dead_letters, keys::dead_letters_family, id);
}

caf::error store::revive(const delivery& revived, uint32_t shard) {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  auto& s = *impl_;
  std::lock_guard<std::mutex> guard{s.delivery_mutex};
  auto dead = read_delivery(s, s.dead_letters, keys::dead_letters_family, revived.id);
  if (!dead) return dead.error();
  auto slot = read_record(s, revived.id);
  if (!slot) return slot.error();
  rocksdb::WriteBatch batch;
  batch.Delete(s.dead_letters, revived.id);
  // Its dead outcome leaves history too: it is waiting again, listed once in its new state.
  if (*dead) batch.Delete(s.history, keys::history_key(day_of((*dead)->finished), revived.id));
  auto was_waiting = *slot && (*slot)->place == record_place::waiting;
  if (was_waiting) {
    auto key = keys::exception_key((*slot)->kind, (*slot)->shard, (*slot)->field, revived.id);
    auto waiting = read_delivery(s, s.exceptions, keys::exceptions_family, key);
    if (!waiting) return waiting.error();
    batch.Delete(s.exceptions, key);
    if (*waiting)
      batch.Delete(s.record_times,
                   keys::record_time_key((*waiting)->kind, (*waiting)->created, revived.id));
  }
  // Revived, it is created anew: listed newest first under its new creation time.
  if (*dead)
    batch.Delete(s.record_times,
                 keys::record_time_key((*dead)->kind, (*dead)->created, revived.id));
  if (auto err = put_waiting(s, batch, revived, shard)) return err;
  if (auto err = s.write(batch, false, "revive delivery " + revived.id)) return err;
  if (was_waiting) --s.waiting_counts[index_of((*slot)->kind)];
  ++s.waiting_counts[index_of(revived.kind)];
  if (*slot && (*slot)->place == record_place::finished)
    uncount_finished(s, (*slot)->kind, (*slot)->field);
  if (*dead) {
    --s.dead_counts[index_of((*dead)->kind)];
  }
  return caf::none;
}

namespace {

// The history entries (key, value) of `id` on every day that history holds, oldest day first
// (one MultiGet over the day range).
caf::expected<std::vector<std::pair<std::string, std::string>>>
history_of(const detail::store_state& s, const std::string& id) {
  std::vector<std::pair<std::string, std::string>> found;
  std::unique_ptr<rocksdb::Iterator> it{s.db->NewIterator(rocksdb::ReadOptions{}, s.history)};
  it->SeekToFirst();
  if (!it->status().ok()) return to_error(it->status(), "read history");
  if (!it->Valid() || it->key().size() < 4) return found;
  auto first = keys::read_u32(it->key().data());
  it->SeekToLast();
  if (!it->Valid() || it->key().size() < 4) return found;
  auto last = keys::read_u32(it->key().data());
  std::vector<std::string> candidates;
  for (auto day = first; day <= last && day >= first; ++day)
    candidates.push_back(keys::history_key(day, id));
  std::vector<rocksdb::Slice> slices(candidates.begin(), candidates.end());
  auto err = multi_get(s, s.history, slices, "look up history",
                       [&](size_t i, const rocksdb::Slice& value) {
                         found.emplace_back(candidates[i], value.ToString());
                         return caf::error{};
                       });
  if (err) return err;
  return found;
}

} // namespace

caf::expected<store::purged> store::purge(const std::string& id, const progress* counted) {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  auto& s = *impl_;
  std::lock_guard<std::mutex> guard{s.delivery_mutex};
  auto slot = read_record(s, id);
  if (!slot) return slot.error();
  if (*slot && (*slot)->place == record_place::purged) return purged::nothing;
  auto dead = read_delivery(s, s.dead_letters, keys::dead_letters_family, id);
  if (!dead) return dead.error();
  auto history = history_of(s, id);
  if (!history) return history.error();
  rocksdb::WriteBatch batch;
  // Each record goes, and its entry by creation time with it.
  auto forget = [&](rocksdb::ColumnFamilyHandle* family, const char* name, const std::string& key,
                    const std::string& value) -> caf::error {
    batch.Delete(family, key);
    delivery x;
    if (auto err = codec::decode(name, key.data(), key.size(), value.data(), value.size(), x))
      return err;
    batch.Delete(s.record_times, keys::record_time_key(x.kind, x.created, id));
    return caf::none;
  };
  auto was_waiting = *slot && (*slot)->place == record_place::waiting;
  if (was_waiting) {
    auto key = keys::exception_key((*slot)->kind, (*slot)->shard, (*slot)->field, id);
    std::string value;
    auto status = s.db->Get(rocksdb::ReadOptions{}, s.exceptions, key, &value);
    if (status.ok()) {
      if (auto err = forget(s.exceptions, keys::exceptions_family, key, value)) return err;
    } else if (!status.IsNotFound()) {
      return to_error(status, "read " + std::string{keys::exceptions_family});
    }
  }
  if (*dead) {
    batch.Delete(s.dead_letters, id);
    batch.Delete(s.record_times, keys::record_time_key((*dead)->kind, (*dead)->created, id));
  }
  for (auto& [key, value] : *history)
    if (auto err = forget(s.history, keys::history_family, key, value)) return err;
  auto existed = batch.Count() > 0;
  // A derived delivery has no record to delete: the index marks it purged, so that neither a
  // listing nor an emitter catching up shows or sends it again.
  caf::optional<action_kind> kind;
  uint32_t shard = 0;
  if (*slot) {
    kind = (*slot)->kind;
    shard = (*slot)->shard;
  } else if (!existed) {
    auto derived = find_derived(id);
    if (!derived) return derived.error();
    if (*derived) {
      kind = (*derived)->kind;
      delivery_position pos;
      position_of(id, pos);
      shard = pos.shard;
      existed = true;
      if (counted != nullptr) stage_progress(s, batch, *kind, shard, *counted);
    }
  }
  if (!existed) return purged::nothing;
  if (kind)
    batch.Put(s.delivery_index, id,
              record_value(record_place::purged, *kind, shard, day_of(now_ms())));
  else
    batch.Delete(s.delivery_index, id);
  if (auto err = s.write(batch, false, "purge delivery " + id)) return err;
  if (*slot && (*slot)->place == record_place::finished)
    uncount_finished(s, (*slot)->kind, (*slot)->field);
  if (*dead) {
    --s.dead_counts[index_of((*dead)->kind)];
  }
  if (!was_waiting) return purged::finished;
  --s.waiting_counts[index_of((*slot)->kind)];
  return purged::waiting;
}

namespace {

/// The values a filter on `path` (`id`, `eventId`) names; `out` is left untouched when `where`
/// is another filter.
bool ids_named(const filter& where, const char* path, std::vector<std::string>& out) {
  if ((where.op != filter_op::eq && where.op != filter_op::in) || where.path != path) return false;
  std::vector<std::string> ids;
  for (auto& value : where.values) {
    if (value.kind != value_kind::string) return false;
    ids.push_back(value.text);
  }
  out = std::move(ids);
  return true;
}

} // namespace

delivery_scope scope_of(const filter& where) {
  delivery_scope nothing;
  nothing.waiting = nothing.dead = nothing.finished = false;
  switch (where.op) {
    case filter_op::eq:
    case filter_op::in: {
      delivery_scope scope;
      if (ids_named(where, "id", scope.ids)) {
        scope.by_id = true;
        return scope;
      }
      if (ids_named(where, "eventId", scope.event_ids)) {
        scope.by_event = true;
        return scope;
      }
      if (where.path != "status") return scope; // every place, no id
      scope = nothing;
      for (auto& value : where.values) {
        if (value.kind != value_kind::string) return {};
        delivery_status status;
        if (!from_string(value.text, status)) continue; // no delivery has that status
        scope.waiting |= status == delivery_status::pending || status == delivery_status::held
                         || status == delivery_status::retrying;
        scope.dead |= status == delivery_status::dead;
        scope.finished |= status == delivery_status::delivered;
      }
      return scope;
    }
    case filter_op::and_: {
      // Every child must match: each one narrows the places, and the id lists intersect.
      delivery_scope scope;
      for (auto& child : where.children) {
        auto narrow = scope_of(child);
        scope.waiting &= narrow.waiting;
        scope.dead &= narrow.dead;
        scope.finished &= narrow.finished;
        if (narrow.by_event) {
          if (!scope.by_event) {
            scope.by_event = true;
            scope.event_ids = std::move(narrow.event_ids);
          } else {
            std::vector<std::string> both;
            for (auto& id : scope.event_ids)
              if (std::find(narrow.event_ids.begin(), narrow.event_ids.end(), id)
                  != narrow.event_ids.end())
                both.push_back(id);
            scope.event_ids = std::move(both);
          }
        }
        if (!narrow.by_id) continue;
        if (!scope.by_id) {
          scope.by_id = true;
          scope.ids = std::move(narrow.ids);
          continue;
        }
        std::vector<std::string> both;
        for (auto& id : scope.ids)
          if (std::find(narrow.ids.begin(), narrow.ids.end(), id) != narrow.ids.end())
            both.push_back(id);
        scope.ids = std::move(both);
      }
      return scope;
    }
    case filter_op::or_: {
      // Any child may match: the places add up, and the ids only while every child names some.
      auto scope = nothing;
      scope.by_id = !where.children.empty();
      scope.by_event = !where.children.empty();
      for (auto& child : where.children) {
        auto wide = scope_of(child);
        scope.waiting |= wide.waiting;
        scope.dead |= wide.dead;
        scope.finished |= wide.finished;
        scope.by_id = scope.by_id && wide.by_id;
        scope.by_event = scope.by_event && wide.by_event && !wide.by_id;
        scope.ids.insert(scope.ids.end(), wide.ids.begin(), wide.ids.end());
        scope.event_ids.insert(scope.event_ids.end(), wide.event_ids.begin(), wide.event_ids.end());
      }
      if (!scope.by_id) scope.ids.clear();
      if (!scope.by_event) scope.event_ids.clear();
      return scope;
    }
    default:
      return {};
  }
}

caf::error store::for_each_delivery(const std::function<bool(const delivery&)>& visit,
                                    const delivery_scope& scope) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  // Lookups by key are not scans: only a scan waits for the reads tests' fault injection.
  if (scope.by_id) return visit_by_id(visit, scope);
  if (scope.by_event) return visit_by_event(visit, scope);
  impl_->before_scan();
  auto& s = *impl_;
  bool go_on = true;
  // A waiting record can move while the walk goes on (due again later, or finished into history
  // or the dead letters): one met among the waiting is not visited again. Nothing else moves
  // where the walk has yet to go (a revived dead letter goes back to the waiting, walked
  // already), so only the waiting ids are kept, not every id met.
  std::unordered_set<std::string> met_waiting;
  auto next = [&](const delivery& x) { return met_waiting.count(x.id) > 0 || (go_on = visit(x)); };
  if (scope.waiting)
    if (auto err = visit_family(s, s.exceptions, keys::exceptions_family, false,
                                [&](const delivery& x) {
                                  return !met_waiting.insert(x.id).second || (go_on = visit(x));
                                }))
      return err;
  if (!go_on) return caf::none;
  if (scope.dead)
    if (auto err = visit_family(s, s.dead_letters, keys::dead_letters_family, false, next))
      return err;
  if (!go_on) return caf::none;
  // A dead outcome in history is also a dead letter (already visited) until purged or revived,
  // which remove both: visiting it again would list it twice.
  if (scope.finished)
    if (auto err = visit_family(s, s.history, keys::history_family, true, [&](const delivery& x) {
          return x.status == delivery_status::dead || next(x);
        }))
      return err;
  if (!go_on || !scope.derived || !(scope.finished || scope.waiting)) return caf::none;
  return visit_derived(next, scope);
}

caf::error store::visit_derived(const std::function<bool(const delivery&)>& visit,
                                const delivery_scope& scope) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  for (uint32_t shard = 0; shard < impl_->opts.shards; ++shard) {
    auto view = view_of(*this, shard);
    if (!view) return view.error();
    caf::error failed;
    bool go_on = true;
    auto err = for_each_log_page(*this, shard, 0, [&](const logged_event_list& page) {
      delivery_list derived;
      std::vector<uint64_t> sequences;
      for (auto& entry : page) {
        view->derive(shard, entry.sequence, entry.event, derived);
        sequences.resize(derived.size(), entry.sequence);
      }
      std::vector<std::string> ids;
      ids.reserve(derived.size());
      for (auto& d : derived) ids.push_back(d.id);
      auto recorded = has_record(ids);
      if (!recorded) {
        failed = std::move(recorded.error());
        return false;
      }
      for (size_t i = 0; i < derived.size(); ++i) {
        if ((*recorded)[i]) continue; // listed from its record (or purged)
        auto& d = derived[i];
        settle(d, sequences[i], *view);
        auto wanted = d.status == delivery_status::delivered ? scope.finished : scope.waiting;
        if (wanted && !visit(d)) return go_on = false;
      }
      return true;
    });
    if (err) return err;
    if (failed || !go_on) return failed;
  }
  return caf::none;
}

caf::error store::visit_by_id(const std::function<bool(const delivery&)>& visit,
                              const delivery_scope& scope) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  auto& s = *impl_;
  // Each id once, in the order named.
  std::vector<std::string> ids;
  for (auto& id : scope.ids)
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  auto wanted = [&](const delivery& d) {
    switch (d.status) {
      case delivery_status::dead:
        return scope.dead;
      case delivery_status::delivered:
        return scope.finished;
      default:
        return scope.waiting;
    }
  };
  std::unordered_map<uint32_t, shard_view> views; // read once per shard named
  for (auto& id : ids) {
    // The cursors first, the record after: an outcome writes a record and moves the cursor in
    // one batch, so a cursor past the delivery read before "no record" means it was delivered.
    delivery_position pos;
    auto derivable = position_of(id, pos) && pos.shard < s.opts.shards;
    auto view = views.end();
    if (derivable) {
      view = views.find(pos.shard);
      if (view == views.end()) {
        auto fresh = view_of(*this, pos.shard);
        if (!fresh) return fresh.error();
        view = views.emplace(pos.shard, std::move(*fresh)).first;
      }
    }
    auto slot = read_record(s, id);
    if (!slot) return slot.error();
    caf::optional<delivery> found;
    if (*slot && (*slot)->place == record_place::purged) continue;
    if (*slot && (*slot)->place == record_place::waiting) {
      auto x = get_waiting(id);
      if (!x) return x.error();
      found = std::move(*x);
    } else {
      // A dead letter, or a finished record in history (also schema 2's, which have no index
      // entry): the newest one.
      auto dead = get_dead_letter(id);
      if (!dead) return dead.error();
      found = std::move(*dead);
      if (!found) {
        auto history = history_of(s, id);
        if (!history) return history.error();
        if (!history->empty()) {
          auto& last = history->back();
          delivery x;
          if (auto err = codec::decode(keys::history_family, last.first.data(), last.first.size(),
                                       last.second.data(), last.second.size(), x))
            return err;
          found = std::move(x);
        }
      }
    }
    if (!found && !*slot && derivable) {
      auto logged = get_logged(pos.shard, pos.sequence);
      if (!logged) return logged.error();
      if (*logged) {
        delivery_list derived;
        view->second.derive(pos.shard, pos.sequence, **logged, derived);
        for (auto& d : derived)
          if (d.id == id) {
            settle(d, pos.sequence, view->second);
            found = std::move(d);
            break;
          }
      }
    }
    if (found && wanted(*found) && !visit(*found)) return caf::none;
  }
  return caf::none;
}

namespace {

/// The ids in `family` (keyed by delivery id) that start with `prefix`.
caf::error ids_with_prefix(const detail::store_state& s, rocksdb::ColumnFamilyHandle* family,
                           const std::string& prefix, std::vector<std::string>& out) {
  std::unique_ptr<rocksdb::Iterator> it{s.db->NewIterator(rocksdb::ReadOptions{}, family)};
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next())
    out.push_back(it->key().ToString());
  if (!it->status().ok()) return to_error(it->status(), "read the records of an event");
  return caf::none;
}

} // namespace

caf::error store::visit_by_event(const std::function<bool(const delivery&)>& visit,
                                 const delivery_scope& scope) const {
  auto& s = *impl_;
  // Every delivery of an event in the log carries an id that starts with its position (sequence
  // and shard): those derived from the entry, and the records of that position (the index and
  // the dead letters, which outlive it). An event not in the log (never accepted, or let go) can
  // only have records, and so can the replays of an event (a replay's ids are new): for those,
  // the records are read through. One whose publisher chose its id before `seen` kept positions
  // sends the listing through every place, as before.
  std::vector<std::string> recorded;   // ids with a record of their own, looked up by id
  delivery_list plain;                 // derived without a record: as derived and settled
  std::vector<std::string> records_of; // events whose records are read through
  std::unordered_map<uint32_t, shard_view> views; // read once per shard named
  auto replays = load_replays();
  if (!replays) return replays.error();
  auto replayed = [&](uint64_t sequence) {
    auto at = accepted_at(sequence);
    return std::any_of(replays->begin(), replays->end(), [&](const auto& r) {
      return r.first.dispatched > 0 && r.first.from <= at && at < r.first.to;
    });
  };
  for (auto& event_id : scope.event_ids) {
    auto found = find_archived(event_id);
    if (!found) return found.error();
    if (!*found) {
      records_of.push_back(event_id);
      continue;
    }
    auto& x = **found;
    if (x.sequence == 0) {
      auto everywhere = scope;
      everywhere.by_event = false;
      return for_each_delivery(visit, everywhere);
    }
    if (replayed(x.sequence)) records_of.push_back(event_id);
    auto prefix = delivery_id_at({x.sequence, x.shard, 0}).substr(0, 18);
    if (auto err = ids_with_prefix(s, s.delivery_index, prefix, recorded)) return err;
    if (auto err = ids_with_prefix(s, s.dead_letters, prefix, recorded)) return err;
    auto view = views.find(x.shard);
    if (view == views.end()) {
      auto fresh = view_of(*this, x.shard);
      if (!fresh) return fresh.error();
      view = views.emplace(x.shard, std::move(*fresh)).first;
    }
    delivery_list derived;
    view->second.derive(x.shard, x.sequence, x.event, derived);
    std::vector<std::string> ids;
    for (auto& d : derived) ids.push_back(d.id);
    auto has = has_record(ids);
    if (!has) return has.error();
    for (size_t i = 0; i < derived.size(); ++i) {
      if ((*has)[i]) continue; // listed from its record (or purged)
      settle(derived[i], x.sequence, view->second);
      plain.push_back(std::move(derived[i]));
    }
  }
  bool go_on = true;
  std::unordered_set<std::string> met;
  auto next = [&](const delivery& d) {
    if (!met.insert(d.id).second) return true;
    return go_on = visit(d);
  };
  if (!recorded.empty()) {
    auto named = scope;
    named.by_event = false;
    named.by_id = true;
    named.ids = std::move(recorded);
    if (auto err = visit_by_id(next, named)) return err;
  }
  for (auto& d : plain) {
    auto wanted = d.status == delivery_status::delivered ? scope.finished : scope.waiting;
    if (go_on && wanted) next(d);
  }
  if (!go_on || records_of.empty()) return caf::none;
  auto records = scope;
  records.by_event = false;
  records.derived = false;
  return for_each_delivery(
    [&](const delivery& d) {
      auto named = std::find(records_of.begin(), records_of.end(), d.event_id) != records_of.end();
      return !named || next(d);
    },
    records);
}

caf::error store::for_each_dead_letter(const std::string& after,
                                       const std::function<bool(const delivery&)>& visit) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  auto& s = *impl_;
  s.before_scan();
  return visit_family(s, s.dead_letters, keys::dead_letters_family, false, visit, after);
}

caf::error
store::for_each_dead_letter_newest(const std::function<bool(const delivery&)>& visit) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  auto& s = *impl_;
  return visit_family(s, s.dead_letters, keys::dead_letters_family, true, visit);
}

uint64_t store::dead_letter_count() const {
  return impl_->dead_counts[0].load() + impl_->dead_counts[1].load();
}

caf::error store::for_each_waiting(const std::function<bool(const delivery&)>& visit) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  auto& s = *impl_;
  s.before_scan();
  return visit_family(s, s.exceptions, keys::exceptions_family, false, visit);
}

caf::error store::for_each_unfinished_event(const std::function<bool(const event&)>& visit) const {
  detail::store_use use{*impl_};
  if (auto err = use.error()) return err;
  impl_->before_scan();
  for (uint32_t shard = 0; shard < impl_->opts.shards; ++shard) {
    auto task = read_progress(action_kind::task, shard);
    if (!task) return task.error();
    auto mail = read_progress(action_kind::mail, shard);
    if (!mail) return mail.error();
    auto from = std::min(task->cursor, mail->cursor);
    auto set_aside = set_aside_sequences(shard, from);
    if (!set_aside) return set_aside.error();
    bool go_on = true;
    auto err = for_each_log_page(*this, shard, from, [&](const logged_event_list& page) {
      for (auto& entry : page)
        if (!std::binary_search(set_aside->begin(), set_aside->end(), entry.sequence)
            && !visit(entry.event))
          return go_on = false;
      return true;
    });
    if (err || !go_on) return err;
  }
  return caf::none;
}

uint64_t store::waiting_size(action_kind kind) const {
  return impl_->waiting_counts[index_of(kind)].load();
}

} // namespace dispatch
