// The load side of an engine scenario: dispatcher setup, the publisher (closed or open loop) and
// the counting sink. The publisher and the setup are event-based actors so that many requests are
// in flight at once without a thread each.
#include "bench/workload.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <future>

#include <caf/all.hpp>

namespace dispatch::bench {

namespace {

using pump_atom = caf::atom_constant<caf::atom("bench_pump")>;

constexpr auto publish_timeout = std::chrono::seconds(60);
constexpr uint32_t setup_window = 32;
constexpr uint32_t open_loop_max_in_flight = 4096;

/// The publish time carried in a delivery's data, or 0 when absent.
uint64_t publish_time_of(const json_text& data) {
  static const std::string_view key = "\"bench_t\":";
  uint64_t result = 0;
  data.for_each_part([&](std::string_view part) {
    auto pos = part.find(key);
    if (result == 0 && pos != std::string_view::npos)
      result = std::strtoull(part.data() + pos + key.size(), nullptr, 10); // ends at a non-digit
  });
  return result;
}

sink_actor::behavior_type counting_sink(sink_actor::pointer, sink_tally_ptr tally) {
  return {
    [tally](deliver_atom, const delivery_list& batch) {
      auto arrived = now_ns();
      auto from = tally->record_from.load(std::memory_order_relaxed);
      auto until = tally->record_until.load(std::memory_order_relaxed);
      uint64_t ours = 0;
      for (auto& d : batch) {
        auto published = publish_time_of(d.task.data);
        if (published == 0) continue;
        ++ours;
        if (published >= from && published < until && arrived >= published) {
          auto us = std::min<uint64_t>((arrived - published) / 1000, UINT32_MAX);
          std::lock_guard<std::mutex> guard{tally->samples_mutex};
          tally->samples_us.push_back(static_cast<uint32_t>(us));
        }
      }
      tally->received.fetch_add(ours, std::memory_order_relaxed);
      return delivery_result_list(batch.size(), delivered());
    },
  };
}

} // namespace

sink_actor spawn_counting_sink(caf::actor_system& sys, sink_tally_ptr tally) {
  return sys.spawn(counting_sink, std::move(tally));
}

std::string event_content(uint64_t publish_ns, uint64_t sequence, uint32_t bytes) {
  std::string text = "{\"bench_t\":" + std::to_string(publish_ns)
                     + ",\"seq\":" + std::to_string(sequence) + ",\"pad\":\"";
  auto used = text.size() + 2; // the closing "}
  if (bytes > used) text.append(bytes - used, 'x');
  text += "\"}";
  return text;
}

type_plan plan_types(const scenario_params& p) {
  type_plan plan;
  for (uint32_t t = 0; t < p.event_types; ++t) {
    plan.names.push_back("bench.type" + std::to_string(t));
    plan.deliveries.push_back(0);
  }
  auto spread = p.actions_max - p.actions_min + 1;
  for (uint32_t i = 0; i < p.dispatchers; ++i)
    plan.deliveries[i % p.event_types] += p.actions_min + i % spread;
  uint64_t total = 0;
  for (auto n : plan.deliveries) total += n;
  plan.mean_deliveries = static_cast<double>(total) / p.event_types;
  return plan;
}

namespace {

dispatcher bench_dispatcher(const scenario_params& p, const type_plan& plan, uint32_t i) {
  dispatcher d;
  d.event_type = plan.names[i % p.event_types];
  d.name = "bench-" + std::to_string(i);
  if (!p.filter.empty()) d.filter = p.filter;
  auto count = p.actions_min + i % (p.actions_max - p.actions_min + 1);
  for (uint32_t k = 0; k < count; ++k) {
    action a;
    a.kind = action_kind::task;
    a.function_name = "bench-function-" + std::to_string(k);
    a.data = "{\"action\":" + std::to_string(k) + "}";
    d.actions.push_back(std::move(a));
  }
  return d;
}

} // namespace

std::string create_dispatchers(caf::actor_system& sys, const engine_actor& engine,
                               const scenario_params& p, const type_plan& plan) {
  std::promise<std::string> done;
  auto outcome = done.get_future();
  sys.spawn([&, engine](caf::event_based_actor* self) {
    auto next = std::make_shared<uint32_t>(0);
    auto finished = std::make_shared<uint32_t>(0);
    auto failed = std::make_shared<bool>(false);
    auto create_next = std::make_shared<std::function<void()>>();
    *create_next = [&, self, engine, next, finished, failed, create_next] {
      if (*next >= p.dispatchers || *failed) return;
      auto i = (*next)++;
      self
        ->request(engine, std::chrono::seconds(60), create_atom::value,
                  bench_dispatcher(p, plan, i))
        .then(
          [&, finished, create_next](const dispatcher&) {
            if (++*finished == p.dispatchers)
              done.set_value({});
            else
              (*create_next)();
          },
          [&, failed](caf::error& err) {
            if (!std::exchange(*failed, true))
              done.set_value("creating dispatcher " + std::to_string(i) + ": " + message_of(err));
          });
    };
    if (p.dispatchers == 0) done.set_value({});
    for (uint32_t k = 0; k < setup_window; ++k) (*create_next)();
  });
  return outcome.get();
}

namespace {

/// The publisher's own bookkeeping (only its actor touches it).
struct publisher_state {
  scenario_params params;
  std::shared_ptr<const type_plan> plan;
  publish_tally_ptr published;
  sink_tally_ptr received;
  engine_actor engine;
  uint64_t sequence = 0;
  uint64_t expected_sent = 0; // deliveries the sent events make (before any rejection)
  uint32_t in_flight = 0;
  uint64_t started_ns = 0;
};

void publish_batch(caf::event_based_actor* self, std::shared_ptr<publisher_state> st, size_t n);

/// Keeps how long a request sent at `sent_ns` waited for its answer, when sent in the window.
void record_answer(publisher_state& st, uint64_t sent_ns) {
  auto& seen = *st.received;
  if (sent_ns < seen.record_from.load() || sent_ns >= seen.record_until.load()) return;
  auto us = (now_ns() - sent_ns) / 1000;
  std::lock_guard<std::mutex> guard{st.published->samples_mutex};
  st.published->answer_us.push_back(static_cast<uint32_t>(std::min<uint64_t>(us, UINT32_MAX)));
}

/// Sends what the loop allows right now.
void pump(caf::event_based_actor* self, const std::shared_ptr<publisher_state>& st) {
  auto& p = st->params;
  if (st->published->stop.load()) return;
  if (p.rate == 0) {
    auto backlog = [&] {
      auto at_sink = st->received->received.load();
      return st->expected_sent > at_sink ? st->expected_sent - at_sink : 0;
    };
    while (st->in_flight < p.window && backlog() < p.backlog) publish_batch(self, st, p.batch);
    return;
  }
  auto elapsed_ns = now_ns() - st->started_ns;
  auto due = static_cast<uint64_t>(static_cast<double>(p.rate) * elapsed_ns / 1e9);
  while (st->sequence < due && st->in_flight < open_loop_max_in_flight)
    publish_batch(self, st, std::min<uint64_t>(due - st->sequence, p.batch));
}

void publish_batch(caf::event_based_actor* self, std::shared_ptr<publisher_state> st, size_t n) {
  event_list batch(n);
  auto stamp = now_ns();
  auto first = st->sequence; // outcomes come in input order: event k has sequence first + k
  uint64_t expected = 0;
  for (auto& ev : batch) {
    auto type = st->sequence % st->plan->names.size();
    ev.type = st->plan->names[type];
    ev.content = event_content(stamp, st->sequence++, st->params.event_bytes);
    expected += st->plan->deliveries[type];
  }
  st->expected_sent += expected;
  st->published->sent.fetch_add(n);
  ++st->in_flight;
  auto fail = [st](uint64_t count, const std::string& why) {
    st->published->rejected.fetch_add(count);
    if (!st->published->has_error.exchange(true)) st->published->first_error = why;
  };
  self->request(st->engine, publish_timeout, publish_atom::value, std::move(batch))
    .then(
      [self, st, fail, first, stamp](const publish_outcome_list& outcomes) {
        --st->in_flight;
        record_answer(*st, stamp);
        uint64_t acked = 0;
        uint64_t deliveries = 0;
        for (size_t k = 0; k < outcomes.size(); ++k)
          if (accepted(outcomes[k])) {
            ++acked;
            deliveries += st->plan->deliveries[(first + k) % st->plan->names.size()];
          } else {
            st->expected_sent -= st->plan->deliveries[(first + k) % st->plan->names.size()];
            fail(1, outcomes[k].message);
          }
        st->published->expected_deliveries.fetch_add(deliveries);
        st->published->acked.fetch_add(acked);
        st->published->answered.fetch_add(outcomes.size());
        pump(self, st);
      },
      [self, st, fail, n, expected](caf::error& err) {
        --st->in_flight;
        st->expected_sent -= expected;
        fail(n, message_of(err));
        st->published->answered.fetch_add(n);
        pump(self, st);
      });
}

} // namespace

caf::actor spawn_publisher(caf::actor_system& sys, const engine_actor& engine,
                           const scenario_params& p, std::shared_ptr<const type_plan> plan,
                           publish_tally_ptr published, sink_tally_ptr received) {
  auto st = std::make_shared<publisher_state>();
  st->params = p;
  st->plan = std::move(plan);
  st->published = std::move(published);
  st->received = std::move(received);
  st->engine = engine;
  return sys.spawn([st](caf::event_based_actor* self) -> caf::behavior {
    st->started_ns = now_ns();
    self->send(self, pump_atom::value);
    return {
      [self, st](pump_atom) {
        if (st->published->stop.load()) return;
        pump(self, st);
        self->delayed_send(self, std::chrono::milliseconds(1), pump_atom::value);
      },
    };
  });
}

} // namespace dispatch::bench
