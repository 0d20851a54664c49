// The emitter actor: keeps the earliest waiting deliveries of one kind in memory, hands due ones
// to its sink under an in-flight cap, and writes every outcome (delivered, retrying, dead) down.
#include "actors/emitter.hpp"

#include <algorithm>
#include <iostream>
#include <limits>

#include <caf/sec.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/backoff.hpp"
#include "messages/error_code.hpp"
#include "messages/group_commit.hpp"

namespace dispatch {

namespace {

using emitter_ptr = emitter_actor::stateful_pointer<emitter_state>;

/// How soon a failed store read or write is tried again.
constexpr timestamp_ms storage_retry_ms = 1000;

/// How often the store is swept for waiting deliveries that memory does not know of.
constexpr timestamp_ms sweep_interval_ms = 5000;

/// How many finished ids are remembered against late `enqueue` messages.
constexpr size_t finished_memory = 4096;

size_t memory_cap(const emitter_state& st) {
  return std::max<size_t>(st.config.emitter_memory_cap, 1);
}

size_t in_flight_cap(const emitter_state& st) {
  return std::max<size_t>(st.config.sink_in_flight, 1);
}

// Below this many queued deliveries the emitter pages more from the store (when it has more).
size_t low_watermark(const emitter_state& st) {
  return memory_cap(st) / 4;
}

void report_storage_failure(emitter_ptr self, const std::string& what, const caf::error& err) {
  std::cerr << "[" << emitter_state::name << " " << to_string(self->state.kind) << "] " << what
            << ": " << message_of(err) << std::endl;
  self->state.metrics->storage_ok = false;
}

bool is_known(const emitter_state& st, const std::string& id) {
  return st.queued.count(id) > 0 || st.in_flight.count(id) > 0 || st.unwritten.count(id) > 0 ||
         (!st.purged.empty() && st.purged.count(id) > 0);
}

void remember_finished(emitter_state& st, const std::string& id) {
  if (!st.finished_recently.insert(id).second) return;
  st.finished_order.push_back(id);
  if (st.finished_order.size() > finished_memory) {
    st.finished_recently.erase(st.finished_order.front());
    st.finished_order.pop_front();
  }
}

/// Keeps `queue` the earliest waiting deliveries: beyond the cap a newcomer displaces the latest
/// one, or stays in the store itself; either way the store holds more (`backlog`).
void admit(emitter_state& st, delivery d) {
  if (d.kind != st.kind || is_known(st, d.id)) return;
  auto key = std::make_pair(d.next_attempt, d.id);
  if (st.queue.size() >= memory_cap(st)) {
    st.backlog = true;
    auto latest = std::prev(st.queue.end());
    if (!(key < latest->first)) return;
    st.queued.erase(latest->first.second);
    st.queue.erase(latest);
  }
  st.queued.emplace(d.id, d.next_attempt);
  st.queue.emplace(std::move(key), std::move(d));
}

/// Reads the next page of waiting deliveries; false when the store could not be read.
bool page_from_store(emitter_ptr self) {
  auto& st = self->state;
  auto cap = memory_cap(st);
  if (st.queue.size() >= cap) return true;
  auto wanted = cap - st.queue.size();
  auto skip = [&st](const std::string& id) { return is_known(st, id); };
  auto page = st.db->scan_due(st.kind, wanted, skip);
  if (!page) {
    report_storage_failure(self, "paging waiting deliveries", page.error());
    return false;
  }
  auto exhausted = page->size() < wanted;
  for (auto& d : *page) admit(st, std::move(d));
  st.backlog = !exhausted;
  return true;
}

/// Counts a written outcome and re-queues a rescheduled delivery.
void count_outcome(emitter_state& st, delivery&& d) {
  auto& m = *st.metrics;
  if (d.status == delivery_status::delivered) {
    ++m.delivered;
    --m.pending_depth;
    m.delivery_latency.record(std::chrono::milliseconds{d.finished - d.created});
    remember_finished(st, d.id);
  } else if (d.status == delivery_status::dead) {
    ++m.dead_letters;
    --m.pending_depth;
    remember_finished(st, d.id);
  } else {
    ++m.retries;
    admit(st, std::move(d));
  }
}

/// Writes every unwritten outcome in one batch; false when the store failed (they stay).
bool write_unwritten(emitter_ptr self) {
  auto& st = self->state;
  if (st.unwritten.empty())
    return true;
  std::vector<delivery_outcome> batch;
  batch.reserve(st.unwritten.size());
  for (auto& [id, x] : st.unwritten)
    batch.push_back(delivery_outcome{x.previous_due, std::move(x.outcome)});
  if (auto err = st.db->write_outcomes(batch)) {
    report_storage_failure(self, "writing " + std::to_string(batch.size()) + " delivery outcomes",
                           err);
    // They stay for the next attempt (the map is in id order, and so is the batch).
    auto i = batch.begin();
    for (auto& [id, x] : st.unwritten)
      x.outcome = std::move((i++)->value);
    return false;
  }
  st.unwritten.clear(); // before counting: a rescheduled delivery is admitted again
  for (auto& x : batch)
    count_outcome(st, std::move(x.value));
  return true;
}

/// Gathers an outcome for the next group commit: every answer already in the mailbox is handled
/// before the `flush`, so one batch takes them all.
void record_outcome(emitter_ptr self, unwritten_outcome x) {
  auto& st = self->state;
  auto id = x.outcome.id;
  st.unwritten.insert_or_assign(std::move(id), std::move(x));
  schedule_flush(self, st.flush_pending);
}

/// Turns a sink's answer into the delivery's next state.
unwritten_outcome outcome_of(emitter_state& st, delivery d, timestamp_ms previous_due,
                             const delivery_result& r) {
  auto now = now_ms();
  // A deferred delivery was not tried (the sink's circuit is open): no attempt spent, only time.
  if (r.verdict != sink_verdict::deferred && d.attempts < std::numeric_limits<uint32_t>::max())
    ++d.attempts;
  if (r.verdict == sink_verdict::delivered) {
    d.status = delivery_status::delivered;
    d.finished = now;
    return {previous_due, std::move(d)};
  }
  d.last_error = r.reason;
  auto next = timestamp_ms{0}; // a permanent failure: dead at once
  if (r.verdict == sink_verdict::retry)
    next = next_attempt_time(st.config.retry, d.attempts, d.created, now, r.retry_after_ms, st.rng);
  else if (r.verdict == sink_verdict::deferred)
    next = deferred_attempt_time(st.config.retry, d.created, now, r.retry_after_ms);
  if (next == 0) {
    d.status = delivery_status::dead;
    d.finished = now;
  } else {
    d.status = delivery_status::retrying;
    d.next_attempt = next;
  }
  return {previous_due, std::move(d)};
}

void pump(emitter_ptr self);

/// Drops answered sends from the front of `send_order`: its front is then the next deadline.
void prune_send_order(emitter_state& st) {
  while (!st.send_order.empty()) {
    auto i = st.in_flight.find(st.send_order.front().first);
    if (i != st.in_flight.end() && i->second.send == st.send_order.front().second)
      return;
    st.send_order.pop_front();
  }
}

/// The sink answered send number `send` of delivery `id` (or it timed out); a stale answer, to a
/// send that timed out before, changes nothing.
void on_sink_answer(emitter_ptr self, const std::string& id, uint64_t send,
                    const delivery_result& r) {
  auto& st = self->state;
  auto i = st.in_flight.find(id);
  if (i == st.in_flight.end() || i->second.send != send)
    return;
  auto sent = std::move(i->second.message);
  st.in_flight.erase(i);
  --st.metrics->in_flight;
  prune_send_order(st);
  // A delivery purged while at the sink is gone from the store: its answer changes nothing.
  if (st.purged.empty() || st.purged.erase(id) == 0) {
    // Moved out unless the sink still holds the message (then copied).
    auto d = std::move(sent.get_mutable_as<delivery>(1));
    auto due = d.next_attempt;
    record_outcome(self, outcome_of(st, std::move(d), due, r));
  }
  pump(self);
}

/// Sends whose answer is overdue fail like a sink that answered "retry".
void expire_sends(emitter_ptr self, timestamp_ms now) {
  auto& st = self->state;
  prune_send_order(st);
  while (!st.send_order.empty()) {
    auto [id, send] = st.send_order.front();
    if (st.in_flight.at(id).deadline > now)
      return;
    static const auto reason = "sink: " + message_of(caf::make_error(caf::sec::request_timeout));
    on_sink_answer(self, id, send, retry_later(reason));
  }
}

void send_to_sink(emitter_ptr self, delivery d) {
  auto& st = self->state;
  auto send = ++st.sends;
  auto deadline = now_ms() + std::max<timestamp_ms>(st.config.sink_timeout.count(), 1);
  auto id = std::make_shared<const std::string>(d.id);
  // The message the sink gets is the one the emitter keeps: no copy of the delivery. It goes
  // through the untyped handle only because CAF 0.17's typed `request` cannot take a ready
  // message; the sink's typed interface still says what it accepts.
  auto message = caf::make_message(deliver_atom::value, std::move(d));
  st.in_flight.insert_or_assign(*id, sent_delivery{message, send, deadline});
  st.send_order.emplace_back(*id, send);
  ++st.metrics->in_flight;
  self->request(caf::actor_cast<caf::actor>(st.sink.handle), caf::infinite, std::move(message))
      .then([self, id, send](delivery_result& r) { on_sink_answer(self, *id, send, r); },
            [self, id, send](caf::error& err) {
              // A dead sink is a transient failure like any other.
              on_sink_answer(self, *id, send, retry_later("sink: " + message_of(err)));
            });
}

/// Arms a tick for the head's due time, a storage retry or the next sweep, whichever comes first,
/// unless a timer fires earlier already.
void arm_timer(emitter_ptr self, timestamp_ms now, bool storage_failed) {
  auto& st = self->state;
  auto due = std::max(st.next_sweep, now + 1);
  if (st.sink.handle && !st.queue.empty() && st.in_flight.size() < in_flight_cap(st))
    due = std::min(due, std::max(st.queue.begin()->first.first, now + 1));
  if (storage_failed || !st.unwritten.empty()) due = std::min(due, now + storage_retry_ms);
  if (!st.send_order.empty())
    due = std::min(due, std::max(st.in_flight.at(st.send_order.front().first).deadline, now + 1));
  if (st.timer_due != 0 && st.timer_due <= due) return;
  auto delay = std::chrono::milliseconds{due - now};
  st.timer_due = due;
  st.timer_fires = std::chrono::steady_clock::now() + delay;
  self->delayed_send(self, delay, tick_atom::value);
}

/// Sends what is due while the sink has room, refilling from the store when memory runs low.
void pump(emitter_ptr self) {
  auto& st = self->state;
  auto readable = true;
  auto low = [&st] { return st.queue.size() <= low_watermark(st); };
  if (st.backlog && low()) readable = page_from_store(self);
  auto now = now_ms();
  // Without a sink nothing is sent: deliveries wait in the store for an emitter that has one.
  while (st.sink.handle && st.in_flight.size() < in_flight_cap(st) && !st.queue.empty()) {
    auto head = st.queue.begin();
    if (head->first.first > now) break;
    auto d = std::move(head->second);
    st.queue.erase(head);
    st.queued.erase(d.id);
    send_to_sink(self, std::move(d));
    if (readable && st.backlog && low()) readable = page_from_store(self);
  }
  arm_timer(self, now, !readable);
}

void on_enqueue(emitter_ptr self, delivery_list& deliveries) {
  auto& st = self->state;
  auto now = now_ms();
  for (auto& d : deliveries) {
    if (st.finished_recently.count(d.id) > 0) continue;
    // Due, room at the sink and nothing queued before it: straight to the sink.
    if (st.sink.handle && st.queue.empty() && d.next_attempt <= now && d.kind == st.kind &&
        st.in_flight.size() < in_flight_cap(st) && !is_known(st, d.id)) {
      send_to_sink(self, std::move(d));
      continue;
    }
    admit(st, std::move(d));
  }
  pump(self);
}

void on_tick(emitter_ptr self) {
  auto& st = self->state;
  // Timers fire on the steady clock: only the awaited one (or a later one) clears `timer_due`, so
  // that a stale tick neither re-arms nor leaves the emitter without a timer.
  if (std::chrono::steady_clock::now() >= st.timer_fires) st.timer_due = 0;
  auto now = now_ms();
  if (now >= st.next_sweep) {
    st.backlog = true;  // finds deliveries whose `enqueue` was lost (sent to a previous emitter)
    st.next_sweep = now + sweep_interval_ms;
  }
  expire_sends(self, now);
  write_unwritten(self);
  pump(self);
}

void on_flush(emitter_ptr self) {
  self->state.flush_pending = false;
  write_unwritten(self);
  pump(self);
}

caf::result<delivery> on_replay(emitter_ptr self, const std::string& id) {
  auto& st = self->state;
  auto found = st.db->get_dead_letter(id);
  if (!found) {
    report_storage_failure(self, "reading dead letter " + id, found.error());
    return make_error(error_code::server, "delivery " + id + ": " + message_of(found.error()));
  }
  if (!*found || (*found)->kind != st.kind)
    return make_error(error_code::resource_unknown,
                      "delivery " + id + ": no dead letter with this id");
  auto d = std::move(**found);
  auto now = now_ms();
  d.attempts = 0;
  d.created = now;
  d.next_attempt = now;
  d.finished = 0;
  d.status = delivery_status::pending;
  d.last_error.clear();
  if (auto err = st.db->revive(d)) {
    report_storage_failure(self, "reviving dead letter " + id, err);
    return make_error(error_code::server, "delivery " + id + ": " + message_of(err));
  }
  ++st.metrics->replayed;
  ++st.metrics->pending_depth;
  st.finished_recently.erase(d.id);
  admit(st, d);
  pump(self);
  return d;
}

/// Forgets what memory holds of a delivery; true when it was waiting here.
bool forget_in_memory(emitter_state& st, const std::string& id) {
  if (auto i = st.queued.find(id); i != st.queued.end()) {
    st.queue.erase(std::make_pair(i->second, id));
    st.queued.erase(i);
    return true;
  }
  if (st.in_flight.count(id) > 0) {
    st.purged.insert(id);
    return true;
  }
  return st.unwritten.erase(id) > 0;
}

caf::result<uint32_t> on_purge(emitter_ptr self, const std::string& id) {
  auto& st = self->state;
  auto was_waiting = forget_in_memory(st, id);
  if (!was_waiting) {
    auto slot = st.db->find_waiting(id);
    was_waiting = slot && *slot && (*slot)->kind == st.kind;
  }
  auto existed = st.db->purge(id);
  if (!existed) {
    report_storage_failure(self, "purging delivery " + id, existed.error());
    return make_error(error_code::server, "delivery " + id + ": " + message_of(existed.error()));
  }
  if (was_waiting) --st.metrics->pending_depth;
  if (!*existed && !was_waiting)
    return make_error(error_code::resource_unknown,
                      "delivery " + id + ": no delivery with this id");
  return uint32_t{1};
}

}  // namespace

emitter_actor::behavior_type emitter(emitter_actor::stateful_pointer<emitter_state> self,
                                     action_kind kind, engine_config config, store_ptr db,
                                     metrics_ptr metrics, sink_binding sink) {
  auto& st = self->state;
  st.kind = kind;
  st.config = std::move(config);
  st.db = std::move(db);
  st.metrics = std::move(metrics);
  st.sink = std::move(sink);
  st.rng.seed(std::random_device{}() ^ static_cast<uint64_t>(now_ms()));
  st.backlog = true;  // a previous run may have left waiting deliveries in the store
  st.next_sweep = now_ms() + sweep_interval_ms;
  if (!st.sink.handle)
    std::cerr << "[" << emitter_state::name << " " << to_string(kind)
              << "] no sink bound: deliveries wait in the store" << std::endl;
  pump(self);
  return {
      [self](enqueue_atom, delivery_list& deliveries) { on_enqueue(self, deliveries); },
      [self](replay_atom, const std::string& id) { return on_replay(self, id); },
      [self](purge_atom, const std::string& id) { return on_purge(self, id); },
      [self](tick_atom) { on_tick(self); },
      [self](flush_atom) { on_flush(self); },
  };
}

}  // namespace dispatch
