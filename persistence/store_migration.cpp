// Migration of a data directory from schema 2 (the first release) to schema 3 (the lean log), in
// place. Every step is a series of atomic batches that can run again after a kill: unmatched
// events move from `inbox` into `event_log`, waiting deliveries from `deliveries` into
// `exceptions` (keyed by shard too) with their index entries, and every dispatcher gets a version
// in force from sequence 0. The schema version is written last; the old families are dropped then.
// Dead letters, history, `seen` and the built-in log keep their schema-2 form.
// From schema 3 to 4, `record_times` is built from the records (waiting, dead letters, history)
// and each emitter's cursor is noted as where its per-day counts begin.
#include <algorithm>

#include <rocksdb/db.h>

#include "logging/log.hpp"
#include "messages/ids.hpp"
#include "persistence/codec.hpp"
#include "persistence/key_range.hpp"
#include "persistence/keys.hpp"
#include "persistence/store_impl.hpp"

namespace dispatch {

namespace {

constexpr size_t page_size = 1024;

rocksdb::ColumnFamilyHandle* family_named(detail::store_state& s, const char* name) {
  for (auto* handle : s.handles)
    if (handle->GetName() == name) return handle;
  return nullptr;
}

void say(const detail::store_state& s, const std::string& text) {
  DISPATCH_LOG(info, store) << "migrating " << s.opts.data_dir << " from schema 2 to 3: " << text;
}

// Moves every entry of `from` in pages: `stage` adds an entry's new form to the page's batch,
// which also deletes the old keys. Returns how many entries moved.
template <class Stage>
caf::expected<uint64_t> move_all(detail::store_state& s, rocksdb::ColumnFamilyHandle* from,
                                 const char* what, Stage stage) {
  uint64_t moved = 0;
  for (;;) {
    rocksdb::WriteBatch batch;
    std::unique_ptr<rocksdb::Iterator> it{s.db->NewIterator(rocksdb::ReadOptions{}, from)};
    size_t n = 0;
    for (it->SeekToFirst(); it->Valid() && n < page_size; it->Next(), ++n) {
      if (auto err = stage(batch, it->key(), it->value())) return err;
      batch.Delete(from, it->key());
    }
    if (!it->status().ok()) return to_error(it->status(), std::string{"migrate "} + what);
    if (n == 0) return moved;
    if (auto err = s.write(batch, false, std::string{"migrate "} + what)) return err;
    moved += n;
    if (moved % (page_size * 16) == 0) say(s, std::to_string(moved) + " " + what + " moved so far");
  }
}

} // namespace

caf::error migrate_from_schema_2(detail::store_state& s) {
  say(s, "started (it resumes where it was if interrupted)");
  // Dispatchers: each one in force from the start of its shard's log.
  {
    auto current = read_dispatchers(s);
    if (!current) return current.error();
    rocksdb::WriteBatch batch;
    std::string value;
    for (auto& d : *current) {
      if (auto err = codec::encode_dispatcher(value, d)) return err;
      batch.Put(s.dispatcher_versions,
                keys::version_key(shard_of(d.event_type, s.opts.shards), 0, d.id), value);
    }
    if (auto err = s.write(batch, false, "migrate dispatchers")) return err;
    say(s, std::to_string(current->size()) + " dispatchers versioned");
  }
  // Events not matched yet: into the log, compact, same shard and sequence.
  if (auto* inbox = family_named(s, keys::legacy_inbox_family)) {
    auto moved = move_all(s, inbox, "unmatched events",
                          [&](rocksdb::WriteBatch& batch, const rocksdb::Slice& key,
                              const rocksdb::Slice& value) -> caf::error {
                            event x;
                            if (auto err = codec::decode(keys::legacy_inbox_family, key.data(),
                                                         key.size(), value.data(), value.size(), x))
                              return err;
                            std::string compact;
                            codec::encode_event(compact, x);
                            batch.Put(s.event_log, key, compact);
                            return caf::none;
                          });
    if (!moved) return moved.error();
    say(s, std::to_string(*moved) + " unmatched events moved into the log");
  }
  // Waiting deliveries (pending, held, retrying): exception records keyed by shard too, the
  // index pointing at them. Their ids (schema 2's hashes) stay as they are.
  if (auto* waiting = family_named(s, keys::legacy_deliveries_family)) {
    auto moved = move_all(
      s, waiting, "waiting deliveries",
      [&](rocksdb::WriteBatch& batch, const rocksdb::Slice& key,
          const rocksdb::Slice& value) -> caf::error {
        action_kind kind;
        timestamp_ms due = 0;
        std::string id;
        if (!keys::parse_legacy_delivery_key(key.data(), key.size(), kind, due, id))
          return codec::corrupt_value(keys::legacy_deliveries_family, key.data(), key.size(),
                                      "malformed key");
        delivery x;
        if (auto err = codec::decode(keys::legacy_deliveries_family, key.data(), key.size(),
                                     value.data(), value.size(), x))
          return err;
        auto shard = shard_of(x.event_type, s.opts.shards);
        batch.Put(s.exceptions, keys::exception_key(kind, shard, due, id), value);
        batch.Put(s.delivery_index, id, record_value(record_place::waiting, kind, shard, due));
        return caf::none;
      });
    if (!moved) return moved.error();
    say(s, std::to_string(*moved) + " waiting deliveries moved to exception records");
  }
  rocksdb::WriteBatch done;
  std::string version;
  keys::append_u32(version, 3);
  done.Put(s.meta, keys::schema_version_key, version);
  if (auto err = s.write(done, true, "finish the migration")) return err;
  for (auto* name : {keys::legacy_inbox_family, keys::legacy_deliveries_family})
    if (auto* handle = family_named(s, name)) {
      auto status = s.db->DropColumnFamily(handle);
      if (!status.ok()) {
        say(s, std::string{"dropping the emptied family "} + name
                 + " failed (harmless): " + status.ToString());
        continue;
      }
      // A dropped family's handle is no use (a flush of it fails): let go of it now.
      s.handles.erase(std::find(s.handles.begin(), s.handles.end(), handle));
      s.db->DestroyColumnFamilyHandle(handle);
    }
  say(s, "done");
  return caf::none;
}

namespace {

/// A record's shard as its index entry would say it: its log position's, or its type's.
uint32_t shard_hint(const detail::store_state& s, const std::string& id, const delivery& x) {
  delivery_position pos;
  if (position_of(id, pos) && pos.shard < s.opts.shards) return pos.shard;
  return shard_of(x.event_type, s.opts.shards);
}

/// Puts a record-time entry for each record of `family`, in pages; `place_of` says where the
/// record is (its index value) or nothing to skip it. Answers how many.
template <class PlaceOf>
caf::expected<uint64_t> add_record_times(detail::store_state& s,
                                         rocksdb::ColumnFamilyHandle* family, const char* name,
                                         PlaceOf place_of) {
  uint64_t added = 0;
  rocksdb::WriteBatch batch;
  detail::range_iterator it{*s.db, family, std::string{}, std::string{}, false};
  for (it.seek_first(); it->Valid(); it->Next()) {
    auto key = it->key();
    auto value = it->value();
    delivery x;
    if (auto err = codec::decode(name, key.data(), key.size(), value.data(), value.size(), x))
      return err;
    auto place = place_of(key, x);
    if (!place) continue;
    batch.Put(s.record_times, keys::record_time_key(x.kind, x.created, x.id), *place);
    if (++added % page_size == 0) {
      if (auto err = s.write(batch, false, "migrate: record times")) return err;
      batch.Clear();
    }
  }
  if (!it->status().ok()) return to_error(it->status(), std::string{"migrate: read "} + name);
  if (auto err = s.write(batch, false, "migrate: record times")) return err;
  return added;
}

} // namespace

caf::error migrate_from_schema_3(detail::store_state& s) {
  auto say4 = [&](const std::string& text) {
    DISPATCH_LOG(info, store) << "migrating " << s.opts.data_dir << " from schema 3 to 4: " << text;
  };
  say4("indexing the records by creation time (it starts again if interrupted)");
  uint64_t total = 0;
  auto waiting = add_record_times(
    s, s.exceptions, keys::exceptions_family,
    [&](const rocksdb::Slice& key, const delivery& x) -> caf::optional<std::string> {
      action_kind kind;
      uint32_t shard = 0;
      timestamp_ms due = 0;
      std::string id;
      if (!keys::parse_exception_key(key.data(), key.size(), kind, shard, due, id))
        return caf::none;
      return record_value(record_place::waiting, x.kind, shard, due);
    });
  if (!waiting) return waiting.error();
  total += *waiting;
  auto dead = add_record_times(
    s, s.dead_letters, keys::dead_letters_family,
    [&](const rocksdb::Slice&, const delivery& x) -> caf::optional<std::string> {
      return record_value(record_place::dead, x.kind, shard_hint(s, x.id, x), day_of(x.finished));
    });
  if (!dead) return dead.error();
  total += *dead;
  // History: the deliveries finished after a record (a dead one is a dead letter, above); an id
  // finished on two days ends with the later, as its index entry does.
  auto finished = add_record_times(
    s, s.history, keys::history_family,
    [&](const rocksdb::Slice& key, const delivery& x) -> caf::optional<std::string> {
      if (x.status == delivery_status::dead || key.size() < 4) return caf::none;
      return record_value(record_place::finished, x.kind, shard_hint(s, x.id, x),
                          keys::read_u32(key.data()));
    });
  if (!finished) return finished.error();
  total += *finished;
  // The emitters counted what they delivered without a record as one sum: per day from now on.
  rocksdb::WriteBatch done;
  for (auto kind : {action_kind::task, action_kind::mail})
    for (uint32_t shard = 0; shard < s.opts.shards; ++shard) {
      std::string value;
      auto status = s.db->Get(rocksdb::ReadOptions{}, s.progress, keys::progress_key(kind, shard),
                              &value);
      if (!status.ok() && !status.IsNotFound()) return to_error(status, "migrate: read progress");
      std::string from;
      keys::append_u64(from, value.size() >= 8 ? keys::read_u64(value.data()) : 0);
      done.Put(s.meta, keys::counted_from_key(kind, shard), from);
    }
  std::string version;
  keys::append_u32(version, 4);
  done.Put(s.meta, keys::schema_version_key, version);
  if (auto err = s.write(done, true, "finish the migration to schema 4")) return err;
  say4("done: " + std::to_string(total) + " records indexed by creation time");
  return caf::none;
}

} // namespace dispatch
