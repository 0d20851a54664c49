// Test fixture of the emitter suite: a scripted recording sink whose log the test thread reads,
// an actor system on CAF's test coordinator (time moves only as the test runs it, so retries,
// holds and timeouts happen exactly when due and "nothing more comes" needs no sleep), a real
// store (one shard) in a temporary directory, and a real matcher that derives the emitter's
// deliveries from events the fixture appends to the log, as ingest does.
#pragma once

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include <caf/all.hpp>

#include "fixtures/deterministic.hpp"
#include "actors/emitter.hpp"
#include "messages/derive.hpp"
#include "actors/matcher.hpp"
#include "messages/error_code.hpp"
#include "messages/ids.hpp"
#include "messages/type_registry.hpp"

namespace dispatch {

// How Boost.Test prints our enums in failed assertions.
inline std::ostream& boost_test_print_type(std::ostream& out, delivery_status x) {
  return out << to_string(x);
}

inline std::ostream& boost_test_print_type(std::ostream& out, error_code x) {
  return out << to_string(x);
}

} // namespace dispatch

namespace emitter_test {

using namespace dispatch;
using namespace std::chrono_literals;

using release_atom = caf::atom_constant<caf::atom("release")>;

/// The recording sink's interface: a sink plus "answer every held request now".
using test_sink_actor = sink_actor::extend<caf::reacts_to<release_atom>>;

/// What the sink does with one request: answer it, or hold it (answered on `release`, or never).
struct sink_step {
  bool hold = false;
  delivery_result result = delivered();
};

/// Chooses the answer to a delivery received for the `nth` time (1-based).
using sink_script = std::function<sink_step(const delivery& d, size_t nth)>;

/// What the sink received, shared with the test thread.
struct recording {
  mutable std::mutex mtx;
  std::vector<std::pair<std::string, timestamp_ms>> received; // (delivery id, when)
  size_t holding = 0;
  size_t max_holding = 0;

  size_t total() const {
    std::lock_guard<std::mutex> guard{mtx};
    return received.size();
  }

  std::vector<timestamp_ms> times_of(const std::string& id) const {
    std::lock_guard<std::mutex> guard{mtx};
    std::vector<timestamp_ms> result;
    for (auto& [got, when] : received)
      if (got == id) result.push_back(when);
    return result;
  }

  size_t count(const std::string& id) const { return times_of(id).size(); }
};

using recording_ptr = std::shared_ptr<recording>;

struct recording_sink_state {
  static inline const char* name = "recording_sink";
  recording_ptr rec;
  sink_script script;
  clock_ptr clock;
  std::map<std::string, size_t> seen;
  std::vector<std::pair<caf::typed_response_promise<delivery_result_list>, delivery_result_list>>
    held;
};

inline test_sink_actor::behavior_type
recording_sink(test_sink_actor::stateful_pointer<recording_sink_state> self, recording_ptr rec,
               sink_script script, clock_ptr clock) {
  self->state.rec = std::move(rec);
  self->state.script = std::move(script);
  self->state.clock = std::move(clock);
  return {
    [self](deliver_atom, const delivery_list& batch) -> caf::result<delivery_result_list> {
      auto& st = self->state;
      delivery_result_list results;
      auto held = false;
      std::lock_guard<std::mutex> guard{st.rec->mtx};
      for (auto& d : batch) {
        auto step = st.script(d, ++st.seen[d.id]);
        st.rec->received.emplace_back(d.id, st.clock->now());
        held = held || step.hold;
        results.push_back(step.result);
        st.rec->holding += step.hold ? 1 : 0;
      }
      st.rec->max_holding = std::max(st.rec->max_holding, st.rec->holding);
      if (!held) return results;
      // A batch with a held delivery is answered on `release` (its held ones as delivered).
      auto promise = self->make_response_promise<delivery_result_list>();
      st.held.emplace_back(promise, std::move(results));
      return promise;
    },
    [self](release_atom) {
      auto& st = self->state;
      {
        std::lock_guard<std::mutex> guard{st.rec->mtx};
        st.rec->holding = 0;
      }
      for (auto& [promise, results] : st.held) promise.deliver(std::move(results));
      st.held.clear();
    },
  };
}

inline sink_step answer(delivery_result r) {
  return {false, std::move(r)};
}

inline sink_step hold() {
  return {true, delivered()};
}

inline const sink_script always_deliver = [](const delivery&, size_t) {
  return answer(delivered());
};

/// Why an expected value is missing (empty when it is there): Boost.Test builds messages eagerly.
template <class T>
inline std::string why(const caf::expected<T>& x) {
  return x ? std::string{} : message_of(x.error());
}

/// A task the fixture planned: the event to publish and the delivery the matcher will derive.
struct planned_task {
  logged_event event;
  std::string id;
  timestamp_ms created = 0;
  std::string function_name;
};

struct fixture : test::deterministic_system {
  test::temp_dir dir;
  store_ptr db;
  metrics_ptr metrics = std::make_shared<engine_metrics>();
  engine_config config;
  std::vector<caf::actor> spawned;
  matcher_actor matcher;
  emitter_actor mail_emitter; // a second emitter the matcher needs; it has no mail to emit
  rate_limiter_ptr task_rate; // the task sink's rate, when a test gives it one
  /// The shard's dispatcher buckets, kept by the matcher (set `rateLimit` on a dispatcher).
  dispatcher_rates_ptr rates;
  uint64_t next_sequence = 0;

