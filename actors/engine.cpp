// The engine facade: delegation to the actors that own each concern.
#include "actors/engine.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "actors/prober.hpp"
#include "actors/reader.hpp"
#include "actors/replayer.hpp"
#include "logging/log.hpp"
#include "messages/ids.hpp"

namespace dispatch {

namespace {

using self_ptr = engine_internal_actor::stateful_pointer<engine_state>;

caf::error unknown_delivery(const std::string& id) {
  return make_error(error_code::resource_unknown, "delivery " + id + " does not exist");
}

/// The emitter that owns a delivery: its kind and the shard of its event type.
const emitter_actor& emitter_of(engine_state& st, const delivery& d) {
  auto shards = st.db->shards();
  return st.emitters[emitter_index(d.kind, shard_of(d.event_type, shards), shards)];
}

/// The next reader, round robin.
const reader_actor& next_reader(engine_state& st) {
  return st.readers[st.next_reader++ % st.readers.size()];
}

/// Spawns a reader, the prober or the replayer on its own thread (when the configuration runs I/O
/// so), monitored: the facade replaces one that stops.
template <class F, class... Ts>
auto spawn_helper(self_ptr self, F fun, Ts&&... xs) {
  if (self->state.config.detached)
    return self->spawn<caf::detached + caf::monitored>(fun, std::forward<Ts>(xs)...);
  return self->spawn<caf::monitored>(fun, std::forward<Ts>(xs)...);
}

/// The priority of a reader or the replayer: only a thread of its own may take one (on a shared
/// scheduler thread it would slow every actor that runs there).
background_priority helper_priority(const engine_state& st) {
  if (!st.config.detached) return {};
  return background_priority{st.config.readers.nice, st.config.readers.idle};
}

/// Spawns a reader with the engine's store, clock, priority and the budget the pool shares.
reader_actor spawn_reader(self_ptr self) {
  auto& st = self->state;
  return spawn_helper(self, reader, st.db, st.config.clock,
                      reader_yield{helper_priority(st), st.read_budget});
}

/// The readers' CPU budget, only for readers on threads of their own (a reader on a shared
/// scheduler thread must not sleep). It protects writes: it holds while publishes are accepted
/// and deliveries finished or retried (each writes).
std::shared_ptr<cpu_budget> make_read_budget(const engine_state& st) {
  if (!st.config.detached) return nullptr;
  auto& readers = st.config.readers;
  auto cores = readers.cpu > 0 ? readers.cpu : default_reader_cores();
  auto writes = [m = st.metrics] {
    auto count = [](const std::atomic<uint64_t>& x) { return x.load(std::memory_order_relaxed); };
    return count(m->accepted) + count(m->duplicates) + count(m->delivered) + count(m->retries)
           + count(m->dead_letters) + count(m->replayed);
  };
  DISPATCH_LOG(info, engine) << readers.count << " readers, together at most " << cores
                             << " cores' worth of CPU while anything is written "
                                "(dispatch.readers-cpu)";
  return std::make_shared<cpu_budget>(cores, cpu_budget::default_burst, cpu_budget::clock::now(),
                                      writes);
}

/// The replayer, with the handle the engine's shutdown stops it by.
void spawn_replayer(self_ptr self) {
  auto& st = self->state;
  st.replayer = spawn_helper(self, replayer, st.config, st.db, st.metrics, st.emitters,
                             st.task_sink_schedules, helper_priority(st));
  *st.replayer_to_stop = caf::actor_cast<caf::actor>(st.replayer);
}

void spawn_helpers(self_ptr self) {
  auto& st = self->state;
  st.read_budget = make_read_budget(st);
  st.readers.clear();
  for (uint32_t i = 0; i < std::max<uint32_t>(st.config.readers.count, 1); ++i)
    st.readers.push_back(spawn_reader(self));
  st.prober = spawn_helper(self, prober, st.db, st.metrics);
  spawn_replayer(self);
}

/// A reader, the prober or the replayer stopped (it never should): its successor takes its place.
void replace_helper(self_ptr self, const caf::actor_addr& gone, const caf::error& reason) {
  auto& st = self->state;
  for (auto& r : st.readers)
    if (r.address() == gone) {
      DISPATCH_LOG(warning, engine)
        << "a reader stopped (" << caf::to_string(reason) << "); replaced it";
      r = spawn_reader(self);
    }
  if (st.prober.address() == gone) {
    DISPATCH_LOG(warning, engine) << "the prober stopped (" << caf::to_string(reason)
                                  << "); replaced it";
    st.prober = spawn_helper(self, prober, st.db, st.metrics);
  }
  if (st.replayer.address() == gone) {
    // A running replay resumes from the last position it wrote.
    DISPATCH_LOG(warning, engine) << "the replayer stopped (" << caf::to_string(reason)
                                  << "); replaced it";
    spawn_replayer(self);
  }
}

/// Starts a backup: claims the job (one at a time), then hands the call to a runner of its own,
/// which checks the target, answers, and copies on its own thread.
caf::result<backup_status> start_backup(self_ptr self, const std::string& to) {
  auto& st = self->state;
  if (auto err = claim_backup(*st.backup)) return err;
  backup_sources sources{st.db, st.backup_companions, st.db->options().data_dir};
  // Not kept: the runner stops by itself once the backup ended (a kept handle to a detached actor
  // would hold up the actor system's shutdown).
  auto runner = st.config.detached ? self->spawn<caf::detached>(backup_runner, st.backup, sources)
                                   : self->spawn(backup_runner, st.backup, sources);
  return self->delegate(runner, backup_atom::value, to);
}

/// Dead letters a replay by query takes at a time: it holds this many, with as many replay
/// requests in flight, whatever the number matched.
constexpr uint32_t replay_batch = 500;

/// A replay by query under way.
struct replay_run {
  query q;
  std::string after; // the last dead letter looked at
  uint64_t replayed = 0;
  caf::typed_response_promise<uint64_t> rp;
};

void replay_next_batch(self_ptr self, std::shared_ptr<replay_run> run);

/// Replays one batch of dead letters, then goes on with the next (or answers the count).
void replay_batch_of(self_ptr self, std::shared_ptr<replay_run> run, const delivery_list& dead) {
  if (dead.empty()) {
    run->rp.deliver(run->replayed);
    return;
  }
  run->after = dead.back().id;
  auto last_batch = dead.size() < replay_batch;
  auto outstanding = std::make_shared<size_t>(dead.size());
  auto finish_one = [self, run, outstanding, last_batch](bool ok) {
    run->replayed += ok ? 1 : 0;
    if (--*outstanding > 0) return;
    if (last_batch)
      run->rp.deliver(run->replayed);
    else
      replay_next_batch(self, run);
  };
  auto& st = self->state;
  for (auto& d : dead)
    self->request(emitter_of(st, d), st.config.request_timeout, replay_atom::value, d.id)
      .then([finish_one](const delivery&) { finish_one(true); },
            [finish_one](const caf::error&) { finish_one(false); });
}

void replay_next_batch(self_ptr self, std::shared_ptr<replay_run> run) {
  self
    ->request(next_reader(self->state), caf::infinite, dead_atom::value, run->q, run->after,
              replay_batch)
    .then([self, run](const delivery_list& dead) { replay_batch_of(self, run, dead); },
          [run](const caf::error& err) { run->rp.deliver(err); });
}

/// Replays every dead letter matching `q`, in batches of `replay_batch` found by a reader (in id
/// order, each batch after the last); answers the count replayed.
caf::typed_response_promise<uint64_t> replay_matching(self_ptr self, const query& q) {
  auto run = std::make_shared<replay_run>();
  run->q = q;
  run->rp = self->make_response_promise<uint64_t>();
  replay_next_batch(self, run);
  return run->rp;
}

/// Hands the deliveries of a set-aside event matched again to their emitters, then marks the
/// event replayed and answers how many there were. Asked again after a failure, the same event
/// gets the same delivery ids: a sink sees a repeat under the same idempotency key.
void adopt_rematched(self_ptr self, caf::typed_response_promise<uint32_t> rp,
                     const std::string& event_id, delivery_list made) {
  auto& st = self->state;
  struct tally {
    size_t outstanding = 0;
    uint32_t adopted = 0;
    bool failed = false;
  };
  auto run = std::make_shared<tally>();
  auto finish = [self, rp, event_id, run]() mutable {
    auto& st = self->state;
    auto found = st.db->find_set_aside(event_id);
    if (!found) {
      rp.deliver(found.error());
      return;
    }
    if (*found) {
      auto e = std::move(**found);
      e.replayed_at = st.config.now();
      if (auto err = st.db->set_aside(e)) {
        rp.deliver(err);
        return;
      }
    }
    rp.deliver(run->adopted);
  };
  std::vector<std::pair<size_t, delivery_list>> by_emitter;
  auto shards = st.db->shards();
  for (auto& d : made) {
    auto index = emitter_index(d.kind, shard_of(d.event_type, shards), shards);
    auto i = std::find_if(by_emitter.begin(), by_emitter.end(),
                          [&](const auto& x) { return x.first == index; });
    if (i == by_emitter.end()) i = by_emitter.insert(by_emitter.end(), {index, {}});
    i->second.push_back(std::move(d));
  }
  if (by_emitter.empty()) {
    finish(); // no dispatcher acts on its type now: nothing to deliver, but replayed
    return;
  }
  run->outstanding = by_emitter.size();
  for (auto& [index, deliveries] : by_emitter)
    self->request(st.emitters[index], st.config.request_timeout, adopt_atom::value, deliveries)
      .then(
        [run, finish](uint32_t n) mutable {
          run->adopted += n;
          if (--run->outstanding == 0 && !run->failed) finish();
        },
        [run, rp](caf::error& err) mutable {
          if (!std::exchange(run->failed, true)) rp.deliver(err);
        });
}

/// Matches a set-aside event again: a reader derives its deliveries with the dispatchers now in
/// force (off the publish path), its emitters take them over.
caf::typed_response_promise<uint32_t> rematch(self_ptr self, const std::string& event_id) {
  auto rp = self->make_response_promise<uint32_t>();
  auto& st = self->state;
  self
    ->request(next_reader(st), caf::infinite, rematch_atom::value, event_id, st.task_sink_schedules)
    .then([self, rp,
           event_id](delivery_list& made) { adopt_rematched(self, rp, event_id, std::move(made)); },
          [rp](caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

} // namespace

engine_internal_actor::behavior_type engine(self_ptr self, engine_config config, store_ptr db,
                                            metrics_ptr metrics, ingest_actor ingest,
                                            directory_actor directory, emitter_list emitters,
                                            bool task_sink_schedules) {
  auto& st = self->state;
  st.config = std::move(config);
  st.db = std::move(db);
  st.metrics = std::move(metrics);
  st.ingest = std::move(ingest);
  st.directory = std::move(directory);
  st.emitters = std::move(emitters);
  st.task_sink_schedules = task_sink_schedules;
  spawn_helpers(self);
  // A backup under way stops (failing, its partial copy removed) when the engine does.
  self->attach_functor([job = st.backup](const caf::error&) { job->progress.stop = true; });
  // The replayer keeps a timer of its own: it stops with the facade, not when unreferenced.
  self->attach_functor([replays = st.replayer_to_stop](const caf::error&) {
    caf::anon_send_exit(*replays, caf::exit_reason::user_shutdown);
    *replays = nullptr;
  });
  self->set_down_handler(
    [self](const caf::down_msg& msg) { replace_helper(self, msg.source, msg.reason); });
  return {
    [self](publish_atom a, const event& x) { return self->delegate(self->state.ingest, a, x); },
    [self](publish_atom a, const event_list& x) {
      return self->delegate(self->state.ingest, a, x);
    },
    [self](create_atom a, const dispatcher& x) {
      return self->delegate(self->state.directory, a, x);
    },
    [self](update_atom a, const std::string& id, const dispatcher_patch& x) {
      return self->delegate(self->state.directory, a, id, x);
    },
    [self](remove_atom a, const std::string& id) {
      return self->delegate(self->state.directory, a, id);
    },
    [self](create_atom a, const std::string& id, const action& x) {
      return self->delegate(self->state.directory, a, id, x);
    },
    [self](update_atom a, const std::string& id, const std::string& action_id,
           const action_patch& x) {
      return self->delegate(self->state.directory, a, id, action_id, x);
    },
    [self](remove_atom a, const std::string& id, const std::string& action_id) {
      return self->delegate(self->state.directory, a, id, action_id);
    },
    [self](find_atom a, const query& q) { return self->delegate(self->state.directory, a, q); },
    [self](put_atom a, const dispatcher& x) { return self->delegate(self->state.directory, a, x); },
    [self](drop_atom a, const std::string& id) {
      return self->delegate(self->state.directory, a, id);
    },
    [self](get_atom a, const std::string& id) {
      return self->delegate(self->state.directory, a, id);
    },
    [self](deliveries_atom a, const query& q) {
      return self->delegate(next_reader(self->state), a, q);
    },
    [self](deliveries_atom a, const query& q, uint32_t depth) {
      return self->delegate(next_reader(self->state), a, q, depth);
    },
    [self](replay_atom, const std::string& id) -> caf::result<delivery> {
      auto& st = self->state;
      auto dead = st.db->get_dead_letter(id);
      if (!dead) return dead.error();
      if (!*dead)
        return make_error(error_code::resource_unknown,
                          "delivery " + id + ": no dead letter with this id");
      return self->delegate(emitter_of(st, **dead), replay_atom::value, id);
    },
    [self](replay_atom, const query& q) { return replay_matching(self, q); },
    [self](purge_atom, const std::string& id) -> caf::result<uint32_t> {
      auto& st = self->state;
      auto waiting = st.db->get_waiting(id);
      if (!waiting) return waiting.error();
      if (*waiting) // its emitter owns it while it waits
        return self->delegate(emitter_of(st, **waiting), purge_atom::value, id);
      // A derived delivery without a record is its emitter's too: in memory, or counted as
      // delivered in its cursor's per-day counts.
      auto derived = st.db->find_derived(id);
      if (!derived) return derived.error();
      if (*derived) return self->delegate(emitter_of(st, **derived), purge_atom::value, id);
      auto purged = st.db->purge(id);
      if (!purged) return purged.error();
      if (*purged == store::purged::nothing) return unknown_delivery(id);
      return uint32_t{1};
    },
    [self](rematch_atom, const std::string& event_id) { return rematch(self, event_id); },
    [self](discard_atom, const std::string& event_id) -> caf::result<uint32_t> {
      auto& st = self->state;
      auto found = st.db->find_set_aside(event_id);
      if (!found) return found.error();
      if (!*found || (*found)->replayed_at != 0)
        return make_error(error_code::resource_unknown, "event " + event_id + " is not set aside");
      auto e = std::move(**found);
      e.replayed_at = st.config.now();
      if (auto err = st.db->set_aside(e)) return err;
      DISPATCH_LOG(info, engine) << "discarded set-aside event " << event_id
                                 << " (its position stays without deliveries)";
      return uint32_t{1};
    },
    [self](log_atom a, action_kind kind, const query& q) {
      return self->delegate(next_reader(self->state), a, kind, q);
    },
    [self](log_atom a, action_kind kind, const query& q, uint32_t depth) {
      return self->delegate(next_reader(self->state), a, kind, q, depth);
    },
    [self](events_atom a, const query& q) {
      return self->delegate(next_reader(self->state), a, q);
    },
    [self](events_atom a, const query& q, uint32_t depth) {
      return self->delegate(next_reader(self->state), a, q, depth);
    },
    [self](replay_atom a, const replay_request& req) {
      return self->delegate(self->state.replayer, a, req);
    },
    [self](replays_atom a, const query& q) { return self->delegate(self->state.replayer, a, q); },
    [self](cancel_atom a, const std::string& id) {
      return self->delegate(self->state.replayer, a, id);
    },
    [self](stats_atom) -> engine_stats { return self->state.metrics->snapshot(); },
    [self](health_atom a) { return self->delegate(self->state.prober, a); },
    [self](backup_atom, const std::string& to) { return start_backup(self, to); },
    [self](backup_atom) { return backup_snapshot(*self->state.backup); },
    [self](backup_atom, const backup_companion& companion) {
      self->state.backup_companions.push_back(companion);
    },
    [self](handles_atom, const ingest_actor& ingest, const directory_actor& directory,
           const emitter_list& emitters) {
      auto& st = self->state;
      st.ingest = ingest;
      st.directory = directory;
      st.emitters = emitters;
      self->send(st.replayer, handles_atom::value, emitters);
    },
    [self](handles_atom, const caf::actor& supervisor) { self->state.supervisor = supervisor; },
  };
}

} // namespace dispatch
