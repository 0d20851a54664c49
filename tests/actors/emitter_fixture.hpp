// Test fixture of the emitter suite: a scripted recording sink whose log the test thread reads,
// a real actor system and a real store in a temporary directory, and helpers that wait for
// outcomes.
#pragma once

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include <caf/all.hpp>

#include "fixtures/engine_fixture.hpp"
#include "actors/emitter.hpp"
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

}  // namespace dispatch

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
  std::vector<std::pair<std::string, timestamp_ms>> received;  // (delivery id, when)
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
  std::map<std::string, size_t> seen;
  std::vector<caf::typed_response_promise<delivery_result>> held;
};

inline test_sink_actor::behavior_type recording_sink(
    test_sink_actor::stateful_pointer<recording_sink_state> self, recording_ptr rec,
    sink_script script) {
  self->state.rec = std::move(rec);
  self->state.script = std::move(script);
  return {
      [self](deliver_atom, const delivery& d) -> caf::result<delivery_result> {
        auto& st = self->state;
        auto step = st.script(d, ++st.seen[d.id]);
        std::lock_guard<std::mutex> guard{st.rec->mtx};
        st.rec->received.emplace_back(d.id, now_ms());
        if (!step.hold) return step.result;
        st.rec->max_holding = std::max(st.rec->max_holding, ++st.rec->holding);
        auto promise = self->make_response_promise<delivery_result>();
        st.held.push_back(promise);
        return promise;
      },
      [self](release_atom) {
        auto& st = self->state;
        {
          std::lock_guard<std::mutex> guard{st.rec->mtx};
          st.rec->holding = 0;
        }
        for (auto& promise : st.held) promise.deliver(delivered());
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

/// Waits for `done` with a generous deadline; false when it never held.
inline bool eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds deadline = 20s) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

struct fixture {
  test::temp_dir dir;
  store_ptr db;
  test::test_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  metrics_ptr metrics = std::make_shared<engine_metrics>();
  engine_config config;
  std::vector<caf::actor> spawned;

  fixture() {
    store_options opts;
    opts.data_dir = dir.path();
    opts.sync = false;
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
  }

  ~fixture() {
    for (auto& handle : spawned) caf::anon_send_exit(handle, caf::exit_reason::kill);
  }

  sink_actor spawn_sink(recording_ptr rec, sink_script script) {
    auto sink = sys.spawn(recording_sink, std::move(rec), std::move(script));
    spawned.push_back(caf::actor_cast<caf::actor>(sink));
    return sink;
  }

  emitter_actor spawn_emitter(sink_actor sink) {
    auto em = sys.spawn(emitter, action_kind::task, config, db, metrics, sink_binding{sink, false});
    spawned.push_back(caf::actor_cast<caf::actor>(em));
    return em;
  }

  /// A task delivery as a matcher makes it, due at `due`.
  delivery make_task(const std::string& tag, timestamp_ms due = 0,
                     delivery_status status = delivery_status::pending) {
    auto& ids = default_id_generator();
    delivery d;
    d.kind = action_kind::task;
    d.event_id = ids.next();
    d.dispatcher_id = ids.next();
    d.action_id = ids.next();
    d.id = delivery_id_of(d.event_id, d.dispatcher_id, d.action_id);
    d.event_type = "test.event";
    d.status = status;
    d.created = now_ms();
    d.next_attempt = due == 0 ? d.created : due;
    d.task.function_name = tag;
    d.task.data = R"({"tag":")" + tag + R"(","event":{"type":"test.event"}})";
    return d;
  }

  /// Writes deliveries durably, as a matcher does, without telling any emitter.
  void store_only(const delivery_list& ds) {
    auto err = db->commit_match(0, {}, ds);
    BOOST_REQUIRE_MESSAGE(!err, "commit_match: " << message_of(err));
  }

  /// Writes deliveries durably and hands them to the emitter, as a matcher does.
  void put(const emitter_actor& em, const delivery_list& ds) {
    store_only(ds);
    caf::anon_send(em, enqueue_atom::value, ds);
  }

  /// The delivery with this id wherever the store has it.
  caf::optional<delivery> find(const std::string& id) {
    caf::optional<delivery> found;
    auto err = db->for_each_delivery([&](const delivery& d) {
      if (d.id != id) return true;
      found = d;
      return false;
    });
    BOOST_REQUIRE_MESSAGE(!err, "for_each_delivery: " << message_of(err));
    return found;
  }

  bool has_status(const std::string& id, delivery_status status) {
    auto d = find(id);
    return d && d->status == status;
  }

  /// Waits until the delivery reached `status` and returns it.
  delivery wait_for_status(const std::string& id, delivery_status status) {
    BOOST_REQUIRE_MESSAGE(eventually([&] { return has_status(id, status); }),
                          "delivery " << id << " never became " << to_string(status));
    return *find(id);
  }

  caf::expected<delivery> replay(const emitter_actor& em, const std::string& id) {
    caf::expected<delivery> result{caf::error{}};
    self->request(em, 10s, replay_atom::value, id)
        .receive([&](const delivery& d) { result = d; },
                 [&](const caf::error& err) { result = err; });
    return result;
  }

  caf::expected<uint32_t> purge(const emitter_actor& em, const std::string& id) {
    caf::expected<uint32_t> result{caf::error{}};
    self->request(em, 10s, purge_atom::value, id)
        .receive([&](uint32_t n) { result = n; }, [&](const caf::error& err) { result = err; });
    return result;
  }
};

}  // namespace emitter_test