  fixture() {
    store_options opts;
    opts.data_dir = dir.path();
    opts.sync = false;
    opts.shards = 1;
    auto opened = store::open(opts);
    BOOST_REQUIRE_MESSAGE(opened, "cannot open the store: " << why(opened));
    db = std::move(*opened);
    // A fast retry policy: the tests wait for outcomes, they do not measure them.
    config.retry.initial = 50ms;
    config.retry.multiplier = 2.0;
    config.retry.cap = 200ms;
    config.retry.max_attempts = 10;
    config.sink_timeout = 5s;
    config.sink_in_flight = 16;
    config.shards = 1;
    config.clock = clock; // the test coordinator's time
    rates = std::make_shared<dispatcher_rates>(clock);
    next_sequence = static_cast<uint64_t>(config.now()) * 1000;
  }

  ~fixture() {
    for (auto& handle : spawned) caf::anon_send_exit(handle, caf::exit_reason::kill);
  }

  sink_actor spawn_sink(recording_ptr rec, sink_script script) {
    auto sink = sys.spawn(recording_sink, std::move(rec), std::move(script), clock);
    spawned.push_back(caf::actor_cast<caf::actor>(sink));
    return sink;
  }

  /// Spawns the task emitter of shard 0 and points it and the matcher at each other (the matcher
  /// and the mail emitter are spawned with the first one, as the supervisor does).
  emitter_actor spawn_emitter(sink_actor sink) {
    auto em = sys.spawn(emitter, action_kind::task, uint32_t{0}, config, db, metrics,
                        sink_binding{sink, false, task_rate}, rates);
    spawned.push_back(caf::actor_cast<caf::actor>(em));
    if (!matcher) {
      mail_emitter = sys.spawn(emitter, action_kind::mail, uint32_t{0}, config, db, metrics,
                               sink_binding{}, rates);
      spawned.push_back(caf::actor_cast<caf::actor>(mail_emitter));
      matcher = sys.spawn(dispatch::matcher, uint32_t{0}, config, db, metrics, em, mail_emitter,
                          false, rates);
      spawned.push_back(caf::actor_cast<caf::actor>(matcher));
      caf::anon_send(mail_emitter, handles_atom::value, log_reader_actor{matcher});
    } else {
      caf::anon_send(matcher, handles_atom::value, em, mail_emitter);
    }
    caf::anon_send(em, handles_atom::value, log_reader_actor{matcher});
    run();
    return em;
  }

  /// An emitter delivering everything to `rec`, with one event routed and delivered already.
  emitter_actor spawn_emitter_past_a_first_delivery(const recording_ptr& rec) {
    auto em = spawn_emitter(spawn_sink(rec, always_deliver));
    auto first = make_task("first");
    put(em, {first});
    wait_for_status(first.id, delivery_status::delivered);
    return em;
  }

