// The RocksDB store, upkeep side: the built-in sink's log, retention by whole days, the health
// probe and flushing. Retention is DeleteRange over day-prefixed keys (one tombstone per family),
// for `seen` a floor day below which compactions drop entries.
#include <rocksdb/db.h>

#include "messages/error_code.hpp"
#include "persistence/codec.hpp"
#include "persistence/keys.hpp"
#include "persistence/store.hpp"
#include "persistence/store_impl.hpp"

namespace dispatch {

caf::error store::append_log(action_kind kind, const std::string& delivery_id,
                             const std::string& json, timestamp_ms now) {
  return append_logs({log_record{delivery_id, kind, now, json}});
}

caf::error store::append_logs(const std::vector<log_record>& records) {
  rocksdb::WriteBatch batch;
  std::string value;
  for (auto& r : records) {
    if (auto err = codec::encode(value, r.received, r.json))
      return err;
    batch.Put(impl_->log, keys::log_key(r.kind, day_of(r.received), r.id), value);
  }
  return impl_->write(batch, false, "append to the log");
}

caf::error store::for_each_log(action_kind kind,
                               const std::function<bool(const log_record&)>& visit) const {
  auto lower = keys::kind_prefix(kind);
  auto upper = keys::next_kind_prefix(kind);
  rocksdb::Slice lower_bound{lower};
  rocksdb::Slice upper_bound{upper};
  rocksdb::ReadOptions options;
  options.iterate_lower_bound = &lower_bound;
  options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it{impl_->db->NewIterator(options, impl_->log)};
  for (it->Seek(lower_bound); it->Valid(); it->Next()) {
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
    if (!visit(record))
      return caf::none;
  }
  if (!it->status().ok())
    return to_error(it->status(), std::string{"read the "} + to_string(kind) + " log");
  return caf::none;
}

namespace {

// The first day kept when keeping `days` days up to and including today (0 keeps everything).
uint32_t first_kept_day(timestamp_ms now, uint32_t days) {
  auto today = day_of(now);
  if (days == 0 || days > today)
    return 0;
  return today - days + 1;
}

} // namespace

caf::error store::apply_retention(timestamp_ms now, uint32_t seen_days, uint32_t history_days,
                                  uint32_t log_days) {
  rocksdb::WriteBatch batch;
  // `seen` is keyed by event id: the floor hides older entries at once, compactions drop them.
  auto seen_floor = first_kept_day(now, seen_days);
  if (seen_floor > impl_->seen_floor.load()) {
    std::string value;
    keys::append_u32(value, seen_floor);
    batch.Put(impl_->meta, keys::seen_floor_key, value);
  }
  if (auto day = first_kept_day(now, history_days); day > 0)
    batch.DeleteRange(impl_->history, keys::day_prefix(0), keys::day_prefix(day));
  if (auto day = first_kept_day(now, log_days); day > 0)
    for (auto kind : {action_kind::task, action_kind::mail})
      batch.DeleteRange(impl_->log, keys::log_day_prefix(kind, 0), keys::log_day_prefix(kind, day));
  if (batch.Count() == 0)
    return caf::none;
  if (auto err = impl_->write(batch, false, "apply retention"))
    return err;
  if (seen_floor > impl_->seen_floor.load())
    impl_->seen_floor = seen_floor;
  return caf::none;
}

caf::error store::probe_write() {
  rocksdb::WriteBatch batch;
  batch.Put(impl_->meta, keys::probe_key, std::to_string(now_ms()));
  batch.Delete(impl_->meta, keys::probe_key);
  return impl_->write(batch, true, "probe write");
}

caf::error store::flush() {
  rocksdb::FlushOptions options;
  options.wait = true;
  auto status = impl_->db->Flush(options, impl_->handles);
  if (!status.ok())
    return to_error(status, "flush");
  return caf::none;
}

} // namespace dispatch
