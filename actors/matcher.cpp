// Matcher: dispatchers of one shard over time; logged events in, delivery batches out.
#include "actors/matcher.hpp"

#include <algorithm>
#include <chrono>

#include "logging/log.hpp"
#include "messages/ids.hpp"

namespace dispatch {

namespace {

using self_ptr = matcher_actor::stateful_pointer<matcher_state>;

/// A dispatcher's `rateLimit` as its bucket takes it (0: none).
double per_second_of(const dispatcher* d) {
  return d != nullptr && d->rate_limit ? d->rate_limit->per_second : 0;
}

/// Records changes from the next sequence on, then applies them; an error leaves both unchanged.
/// A rate applies from then on to every delivery of the dispatcher, waiting ones included (it
/// limits when deliveries go, not what an event derives).
caf::error apply_versions(matcher_state& st, std::vector<dispatcher_version> versions) {
  if (versions.empty()) return caf::none;
  for (auto& v : versions) v.from = st.last_sequence + 1;
  if (auto err = st.db->write_dispatcher_versions(st.shard, versions)) return err;
  for (auto& v : versions) {
    st.timeline.apply(v.from, v.id, v.value ? &*v.value : nullptr);
    if (st.rates) st.rates->follow(v.id, per_second_of(v.value ? &*v.value : nullptr));
  }
  return caf::none;
}

uint64_t rates_version(const matcher_state& st) {
  return st.rates ? st.rates->version() : 0;
}

/// Wakes the emitters when a dispatcher's rate changed since `before`: deliveries that wait for
/// the old rate look at the new one now rather than when the old one's token was due.
void tell_rates_changed(self_ptr self, uint64_t before) {
  auto& st = self->state;
  if (rates_version(st) == before) return;
  for (auto* emitter : {&st.task_emitter, &st.mail_emitter})
    if (*emitter) self->send(*emitter, tick_atom::value);
}

/// Loads the versions of this shard, then records whatever the current set (the directory's)
/// changed since: an install whose version write was cut short by a crash is redone here.
void load_dispatchers(matcher_state& st) {
  auto versions = st.db->load_dispatcher_versions(st.shard);
  if (!versions)
    throw std::runtime_error("matcher: cannot load dispatcher versions: "
                             + message_of(versions.error()));
  for (auto& v : *versions) st.timeline.apply(v.from, v.id, v.value ? &*v.value : nullptr);
  auto all = st.db->load_dispatchers();
  if (!all)
    throw std::runtime_error("matcher: cannot load dispatchers: " + message_of(all.error()));
  std::vector<dispatcher_version> changes;
  std::unordered_map<std::string, bool> in_set;
  for (auto& d : *all) {
    if (shard_of(d.event_type, st.db->shards()) != st.shard) continue;
    in_set.emplace(d.id, true);
    auto* now = st.timeline.current(d.id);
    if (now == nullptr || now->version != d.version)
      changes.push_back(dispatcher_version{0, d.id, d});
  }
  for (auto* d : st.timeline.all_current())
    if (in_set.count(d->id) == 0) changes.push_back(dispatcher_version{0, d->id, caf::none});
  if (auto err = apply_versions(st, std::move(changes)))
    throw std::runtime_error("matcher: cannot record dispatcher versions: " + message_of(err));
  // A restarted matcher brings the buckets in line with the current set (a bucket that stays
  // keeps its credit).
  if (st.rates) {
    std::vector<std::pair<std::string, double>> limited;
    for (auto* d : st.timeline.all_current()) limited.emplace_back(d->id, per_second_of(d));
    st.rates->replace(limited);
  }
}

/// The last sequence the log holds before `first` (the first event routed to this matcher), when
/// it is past where this matcher started: events accepted after it started that were routed to
/// the matcher it replaced, which stopped before deriving them. Zero when there are none.
uint64_t missed_before(matcher_state& st, uint64_t first) {
  constexpr uint32_t step = 1024;
  uint64_t missed = 0;
  for (auto after = st.last_sequence;;) {
    auto page = st.db->scan_log(st.shard, after, step);
    if (!page) {
      // Unknown: claim the whole stretch from the start, the emitters read the log over it.
      return first - 1;
    }
    for (auto& in : *page) {
      if (in.sequence >= first) return missed;
      missed = in.sequence;
    }
    if (page->size() < step) return missed;
    after = page->back().sequence;
  }
}

/// Sets aside the event at `in` whose deliveries could not be derived: recorded with why, counted
/// and logged. False when even the record could not be written.
bool set_aside(matcher_state& st, const logged_event& in, const std::string& reason) {
  set_aside_event e{st.shard, in.sequence, in.event, reason.empty() ? "unknown failure" : reason,
                    st.config.now()};
  if (auto err = st.db->set_aside(e)) {
    DISPATCH_LOG(error, matcher) << "shard " << st.shard << ": could not set aside event "
                                 << in.event.id << " (deriving its deliveries failed: " << e.reason
                                 << "): " << message_of(err)
                                 << "; its emitters will read it from the log again";
    return false;
  }
  st.metrics->set_aside.fetch_add(1, std::memory_order_relaxed);
  DISPATCH_LOG(warning, matcher) << "shard " << st.shard << ": set aside event " << in.event.id
                                 << " of type '" << in.event.type << "' at log position "
                                 << in.sequence << ": deriving its deliveries failed: " << e.reason
                                 << " (listed by GET /events/v1/ with setAside; nothing is "
                                    "delivered for it)";
  return true;
}

/// A batch without deliveries waits for this many events of its own, or this long, before it
/// is sent: an emitter's cursor then lags by at most that much (re-read from the log after a
/// crash), and an emitter with nothing to do is woken at most so often.
constexpr uint64_t progress_events = 1024;
constexpr auto progress_delay = std::chrono::milliseconds(20);

/// Sends `batch` to `emitter` when it has deliveries or must go now, else adds its events to
/// what that emitter has not been told yet.
void hand_over(self_ptr self, const emitter_actor& emitter, matcher_state::emitter_progress& p,
               delivery_batch&& batch, uint64_t events, bool now) {
  auto& st = self->state;
  if (batch.deliveries.empty() && !now && p.unsent + events < progress_events) {
    p.unsent += events;
    if (!st.progress_timer) {
      st.progress_timer = true;
      self->delayed_send(self, progress_delay, flush_atom::value);
    }
    return;
  }
  p.after = batch.last;
  p.unsent = 0;
  self->send(emitter, enqueue_atom::value, std::move(batch));
}

/// Tells each emitter that was not told yet how far the events without deliveries of its kind go.
void send_progress(self_ptr self) {
  auto& st = self->state;
  st.progress_timer = false;
  auto tell = [&](const emitter_actor& emitter, matcher_state::emitter_progress& p) {
    if (p.unsent == 0) return;
    delivery_batch none;
    none.after = p.after;
    none.last = st.last_sequence;
    hand_over(self, emitter, p, std::move(none), 0, true);
  };
  tell(st.task_emitter, st.task_progress);
  tell(st.mail_emitter, st.mail_progress);
}

/// Derives the deliveries of routed events and hands each emitter its batch.
uint64_t consume(self_ptr self, const logged_event_list& events) {
  auto& st = self->state;
  delivery_batch tasks;
  delivery_batch mails;
  tasks.after = st.task_progress.after;
  mails.after = st.mail_progress.after;
  bool gap = false;
  if (!st.routed) {
    // The first events routed here (or the first after an event that could not be set aside).
    // Those the log holds between where this matcher stood and them are not derived here: the
    // batch says it starts after them, so the emitters see a gap and read them from the log.
    // Both batches go at once: a gap must not be folded into a later batch.
    for (auto& in : events)
      if (in.sequence > st.last_sequence) {
        st.routed = gap = true;
        tasks.after = mails.after = std::max(st.last_sequence, missed_before(st, in.sequence));
        break;
      }
  }
  size_t consumed = 0;
  for (auto& in : events) {
    // An event the log held when this matcher started: the emitters catch up to it themselves.
    if (in.sequence <= st.last_sequence) continue;
    auto failed = derive_deliveries(st.timeline.at(in.event.type, in.sequence), st.shard,
                                    in.sequence, in.event, st.task_sink_schedules,
                                    &tasks.deliveries, &mails.deliveries);
    if (failed && !set_aside(st, in, *failed)) {
      // Stop here: this event and the rest of the batch are left to the emitters, which read
      // them from the log (and try to set this one aside again) once the next batch shows a gap.
      st.routed = false;
      break;
    }
    st.last_sequence = in.sequence;
    ++consumed;
  }
  st.metrics->matched.fetch_add(events.size(), std::memory_order_relaxed);
  if (consumed == 0) return events.size();
  st.metrics->deliveries_created.fetch_add(tasks.deliveries.size() + mails.deliveries.size(),
                                           std::memory_order_relaxed);
  tasks.last = mails.last = st.last_sequence;
  hand_over(self, st.task_emitter, st.task_progress, std::move(tasks), consumed, gap);
  hand_over(self, st.mail_emitter, st.mail_progress, std::move(mails), consumed, gap);
  return events.size();
}

/// The deliveries of `kind` of up to `max_events` log entries after `after`, less those that
/// have a record of their own (their emitter drives them from it).
caf::result<delivery_batch> rederive(self_ptr self, action_kind kind, uint64_t after,
                                     uint32_t max_events) {
  auto& st = self->state;
  auto page = st.db->scan_log(st.shard, after, std::max<uint32_t>(max_events, 1));
  if (!page) return page.error();
  delivery_batch batch;
  batch.after = after;
  batch.last = page->empty() ? after : page->back().sequence;
  batch.exhausted = page->size() < std::max<uint32_t>(max_events, 1);
  auto set_aside_before = st.db->set_aside_sequences(st.shard, after, batch.last);
  if (!set_aside_before) return set_aside_before.error();
  delivery_list derived;
  for (auto& in : *page) {
    if (std::binary_search(set_aside_before->begin(), set_aside_before->end(), in.sequence))
      continue;
    // Both kinds, so that an event is set aside (or not) whichever emitter reads it first.
    delivery_list both;
    if (auto failed = derive_deliveries(st.timeline.at(in.event.type, in.sequence), st.shard,
                                        in.sequence, in.event, st.task_sink_schedules, &both,
                                        &both)) {
      if (!set_aside(st, in, *failed))
        return make_error(error_code::server, "could not set aside event " + in.event.id);
      continue;
    }
    for (auto& d : both)
      if (d.kind == kind) derived.push_back(std::move(d));
  }
  std::vector<std::string> ids;
  ids.reserve(derived.size());
  for (auto& d : derived) ids.push_back(d.id);
  auto recorded = st.db->has_record(ids);
  if (!recorded) return recorded.error();
  batch.deliveries.reserve(derived.size());
  for (size_t i = 0; i < derived.size(); ++i)
    if (!(*recorded)[i]) batch.deliveries.push_back(std::move(derived[i]));
  return batch;
}

} // namespace

matcher_actor::behavior_type matcher(self_ptr self, uint32_t shard, engine_config config,
                                     store_ptr db, metrics_ptr metrics, emitter_actor task_emitter,
                                     emitter_actor mail_emitter, bool task_sink_schedules,
                                     dispatcher_rates_ptr rates) {
  auto& st = self->state;
  st.shard = shard;
  st.config = std::move(config);
  st.db = std::move(db);
  st.metrics = std::move(metrics);
  st.task_emitter = std::move(task_emitter);
  st.mail_emitter = std::move(mail_emitter);
  st.task_sink_schedules = task_sink_schedules;
  st.rates = std::move(rates);
  st.last_sequence = st.db->last_log_sequence(shard);
  st.task_progress.after = st.mail_progress.after = st.last_sequence;
  load_dispatchers(st);
  return {
    [self](rederive_atom, action_kind kind, uint64_t after, uint32_t max_events) {
      return rederive(self, kind, after, max_events);
    },
    [self](route_atom, const logged_event_list& events) { return consume(self, events); },
    [self](install_atom, const dispatcher& d) -> caf::result<uint64_t> {
      auto& st = self->state;
      if (auto removed = st.removed.removal_covering(d.id, d.version)) return removed;
      auto* current = st.timeline.current(d.id);
      if (current != nullptr && current->version >= d.version) return current->version;
      auto rates_before = rates_version(st);
      if (auto err = apply_versions(st, {dispatcher_version{0, d.id, d}})) return err;
      tell_rates_changed(self, rates_before);
      return d.version;
    },
    [self](uninstall_atom, const std::string& id, uint64_t version) -> caf::result<uint64_t> {
      auto& st = self->state;
      auto* current = st.timeline.current(id);
      if (current != nullptr && current->version > version) return current->version;
      auto rates_before = rates_version(st);
      if (current != nullptr)
        if (auto err = apply_versions(st, {dispatcher_version{0, id, caf::none}})) return err;
      tell_rates_changed(self, rates_before);
      st.removed.record(id, version);
      return version;
    },
    [self](handles_atom, const emitter_actor& task, const emitter_actor& mail) {
      self->state.task_emitter = task;
      self->state.mail_emitter = mail;
    },
    [self](flush_atom) { send_progress(self); },
  };
}

} // namespace dispatch