  /// A dispatcher of its own (type "test.<tag>", one task action `tag`, held until `start` when
  /// given) installed in the matcher, and an event of that type: its task is `tag`'s delivery.
  planned_task make_task(const std::string& tag, timestamp_ms start = 0) {
    auto& ids = default_id_generator();
    dispatcher d;
    d.id = ids.next();
    d.event_type = "test." + tag;
    d.version = 1;
    action a;
    a.id = ids.next();
    a.function_name = tag;
    a.data = std::string{R"({"tag":")"} + tag + R"("})";
    if (start != 0) a.start_timestamp = start;
    d.actions.push_back(a);
    BOOST_REQUIRE(!db->write_dispatchers({d}, {}));
    if (matcher) {
      auto installed = ask<uint64_t>(matcher, install_atom::value, d);
      BOOST_REQUIRE_MESSAGE(installed, "install: " << why(installed));
    } else // in force from the start of the log, for the matcher still to come
      BOOST_REQUIRE(!db->write_dispatcher_versions(0, {dispatcher_version{0, d.id, d}}));
    planned_task t;
    t.event.sequence = ++next_sequence;
    t.event.event = event{ids.next(), d.event_type, "{}", config.now()};
    t.id = delivery_id_at({t.event.sequence, 0, 0});
    t.created = accepted_at(t.event.sequence);
    t.function_name = tag;
    return t;
  }

  /// Sends the emitter the deliveries of `ts` with ordering keys `keys`, as a live batch from the
  /// matcher would carry them (the events stay out of the log: the sink's record is the check).
  void enqueue_keyed(const emitter_actor& em, const std::vector<planned_task>& ts,
                     const std::vector<ordering_key>& keys) {
    delivery_batch batch;
    for (size_t i = 0; i < ts.size(); ++i) {
      dispatcher disp;
      disp.id = "ordered-dispatcher";
      action act;
      act.kind = action_kind::task;
      act.function_name = ts[i].function_name;
      act.data = "{}";
      auto d = make_delivery(ts[i].id, ts[i].event.event, disp, act, false, ts[i].created);
      d.ordering_key = keys[i];
      batch.deliveries.push_back(std::move(d));
      batch.last = std::max(batch.last, ts[i].event.sequence);
    }
    caf::anon_send(em, enqueue_atom::value, std::move(batch));
    run();
  }

  /// The ids the sink received, in order, keeping those in `wanted` only.
  std::vector<std::string> received_of(const recording& rec,
                                       const std::vector<std::string>& wanted) {
    std::lock_guard<std::mutex> guard{rec.mtx};
    std::vector<std::string> result;
    for (auto& [id, when] : rec.received)
      if (std::find(wanted.begin(), wanted.end(), id) != wanted.end()) result.push_back(id);
    return result;
  }

  /// Appends events to the log durably, as ingest does, without routing them.
  void store_only(const std::vector<planned_task>& ts) {
    std::vector<accepted_event> accepted;
    for (auto& t : ts)
      accepted.push_back(accepted_event{0, t.event.sequence, t.event.event, false});
    auto err = db->accept_events(accepted, config.now());
    BOOST_REQUIRE_MESSAGE(!err, "accept_events: " << message_of(err));
  }

  /// Appends events to the log and routes them to the matcher, as ingest does.
  void put(const emitter_actor&, const std::vector<planned_task>& ts) {
    store_only(ts);
    logged_event_list events;
    for (auto& t : ts) events.push_back(t.event);
    caf::anon_send(matcher, route_atom::value, std::move(events));
    run();
  }

  /// The delivery with this id wherever the store has it (or derives it).
  caf::optional<delivery> find(const std::string& id) {
    caf::optional<delivery> found;
    delivery_scope scope;
    scope.by_id = true;
    scope.ids = {id};
    auto err = db->for_each_delivery(
      [&](const delivery& d) {
        found = d;
        return false;
      },
      scope);
    BOOST_REQUIRE_MESSAGE(!err, "for_each_delivery: " << message_of(err));
    return found;
  }

  bool has_status(const std::string& id, delivery_status status) {
    auto d = find(id);
    return d && d->status == status;
  }

  /// Runs the system until the delivery reached `status` and returns it.
  delivery wait_for_status(const std::string& id, delivery_status status) {
    BOOST_REQUIRE_MESSAGE(run_until([&] { return has_status(id, status); }),
                          "delivery " << id << " never became " << to_string(status));
    return *find(id);
  }

  caf::expected<delivery> replay(const emitter_actor& em, const std::string& id) {
    return ask<delivery>(em, replay_atom::value, id);
  }

  caf::expected<uint32_t> purge(const emitter_actor& em, const std::string& id) {
    return ask<uint32_t>(em, purge_atom::value, id);
  }

  /// Stops an actor now (as a crash would) and runs until it is gone.
  template <class Handle>
  void kill(const Handle& handle) {
    caf::anon_send_exit(handle, caf::exit_reason::kill);
    run();
  }
};

} // namespace emitter_test
