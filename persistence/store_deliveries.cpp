// The RocksDB store, delivery side: the time-keyed queues (kind · due · id), their index, dead
// letters and history. Every state change is one WriteBatch under the delivery mutex: revive and
// purge read the index first; outcomes trust the key the emitter (their single writer) holds.
#include <unordered_set>

#include <rocksdb/db.h>

#include "messages/error_code.hpp"
#include "persistence/codec.hpp"
#include "persistence/keys.hpp"
#include "persistence/store.hpp"
#include "persistence/store_impl.hpp"

namespace dispatch {

namespace {

using optional_slot = caf::optional<delivery_slot>;

caf::expected<optional_slot> read_slot(const detail::store_state& s, const std::string& id) {
  std::string value;
  auto status = s.db->Get(rocksdb::ReadOptions{}, s.delivery_index, id, &value);
  if (status.IsNotFound())
    return optional_slot{};
  if (!status.ok())
    return to_error(status, "read the delivery index");
  delivery_slot slot;
  if (!keys::parse_slot_value(value.data(), value.size(), slot.kind, slot.due))
    return codec::corrupt_value(keys::delivery_index_family, id.data(), id.size(),
                                "malformed slot");
  return optional_slot{slot};
}

// The slots of many ids with one MultiGet (one snapshot, batched lookups), in the order given.
caf::expected<std::vector<optional_slot>> read_slots(const detail::store_state& s,
                                                     const std::vector<std::string>& ids) {
  std::vector<rocksdb::Slice> keys(ids.begin(), ids.end());
  std::vector<rocksdb::PinnableSlice> values(ids.size());
  std::vector<rocksdb::Status> statuses(ids.size());
  s.db->MultiGet(rocksdb::ReadOptions{}, s.delivery_index, keys.size(), keys.data(),
                 values.data(), statuses.data());
  std::vector<optional_slot> slots(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (statuses[i].IsNotFound())
      continue;
    if (!statuses[i].ok())
      return to_error(statuses[i], "read the delivery index");
    delivery_slot slot;
    if (!keys::parse_slot_value(values[i].data(), values[i].size(), slot.kind, slot.due))
      return codec::corrupt_value(keys::delivery_index_family, ids[i].data(), ids[i].size(),
                                  "malformed slot");
    slots[i] = slot;
  }
  return slots;
}

// Reads and decodes one value; none when absent.
caf::expected<caf::optional<delivery>> read_delivery(const detail::store_state& s,
                                                     rocksdb::ColumnFamilyHandle* family,
                                                     const char* family_name,
                                                     const std::string& key) {
  std::string value;
  auto status = s.db->Get(rocksdb::ReadOptions{}, family, key, &value);
  if (status.IsNotFound())
    return caf::optional<delivery>{};
  if (!status.ok())
    return to_error(status, std::string{"read "} + family_name);
  delivery x;
  if (auto err = codec::decode(family_name, key.data(), key.size(), value.data(), value.size(), x))
    return err;
  return caf::optional<delivery>{std::move(x)};
}

// Adds the queue key and the index entry of a waiting delivery to `batch`.
caf::error put_waiting(detail::store_state& s, rocksdb::WriteBatch& batch, const delivery& d) {
  std::string value;
  if (auto err = codec::encode(value, d))
    return err;
  batch.Put(s.deliveries, keys::delivery_key(d.kind, d.next_attempt, d.id), value);
  batch.Put(s.delivery_index, d.id, keys::slot_value(d.kind, d.next_attempt));
  return caf::none;
}

// Iterates one whole family (or [lower, upper) of it), decoding deliveries.
template <class Next>
caf::error visit_family(const detail::store_state& s, rocksdb::ColumnFamilyHandle* family,
                        const char* name, bool backwards, Next&& next) {
  std::unique_ptr<rocksdb::Iterator> it{s.db->NewIterator(rocksdb::ReadOptions{}, family)};
  backwards ? it->SeekToLast() : it->SeekToFirst();
  for (; it->Valid(); backwards ? it->Prev() : it->Next()) {
    delivery x;
    auto key = it->key();
    auto value = it->value();
    if (auto err = codec::decode(name, key.data(), key.size(), value.data(), value.size(), x))
      return err;
    if (!next(x))
      return caf::none;
  }
  if (!it->status().ok())
    return to_error(it->status(), std::string{"read "} + name);
  return caf::none;
}

} // namespace

void detail::store_state::note_insert(action_kind kind, timestamp_ms due) {
  std::lock_guard<std::mutex> guard{queue_mutex};
  auto i = index_of(kind);
  ++insert_epoch[i];
  head_due[i] = std::min(head_due[i], due);
}

namespace {

// The deliveries of a match that are not waiting yet (the first of two copies in the list, none
// already in the index). Either a waiting one keeps its place and attempts.
caf::expected<std::vector<const delivery*>> not_yet_waiting(const detail::store_state& s,
                                                            const delivery_list& deliveries) {
  std::unordered_set<std::string> ids;
  std::vector<const delivery*> candidates;
  std::vector<std::string> candidate_ids;
  for (auto& d : deliveries)
    if (ids.insert(d.id).second) {
      candidates.push_back(&d);
      candidate_ids.push_back(d.id);
    }
  auto slots = read_slots(s, candidate_ids);
  if (!slots)
    return slots.error();
  std::vector<const delivery*> result;
  for (size_t i = 0; i < candidates.size(); ++i)
    if (!(*slots)[i])
      result.push_back(candidates[i]);
  return result;
}

} // namespace

caf::error store::commit_match(uint32_t shard, const std::vector<uint64_t>& sequences,
                               const delivery_list& deliveries, match_ids ids) {
  auto& s = *impl_;
  rocksdb::WriteBatch batch;
  // The matcher retires each inbox entry once: the count falls by their number, unread.
  for (auto sequence : sequences)
    batch.Delete(s.inbox, keys::inbox_key(shard, sequence));
  auto inbox_removed = static_cast<uint64_t>(sequences.size());
  std::vector<const delivery*> added;
  if (ids == match_ids::new_ids) {
    added.reserve(deliveries.size());
    for (auto& d : deliveries)
      added.push_back(&d);
  } else {
    auto fresh = not_yet_waiting(s, deliveries);
    if (!fresh)
      return fresh.error();
    added = std::move(*fresh);
  }
  for (auto* d : added)
    if (auto err = put_waiting(s, batch, *d))
      return err;
  if (auto err = s.write(batch, false, "commit matched events"))
    return err;
  if (shard < s.opts.shards)
    s.inbox_counts[shard] -= std::min<uint64_t>(inbox_removed, s.inbox_counts[shard]);
  for (auto* d : added) {
    ++s.waiting_counts[index_of(d->kind)];
    s.note_insert(d->kind, d->next_attempt);
  }
  return caf::none;
}

caf::expected<delivery_list>
store::scan_due(action_kind kind, size_t limit,
                const std::function<bool(const std::string&)>& skip) const {
  auto& s = *impl_;
  auto i = index_of(kind);
  timestamp_ms head = 0;
  uint64_t epoch = 0;
  {
    std::lock_guard<std::mutex> guard{s.queue_mutex};
    head = s.head_due[i];
    epoch = s.insert_epoch[i];
  }
  auto lower = keys::due_prefix(kind, head);
  auto upper = keys::next_kind_prefix(kind);
  rocksdb::Slice lower_bound{lower};
  rocksdb::Slice upper_bound{upper};
  rocksdb::ReadOptions options;
  options.iterate_lower_bound = &lower_bound;
  options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it{s.db->NewIterator(options, s.deliveries)};
  delivery_list result;
  auto first_due = std::numeric_limits<timestamp_ms>::max();
  std::string id;
  for (it->Seek(lower_bound); it->Valid() && result.size() < limit; it->Next()) {
    auto key = it->key();
    action_kind key_kind;
    timestamp_ms due = 0;
    if (!keys::parse_delivery_key(key.data(), key.size(), key_kind, due, id))
      return codec::corrupt_value(keys::deliveries_family, key.data(), key.size(),
                                  "malformed key");
    first_due = std::min(first_due, due);
    if (skip && skip(id))
      continue;
    delivery x;
    auto value = it->value();
    if (auto err = codec::decode(keys::deliveries_family, key.data(), key.size(), value.data(),
                                 value.size(), x))
      return err;
    result.push_back(std::move(x));
  }
  if (!it->status().ok())
    return to_error(it->status(), std::string{"scan due "} + to_string(kind) + " deliveries");
  // Move the hint past the tombstones just skipped, unless an insert raced with this scan.
  std::lock_guard<std::mutex> guard{s.queue_mutex};
  if (s.insert_epoch[i] == epoch && first_due > s.head_due[i])
    s.head_due[i] = first_due;
  return result;
}

namespace {

bool is_finished(const delivery& d) {
  return d.status == delivery_status::delivered || d.status == delivery_status::dead;
}

// Stages one outcome: the delivery leaves its waiting key; a finished one leaves the index too
// and goes to history (a dead one also to the dead letters), a rescheduled one waits again under
// its new due time (its index entry is overwritten).
caf::error stage_outcome(detail::store_state& s, rocksdb::WriteBatch& batch,
                         const delivery_outcome& o) {
  auto& d = o.value;
  batch.Delete(s.deliveries, keys::delivery_key(d.kind, o.previous_due, d.id));
  if (!is_finished(d))
    return put_waiting(s, batch, d);
  batch.Delete(s.delivery_index, d.id);
  std::string value;
  if (auto err = codec::encode(value, d))
    return err;
  batch.Put(s.history, keys::history_key(day_of(d.finished), d.id), value);
  if (d.status == delivery_status::dead)
    batch.Put(s.dead_letters, d.id, value);
  return caf::none;
}

} // namespace

caf::error store::write_outcomes(const std::vector<delivery_outcome>& outcomes) {
  if (outcomes.empty())
    return caf::none;
  auto& s = *impl_;
  std::lock_guard<std::mutex> guard{s.delivery_mutex};
  rocksdb::WriteBatch batch;
  for (auto& o : outcomes)
    if (auto err = stage_outcome(s, batch, o))
      return err;
  if (auto err = s.write(batch, false, "write " + std::to_string(outcomes.size())
                                         + " delivery outcomes"))
    return err;
  for (auto& o : outcomes) {
    if (is_finished(o.value))
      --s.waiting_counts[index_of(o.value.kind)];
    else
      s.note_insert(o.value.kind, o.value.next_attempt);
  }
  return caf::none;
}

caf::expected<caf::optional<delivery_slot>> store::find_waiting(const std::string& id) const {
  return read_slot(*impl_, id);
}

caf::expected<caf::optional<delivery>> store::get_waiting(const std::string& id) const {
  auto slot = read_slot(*impl_, id);
  if (!slot)
    return slot.error();
  if (!*slot)
    return caf::optional<delivery>{};
  return read_delivery(*impl_, impl_->deliveries, keys::deliveries_family,
                       keys::delivery_key((*slot)->kind, (*slot)->due, id));
}

caf::expected<caf::optional<delivery>> store::get_dead_letter(const std::string& id) const {
  return read_delivery(*impl_, impl_->dead_letters, keys::dead_letters_family, id);
}

caf::error store::revive(const delivery& revived) {
  auto& s = *impl_;
  std::lock_guard<std::mutex> guard{s.delivery_mutex};
  auto dead = read_delivery(s, s.dead_letters, keys::dead_letters_family, revived.id);
  if (!dead)
    return dead.error();
  auto slot = read_slot(s, revived.id);
  if (!slot)
    return slot.error();
  rocksdb::WriteBatch batch;
  batch.Delete(s.dead_letters, revived.id);
  // Its dead outcome leaves history too: it is waiting again, listed once in its new state.
  if (*dead)
    batch.Delete(s.history, keys::history_key(day_of((*dead)->finished), revived.id));
  if (*slot)
    batch.Delete(s.deliveries, keys::delivery_key((*slot)->kind, (*slot)->due, revived.id));
  if (auto err = put_waiting(s, batch, revived))
    return err;
  if (auto err = s.write(batch, false, "revive delivery " + revived.id))
    return err;
  if (*slot)
    --s.waiting_counts[index_of((*slot)->kind)];
  ++s.waiting_counts[index_of(revived.kind)];
  s.note_insert(revived.kind, revived.next_attempt);
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
  if (!it->status().ok())
    return to_error(it->status(), "read history");
  if (!it->Valid() || it->key().size() < 4)
    return found;
  auto first = keys::read_u32(it->key().data());
  it->SeekToLast();
  if (!it->Valid() || it->key().size() < 4)
    return found;
  auto last = keys::read_u32(it->key().data());
  std::vector<std::string> candidates;
  for (auto day = first; day <= last && day >= first; ++day)
    candidates.push_back(keys::history_key(day, id));
  std::vector<rocksdb::Slice> slices(candidates.begin(), candidates.end());
  std::vector<rocksdb::PinnableSlice> values(slices.size());
  std::vector<rocksdb::Status> statuses(slices.size());
  s.db->MultiGet(rocksdb::ReadOptions{}, s.history, slices.size(), slices.data(), values.data(),
                 statuses.data());
  for (size_t i = 0; i < slices.size(); ++i) {
    if (statuses[i].ok())
      found.emplace_back(candidates[i], values[i].ToString());
    else if (!statuses[i].IsNotFound())
      return to_error(statuses[i], "look up history");
  }
  return found;
}

} // namespace

