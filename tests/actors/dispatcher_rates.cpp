// Tests of a dispatcher's `rateLimit` in the emitters, on the test coordinator's clock: its
// deliveries reach the sink exactly a token apart, across its task and mail actions, while other
// dispatchers of the same event type flow; over the rate they wait pending without spending an
// attempt; a change of the rate applies to those waiting.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>

#include "emitter_fixture.hpp"

using namespace dispatch;
using namespace emitter_test;
using namespace std::chrono_literals;

namespace {

struct rates_fixture : fixture {
  /// Which dispatcher each delivery the sink received came from (filled by `tracking`).
  std::map<std::string, std::string> dispatcher_of;

  /// A sink script that notes each delivery's dispatcher, then answers as `then` does.
  sink_script tracking(sink_script then = always_deliver) {
    return [this, then](const delivery& d, size_t nth) {
      dispatcher_of[d.id] = d.dispatcher_id;
      return then(d, nth);
    };
  }

  /// Stores and installs a dispatcher of `type` with one action of each kind in `kinds` and a
  /// rate of `per_second` (0: none), as the directory does for a create or an update.
  dispatcher install(dispatcher d) {
    BOOST_REQUIRE(!db->write_dispatchers({d}, {}));
    auto installed = ask<uint64_t>(matcher, install_atom::value, d);
    BOOST_REQUIRE_MESSAGE(installed, "install: " << why(installed));
    return d;
  }

  dispatcher make_dispatcher(const std::string& type, std::vector<action_kind> kinds,
                             double per_second) {
    auto& ids = default_id_generator();
    dispatcher d;
    d.id = ids.next();
    d.event_type = type;
    d.version = 1;
    for (auto kind : kinds) {
      action a;
      a.id = ids.next();
      a.kind = kind;
      if (kind == action_kind::task) {
        a.function_name = "rated";
        a.data = "{}";
      } else {
        a.recipients.to = {"someone@example.com"};
        a.template_id = "welcome";
      }
      d.actions.push_back(a);
    }
    if (per_second > 0) d.rate_limit = rate_limit{per_second};
    return install(std::move(d));
  }

  /// The same dispatcher at a new version with rate `per_second` (0: cleared), as a PUT makes it.
  void change_rate(dispatcher& d, double per_second) {
    ++d.version;
    d.rate_limit = per_second > 0 ? caf::optional<rate_limit>{rate_limit{per_second}} : caf::none;
    install(d);
  }

  /// Appends `n` events of `type` to the log and routes them to the matcher.
  void publish(const emitter_actor& em, const std::string& type, int n) {
    auto& ids = default_id_generator();
    std::vector<planned_task> ts;
    for (int i = 0; i < n; ++i) {
      planned_task t;
      t.event.sequence = ++next_sequence;
      t.event.event = event{ids.next(), type, "{}", config.now()};
      ts.push_back(t);
    }
    put(em, ts);
  }

  /// When the sink received the deliveries of `dispatcher_id` (every attempt), in order.
  std::vector<timestamp_ms> times_of_dispatcher(const recording& rec,
                                                const std::string& dispatcher_id) {
    std::lock_guard<std::mutex> guard{rec.mtx};
    std::vector<timestamp_ms> result;
    for (auto& [id, when] : rec.received)
      if (dispatcher_of[id] == dispatcher_id) result.push_back(when);
    return result;
  }

  /// The deliveries of `dispatcher_id` as a listing shows them.
  std::vector<delivery> listed(const std::string& dispatcher_id) {
    std::vector<delivery> result;
    auto err = db->for_each_delivery(
      [&](const delivery& d) {
        if (d.dispatcher_id == dispatcher_id) result.push_back(d);
        return true;
      },
      delivery_scope{});
    BOOST_REQUIRE_MESSAGE(!err, "for_each_delivery: " << message_of(err));
    return result;
  }

