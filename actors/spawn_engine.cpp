// Embedding entry point: opens the store, spawns the parts and their supervisor.
#include "actors/spawn_engine.hpp"

#include <caf/send.hpp>

#include "actors/supervisor.hpp"
#include "sinks/log_sink.hpp"

namespace dispatch {

caf::expected<cluster_engine_actor>
spawn_cluster_engine(caf::actor_system& sys, const engine_config& config, engine_sinks sinks) {
  if (auto err = validate(config)) return err;
  store_options opts;
  opts.data_dir = config.data_dir;
  opts.shards = config.shards;
  opts.sync = config.sync;
  opts.in_memory = config.in_memory;
  opts.block_cache_bytes = config.block_cache_bytes;
  opts.write_buffer_bytes = config.write_buffer_bytes;
  opts.max_open_files = config.max_open_files;
  auto db = store::open(opts);
  if (!db) return db.error();
  engine_parts parts;
  parts.config = config;
  parts.db = *db;
  parts.metrics = std::make_shared<engine_metrics>();
  // Queue depths start from what a previous run left behind (the emitters add what they re-derive
  // from the log as they catch up).
  parts.metrics->pending_depth = static_cast<int64_t>(parts.db->waiting_size(action_kind::task)
                                                      + parts.db->waiting_size(action_kind::mail));
  for (auto kind : {action_kind::task, action_kind::mail}) {
    auto& given = kind == action_kind::task ? sinks.task : sinks.mail;
    auto& slot = kind == action_kind::task ? parts.task_sink : parts.mail_sink;
    // One bucket per kind, shared by the emitters of every shard (and their restarts): the rate
    // is the sink's, however the events spread over the shards. A binding may bring its own.
    auto rate = kind == action_kind::task ? config.task_sink_rate : config.mail_sink_rate;
    if (given) {
      slot = *given;
      if (!slot.rate) slot.rate = make_rate_limiter(rate, config.clock);
      continue;
    }
    auto builtin = sys.spawn(log_sink, parts.db, config.clock);
    // The built-in log stands in for the Task Service, which schedules tasks itself: it gets a
    // task at once, startTimestamp included (docs/api.md), and GET /tasks/v1/ shows it right away.
    slot = sink_binding{builtin, true, make_rate_limiter(rate, config.clock)};
    parts.owned_sinks.push_back(caf::actor_cast<caf::actor>(builtin));
  }
  spawn_parts(sys, parts);
  auto facade = parts.engine;
  auto guardian = sys.spawn(supervisor, std::move(parts));
  // Nobody else references the supervisor: the facade holds it (CAF stops unreferenced actors).
  caf::anon_send(facade, handles_atom::value, guardian);
  return cluster_engine_actor{facade};
}

caf::expected<engine_actor> spawn_engine(caf::actor_system& sys, const engine_config& config,
                                         engine_sinks sinks) {
  auto engine = spawn_cluster_engine(sys, config, std::move(sinks));
  if (!engine) return engine.error();
  return engine_actor{*engine};
}

} // namespace dispatch
