// Key encoding of the store's column families: fixed-width big-endian fields so that RocksDB's
// bytewise order is numeric order (shard then sequence, kind then due time, day then id).
#pragma once

#include <cstdint>
#include <string>

#include "messages/clock.hpp"
#include "messages/dispatcher.hpp"

namespace dispatch::keys {

// -- column family names (also what a raw RocksDB handle opens in tests and tools) ----------------

constexpr const char* meta_family = "meta";
constexpr const char* dispatchers_family = "dispatchers";
constexpr const char* dispatcher_versions_family = "dispatcher_versions";
constexpr const char* event_log_family = "event_log";
constexpr const char* seen_family = "seen";
constexpr const char* progress_family = "progress";
constexpr const char* exceptions_family = "exceptions";
constexpr const char* delivery_index_family = "delivery_index";
constexpr const char* dead_letters_family = "dead_letters";
constexpr const char* history_family = "history";
constexpr const char* log_family = "log"; // the built-in log sink's records
// Running counts of the event archive per shard and day (read, added to and written back under
// the store's `counts_mutex`).
constexpr const char* event_counts_family = "event_counts";
// Every delivery with a record of its own (waiting, dead, finished after a record) by kind and
// creation time: what a listing newest first merges with the deliveries derived from the log.
constexpr const char* record_times_family = "record_times";
// Schema 2's families, read once by the migration and then dropped.
constexpr const char* legacy_inbox_family = "inbox";
constexpr const char* legacy_deliveries_family = "deliveries";

// -- meta --------------------------------------------------------------------------------------

constexpr const char* schema_version_key = "schema_version"; // value: u32 big-endian
constexpr const char* shard_count_key = "shards";            // value: u32 big-endian
constexpr const char* probe_key = "probe";                   // written and deleted by health
constexpr const char* seen_floor_key = "seen_floor";         // value: u32 big-endian day
constexpr const char* history_floor_key = "history_floor";   // value: u32 big-endian day
// Present once `event_counts` holds the counts of every log entry (the log of a directory made
// before the counts existed is counted once at open). Value: u32 big-endian 1.
constexpr const char* event_counts_ready_key = "event_counts_ready";
// Replays from the archive (`replay_key`): each one's request, progress and state.
constexpr const char* replay_prefix = "replay/";
// Set-aside events (`set_aside_key`): the event, why and when, under this prefix.
constexpr const char* set_aside_prefix = "set_aside/";
// 2: `seen` keyed by event id alone (the day moved into the value).
// 3: the lean log: events written once into `event_log`, deliveries derived, records only for
//    exceptions, a progress cursor per kind and shard.
// 4: `record_times` (records by creation time) and per-day counts of the deliveries each emitter
//    delivered without a record (`progress_day_key`), so that listings newest first and their
//    totals need no pass over the log. A directory of schema 3 gets `record_times` built at open
//    and counts from its cursors on (`counted_from_key`).
constexpr uint32_t schema_version = 4;

// -- fixed-width fields ------------------------------------------------------------------------

void append_u16(std::string& out, uint16_t x);
void append_u32(std::string& out, uint32_t x);
void append_u64(std::string& out, uint64_t x);

/// Reads a big-endian field at `data`; the caller checks the size.
uint16_t read_u16(const char* data);
uint32_t read_u32(const char* data);
uint64_t read_u64(const char* data);

/// A due time as an unsigned, order-preserving field (negative times sort first, never wrap).
uint64_t due_field(timestamp_ms due);
timestamp_ms due_from_field(uint64_t field);

// -- keys --------------------------------------------------------------------------------------

/// event_log (and schema 2's inbox): shard(4) · sequence(8).
std::string log_entry_key(uint32_t shard, uint64_t sequence);
std::string shard_prefix(uint32_t shard);

/// meta: "set_aside/" · shard(4) · sequence(8), the set-aside event at that log position.
std::string set_aside_key(uint32_t shard, uint64_t sequence);

/// event_counts: shard(4) · day(4).
std::string event_count_key(uint32_t shard, uint32_t day);

/// meta: "replay/" · replay id.
std::string replay_key(const std::string& replay_id);

/// seen: the event id itself; the value holds the day it was accepted and the event.

/// dispatcher_versions: shard(4) · from sequence(8) · dispatcher id.
std::string version_key(uint32_t shard, uint64_t from, const std::string& dispatcher_id);

/// progress: kind(1) · shard(4).
std::string progress_key(action_kind kind, uint32_t shard);
/// progress: kind(1) · shard(4) · day(4), how many deliveries of that day's log the emitter of
/// (kind, shard) delivered without a record of their own (up to its cursor).
std::string progress_day_key(action_kind kind, uint32_t shard, uint32_t day);

/// meta: "counted_from/" · kind(1) · shard(4), the cursor of (kind, shard) when its per-day counts
/// began (a directory upgraded from schema 3): the log up to it is counted by reading it.
std::string counted_from_key(action_kind kind, uint32_t shard);

/// meta: "created_span/" · shard(4) · minute(4), the earliest and latest `creationTimestamp`
/// (8 + 8) of the events the shard's log accepted in that minute (a publisher may set any time):
/// what lets a time range of the archive skip the minutes that cannot hold it.
std::string created_span_key(uint32_t shard, uint32_t minute);
/// meta: the first minute (4) whose events have spans; those accepted before can hold any time.
constexpr const char* created_spans_from_key = "created_spans_from";
constexpr const char* created_span_prefix = "created_span/";

/// record_times: kind(1) · created(8, order-preserving) · delivery id; the value is the record's
/// index value (where it is).
std::string record_time_key(action_kind kind, timestamp_ms created, const std::string& id);

/// exceptions: kind(1) · shard(2) · due(8) · delivery id.
std::string exception_key(action_kind kind, uint32_t shard, timestamp_ms due,
                          const std::string& delivery_id);
/// The kind·shard prefix, and the kind·shard·due prefix of records due at `due` or later.
std::string exception_prefix(action_kind kind, uint32_t shard);
std::string exception_due_prefix(action_kind kind, uint32_t shard, timestamp_ms due);
/// Splits an exceptions key; false when it is malformed.
bool parse_exception_key(const char* data, size_t size, action_kind& kind, uint32_t& shard,
                         timestamp_ms& due, std::string& id);

/// schema 2's deliveries: kind(1) · due(8) · delivery id (read by the migration).
bool parse_legacy_delivery_key(const char* data, size_t size, action_kind& kind, timestamp_ms& due,
                               std::string& id);

/// The prefix of a kind (one byte); and the one after it (an exclusive upper bound).
std::string kind_prefix(action_kind kind);
std::string next_kind_prefix(action_kind kind);

/// history: day(4) · delivery id.
std::string history_key(uint32_t day, const std::string& delivery_id);
std::string day_prefix(uint32_t day);

/// log: kind(1) · day(4) · delivery id.
std::string log_key(action_kind kind, uint32_t day, const std::string& delivery_id);
std::string log_day_prefix(action_kind kind, uint32_t day);

/// The first key past every key that starts with `prefix` (an exclusive upper bound of a scan).
std::string past_prefix(const char* prefix);

/// A key made readable for error messages: printable bytes as they are, others as \xNN.
std::string printable(const char* data, size_t size);

} // namespace dispatch::keys
