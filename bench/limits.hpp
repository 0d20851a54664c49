// The limits the engine's figures are divided by, measured in the same run and the same minute:
// raw RocksDB WriteBatch puts of event-sized records, raw CAF messaging through three actors, and
// the HTTP server answering without the engine.
#pragma once

#include <string>

#include "bench/scenario.hpp"

namespace dispatch::bench {

/// Puts `batch` records of `record_bytes` per WriteBatch into a fresh database under `dir` (removed
/// afterwards) for `seconds`, synced or not, straight through the RocksDB API.
limit_result rocksdb_limit(bool sync, uint32_t record_bytes, uint32_t batch, double seconds,
                           const std::string& dir);

/// The engine's storage work without its actors, on one thread: per batch of `batch` events,
/// ingest's `accept_events` (synced when `sync`) and per shard one `write_outcomes` that finishes
/// its deliveries (one task each) as delivered: the happy path writes only the progress cursor. Events/s,
/// with the engine's own store options, in a fresh data directory under `dir` (removed afterwards).
limit_result store_limit(bool sync, uint32_t event_bytes, uint32_t batch, uint32_t shards,
                         uint32_t event_types, double seconds, const std::string& dir);

/// Sends batches of `batch` events of `record_bytes` through source -> stage -> stage -> counter,
/// with `window` batches in flight, for `seconds`, in an actor system of its own.
limit_result caf_pipeline_limit(uint32_t record_bytes, uint32_t batch, uint32_t window,
                                double seconds);

/// Where the HTTP limit answers a request: on the io thread that read it, or from a CAF actor it
/// was sent to (one hand-off there and one back, as every engine call has).
enum class http_answer_path { io_thread, actor };

/// The gateway's HTTP server (one io thread) answering single-event POSTs with their own body, no
/// engine, on `connections` keep-alive connections driven by the `http` scenario's load client.
limit_result http_limit(http_answer_path path, uint32_t connections, uint32_t event_bytes,
                        double seconds);

} // namespace dispatch::bench