caf::expected<bool> store::purge(const std::string& id) {
  auto& s = *impl_;
  std::lock_guard<std::mutex> guard{s.delivery_mutex};
  auto slot = read_slot(s, id);
  if (!slot)
    return slot.error();
  std::string ignored;
  auto dead_status = s.db->Get(rocksdb::ReadOptions{}, s.dead_letters, id, &ignored);
  if (!dead_status.ok() && !dead_status.IsNotFound())
    return to_error(dead_status, "read dead letters");
  auto history = history_of(s, id);
  if (!history)
    return history.error();
  rocksdb::WriteBatch batch;
  if (*slot) {
    batch.Delete(s.deliveries, keys::delivery_key((*slot)->kind, (*slot)->due, id));
    batch.Delete(s.delivery_index, id);
  }
  if (dead_status.ok())
    batch.Delete(s.dead_letters, id);
  for (auto& entry : *history)
    batch.Delete(s.history, entry.first);
  if (batch.Count() == 0)
    return false;
  if (auto err = s.write(batch, false, "purge delivery " + id))
    return err;
  if (*slot)
    --s.waiting_counts[index_of((*slot)->kind)];
  return true;
}

namespace {

/// The ids a filter on `id` names; `out` is left untouched when `where` is another filter.
bool ids_named(const filter& where, std::vector<std::string>& out) {
  if ((where.op != filter_op::eq && where.op != filter_op::in) || where.path != "id")
    return false;
  std::vector<std::string> ids;
  for (auto& value : where.values) {
    if (value.kind != value_kind::string)
      return false;
    ids.push_back(value.text);
  }
  out = std::move(ids);
  return true;
}

} // namespace

