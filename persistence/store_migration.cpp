// Migration of a data directory from schema 2 (the first release) to schema 3 (the lean log), in
// place. Every step is a series of atomic batches that can run again after a kill: unmatched
// events move from `inbox` into `event_log`, waiting deliveries from `deliveries` into
// `exceptions` (keyed by shard too) with their index entries, and every dispatcher gets a version
// in force from sequence 0. The schema version is written last; the old families are dropped then.
// Dead letters, history, `seen` and the built-in log keep their schema-2 form.
#include <algorithm>

#include <rocksdb/db.h>

#include "logging/log.hpp"
#include "messages/ids.hpp"
#include "persistence/codec.hpp"
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
  DISPATCH_LOG(info, store) << "migrating " << s.opts.data_dir << " from schema 2 to "
                            << keys::schema_version << ": " << text;
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
  keys::append_u32(version, keys::schema_version);
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

} // namespace dispatch
