// Matcher: dispatchers of one shard; events in, durable deliveries out.
#include "actors/matcher.hpp"

#include <algorithm>
#include <iostream>

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include "messages/ids.hpp"
#include "messages/json.hpp"
#include "messages/group_commit.hpp"

namespace dispatch {

namespace {

using self_ptr = matcher_actor::stateful_pointer<matcher_state>;

constexpr size_t scan_page = 1024;
constexpr auto rescan_delay = std::chrono::seconds(1);

void index_add(matcher_state& st, const dispatcher& d) {
  st.by_type[d.event_type].push_back(d.id);
}

void index_remove(matcher_state& st, const dispatcher& d) {
  auto i = st.by_type.find(d.event_type);
  if (i == st.by_type.end())
    return;
  auto& ids = i->second;
  ids.erase(std::remove(ids.begin(), ids.end(), d.id), ids.end());
  if (ids.empty())
    st.by_type.erase(i);
}

void install(matcher_state& st, const dispatcher& d) {
  auto i = st.dispatchers.find(d.id);
  if (i != st.dispatchers.end()) {
    index_remove(st, i->second);
    i->second = d;
  } else {
    st.dispatchers.emplace(d.id, d);
  }
  index_add(st, d);
}

void uninstall(matcher_state& st, const std::string& id) {
  auto i = st.dispatchers.find(id);
  if (i == st.dispatchers.end())
    return;
  index_remove(st, i->second);
  st.dispatchers.erase(i);
}

void schedule_rescan(self_ptr self) {
  if (self->state.rescan_pending)
    return;
  self->state.rescan_pending = true;
  // An empty route is the rescan signal (see `consume`).
  caf::delayed_anon_send(caf::actor_cast<matcher_actor>(self), rescan_delay, route_atom::value,
                         inbox_event_list{});
}

/// Matches events and commits their deliveries; on a write failure the events stay in the inbox and
/// a rescan picks them up later. Returns whether the commit succeeded.
bool match_and_commit(self_ptr self, const inbox_event_list& events) {
  auto& st = self->state;
  auto now = now_ms();
  std::vector<uint64_t> sequences;
  sequences.reserve(events.size());
  // Tasks first, then mails: one list for the commit, split by moving once it is durable.
  delivery_list all;
  all.reserve(events.size());
  size_t mail_count = 0;
  for (auto& in : events) {
    sequences.push_back(in.sequence);
    auto i = st.by_type.find(in.event.type);
    if (i == st.by_type.end())
      continue;
    for (auto& id : i->second) {
      auto& disp = st.dispatchers.at(id);
      for (auto& act : disp.actions) {
        all.push_back(make_delivery(in.event, disp, act, st.task_sink_schedules, now));
        mail_count += all.back().kind == action_kind::task ? 0 : 1;
      }
    }
  }
  if (mail_count > 0)
    std::stable_partition(all.begin(), all.end(),
                          [](const delivery& d) { return d.kind == action_kind::task; });
  // Events whose ids ingest generated just now cannot have deliveries yet: no lookup for them.
  auto ids = std::all_of(events.begin(), events.end(), [](auto& in) { return in.new_id; })
               ? match_ids::new_ids
               : match_ids::may_exist;
  if (auto err = st.db->commit_match(st.shard, sequences, all, ids)) {
    std::cerr << "matcher[" << st.shard << "]: cannot store deliveries: " << message_of(err)
              << "; will retry\n";
    st.metrics->storage_ok = false;
    schedule_rescan(self);
    return false;
  }
  auto created = static_cast<int64_t>(all.size());
  st.metrics->matched.fetch_add(events.size(), std::memory_order_relaxed);
  st.metrics->inbox_depth.fetch_sub(static_cast<int64_t>(events.size()),
                                    std::memory_order_relaxed);
  st.metrics->deliveries_created.fetch_add(all.size(), std::memory_order_relaxed);
  st.metrics->pending_depth.fetch_add(created, std::memory_order_relaxed);
  auto first_mail = all.end() - static_cast<ptrdiff_t>(mail_count);
  delivery_list mails{std::make_move_iterator(first_mail), std::make_move_iterator(all.end())};
  all.erase(first_mail, all.end());
  if (!all.empty())
    self->send(st.task_emitter, enqueue_atom::value, std::move(all));
  if (!mails.empty())
    self->send(st.mail_emitter, enqueue_atom::value, std::move(mails));
  return true;
}

/// Consumes everything left in this shard's inbox, page by page.
void scan_inbox(self_ptr self) {
  auto& st = self->state;
  uint64_t after = 0;
  for (;;) {
    auto page = st.db->scan_inbox(st.shard, after, scan_page);
    if (!page) {
      std::cerr << "matcher[" << st.shard << "]: cannot read the inbox: "
                << message_of(page.error()) << "; will retry\n";
      schedule_rescan(self);
      return;
    }
    if (page->empty())
      return;
    after = page->back().sequence;
    st.scanned_up_to = std::max(st.scanned_up_to, after);
    if (!match_and_commit(self, *page))
      return;
    if (page->size() < scan_page)
      return;
  }
}

/// Matches and commits every event routed since the last commit, then answers their routes.
void flush(self_ptr self) {
  auto& st = self->state;
  st.flush_pending = false;
  auto routed = std::move(st.routed);
  auto routes = std::move(st.routes);
  st.routed.clear();
  st.routes.clear();
  // On a failed commit the events stay in the inbox for the rescan: consumed all the same.
  if (!routed.empty())
    match_and_commit(self, routed);
  for (auto& [promise, count] : routes)
    promise.deliver(count);
}

caf::result<uint64_t> consume(self_ptr self, inbox_event_list& events) {
  auto& st = self->state;
  if (events.empty()) {
    st.rescan_pending = false;
    flush(self); // what was routed before the rescan signal is committed first
    scan_inbox(self);
    return uint64_t{0};
  }
  auto count = static_cast<uint64_t>(events.size());
  // Events up to `scanned_up_to` were consumed by a scan (this one was routed before it ran).
  for (auto& in : events)
    if (in.sequence > st.scanned_up_to)
      st.routed.push_back(std::move(in));
  auto promise = self->make_response_promise<uint64_t>();
  st.routes.emplace_back(promise, count);
  schedule_flush(self, st.flush_pending); // one commit for every route in the mailbox
  return promise;
}

void load_dispatchers(self_ptr self) {
  auto& st = self->state;
  auto all = st.db->load_dispatchers();
  if (!all) {
    // Without its dispatchers the matcher must not consume events: fail, the supervisor restarts.
    throw std::runtime_error("matcher: cannot load dispatchers: " + message_of(all.error()));
  }
  for (auto& d : *all)
    if (shard_of(d.event_type, st.db->shards()) == st.shard)
      install(st, d);
}

} // namespace

delivery make_delivery(const event& ev, const dispatcher& disp, const action& act,
                       bool task_sink_schedules, timestamp_ms now) {
  delivery d;
  d.id = delivery_id_of(ev.id, disp.id, act.id);
  d.kind = act.kind;
  d.event_id = ev.id;
  d.event_type = ev.type;
  d.dispatcher_id = disp.id;
  d.action_id = act.id;
  d.created = now;
  d.next_attempt = now;
  d.status = delivery_status::pending;
  if (act.kind == action_kind::task) {
    d.task.function_name = act.function_name;
    d.task.data = task_data_with_event(act.data, ev);
    d.task.tags = act.tags;
    d.task.start_timestamp = act.start_timestamp;
    d.task.priority = act.priority;
    if (!task_sink_schedules && act.start_timestamp && *act.start_timestamp > now) {
      d.status = delivery_status::held;
      d.next_attempt = *act.start_timestamp;
    }
  } else {
    d.mail.template_id = act.template_id;
    d.mail.recipients = act.recipients;
    d.mail.content = mail_content_of(ev);
  }
  return d;
}

matcher_actor::behavior_type matcher(self_ptr self, uint32_t shard, engine_config config,
                                     store_ptr db, metrics_ptr metrics,
                                     emitter_actor task_emitter, emitter_actor mail_emitter,
                                     bool task_sink_schedules) {
  auto& st = self->state;
  st.shard = shard;
  st.config = std::move(config);
  st.db = std::move(db);
  st.metrics = std::move(metrics);
  st.task_emitter = std::move(task_emitter);
  st.mail_emitter = std::move(mail_emitter);
  st.task_sink_schedules = task_sink_schedules;
  load_dispatchers(self);
  scan_inbox(self);
  return {
    [self](route_atom, inbox_event_list& events) { return consume(self, events); },
    [self](flush_atom) { flush(self); },
    [self](install_atom, const dispatcher& d) -> uint64_t {
      // Events routed before the change are matched as they were routed: with the old set.
      flush(self);
      auto& st = self->state;
      auto removed = st.removed.find(d.id);
      if (removed != st.removed.end() && removed->second >= d.version)
        return removed->second;
      auto current = st.dispatchers.find(d.id);
      if (current != st.dispatchers.end() && current->second.version > d.version)
        return current->second.version;
      install(st, d);
      return d.version;
    },
    [self](uninstall_atom, const std::string& id, uint64_t version) -> uint64_t {
      flush(self);
      auto& st = self->state;
      auto current = st.dispatchers.find(id);
      if (current != st.dispatchers.end() && current->second.version > version)
        return current->second.version;
      uninstall(st, id);
      st.removed[id] = version;
      return version;
    },
    [self](handles_atom, const emitter_actor& task, const emitter_actor& mail) {
      self->state.task_emitter = task;
      self->state.mail_emitter = mail;
    },
  };
}

} // namespace dispatch