delivery_scope scope_of(const filter& where) {
  delivery_scope nothing{false, false, false, false, {}};
  switch (where.op) {
    case filter_op::eq:
    case filter_op::in: {
      delivery_scope scope;
      if (ids_named(where, scope.ids)) {
        scope.by_id = true;
        return scope;
      }
      if (where.path != "status")
        return scope; // every place, no id
      scope = nothing;
      for (auto& value : where.values) {
        if (value.kind != value_kind::string)
          return {};
        delivery_status status;
        if (!from_string(value.text, status))
          continue; // no delivery has that status
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
        if (!narrow.by_id)
          continue;
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
      for (auto& child : where.children) {
        auto wide = scope_of(child);
        scope.waiting |= wide.waiting;
        scope.dead |= wide.dead;
        scope.finished |= wide.finished;
        scope.by_id = scope.by_id && wide.by_id;
        scope.ids.insert(scope.ids.end(), wide.ids.begin(), wide.ids.end());
      }
      if (!scope.by_id)
        scope.ids.clear();
      return scope;
    }
    default:
      return {};
  }
}

caf::error store::for_each_delivery(const std::function<bool(const delivery&)>& visit,
                                    const delivery_scope& scope) const {
  if (scope.by_id)
    return visit_by_id(visit, scope);
  auto& s = *impl_;
  bool go_on = true;
  auto next = [&](const delivery& x) { return go_on = visit(x); };
  if (scope.waiting)
    if (auto err = visit_family(s, s.deliveries, keys::deliveries_family, false, next))
      return err;
  if (!go_on)
    return caf::none;
  if (scope.dead)
    if (auto err = visit_family(s, s.dead_letters, keys::dead_letters_family, false, next))
      return err;
  if (!go_on || !scope.finished)
    return caf::none;
  // A dead outcome in history is also a dead letter (already visited) until purged or revived,
  // which remove both: visiting it again would list it twice.
  return visit_family(s, s.history, keys::history_family, true, [&](const delivery& x) {
    return x.status == delivery_status::dead || visit(x);
  });
}

caf::error store::visit_by_id(const std::function<bool(const delivery&)>& visit,
                              const delivery_scope& scope) const {
  auto& s = *impl_;
  // Each place in the order of a scan; within it, each id once.
  std::vector<std::string> ids;
  for (auto& id : scope.ids)
    if (std::find(ids.begin(), ids.end(), id) == ids.end())
      ids.push_back(id);
  auto found = [&](caf::expected<caf::optional<delivery>> x, bool& go_on) -> caf::error {
    if (!x)
      return x.error();
    if (*x)
      go_on = visit(**x);
    return caf::none;
  };
  bool go_on = true;
  for (size_t i = 0; scope.waiting && go_on && i < ids.size(); ++i)
    if (auto err = found(get_waiting(ids[i]), go_on))
      return err;
  for (size_t i = 0; scope.dead && go_on && i < ids.size(); ++i)
    if (auto err = found(get_dead_letter(ids[i]), go_on))
      return err;
  for (size_t i = 0; scope.finished && go_on && i < ids.size(); ++i) {
    auto history = history_of(s, ids[i]);
    if (!history)
      return history.error();
    for (auto it = history->rbegin(); go_on && it != history->rend(); ++it) {
      delivery x;
      if (auto err = codec::decode(keys::history_family, it->first.data(), it->first.size(),
                                   it->second.data(), it->second.size(), x))
        return err;
      if (x.status != delivery_status::dead) // listed from the dead letters
        go_on = visit(x);
    }
  }
  return caf::none;
}

caf::error store::for_each_waiting(const std::function<bool(const delivery&)>& visit) const {
  auto& s = *impl_;
  return visit_family(s, s.deliveries, keys::deliveries_family, false, visit);
}

uint64_t store::waiting_size(action_kind kind) const {
  return impl_->waiting_counts[index_of(kind)].load();
}

} // namespace dispatch