  /// Times `start`, `start + step`, ... (`n` of them).
  static std::vector<timestamp_ms> spaced(timestamp_ms start, timestamp_ms step, size_t n) {
    std::vector<timestamp_ms> result;
    for (size_t i = 0; i < n; ++i) result.push_back(start + step * static_cast<timestamp_ms>(i));
    return result;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(dispatcher_rates)

BOOST_FIXTURE_TEST_CASE(a_dispatcher_at_ten_a_second_gets_one_every_100_ms_while_another_flows,
                        rates_fixture) {
  auto rec = std::make_shared<recording>();
  auto em = spawn_emitter(spawn_sink(rec, tracking()));
  auto limited = make_dispatcher("test.rated", {action_kind::task}, 10);
  auto unlimited = make_dispatcher("test.rated", {action_kind::task}, 0);
  auto start = config.now();
  publish(em, "test.rated", 6);
  // The unlimited dispatcher's six went at once; of the limited one's, the bucket's first token.
  BOOST_TEST(times_of_dispatcher(*rec, unlimited.id) == spaced(start, 0, 6));
  BOOST_TEST(times_of_dispatcher(*rec, limited.id) == spaced(start, 0, 1));
  // The others wait as a listing shows them: pending, no attempt spent, due since they came.
  size_t waiting = 0;
  for (auto& d : listed(limited.id)) {
    if (rec->count(d.id) > 0) continue;
    ++waiting;
    BOOST_TEST(d.status == delivery_status::pending);
    BOOST_TEST(d.attempts == 0u);
    BOOST_TEST(d.next_attempt == d.created);
  }
  BOOST_TEST(waiting == 5u);
  BOOST_REQUIRE(run_until([&] { return rec->total() == 12u; }));
  BOOST_TEST(times_of_dispatcher(*rec, limited.id) == spaced(start, 100, 6));
  for (auto& d : listed(limited.id))
    BOOST_TEST(wait_for_status(d.id, delivery_status::delivered).attempts == 1u);
  BOOST_TEST(metrics->retries.load() == 0u);
  BOOST_TEST(metrics->dead_letters.load() == 0);
}

BOOST_FIXTURE_TEST_CASE(task_and_mail_actions_of_one_dispatcher_share_its_rate, rates_fixture) {
  auto rec = std::make_shared<recording>();
  auto sink = spawn_sink(rec, tracking());
  auto em = spawn_emitter(sink);
  // The shard's mail emitter, with a sink this time, shares the shard's buckets.
  kill(mail_emitter);
  mail_emitter = sys.spawn(dispatch::emitter, action_kind::mail, uint32_t{0}, config, db, metrics,
                           sink_binding{sink, true}, rates);
  spawned.push_back(caf::actor_cast<caf::actor>(mail_emitter));
  caf::anon_send(matcher, handles_atom::value, em, mail_emitter);
  caf::anon_send(mail_emitter, handles_atom::value, log_reader_actor{matcher});
  run();
  auto both = make_dispatcher("test.both", {action_kind::task, action_kind::mail}, 10);
  auto start = config.now();
  publish(em, "test.both", 5);
  BOOST_REQUIRE(run_until([&] { return rec->total() == 10u; }));
  auto times = times_of_dispatcher(*rec, both.id);
  std::sort(times.begin(), times.end());
  // Ten deliveries, five of each kind, one token every 100 ms for them all: not ten a second each.
  BOOST_TEST(times == spaced(start, 100, 10));
  size_t mails = 0;
  for (auto& d : listed(both.id)) mails += d.kind == action_kind::mail ? 1 : 0;
  BOOST_TEST(mails == 5u);
}

BOOST_FIXTURE_TEST_CASE(a_changed_rate_applies_to_the_waiting_and_a_cleared_one_frees_them,
                        rates_fixture) {
  auto rec = std::make_shared<recording>();
  auto em = spawn_emitter(spawn_sink(rec, tracking()));
  auto d = make_dispatcher("test.changed", {action_kind::task}, 1);
  auto start = config.now();
  publish(em, "test.changed", 8);
  // One a second: half a second on, only the first went.
  advance(500ms);
  BOOST_TEST(times_of_dispatcher(*rec, d.id) == spaced(start, 0, 1));
  // Raised to 10 a second: the waiting ones go at once at the new rate (its bucket starts with a
  // token), not when the old rate's next token would have come.
  change_rate(d, 10);
  advance(250ms);
  BOOST_TEST(times_of_dispatcher(*rec, d.id)
             == (std::vector<timestamp_ms>{start, start + 500, start + 600, start + 700}));
  // Cleared: the rest go at once.
  change_rate(d, 0);
  run();
  BOOST_TEST(times_of_dispatcher(*rec, d.id)
             == (std::vector<timestamp_ms>{start, start + 500, start + 600, start + 700,
                                           start + 750, start + 750, start + 750, start + 750}));
  // Set again at 2 a second: new deliveries get it.
  change_rate(d, 2);
  auto again = config.now();
  publish(em, "test.changed", 3);
  BOOST_REQUIRE(run_until([&] { return rec->total() == 11u; }));
  auto times = times_of_dispatcher(*rec, d.id);
  BOOST_TEST((std::vector<timestamp_ms>(times.begin() + 8, times.end()) == spaced(again, 500, 3)));
}

BOOST_FIXTURE_TEST_CASE(retries_take_their_dispatchers_tokens_and_spend_no_attempt_waiting,
                        rates_fixture) {
  // Each delivery fails its first attempt: the retries come from the records, and they too go
  // one per token. Ten attempts at 10 a second with a bucket of two: 800 ms at least.
  auto rec = std::make_shared<recording>();
  auto em = spawn_emitter(spawn_sink(rec, tracking([](const delivery&, size_t nth) {
                                       return answer(nth == 1 ? retry_later("busy") : delivered());
                                     })));
  auto limited = make_dispatcher("test.retried", {action_kind::task}, 10);
  publish(em, "test.retried", 5);
  BOOST_REQUIRE(run_until([&] { return rec->total() == 10u; }));
  auto times = times_of_dispatcher(*rec, limited.id);
  BOOST_TEST(times.back() - times.front() >= 800);
  // No two attempts closer than the rate allows beyond the bucket's burst of two.
  for (size_t i = 2; i < times.size(); ++i)
    BOOST_TEST(times[i] - times[i - 2] >= 100, "attempt " << i);
  // The failure, then the delivery: waiting spent no attempt.
  for (auto& d : listed(limited.id))
    BOOST_TEST(wait_for_status(d.id, delivery_status::delivered).attempts == 2u);
  BOOST_TEST(metrics->dead_letters.load() == 0);
}

BOOST_FIXTURE_TEST_CASE(a_keyed_delivery_waiting_for_its_rate_keeps_its_key_in_order,
                        rates_fixture) {
  // Ordering keys and a rate together: deliveries of one key still go in accepted order, one at
  // a time, and at the dispatcher's rate.
  auto rec = std::make_shared<recording>();
  auto em = spawn_emitter(spawn_sink(rec, tracking()));
  auto limited = make_dispatcher("test.keyed", {action_kind::task}, 10);
  std::vector<planned_task> ts;
  auto& ids = default_id_generator();
  for (int i = 0; i < 4; ++i) {
    planned_task t;
    t.event.sequence = ++next_sequence;
    t.event.event = event{ids.next(), "test.keyed", "{}", config.now()};
    t.id = delivery_id_at({t.event.sequence, 0, 0});
    t.created = accepted_at(t.event.sequence);
    t.function_name = "rated";
    ts.push_back(t);
  }
  // As the matcher would carry them, with the dispatcher's id: keys 1, 2, 1, 2.
  delivery_batch batch;
  for (size_t i = 0; i < ts.size(); ++i) {
    auto d = make_delivery(ts[i].id, ts[i].event.event, limited, limited.actions[0], false,
                           ts[i].created);
    d.ordering_key = i % 2 == 0 ? 1 : 2;
    batch.deliveries.push_back(std::move(d));
    batch.last = ts[i].event.sequence;
  }
  auto start = config.now();
  caf::anon_send(em, enqueue_atom::value, std::move(batch));
  BOOST_REQUIRE(run_until([&] { return rec->total() == 4u; }));
  BOOST_TEST(received_of(*rec, {ts[0].id, ts[2].id})
             == (std::vector<std::string>{ts[0].id, ts[2].id}));
  BOOST_TEST(received_of(*rec, {ts[1].id, ts[3].id})
             == (std::vector<std::string>{ts[1].id, ts[3].id}));
  BOOST_TEST(times_of_dispatcher(*rec, limited.id) == spaced(start, 100, 4));
}

BOOST_AUTO_TEST_SUITE_END()
