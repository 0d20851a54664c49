// Ingest: group commit of published events into the log, then acknowledgement and routing.
#include "actors/ingest.hpp"

#include <unordered_map>

#include <caf/event_based_actor.hpp>
#include <caf/sec.hpp>

#include "messages/group_commit.hpp"
#include "messages/ids.hpp"
#include "messages/validation.hpp"

namespace dispatch {

namespace {

using self_ptr = ingest_actor::stateful_pointer<ingest_state>;

/// Asks for a flush: at once when the batch is full (whatever is queued behind it forms the next
/// one), else once per mailbox drain.
void flush_soon(self_ptr self) {
  auto& st = self->state;
  if (st.buffer.size() >= st.config.batch_max_events
      || st.buffer_bytes >= st.config.batch_max_bytes) {
    self->send(self, flush_atom::value);
    st.flush_pending = true;
    return;
  }
  schedule_flush(self, st.flush_pending);
}

/// Refuses an event whose deliveries, at the number of actions its type has now, would exceed
/// `dispatch.limits.delivery-bytes-per-event`: each delivers the whole event.
caf::error check_fan_out(const ingest_state& st, const event& ev) {
  if (!st.fan_out) return {};
  auto actions = st.fan_out->actions_of(ev.type);
  auto bytes = actions * (ev.content.size() + ev.type.size() + 64);
  if (bytes <= st.config.max_delivery_bytes_per_event) return {};
  return make_error(error_code::field_format,
                    "content: " + std::to_string(ev.content.size()) + " bytes to "
                      + std::to_string(actions) + " actions of event type '" + ev.type + "' is "
                      + std::to_string(bytes) + " bytes of deliveries, more than "
                      + std::to_string(st.config.max_delivery_bytes_per_event)
                      + " (dispatch.limits.delivery-bytes-per-event)");
}

/// Events written and routed, not yet consumed by a matcher.
uint64_t unmatched(const ingest_state& st) {
  uint64_t total = 0;
  for (auto& shard : st.routing) total += shard.unmatched;
  return total;
}

/// Validates and buffers the events of one publish call; answers rejected ones at once.
waiting_publisher admit(self_ptr self, const event_list& events) {
  auto& st = self->state;
  waiting_publisher pub;
  pub.outcomes.resize(events.size());
  auto now = st.config.now();
  auto pending = unmatched(st) + st.buffer.size();
  auto room = st.config.max_unacknowledged > pending ? st.config.max_unacknowledged - pending : 0;
  for (size_t i = 0; i < events.size(); ++i) {
    auto ev = events[i];
    if (auto err = validate(ev, st.config.max_event_bytes)) {
      pub.outcomes[i] = rejection(ev, err);
      st.metrics->rejected.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (auto err = check_fan_out(st, ev)) {
      pub.outcomes[i] = rejection(ev, err);
      st.metrics->rejected.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (room == 0) {
      pub.outcomes[i] = rejection(
        ev, make_error(error_code::unavailable,
                       "overloaded: " + std::to_string(pending)
                         + " events are accepted but not yet matched; retry later"));
      st.metrics->rejected.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    --room;
    // An event without an id gets one when it is written: the id says where it is in the log.
    if (!ev.id.empty()) {
      st.client_ids.push_back(st.buffer.size());
      ev.id = normalize_id(ev.id);
    }
    if (ev.creation_timestamp == 0) ev.creation_timestamp = now;
    st.buffer_bytes += ev.content.size() + ev.type.size() + 64;
    pub.slots.emplace_back(i, st.buffer.size());
    st.buffer.push_back(std::move(ev));
  }
  return pub;
}

void answer(waiting_publisher& pub) {
  if (!pub.single) {
    pub.many.deliver(std::move(pub.outcomes));
    return;
  }
  auto& out = pub.outcomes.front();
  if (accepted(out))
    pub.one.deliver(std::move(out.stored));
  else
    pub.one.deliver(make_error(out.code, std::move(out.message)));
}

/// Answers a publish at once when none of its events needs writing, else waits for the next flush.
void submit(self_ptr self, waiting_publisher pub) {
  if (pub.slots.empty()) {
    answer(pub);
    return;
  }
  self->state.waiting.push_back(std::move(pub));
  flush_soon(self);
}

/// Takes `count` events off the unmatched ones of `shard`'s matcher (of `generation`).
void matched(ingest_state& st, uint32_t shard, uint64_t generation, uint64_t count) {
  auto& routing = st.routing[shard];
  if (routing.generation != generation)
    return; // that matcher was replaced: its count was dropped then
  count = std::min(count, routing.unmatched);
  routing.unmatched -= count;
  st.metrics->inbox_depth.fetch_sub(static_cast<int64_t>(count), std::memory_order_relaxed);
}

/// Hands durable events to their shard's matcher.
void route(self_ptr self, uint32_t shard, logged_event_list events) {
  auto& st = self->state;
  auto count = events.size();
  if (shard >= st.matchers.size()) { // no matcher (yet): the emitters find the events in the log
    st.metrics->inbox_depth.fetch_sub(static_cast<int64_t>(count), std::memory_order_relaxed);
    return;
  }
  auto generation = st.routing[shard].generation;
  st.routing[shard].unmatched += count;
  // No timeout (CAF's clock would keep one per request): a live matcher always answers, a dead
  // one is answered for by CAF, or replaced (`replace_matchers`) if it died while routing. The
  // events move into the message: no copy is kept. A matcher that went down before consuming
  // them leaves them to the emitters, which read the log past their cursors when their new
  // matcher is announced.
  auto done = [self, shard, generation, count] { matched(self->state, shard, generation, count); };
  self->request(st.matchers[shard], caf::infinite, route_atom::value, std::move(events))
    .then([done](uint64_t) { done(); }, [done](const caf::error&) { done(); });
}

/// A restarted matcher: the events its predecessor held unanswered no longer count against the
/// overload cap (the emitters find them in the log).
void replace_matchers(self_ptr self, const matcher_list& matchers) {
  auto& st = self->state;
  for (uint32_t shard = 0; shard < st.routing.size() && shard < matchers.size(); ++shard) {
    if (shard < st.matchers.size() && st.matchers[shard] == matchers[shard]) continue;
    auto& routing = st.routing[shard];
    matched(st, shard, routing.generation, routing.unmatched);
    ++routing.generation;
  }
  st.matchers = matchers;
}

/// Writes the buffered batch, then answers its publishers and routes its events.
void flush(self_ptr self) {
  auto& st = self->state;
  st.flush_pending = false;
  if (st.buffer.empty()) return;
  auto batch = std::move(st.buffer);
  auto publishers = std::move(st.waiting);
  auto client_ids = std::move(st.client_ids);
  st.buffer.clear();
  st.waiting.clear();
  st.client_ids.clear();
  st.buffer_bytes = 0;
  auto now = st.config.now();
  // Sequences start with the accept time (ms × 1000, then a counter): whole days of the log are
  // key ranges, and a delivery's age starts from its sequence.
  st.next_sequence = std::max(st.next_sequence, first_sequence_at(now));
  // Duplicates: against the store (one MultiGet), and within this batch. An id this ingest just
  // generated is new by construction: only the ids publishers chose are looked up.
  std::vector<std::string> ids;
  ids.reserve(client_ids.size());
  for (auto i : client_ids) ids.push_back(batch[i].id);
  std::vector<publish_outcome> results(batch.size());
  std::vector<accepted_event> fresh;
  fresh.reserve(batch.size());
  using seen_list = std::vector<caf::optional<event>>;
  auto seen = ids.empty() ? caf::expected<seen_list>{seen_list{}}
                          : st.db->find_seen(ids, st.config.seen_days, now);
  caf::error failure = seen ? caf::error{} : seen.error();
  std::vector<bool> stored_before(batch.size(), false);   // keeps its answer whatever happens
  std::unordered_map<std::string, size_t> first_in_batch; // publisher-chosen id -> its index
  size_t k = 0; // the next of `client_ids` (ascending), and its slot in `seen`
  for (size_t i = 0; i < batch.size() && !failure; ++i) {
    auto& res = results[i];
    auto chosen = k < client_ids.size() && client_ids[k] == i;
    if (chosen) {
      auto& earlier = (*seen)[k++];
      if (earlier) {
        res.stored = std::move(*earlier);
        res.duplicate = stored_before[i] = true;
        continue;
      }
      auto [first, inserted] = first_in_batch.emplace(batch[i].id, i);
      if (!inserted) { // a second copy within this batch: answered like the first
        res.stored = results[first->second].stored;
        res.duplicate = true;
        continue;
      }
    }
    auto shard = shard_of(batch[i].type, st.db->shards());
    auto sequence = st.next_sequence++;
    if (!chosen) batch[i].id = event_id_at(shard, sequence);
    // The answer gets a copy; the write and the route take the event itself.
    res.stored = batch[i];
    fresh.push_back(accepted_event{shard, sequence, std::move(batch[i]), chosen});
  }
  if (!failure && !fresh.empty()) failure = st.db->accept_events(fresh, now);
  if (failure) {
    st.metrics->storage_ok = false;
    auto why = make_error(error_code::unavailable, "unavailable: the event could not be stored ("
                                                     + message_of(failure)
                                                     + "); nothing was accepted");
    // Only a duplicate of an event stored earlier keeps its answer; the rest was not written.
    // (An accepted event was moved out of `batch`: its answer holds it.)
    for (size_t i = 0; i < results.size(); ++i)
      if (!stored_before[i])
        results[i] = rejection(
          results[i].duplicate || results[i].stored.id.empty() ? batch[i] : results[i].stored, why);
    st.metrics->rejected.fetch_add(fresh.size(), std::memory_order_relaxed);
    fresh.clear();
  } else {
    st.metrics->storage_ok = true;
  }
  size_t duplicates = 0;
  for (auto& r : results) duplicates += r.duplicate ? 1 : 0;
  st.metrics->duplicates.fetch_add(duplicates, std::memory_order_relaxed);
  st.metrics->accepted.fetch_add(fresh.size(), std::memory_order_relaxed);
  st.metrics->inbox_depth.fetch_add(static_cast<int64_t>(fresh.size()), std::memory_order_relaxed);
  for (auto& pub : publishers) {
    for (auto [out_index, buf_index] : pub.slots) pub.outcomes[out_index] = results[buf_index];
    answer(pub);
  }
  // Route after the write: matchers only ever see durable events.
  std::vector<logged_event_list> by_shard(st.db->shards());
  for (auto& x : fresh) by_shard[x.shard].push_back(logged_event{x.sequence, std::move(x.event)});
  for (uint32_t shard = 0; shard < by_shard.size(); ++shard)
    if (!by_shard[shard].empty()) route(self, shard, std::move(by_shard[shard]));
}

} // namespace

ingest_actor::behavior_type ingest(self_ptr self, engine_config config, store_ptr db,
                                   metrics_ptr metrics, matcher_list matchers,
                                   fan_out_ptr fan_out) {
  auto& st = self->state;
  st.config = std::move(config);
  st.db = std::move(db);
  st.metrics = std::move(metrics);
  st.matchers = std::move(matchers);
  st.fan_out = std::move(fan_out);
  st.routing.resize(st.db->shards());
  st.next_sequence = std::max<uint64_t>(st.db->last_log_sequence() + 1,
                                        first_sequence_at(st.config.now()));
  return {
    [self](publish_atom, const event& ev) {
      auto pub = admit(self, event_list{ev});
      pub.single = true;
      pub.one = self->make_response_promise<event>();
      auto rp = pub.one;
      submit(self, std::move(pub));
      return rp;
    },
    [self](publish_atom, const event_list& events) {
      auto pub = admit(self, events);
      pub.many = self->make_response_promise<publish_outcome_list>();
      auto rp = pub.many;
      submit(self, std::move(pub));
      return rp;
    },
    [self](flush_atom) { flush(self); },
    [self](handles_atom, const matcher_list& matchers) { replace_matchers(self, matchers); },
  };
}

} // namespace dispatch
