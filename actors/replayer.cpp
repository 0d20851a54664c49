// The replayer: replays from the event archive, one bounded step at a time, paced and resumable.
#include "actors/replayer.hpp"

#include <algorithm>
#include <chrono>
#include <unordered_set>
#include <utility>

#include "actors/event_archive.hpp"
#include "actors/thread_priority.hpp"
#include "logging/log.hpp"
#include "messages/derive.hpp"
#include "messages/error_code.hpp"
#include "messages/event_record.hpp"
#include "messages/ids.hpp"
#include "messages/json.hpp"
#include "messages/query_eval.hpp"

namespace dispatch {

namespace {

using self_ptr = replayer_actor::stateful_pointer<replayer_state>;

/// Steps are this far apart; each walks `replay.rate` / 10 archived events.
constexpr auto step_interval = std::chrono::milliseconds(100);

/// A step waits while more deliveries than this wait at the emitters (live ones included): the
/// replay fills the queues only as far as they drain, so live events do not queue behind it.
constexpr int64_t max_waiting = 1024;

/// After a failed read or hand-over, the step is tried again this much later.
constexpr auto retry_interval = std::chrono::seconds(1);

/// A running replay reads the dispatchers again at most this often ("the dispatchers of now").
constexpr auto timeline_refresh = std::chrono::seconds(1);

void schedule(self_ptr self, caf::timespan after) {
  auto& st = self->state;
  if (st.tick_pending) return;
  st.tick_pending = true;
  self->delayed_send(self, after, tick_atom::value);
}

replayer_state::replay* first_running(replayer_state& st) {
  for (auto& [id, r] : st.replays)
    if (r.status.state == replay_state::running) return &r;
  return nullptr;
}

void save(replayer_state& st, const replayer_state::replay& r) {
  if (auto err = st.db->write_replay(r.status, r.where))
    DISPATCH_LOG(warning, replayer)
      << "replay " << r.status.id << ": its progress could not be written (" << message_of(err)
      << "); it resumes from the last position written";
}

/// What one step found: the matching events of a stretch of the log and where it ended.
struct stretch {
  std::vector<archived_event> picked;
  uint64_t last = 0; // the last sequence walked (0: none)
  bool more = false; // the range goes on past it
};

caf::expected<stretch> walk(const replayer_state& st, const replayer_state::replay& r) {
  auto per_step = std::max<uint64_t>(1, st.config.replay_rate / 10);
  archive_range range;
  range.newest_first = false;
  range.lower = std::max(first_sequence_at(r.status.from), r.status.position + 1);
  range.upper = first_sequence_at(r.status.to);
  auto type = named_value(r.where, "type");
  if (type) range.shards.push_back(shard_of(*type, st.db->shards()));
  stretch out;
  uint64_t walked = 0;
  auto err = st.db->for_each_archived(range, [&](const archived_event& x) {
    if (walked == per_step) {
      out.more = true;
      return false;
    }
    ++walked;
    out.last = x.sequence;
    if (type && x.event.type != *type) return true;
    if (r.where.op != filter_op::all) {
      event_record record{x.event};
      if (!r.compiled->matches(record.value())) return true;
    }
    out.picked.push_back(x);
    return true;
  });
  if (err) return err;
  return out;
}

/// The deliveries of the picked events with the dispatchers of now (or those named), with ids of
/// their own: the same for the same replay and event, so a step repeated after a restart hands
/// the same deliveries over again instead of new ones.
delivery_list derive(const replayer_state& st, const replayer_state::replay& r,
                     const std::vector<archived_event>& picked) {
  auto& now = *r.timeline;
  auto when = st.config.now();
  delivery_list made;
  for (auto& x : picked) {
    auto before = made.size();
    if (auto failed = derive_deliveries(now.at(x.event.type, x.sequence), x.shard, x.sequence,
                                        x.event, st.task_sink_schedules, &made, &made)) {
      DISPATCH_LOG(warning, replayer) << "replay " << r.status.id << ": event " << x.event.id
                                      << " cannot be matched (" << *failed << "); skipped";
      continue;
    }
    for (auto i = before; i < made.size(); ++i) {
      auto& d = made[i];
      d.id = delivery_id_of(d.event_id + "@" + r.status.id, d.dispatcher_id, d.action_id);
      d.replay_id = r.status.id;
      d.created = when;
      if (d.status != delivery_status::held || d.next_attempt < when) d.next_attempt = when;
    }
  }
  return made;
}

/// The dispatchers of now (or those named) the replay derives with, prepared: kept between steps,
/// read again once they are `timeline_refresh` old.
caf::error refresh_timeline(const replayer_state& st, replayer_state::replay& r) {
  auto at = std::chrono::steady_clock::now();
  if (r.timeline && at - r.timeline_loaded < timeline_refresh) return caf::none;
  auto all = st.db->load_dispatchers();
  if (!all) return all.error();
  auto now = std::make_shared<dispatcher_timeline>();
  auto& named = r.status.dispatcher_ids;
  for (auto& d : *all)
    if (named.empty() || std::find(named.begin(), named.end(), d.id) != named.end())
      now->apply(0, d.id, &d);
  r.timeline = std::move(now);
  r.timeline_loaded = at;
  return caf::none;
}

void step(self_ptr self);

/// A step's deliveries are with their emitters: the replay moves past the stretch.
void advance(self_ptr self, const std::string& id, const stretch& s, uint64_t dispatched) {
  auto& st = self->state;
  st.stepping = false;
  auto i = st.replays.find(id);
  if (i != st.replays.end()) {
    auto& status = i->second.status;
    status.matched += s.picked.size();
    status.dispatched += dispatched;
    if (s.last != 0) status.position = s.last;
    if (!s.more && status.state == replay_state::running) {
      status.state = replay_state::done;
      status.finished = st.config.now();
      DISPATCH_LOG(info, replayer)
        << "replay " << id << " done: " << status.matched << " events matched, "
        << status.dispatched << " deliveries made";
    }
    save(st, i->second);
  }
  if (first_running(st)) schedule(self, step_interval);
}

void failed_step(self_ptr self, const std::string& id, const caf::error& err) {
  auto& st = self->state;
  st.stepping = false;
  DISPATCH_LOG(warning, replayer) << "replay " << id << ": a step failed (" << message_of(err)
                                  << "); tried again";
  schedule(self, retry_interval);
}

void step(self_ptr self) {
  auto& st = self->state;
  st.tick_pending = false;
  if (st.stepping) return;
  auto r = first_running(st);
  if (!r) return;
  if (st.metrics->pending_depth.load(std::memory_order_relaxed) > max_waiting) {
    schedule(self, step_interval); // live deliveries first
    return;
  }
  auto id = r->status.id;
  if (!r->compiled) r->compiled = std::make_shared<const record_filter>(r->where);
  auto found = walk(st, *r);
  if (!found) return failed_step(self, id, found.error());
  if (found->picked.empty()) return advance(self, id, *found, 0);
  if (auto err = refresh_timeline(st, *r)) return failed_step(self, id, err);
  auto made = derive(st, *r, found->picked);
  if (made.empty()) return advance(self, id, *found, 0);
  // One adopt per emitter; the replay moves on once every one took its share.
  std::vector<std::pair<size_t, delivery_list>> by_emitter;
  auto shards = st.db->shards();
  for (auto& d : made) {
    auto index = emitter_index(d.kind, shard_of(d.event_type, shards), shards);
    auto slot = std::find_if(by_emitter.begin(), by_emitter.end(),
                             [&](const auto& x) { return x.first == index; });
    if (slot == by_emitter.end()) slot = by_emitter.insert(by_emitter.end(), {index, {}});
    slot->second.push_back(std::move(d));
  }
  struct tally {
    size_t outstanding = 0;
    uint64_t adopted = 0;
    bool failed = false;
  };
  for (auto& slot : by_emitter)
    if (slot.first >= st.emitters.size())
      return failed_step(self, id, make_error(error_code::server, "replay: no emitter yet"));
  auto run = std::make_shared<tally>();
  run->outstanding = by_emitter.size();
  auto done = std::make_shared<stretch>(std::move(*found));
  st.stepping = true;
  for (auto& [index, deliveries] : by_emitter) {
    self->request(st.emitters[index], st.config.request_timeout, adopt_atom::value, deliveries)
      .then(
        [self, run, done, id](uint32_t n) {
          run->adopted += n;
          if (--run->outstanding == 0 && !run->failed) advance(self, id, *done, run->adopted);
        },
        [self, run, id](caf::error& err) {
          if (!std::exchange(run->failed, true)) failed_step(self, id, err);
        });
  }
}

/// Starts a replay: checks the request, records it, answers it as started.
caf::result<replay_status> start(self_ptr self, const replay_request& req) {
  auto& st = self->state;
  if (req.to <= req.from)
    return make_error(error_code::field_format, "to: must be after from ("
                                                  + std::to_string(req.from) + "), got "
                                                  + std::to_string(req.to));
  if (auto err = validate(query{req.where, {}, {}, default_page_size, 0}))
    return make_error(error_code::invalid_rql, "filter: " + message_of(err));
  if (!req.dispatcher_ids.empty()) {
    auto all = st.db->load_dispatchers();
    if (!all) return all.error();
    for (size_t i = 0; i < req.dispatcher_ids.size(); ++i) {
      auto& id = req.dispatcher_ids[i];
      if (std::none_of(all->begin(), all->end(), [&](const dispatcher& d) { return d.id == id; }))
        return make_error(error_code::resource_unknown,
                          "dispatcherIds[" + std::to_string(i) + "]: no dispatcher " + id);
    }
  }
  replayer_state::replay r;
  r.where = req.where;
  auto& status = r.status;
  status.id = default_id_generator().next();
  status.from = req.from;
  status.to = req.to;
  status.filter = req.filter;
  status.dispatcher_ids = req.dispatcher_ids;
  status.created = st.config.now();
  if (auto err = st.db->write_replay(status, r.where)) return err;
  DISPATCH_LOG(info, replayer) << "replay " << status.id << " started: events accepted in ["
                               << req.from << ", " << req.to << ")"
                               << (req.filter.empty() ? "" : " matching " + req.filter);
  auto answer = status;
  st.replays.emplace(status.id, std::move(r));
  schedule(self, caf::timespan{0});
  return answer;
}

caf::result<replay_page> list(self_ptr self, const query& q) {
  if (auto err = validate(q)) return err;
  record_set records;
  std::unordered_map<std::string, const replay_status*> by_id;
  // Newest first: ids grow with time.
  auto& replays = self->state.replays;
  for (auto i = replays.rbegin(); i != replays.rend(); ++i) {
    records.put(i->first, to_json(i->second.status));
    by_id.emplace(i->first, &i->second.status);
  }
  replay_page page;
  page.page.offset = q.offset;
  page.page.limit = std::min(q.limit, max_page_size);
  for (auto& id : records.run(q, page.page.total)) page.data.push_back(*by_id.at(id));
  return page;
}

caf::result<replay_status> cancel(self_ptr self, const std::string& id) {
  auto& st = self->state;
  auto i = st.replays.find(id);
  if (i == st.replays.end())
    return make_error(error_code::resource_unknown, "replay " + id + " does not exist");
  auto& r = i->second;
  if (r.status.state == replay_state::running) {
    r.status.state = replay_state::cancelled;
    r.status.finished = st.config.now();
    save(st, r);
    DISPATCH_LOG(info, replayer) << "replay " << id << " cancelled after " << r.status.matched
                                 << " events";
  }
  return r.status;
}

} // namespace

replayer_actor::behavior_type replayer(self_ptr self, engine_config config, store_ptr db,
                                       metrics_ptr metrics, emitter_list emitters,
                                       bool task_sink_schedules, background_priority priority) {
  lower_thread_priority(priority);
  auto& st = self->state;
  st.config = std::move(config);
  st.db = std::move(db);
  st.metrics = std::move(metrics);
  st.emitters = std::move(emitters);
  st.task_sink_schedules = task_sink_schedules;
  if (auto loaded = st.db->load_replays()) {
    for (auto& [status, where] : *loaded)
      st.replays.emplace(status.id, replayer_state::replay{status, where, {}, {}, {}});
  } else {
    DISPATCH_LOG(error, replayer) << "the replays could not be read: "
                                  << message_of(loaded.error());
  }
  if (auto r = first_running(st)) {
    DISPATCH_LOG(info, replayer) << "resuming replay " << r->status.id << " after sequence "
                                 << r->status.position;
    schedule(self, caf::timespan{0});
  }
  return {
    [self](replay_atom, const replay_request& req) { return start(self, req); },
    [self](replays_atom, const query& q) { return list(self, q); },
    [self](cancel_atom, const std::string& id) { return cancel(self, id); },
    [self](handles_atom, const emitter_list& emitters) { self->state.emitters = emitters; },
    [self](tick_atom) { step(self); },
  };
}

} // namespace dispatch
