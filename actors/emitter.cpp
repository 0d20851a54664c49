// The emitter actor: fresh deliveries from the log and recorded ones from the store, handed to the
// sink in batches under an in-flight cap; every outcome that needs a record, and the cursor, written
// once per batch of answers.
#include "actors/emitter.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <tuple>

#include <caf/sec.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/backoff.hpp"
#include "logging/log.hpp"
#include "messages/derive.hpp"
#include "messages/error_code.hpp"
#include "messages/group_commit.hpp"
#include "messages/ids.hpp"

namespace dispatch {

namespace {

using emitter_ptr = emitter_actor::stateful_pointer<emitter_state>;

/// How soon a failed store read or write, or a failed catch-up read, is tried again.
constexpr timestamp_ms storage_retry_ms = 1000;

/// How often the store is swept for recorded deliveries that memory does not know of.
constexpr timestamp_ms sweep_interval_ms = 5000;

/// How many log entries one catch-up read takes.
constexpr uint32_t catch_up_events = 2048;

/// The most deliveries in one batch to the sink.
constexpr size_t max_sink_batch = 512;

/// How long a cursor with no outcome to go with it may wait before it is written on its own. A
/// lagging cursor costs nothing but re-reading that much of the log after a crash; writing it
/// with every small batch costs a write per emitter per batch (eight per ingest batch).
constexpr timestamp_ms cursor_delay_ms = 20;

size_t memory_cap(const emitter_state& st) {
  return std::max<size_t>(st.config.emitter_memory_cap, 1);
}

/// Fresh deliveries in memory: in line for the sink, waiting behind their key's holder or for
/// their dispatcher's rate.
size_t fresh_in_memory(const emitter_state& st) {
  return st.fresh.size() + st.order.waiting() + st.over_rate_count;
}

void admit(emitter_state& st, delivery d);

/// The holder `id` of `key` finished (delivered, dead, purged): the next one of its key, if any,
/// goes to the front of its line: a fresh one to the fresh line (it is older than every fresh one
/// there), a recorded one back to the recorded ones (it is due, so it goes next).
void release_key(emitter_state& st, const std::string& id) {
  if (st.order.keys() == 0) return; // nothing held: no lookup per delivery
  // By id: the holder may be known by id only (a record held at start, not paged in yet).
  auto next = st.order.release(id);
  if (!next) return;
  if (!next->recorded) {
    st.fresh.emplace_front(std::move(next->value), next->tag);
    return;
  }
  st.parked.erase(next->value.id);
  admit(st, std::move(next->value));
}

/// Whether the recorded delivery `id` may go now as to its key `k`: when `k` is free it takes it
/// (later ones of `k` wait behind it); when it holds `k` already it goes; otherwise it waits.
bool take_key(emitter_state& st, ordering_key k, const std::string& id) {
  if (!st.order.held(k)) {
    st.order.hold(k, id);
    return true;
  }
  return st.order.holds(k, id);
}

/// A restart forgets who held which key; the records tell. Before anything re-derived is sent,
/// each key of a waiting record is held by the oldest such record (by creation, then id): it is
/// older than whatever the log holds past the cursor for that key, so it goes first. A held task
/// (waiting for its startTimestamp) takes its key only once due, as while the engine runs.
void hold_recorded_keys(emitter_state& st) {
  auto recorded = st.db->recorded_keys(st.kind, st.shard);
  if (!recorded)
    throw std::runtime_error("emitter: cannot read the ordering keys of its records: "
                             + message_of(recorded.error()));
  std::unordered_map<ordering_key, const recorded_key*> oldest;
  for (auto& r : *recorded) {
    if (r.status == delivery_status::held) continue;
    auto& first = oldest[r.key];
    if (!first || std::tie(r.created, r.id) < std::tie(first->created, first->id)) first = &r;
  }
  for (auto& [key, r] : oldest) st.order.hold(key, r->id);
}

/// The sink's in-flight cap is shared by the shards' emitters of its kind.
size_t in_flight_cap(const emitter_state& st) {
  return std::max<size_t>(st.config.sink_in_flight / std::max<uint32_t>(st.db->shards(), 1), 1);
}

// Below this many queued recorded deliveries the emitter pages more from the store.
size_t low_watermark(const emitter_state& st) {
  return memory_cap(st) / 4;
}

void report_storage_failure(emitter_ptr self, const std::string& what, const caf::error& err) {
  DISPATCH_LOG(error, emitter) << to_string(self->state.kind) << " shard " << self->state.shard
                               << ": " << what << ": " << message_of(err);
  self->state.metrics->storage_ok = false;
}

bool is_known(const emitter_state& st, const std::string& id) {
  return st.queued.count(id) > 0 || st.busy.count(id) > 0 || st.parked.count(id) > 0;
}

// -- the cursor ------------------------------------------------------------------------------------

/// The day of the log a derived delivery comes from (what retention drops it with).
uint32_t log_day_of(const std::string& id) {
  delivery_position pos;
  return position_of(id, pos) ? day_of(accepted_at(pos.sequence)) : 0;
}

/// A fresh delivery of segment `n` is delivered (`delivered`, counted under its day) or has its
/// record staged (null): the cursor moves past every segment at the front with nothing
/// outstanding, and takes their counts along.
void resolve(emitter_state& st, uint64_t n, const delivery* delivered = nullptr) {
  auto& seg = st.segments[n - st.first_segment];
  --seg.outstanding;
  if (delivered != nullptr) {
    ++seg.delivered;
    ++seg.days[log_day_of(delivered->id)];
  }
  while (!st.segments.empty() && st.segments.front().outstanding == 0) {
    auto& front = st.segments.front();
    st.done.cursor = std::max(st.done.cursor, front.last);
    st.done.delivered += front.delivered;
    for (auto& [day, count] : front.days) {
      st.done.days[day] += count;
      st.days_changed_from = std::min(st.days_changed_from, day);
    }
    st.segments.pop_front();
    ++st.first_segment;
    st.dirty = true;
  }
}

void stage(emitter_ptr self, delivery_outcome o) {
  auto& st = self->state;
  if (o.recorded) st.busy.insert(o.value.id);
  st.unwritten.push_back(std::move(o));
  schedule_flush(self, st.flush_pending);
}

// -- recorded deliveries ---------------------------------------------------------------------------

/// Keeps `queue` the earliest recorded deliveries: beyond the cap a newcomer displaces the latest
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

/// Reads the next page of recorded deliveries; false when the store could not be read.
bool page_from_store(emitter_ptr self) {
  auto& st = self->state;
  auto cap = memory_cap(st);
  if (st.queue.size() >= cap) return true;
  auto wanted = cap - st.queue.size();
  auto skip = [&st](const std::string& id) { return is_known(st, id); };
  auto page = st.db->scan_due(st.kind, st.shard, wanted, skip);
  if (!page) {
    report_storage_failure(self, "paging waiting deliveries", page.error());
    return false;
  }
  auto exhausted = page->size() < wanted;
  for (auto& d : *page) admit(st, std::move(d));
  st.backlog = !exhausted;
  return true;
}

// -- dispatchers' rates ----------------------------------------------------------------------------

/// Takes a new copy of the shard's dispatcher buckets when they changed. Whatever waits for a
/// rate is looked at again at once: a rate raised or cleared applies to those too.
void follow_rates(emitter_state& st) {
  if (!st.rates || st.rates->version() == st.rates_seen) return;
  std::tie(st.rate_of, st.rates_seen) = st.rates->snapshot();
  for (auto& entry : st.over_rate) entry.second.ready_at = 0;
  // Recorded ones a rate set back sit in `queue` after their due time (`next_attempt`): back to
  // it. A change of rates is rare; the whole queue is looked through.
  std::vector<std::pair<timestamp_ms, std::string>> set_back;
  for (auto& [key, d] : st.queue)
    if (key.first != d.next_attempt) set_back.push_back(key);
  for (auto& key : set_back) {
    auto node = st.queue.extract(key);
    node.key().first = node.mapped().next_attempt;
    st.queued[key.second] = node.key().first;
    st.queue.insert(std::move(node));
  }
}

/// The bucket of `dispatcher_id`'s rate, or none (not limited).
rate_limiter* bucket_of(const emitter_state& st, const std::string& dispatcher_id) {
  if (st.rate_of.empty()) return nullptr;
  auto i = st.rate_of.find(dispatcher_id);
  return i == st.rate_of.end() ? nullptr : i->second.get();
}

/// How long one token of `bucket` takes to accrue, in whole milliseconds (at least one).
timestamp_ms token_interval(const rate_limiter& bucket) {
  constexpr int64_t milli_per_token_ms = 1000 * 1000; // thousandths of a token a second, per ms
  return std::max<timestamp_ms>(
    (milli_per_token_ms + bucket.milli_per_second() - 1) / bucket.milli_per_second(), 1);
}

using queue_position = std::map<std::pair<timestamp_ms, std::string>, delivery>::iterator;

/// A recorded delivery over its dispatcher's rate moves back in `queue` to when a token may be
/// there: the first of its dispatcher in this pump to the bucket's next token, each further one
/// a token later (`slots`), so that a long line is not looked at again for every token. Its
/// record keeps its due time (`next_attempt`), and it stays as it is listed.
void set_back_for_rate(emitter_state& st, queue_position head, rate_limiter& bucket,
                       std::unordered_map<std::string, timestamp_ms>& slots, timestamp_ms now) {
  auto [slot, first] = slots.try_emplace(head->second.dispatcher_id, 0);
  slot->second = first ? std::max(bucket.ready_at(1), now + 1)
                       : slot->second + token_interval(bucket);
  auto node = st.queue.extract(head);
  node.key().first = slot->second;
  st.queued[node.key().second] = slot->second;
  st.queue.insert(std::move(node));
}

/// Sets a fresh delivery aside while its dispatcher is over its rate, behind the older ones of
/// its dispatcher set aside already; true when it was. No attempt is spent on it.
bool set_aside_for_rate(emitter_state& st, delivery& d, uint64_t segment, timestamp_ms now) {
  auto line = st.over_rate.find(d.dispatcher_id);
  if (line == st.over_rate.end()) {
    auto* bucket = bucket_of(st, d.dispatcher_id);
    if (bucket == nullptr || bucket->take(1) > 0) return false;
    line = st.over_rate.emplace(d.dispatcher_id, emitter_state::rate_line{}).first;
    line->second.ready_at = std::max(bucket->ready_at(1), now + 1);
  }
  line->second.waiting.emplace_back(std::move(d), segment);
  ++st.over_rate_count;
  return true;
}

/// Adds to `batch` the fresh deliveries set aside for their dispatcher's rate whose tokens are
/// there now, oldest first, as many as the room and each bucket allow.
void take_over_rate(emitter_state& st, timestamp_ms now, size_t room, delivery_list& batch,
                    std::vector<delivery_origin>& origins) {
  for (auto i = st.over_rate.begin(); i != st.over_rate.end() && batch.size() < room;) {
    auto& line = i->second;
    if (line.ready_at > now) {
      ++i;
      continue;
    }
    auto wanted = std::min(line.waiting.size(), room - batch.size());
    auto* bucket = bucket_of(st, i->first); // none: the rate was cleared, all of them go
    auto granted = bucket != nullptr ? bucket->take(wanted) : wanted;
    for (size_t k = 0; k < granted; ++k) {
      auto& [d, segment] = line.waiting.front();
      origins.push_back(delivery_origin{true, segment, d.next_attempt});
      batch.push_back(std::move(d));
      line.waiting.pop_front();
    }
    st.over_rate_count -= granted;
    if (line.waiting.empty()) {
      i = st.over_rate.erase(i);
      continue;
    }
    if (granted < wanted) line.ready_at = std::max(bucket->ready_at(1), now + 1);
    ++i;
  }
}

// -- fresh deliveries ------------------------------------------------------------------------------

void request_catch_up(emitter_ptr self);

/// Takes a batch of deliveries derived from the log after `frontier`: a segment for the cursor,
/// held tasks straight to their record, the rest in line for the sink.
void take(emitter_ptr self, delivery_batch& batch) {
  auto& st = self->state;
  if (batch.last <= st.frontier && batch.after < batch.last) return; // all of it taken already
  auto n = st.first_segment + st.segments.size();
  st.segments.push_back(log_segment{batch.last, 1, 0, {}}); // 1: none resolves it before the end
  auto overlap = batch.after < st.frontier;
  delivery_position pos;
  for (auto& d : batch.deliveries) {
    if (overlap && position_of(d.id, pos) && pos.sequence <= st.frontier)
      continue; // taken already, from the log
    if (d.kind != st.kind) continue;
    if (!st.purged.empty() && st.purged.erase(d.id) > 0) continue; // purged before it came
    ++st.segments.back().outstanding;
    ++st.metrics->pending_depth;
    if (d.status == delivery_status::held) {
      auto due = d.next_attempt;
      stage(self, delivery_outcome{due, false, std::move(d)});
      resolve(st, n);
      continue;
    }
    st.fresh.emplace_back(std::move(d), n);
  }
  st.frontier = std::max(st.frontier, batch.last);
  resolve(st, n); // the segment's own count
  if (st.dirty)
    schedule_flush(self, st.flush_pending); // the cursor moves past a stretch without deliveries
  // Memory full: ignore live batches until there is room, then read the log from the frontier.
  if (fresh_in_memory(st) >= memory_cap(st)) st.catching_up = true;
}

void on_live_batch(emitter_ptr self, delivery_batch& batch) {
  auto& st = self->state;
  if (st.catching_up) return; // the log has them: read when catching up
  if (batch.after > st.frontier) {
    // A gap: batches went to a matcher that stopped. The log has what they held.
    st.catching_up = true;
    request_catch_up(self);
    return;
  }
  take(self, batch);
}

void pump(emitter_ptr self);
void arm_timer(emitter_ptr self, timestamp_ms now, bool retry_soon);

/// Asks the matcher for the log past the frontier, when there is room and nobody asked yet.
void request_catch_up(emitter_ptr self) {
  auto& st = self->state;
  if (!st.catching_up || st.rederive_pending || !st.reader
      || fresh_in_memory(st) > memory_cap(st) / 2)
    return;
  st.rederive_pending = true;
  auto from = st.frontier;
  self
    ->request(st.reader, st.config.request_timeout, rederive_atom::value, st.kind, from,
              catch_up_events)
    .then(
      [self, from](delivery_batch& batch) {
        auto& st = self->state;
        st.rederive_pending = false;
        if (from != st.frontier) return; // the frontier moved meanwhile: this read is stale
        take(self, batch);
        if (batch.exhausted && fresh_in_memory(st) < memory_cap(st)) st.catching_up = false;
        request_catch_up(self);
        pump(self);
      },
      [self](const caf::error& err) {
        // Retried by the timer (a matcher being restarted answers nothing meanwhile).
        self->state.rederive_pending = false;
        if (err != caf::sec::request_timeout && err != caf::sec::request_receiver_down)
          report_storage_failure(self, "catching up from the log", err);
        arm_timer(self, self->state.config.now(), false);
      });
}

// -- the sink --------------------------------------------------------------------------------------

/// Turns a sink's answer into the delivery's next state.
void settle(emitter_state& st, delivery& d, const delivery_result& r, timestamp_ms now) {
  // A deferred delivery was not tried (the sink's circuit is open): no attempt spent, only time.
  if (r.verdict != sink_verdict::deferred && d.attempts < std::numeric_limits<uint32_t>::max())
    ++d.attempts;
  if (r.verdict == sink_verdict::delivered) {
    d.status = delivery_status::delivered;
    d.finished = now;
    return;
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
}

/// Drops answered sends from the front of `send_order`: its front is then the next deadline.
void prune_send_order(emitter_state& st) {
  while (!st.send_order.empty() && st.in_flight.count(st.send_order.front()) == 0)
    st.send_order.pop_front();
}

/// The sink answered send number `send` (or it timed out); a stale answer changes nothing.
void on_sink_answer(emitter_ptr self, uint64_t send, const delivery_result_list& results,
                    const delivery_result& otherwise) {
  auto& st = self->state;
  auto i = st.in_flight.find(send);
  if (i == st.in_flight.end()) return;
  auto sent = std::move(i->second);
  st.in_flight.erase(i);
  prune_send_order(st);
  // Moved out unless the sink still holds the message (then copied).
  auto& deliveries = sent.message.get_mutable_as<delivery_list>(1);
  st.in_flight_count -= deliveries.size();
  st.metrics->in_flight -= static_cast<int64_t>(deliveries.size());
  auto now = st.config.now();
  for (size_t k = 0; k < deliveries.size(); ++k) {
    auto& d = deliveries[k];
    auto& origin = sent.origins[k];
    auto& r = k < results.size() ? results[k] : otherwise;
    if (!st.purged.empty() && st.purged.erase(d.id) > 0) {
      // Purged while at the sink: gone from the store, its answer changes nothing.
      st.busy.erase(d.id);
      release_key(st, d.id);
      if (origin.fresh) resolve(st, origin.segment);
      continue;
    }
    settle(st, d, r, now);
    // A retrying delivery keeps its key; a finished one hands it on.
    if (d.status == delivery_status::delivered || d.status == delivery_status::dead)
      release_key(st, d.id);
    if (d.status != delivery_status::delivered)
      DISPATCH_LOG(debug, emitter)
        << to_string(st.kind) << " shard " << st.shard << ": delivery " << d.id << " "
        << to_string(d.status) << " after " << d.attempts << " attempt(s): " << r.reason
        << (d.status == delivery_status::retrying
              ? "; next attempt in " + std::to_string(d.next_attempt - now) + " ms"
              : std::string{});
    if (origin.fresh && d.status == delivery_status::delivered) {
      ++st.metrics->delivered;
      --st.metrics->pending_depth;
      st.metrics->delivery_latency.record(std::chrono::milliseconds{d.finished - d.created});
      resolve(st, origin.segment, &d);
      continue;
    }
    if (origin.fresh) {
      stage(self, delivery_outcome{origin.previous_due, false, std::move(d)});
      resolve(st, origin.segment);
    } else {
      st.busy.erase(d.id); // `stage` marks it busy again until written
      stage(self, delivery_outcome{origin.previous_due, true, std::move(d)});
    }
  }
  if (st.dirty) schedule_flush(self, st.flush_pending);
  request_catch_up(self);
  pump(self);
}

/// Batches whose answer is overdue fail like a sink that answered "retry".
void expire_sends(emitter_ptr self, timestamp_ms now) {
  auto& st = self->state;
  prune_send_order(st);
  while (!st.send_order.empty()) {
    auto send = st.send_order.front();
    if (st.in_flight.at(send).deadline > now) return;
    static const auto reason = "sink: " + message_of(caf::make_error(caf::sec::request_timeout));
    on_sink_answer(self, send, {}, retry_later(reason));
  }
}

void send_to_sink(emitter_ptr self, delivery_list deliveries,
                  std::vector<delivery_origin> origins) {
  auto& st = self->state;
  auto send = ++st.sends;
  auto count = deliveries.size();
  auto deadline = st.config.now() + std::max<timestamp_ms>(st.config.sink_timeout.count(), 1);
  // The message the sink gets is the one the emitter keeps: no copy of the deliveries. It goes
  // through the untyped handle only because CAF 0.17's typed `request` cannot take a ready
  // message; the sink's typed interface still says what it accepts.
  auto message = caf::make_message(deliver_atom::value, std::move(deliveries));
  st.in_flight.emplace(send, sent_batch{message, std::move(origins), deadline});
  st.send_order.push_back(send);
  st.in_flight_count += count;
  st.metrics->in_flight += static_cast<int64_t>(count);
  self->request(caf::actor_cast<caf::actor>(st.sink.handle), caf::infinite, std::move(message))
    .then(
      [self, send](const delivery_result_list& r) {
        // A sink that answers fewer results than deliveries has not delivered the rest.
        static const auto missing = retry_later("sink: no result for this delivery in its answer");
        on_sink_answer(self, send, r, missing);
      },
      [self, send](const caf::error& err) {
        // A dead sink is a transient failure like any other.
        on_sink_answer(self, send, {}, retry_later("sink: " + message_of(err)));
      });
}

/// Arms a tick for the head's due time, a retry, a send deadline or the next sweep, whichever
/// comes first, unless a timer fires earlier already.
void arm_timer(emitter_ptr self, timestamp_ms now, bool retry_soon) {
  auto& st = self->state;
  auto due = std::max(st.next_sweep, now + 1);
  auto room = st.in_flight_count < in_flight_cap(st);
  // While deliveries wait for the sink's rate, its next token is the time to look again.
  if (st.rate_wait_until != 0) {
    due = std::min(due, std::max(st.rate_wait_until, now + 1));
  } else if (st.sink.handle && room) {
    if (!st.queue.empty()) due = std::min(due, std::max(st.queue.begin()->first.first, now + 1));
    // Fresh ones over their dispatcher's rate: its next token.
    for (auto& entry : st.over_rate) due = std::min(due, std::max(entry.second.ready_at, now + 1));
  }
  if (retry_soon || !st.unwritten.empty() || (st.catching_up && !st.rederive_pending))
    due = std::min(due, now + storage_retry_ms);
  if (st.dirty) due = std::min(due, std::max(st.cursor_written_at + cursor_delay_ms, now + 1));
  if (!st.send_order.empty())
    due = std::min(due, std::max(st.in_flight.at(st.send_order.front()).deadline, now + 1));
  if (st.timer_due != 0 && st.timer_due <= due) return;
  auto delay = std::chrono::milliseconds{due - now};
  st.timer_due = due;
  st.timer_fires = self->clock().now() + delay; // the clock delayed_send uses
  self->delayed_send(self, delay, tick_atom::value);
}

/// Sends what is due while the sink has room: recorded deliveries first (they are older), then
/// fresh ones in log order; refills from the store when memory runs low.
void pump(emitter_ptr self) {
  auto& st = self->state;
  follow_rates(st);
  auto readable = true;
  auto low = [&st] { return st.queue.size() <= low_watermark(st); };
  if (st.backlog && low()) readable = page_from_store(self);
  auto now = st.config.now();
  auto cap = in_flight_cap(st);
  // Without a sink nothing is sent: deliveries wait (in the store or the log) for one. Nor while
  // the outcomes of earlier sends cannot be written (storage fails): they wait in memory, and
  // sending more would only add to them.
  auto writing_behind = [&st] { return st.unwritten.size() >= memory_cap(st); };
  st.rate_wait_until = 0;
  // Where this pump set back recorded deliveries of each rate-limited dispatcher.
  std::unordered_map<std::string, timestamp_ms> rate_slots;
  while (st.sink.handle && st.in_flight_count < cap && !writing_behind()) {
    auto room = std::min(cap - st.in_flight_count, max_sink_batch);
    size_t tokens = 0;
    if (st.sink.rate) {
      // Over the sink's rate, deliveries wait where they are (pending or retrying, due): no
      // attempt is spent and nothing is written for it. Tokens are taken for the room; those
      // the batch leaves unused (its deliveries wait behind their key, or none is due) go back.
      tokens = st.sink.rate->take(room);
      if (tokens == 0) {
        auto due = !st.queue.empty() && st.queue.begin()->first.first <= now;
        if (due || !st.fresh.empty() || st.over_rate_count > 0)
          // At most this many could go: wake when a batch of them may (`ready_at` caps it).
          st.rate_wait_until = st.sink.rate->ready_at(
            std::min(room, st.fresh.size() + st.queue.size()));
        break;
      }
      room = tokens;
    }
    delivery_list batch;
    std::vector<delivery_origin> origins;
    // A delivery goes with a token of the sink's rate (one per place in `room`) and one of its
    // dispatcher's: over the dispatcher's rate it waits, and its place goes to another.
    while (batch.size() < room && !st.queue.empty() && st.queue.begin()->first.first <= now) {
      auto head = st.queue.begin();
      auto& head_delivery = head->second;
      // Its key first (waiting behind an older one of its key takes no dispatcher token), then
      // its dispatcher's rate (set back, it keeps the key it took).
      auto key_free = !head_delivery.ordering_key
                      || take_key(st, *head_delivery.ordering_key, head_delivery.id);
      if (auto* bucket = bucket_of(st, head_delivery.dispatcher_id);
          key_free && bucket != nullptr && bucket->take(1) == 0) {
        set_back_for_rate(st, head, *bucket, rate_slots, now);
        continue;
      }
      auto d = std::move(head_delivery);
      st.queue.erase(head);
      st.queued.erase(d.id);
      if (!key_free) {
        // Its key is held by an older one: it waits behind it, still recorded as due at its
        // record's time (its place in `queue` is later when a rate set it back).
        st.parked.insert(d.id);
        auto key = *d.ordering_key;
        auto due = d.next_attempt;
        st.order.wait(key, std::move(d), static_cast<uint64_t>(due), true);
        continue;
      }
      st.busy.insert(d.id);
      // Its record's due time (its place in `queue` is later when a rate set it back).
      origins.push_back(delivery_origin{false, 0, d.next_attempt});
      batch.push_back(std::move(d));
    }
    if (!st.over_rate.empty()) take_over_rate(st, now, room, batch, origins);
    while (batch.size() < room && !st.fresh.empty()) {
      auto& [d, segment] = st.fresh.front();
      if (d.ordering_key) {
        auto verdict = st.order.admit(*d.ordering_key, d, segment); // its holder goes
        if (verdict == key_order::verdict::refused)
          break; // too many keys held: the rest waits until one is released
        if (verdict == key_order::verdict::waiting) {
          st.fresh.pop_front(); // behind its key's holder, in `order` now
          continue;
        }
      }
      // Over its dispatcher's rate: aside (holding its key, if any) until a token is there.
      if ((!st.rate_of.empty() || !st.over_rate.empty())
          && set_aside_for_rate(st, d, segment, now)) {
        st.fresh.pop_front();
        continue;
      }
      origins.push_back(delivery_origin{true, segment, d.next_attempt});
      batch.push_back(std::move(d));
      st.fresh.pop_front();
    }
    if (batch.size() < tokens) st.sink.rate->give_back(tokens - batch.size());
    if (batch.empty()) break;
    send_to_sink(self, std::move(batch), std::move(origins));
    if (readable && st.backlog && low()) readable = page_from_store(self);
  }
  arm_timer(self, now, !readable);
}

// -- writing ---------------------------------------------------------------------------------------

/// Writes every unwritten outcome with the cursor in one batch; false when the store failed (they
/// stay for the next attempt).
bool write_unwritten(emitter_ptr self) {
  auto& st = self->state;
  if (st.unwritten.empty() && !st.dirty) return true;
  auto now = st.config.now();
  if (st.unwritten.empty() && now - st.cursor_written_at < cursor_delay_ms)
    return true; // the timer writes it (arm_timer), unless an outcome takes it along first
  // The cursor with the days whose counts changed since it was written last.
  progress next{st.done.cursor, st.done.delivered, {}};
  next.days.insert(st.done.days.lower_bound(st.days_changed_from), st.done.days.end());
  if (auto err = st.db->write_outcomes(st.kind, st.shard, st.unwritten,
                                       st.dirty ? &next : nullptr)) {
    report_storage_failure(
      self, "writing " + std::to_string(st.unwritten.size()) + " delivery outcomes", err);
    st.cursor_written_at = now + storage_retry_ms; // a cursor alone is tried again after that too
    return false;
  }
  if (st.dirty) {
    st.cursor_written_at = now;
    st.written = st.done;
    st.days_changed_from = std::numeric_limits<uint32_t>::max();
  }
  st.dirty = false;
  auto batch = std::move(st.unwritten);
  st.unwritten.clear();
  auto& m = *st.metrics;
  for (auto& o : batch) {
    auto& d = o.value;
    st.busy.erase(d.id);
    switch (d.status) {
      case delivery_status::delivered:
        ++m.delivered;
        --m.pending_depth;
        m.delivery_latency.record(std::chrono::milliseconds{d.finished - d.created});
        break;
      case delivery_status::dead:
        ++m.dead_letters;
        --m.pending_depth;
        break;
      case delivery_status::retrying:
        ++m.retries;
        admit(st, std::move(d));
        break;
      default: // held: waits for its time
        admit(st, std::move(d));
    }
  }
  return true;
}

void on_tick(emitter_ptr self) {
  auto& st = self->state;
  // Timers fire on the actor clock (steady; the test clock under test): only the awaited one (or a later one) clears `timer_due`, so
  // that a stale tick neither re-arms nor leaves the emitter without a timer.
  if (self->clock().now() >= st.timer_fires) st.timer_due = 0;
  auto now = st.config.now();
  if (now >= st.next_sweep) {
    st.backlog = true; // finds records this emitter's memory does not know of
    st.next_sweep = now + sweep_interval_ms;
    if (!st.catching_up && st.frontier == st.frontier_at_sweep
        && st.db->last_log_sequence(st.shard) > st.frontier)
      st.catching_up = true; // read below
    st.frontier_at_sweep = st.frontier;
  }
  expire_sends(self, now);
  write_unwritten(self);
  request_catch_up(self);
  pump(self);
}

void on_flush(emitter_ptr self) {
  self->state.flush_pending = false;
  write_unwritten(self);
  pump(self);
}

// -- operations ------------------------------------------------------------------------------------

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
  auto now = st.config.now();
  d.attempts = 0;
  d.created = now;
  d.next_attempt = now;
  d.finished = 0;
  d.status = delivery_status::pending;
  d.last_error.clear();
  if (auto err = st.db->revive(d, st.shard)) {
    report_storage_failure(self, "reviving dead letter " + id, err);
    return make_error(error_code::server, "delivery " + id + ": " + message_of(err));
  }
  ++st.metrics->replayed;
  ++st.metrics->pending_depth;
  admit(st, d);
  pump(self);
  return d;
}

caf::result<uint32_t> on_adopt(emitter_ptr self, const delivery_list& deliveries) {
  auto& st = self->state;
  uint32_t adopted = 0;
  for (auto& d : deliveries) {
    if (d.kind != st.kind) continue;
    if (auto err = st.db->revive(d, st.shard)) {
      report_storage_failure(self, "recording delivery " + d.id, err);
      return make_error(error_code::server, "delivery " + d.id + ": " + message_of(err));
    }
    ++st.metrics->replayed;
    ++st.metrics->pending_depth;
    admit(st, d);
    ++adopted;
  }
  pump(self);
  return adopted;
}

/// Forgets a fresh delivery waiting for the sink, or drops the answer of one at the sink; true when
/// it was here. Fresh deliveries are found by looking (purging is rare; no index per delivery).
bool forget_fresh(emitter_state& st, const std::string& id) {
  if (auto segment = st.order.forget(id)) {
    resolve(st, *segment);
    return true;
  }
  for (auto line = st.over_rate.begin(); line != st.over_rate.end(); ++line) {
    auto& waiting = line->second.waiting;
    for (auto i = waiting.begin(); i != waiting.end(); ++i)
      if (i->first.id == id) {
        auto segment = i->second;
        waiting.erase(i);
        --st.over_rate_count;
        if (waiting.empty()) st.over_rate.erase(line);
        release_key(st, id); // it may hold its key
        resolve(st, segment);
        return true;
      }
  }
  for (auto i = st.fresh.begin(); i != st.fresh.end(); ++i)
    if (i->first.id == id) {
      auto segment = i->second;
      st.fresh.erase(i);
      release_key(st, id); // `release_key` may have made it its key's holder: the next one takes it
      resolve(st, segment);
      return true;
    }
  for (auto& [send, batch] : st.in_flight) {
    auto& deliveries = batch.message.get_as<delivery_list>(1);
    for (auto& d : deliveries)
      if (d.id == id) {
        st.purged.insert(id);
        return true;
      }
  }
  return false;
}

/// A first record staged for `id` and not written yet is dropped (the purge goes first).
bool forget_unwritten(emitter_state& st, const std::string& id) {
  auto at = std::find_if(st.unwritten.begin(), st.unwritten.end(),
                         [&](const delivery_outcome& o) { return o.value.id == id; });
  if (at == st.unwritten.end() || at->recorded) return false;
  st.unwritten.erase(at);
  return true;
}

/// A delivery derived from the log without a record, purged while not in memory: it leaves the
/// per-day count it is in (the cursor's, a segment's), or is not taken when the log brings it.
/// Answers true, with `counted` set to the progress as written less it, when the written counts
/// held it: the purge writes that in its batch.
caf::expected<bool> uncount_derived(emitter_state& st, const std::string& id, progress& counted) {
  delivery_position pos;
  if (!position_of(id, pos) || pos.shard != st.shard) return false;
  auto slot = st.db->find_record(id);
  if (!slot) return slot.error();
  if (*slot) return false; // a record: not counted as delivered without one
  auto day = log_day_of(id);
  auto less = [day](progress& p) {
    auto at = p.days.find(day);
    if (at == p.days.end() || at->second == 0) return false;
    --at->second;
    if (p.delivered > 0) --p.delivered;
    return true;
  };
  if (pos.sequence > st.frontier) {
    st.purged.insert(id); // not taken yet: never counted
    return false;
  }
  if (pos.sequence > st.done.cursor) {
    for (auto& seg : st.segments)
      if (pos.sequence <= seg.last) {
        auto at = seg.days.find(day);
        if (at != seg.days.end() && at->second > 0) {
          --at->second;
          --seg.delivered;
        }
        break;
      }
    return false;
  }
  if (!less(st.done)) return false;
  st.days_changed_from = std::min(st.days_changed_from, day);
  if (pos.sequence > st.written.cursor || !less(st.written)) return false;
  counted = progress{st.written.cursor, st.written.delivered, {{day, st.written.days[day]}}};
  return true;
}

caf::result<uint32_t> on_purge(emitter_ptr self, const std::string& id) {
  auto& st = self->state;
  auto was_waiting = false;
  if (auto i = st.queued.find(id); i != st.queued.end()) {
    st.queue.erase(std::make_pair(i->second, id)); // `queued` and `queue` hold the same ids
    release_key(st, id);                           // a retrying holder hands its key on
    st.queued.erase(i);
    was_waiting = true;
  } else if (st.busy.count(id) > 0) {
    st.purged.insert(id); // at the sink or being written: its outcome is dropped
    was_waiting = true;
  } else if (st.parked.erase(id) > 0) {
    st.order.forget(id); // a recorded one behind its key's holder
    was_waiting = true;
  } else if (forget_fresh(st, id)) {
    was_waiting = true;
  } else if (forget_unwritten(st, id)) {
    was_waiting = true;
  } else {
    release_key(st, id); // a record holding its key, not in memory (held at start)
  }
  progress counted;
  auto counted_written = false;
  if (!was_waiting) {
    auto uncounted = uncount_derived(st, id, counted);
    if (!uncounted) {
      report_storage_failure(self, "purging delivery " + id, uncounted.error());
      return make_error(error_code::server,
                        "delivery " + id + ": " + message_of(uncounted.error()));
    }
    counted_written = *uncounted;
  }
  auto removed = st.db->purge(id, counted_written ? &counted : nullptr);
  if (!removed) {
    report_storage_failure(self, "purging delivery " + id, removed.error());
    return make_error(error_code::server, "delivery " + id + ": " + message_of(removed.error()));
  }
  // Counted as pending: what this emitter held, and a waiting record it had not paged in yet. A
  // delivery that finished meanwhile (dead, say) was no longer counted.
  if (was_waiting || *removed == store::purged::waiting) --st.metrics->pending_depth;
  if (*removed == store::purged::nothing && !was_waiting)
    return make_error(error_code::resource_unknown,
                      "delivery " + id + ": no delivery with this id");
  return uint32_t{1};
}

} // namespace

emitter_actor::behavior_type emitter(emitter_actor::stateful_pointer<emitter_state> self,
                                     action_kind kind, uint32_t shard, engine_config config,
                                     store_ptr db, metrics_ptr metrics, sink_binding sink,
                                     dispatcher_rates_ptr rates) {
  auto& st = self->state;
  st.kind = kind;
  st.shard = shard;
  st.config = std::move(config);
  st.db = std::move(db);
  st.metrics = std::move(metrics);
  st.sink = std::move(sink);
  st.rates = std::move(rates);
  st.rng.seed(std::random_device{}() ^ static_cast<uint64_t>(now_ms()));
  auto start = st.db->read_progress(kind, shard);
  if (!start)
    throw std::runtime_error("emitter: cannot read its progress: " + message_of(start.error()));
  st.done = *start;
  st.written = *start;
  hold_recorded_keys(st);
  st.frontier = start->cursor;
  st.catching_up = true; // until it has read the log past its cursor
  st.backlog = true;     // a previous run may have left recorded deliveries in the store
  st.next_sweep = st.config.now() + sweep_interval_ms;
  pump(self);
  return {
    [self](enqueue_atom, delivery_batch& batch) {
      on_live_batch(self, batch);
      pump(self);
    },
    [self](replay_atom, const std::string& id) { return on_replay(self, id); },
    [self](purge_atom, const std::string& id) { return on_purge(self, id); },
    [self](adopt_atom, const delivery_list& deliveries) { return on_adopt(self, deliveries); },
    [self](handles_atom, const log_reader_actor& reader) {
      auto& st = self->state;
      st.reader = reader;
      st.catching_up = true; // what went to a previous matcher is read from the log
      request_catch_up(self);
    },
    [self](tick_atom) { on_tick(self); },
    [self](flush_atom) { on_flush(self); },
  };
}

} // namespace dispatch
