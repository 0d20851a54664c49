// The supervisor: spawning, restarting and stopping the engine's actors.
#include "actors/supervisor.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "actors/directory.hpp"
#include "actors/engine.hpp"
#include "actors/ingest.hpp"
#include "actors/matcher.hpp"
#include "logging/log.hpp"

namespace dispatch {

namespace {

using self_ptr = caf::stateful_actor<supervisor_state>*;

/// Actors that do I/O run on their own threads unless the configuration says otherwise (CAF's test
/// scheduler cannot drive detached actors).
template <class F, class... Ts>
auto spawn_role(caf::actor_system& sys, bool detached, F fun, Ts&&... xs) {
  if (detached) return sys.spawn<caf::detached>(fun, std::forward<Ts>(xs)...);
  return sys.spawn(fun, std::forward<Ts>(xs)...);
}

emitter_actor spawn_emitter(caf::actor_system& sys, engine_parts& p, action_kind kind,
                            uint32_t shard) {
  auto& sink = kind == action_kind::task ? p.task_sink : p.mail_sink;
  return spawn_role(sys, p.config.detached, emitter, kind, shard, p.config, p.db, p.metrics, sink,
                    p.dispatcher_rates.at(shard));
}

emitter_actor& emitter_of(engine_parts& p, action_kind kind, uint32_t shard) {
  return p.emitters[emitter_index(kind, shard, p.db->shards())];
}

matcher_actor spawn_matcher(caf::actor_system& sys, engine_parts& p, uint32_t shard) {
  return spawn_role(sys, p.config.detached, matcher, shard, p.config, p.db, p.metrics,
                    emitter_of(p, action_kind::task, shard),
                    emitter_of(p, action_kind::mail, shard), p.task_sink.schedules_tasks,
                    p.dispatcher_rates.at(shard));
}

ingest_actor spawn_ingest(caf::actor_system& sys, engine_parts& p) {
  return spawn_role(sys, p.config.detached, ingest, p.config, p.db, p.metrics, p.matchers,
                    p.fan_out);
}

directory_actor spawn_directory(caf::actor_system& sys, engine_parts& p) {
  return spawn_role(sys, p.config.detached, directory, p.config, p.db, p.matchers, p.fan_out);
}

void tell_engine(engine_parts& p) {
  caf::anon_send(p.engine, handles_atom::value, p.ingest, p.directory, p.emitters);
}

/// Points the emitters of `shard` at its matcher: they catch up from the log past their cursors.
void tell_emitters(engine_parts& p, uint32_t shard) {
  log_reader_actor reader = p.matchers[shard];
  for (auto kind : {action_kind::task, action_kind::mail})
    caf::anon_send(emitter_of(p, kind, shard), handles_atom::value, reader);
}

/// Sends an exit to every part (the facade last) and to the built-in sinks.
void stop_all(const engine_parts& p) {
  auto reason = caf::exit_reason::user_shutdown;
  caf::anon_send_exit(p.ingest, reason);
  caf::anon_send_exit(p.directory, reason);
  for (auto& m : p.matchers) caf::anon_send_exit(m, reason);
  for (auto& e : p.emitters) caf::anon_send_exit(e, reason);
  for (auto& s : p.owned_sinks) caf::anon_send_exit(s, reason);
  caf::anon_send_exit(p.engine, reason);
}

void monitor_all(self_ptr self) {
  auto& p = *self->state.parts;
  self->monitor(p.ingest);
  self->monitor(p.directory);
  for (auto& m : p.matchers) self->monitor(m);
  for (auto& e : p.emitters) self->monitor(e);
}

bool within_budget(self_ptr self) {
  auto& st = self->state;
  auto now = st.parts->config.now();
  auto window = std::chrono::duration_cast<std::chrono::milliseconds>(
                  st.parts->config.restart_window)
                  .count();
  while (!st.restarts.empty() && st.restarts.front() < now - window) st.restarts.pop_front();
  if (st.restarts.size() >= st.parts->config.restart_limit) return false;
  st.restarts.push_back(now);
  return true;
}

/// Replaces the part whose address is `who`; answers its role, or "" when it is not one of ours.
std::string restart(self_ptr self, const caf::actor_addr& who) {
  auto& p = *self->state.parts;
  auto& sys = self->system();
  for (uint32_t shard = 0; shard < p.matchers.size(); ++shard) {
    if (p.matchers[shard].address() != who) continue;
    p.matchers[shard] = spawn_matcher(sys, p, shard);
    self->monitor(p.matchers[shard]);
    self->send(p.ingest, handles_atom::value, p.matchers);
    self->send(p.directory, handles_atom::value, p.matchers);
    tell_emitters(p, shard);
    return "matcher[" + std::to_string(shard) + "]";
  }
  for (uint32_t shard = 0; shard < p.matchers.size(); ++shard)
    for (auto kind : {action_kind::task, action_kind::mail}) {
      auto& slot = emitter_of(p, kind, shard);
      if (slot.address() != who) continue;
      slot = spawn_emitter(sys, p, kind, shard);
      self->monitor(slot);
      self->send(p.matchers[shard], handles_atom::value, emitter_of(p, action_kind::task, shard),
                 emitter_of(p, action_kind::mail, shard));
      tell_emitters(p, shard);
      tell_engine(p);
      return std::string{to_string(kind)} + "_emitter[" + std::to_string(shard) + "]";
    }
  if (p.ingest.address() == who) {
    p.ingest = spawn_ingest(sys, p);
    self->monitor(p.ingest);
    tell_engine(p);
    // Events the old ingest wrote but did not route are in the log only: every emitter reads
    // the log past what it has.
    for (uint32_t shard = 0; shard < p.matchers.size(); ++shard) tell_emitters(p, shard);
    return "ingest";
  }
  if (p.directory.address() == who) {
    p.directory = spawn_directory(sys, p);
    self->monitor(p.directory);
    tell_engine(p);
    return "directory";
  }
  return {};
}

constexpr auto retention_interval = std::chrono::hours(1);

/// Drops whole days of duplicate-suppression entries, history, the built-in log and the event
/// archive that are past their retention; runs at start and every hour.
void apply_retention(self_ptr self) {
  auto& p = *self->state.parts;
  if (auto err = p.db->apply_retention(p.config.now(), p.config.seen_days, p.config.history_days,
                                       p.config.log_days, p.config.event_days))
    DISPATCH_LOG(warning, supervisor) << "retention failed: " << message_of(err);
  self->delayed_send(self, retention_interval, tick_atom::value);
}

} // namespace

void spawn_parts(caf::actor_system& sys, engine_parts& p) {
  auto shards = p.db->shards();
  if (p.dispatcher_rates.size() != shards) {
    p.dispatcher_rates.clear();
    for (uint32_t shard = 0; shard < shards; ++shard)
      p.dispatcher_rates.push_back(std::make_shared<dispatcher_rates>(p.config.clock));
  }
  p.emitters.clear();
  for (auto kind : {action_kind::task, action_kind::mail})
    for (uint32_t shard = 0; shard < shards; ++shard)
      p.emitters.push_back(spawn_emitter(sys, p, kind, shard));
  p.matchers.clear();
  for (uint32_t shard = 0; shard < shards; ++shard)
    p.matchers.push_back(spawn_matcher(sys, p, shard));
  for (uint32_t shard = 0; shard < shards; ++shard) tell_emitters(p, shard);
  p.ingest = spawn_ingest(sys, p);
  p.directory = spawn_directory(sys, p);
  p.engine = sys.spawn(engine, p.config, p.db, p.metrics, p.ingest, p.directory, p.emitters,
                       p.task_sink.schedules_tasks);
}

caf::behavior supervisor(self_ptr self, engine_parts parts) {
  self->state.parts = std::make_shared<engine_parts>(std::move(parts));
  monitor_all(self);
  // The facade and the supervisor live and die together; an exit of either stops every part.
  self->link_to(self->state.parts->engine);
  // However the supervisor ends (the linked facade's exit, a spent budget, or CAF finding it
  // unreferenced once the facade is gone), every part stops with it. The functor runs during
  // cleanup, after the state may be gone: it holds the parts table itself.
  self->attach_functor([parts = self->state.parts](const caf::error&) { stop_all(*parts); });
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    if (st.stopping) return;
    if (!within_budget(self)) {
      DISPATCH_LOG(error, supervisor)
        << "a part stopped (" << caf::to_string(msg.reason) << ") and the restart budget is spent ("
        << st.parts->config.restart_limit << " restarts in "
        << st.parts->config.restart_window.count() << " s); shutting the engine down";
      st.stopping = true;
      self->quit(caf::exit_reason::unhandled_exception);
      return;
    }
    auto role = restart(self, msg.source);
    if (!role.empty()) {
      st.parts->metrics->restarts.fetch_add(1, std::memory_order_relaxed);
      DISPATCH_LOG(warning, supervisor)
        << role << " stopped (" << caf::to_string(msg.reason) << "); restarted it";
    }
  });
  apply_retention(self);
  return {
    [](ping_atom) { return ping_atom::value; },
    [self](tick_atom) { apply_retention(self); },
  };
}

} // namespace dispatch
