// The supervisor: a crashed part is restarted, its users get the new handle, and nothing accepted
// is stuck; past its restart budget the whole engine stops in order.
#include <boost/test/unit_test.hpp>

#include <caf/send.hpp>

#include "actors/supervisor.hpp"
#include "fixtures/engine_fixture.hpp"
#include "fixtures/shard_types.hpp"
#include "messages/ids.hpp"

using namespace dispatch;
using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

/// Spawns the parts and the supervisor by hand, so the test holds the parts' handles.
struct supervised_engine : engine_fixture {
  engine_parts parts;

  void start_supervised() {
    sys_config = std::make_unique<test_system_config>();
    sys = std::make_unique<caf::actor_system>(*sys_config);
    task_sink = spawn_recording_sink(*sys, tasks);
    mail_sink = spawn_recording_sink(*sys, mails);
    store_options opts;
    opts.data_dir = config.data_dir;
    opts.shards = config.shards;
    auto db = store::open(opts);
    BOOST_REQUIRE(db);
    parts.config = config;
    parts.db = *db;
    parts.metrics = std::make_shared<engine_metrics>();
    parts.task_sink = sink_binding{task_sink, false};
    parts.mail_sink = sink_binding{mail_sink, false};
    spawn_parts(*sys, parts);
    auto guardian = sys->spawn(supervisor, parts);
    caf::anon_send(parts.engine, handles_atom::value, guardian);
    engine = caf::actor_cast<engine_actor>(parts.engine);
  }

  ~supervised_engine() {
    parts = engine_parts{}; // drop our references before the fixture stops the system
  }

  uint64_t restarts() {
    auto stats = call<engine_stats>(stats_atom::value);
    return stats ? stats->restarts : 0;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(supervisor, supervised_engine)

BOOST_AUTO_TEST_CASE(a_killed_matcher_is_restarted_and_keeps_matching) {
  start_supervised();
  // One dispatcher per shard, so that every matcher has work.
  auto types = one_type_per_shard("type", config.shards);
  for (auto& t : types) create(make_dispatcher(t, {task_action("f-" + t)}));
  for (auto& t : types) publish(t);
  BOOST_REQUIRE(eventually([&] { return tasks->size() == types.size(); }));
  // Kill every matcher with a non-normal reason while events keep coming.
  for (auto& m : parts.matchers) caf::anon_send_exit(m, caf::exit_reason::kill);
  size_t published = types.size();
  for (int round = 0; round < 20; ++round)
    for (auto& t : types) {
      event ev;
      ev.type = t;
      auto stored = call<event>(publish_atom::value, ev);
      BOOST_REQUIRE_MESSAGE(stored, "publish failed: " << message_of(stored.error()));
      ++published;
    }
  BOOST_REQUIRE(eventually([&] { return restarts() >= config.shards; }));
  // No event is stuck: every accepted event reaches the sink.
  BOOST_REQUIRE_MESSAGE(eventually([&] { return tasks->distinct() == published; }),
                        "delivered " << tasks->distinct() << " of " << published);
  // Dispatcher changes reach the restarted matchers too.
  create(make_dispatcher(types[0], {task_action("second")}));
  publish(types[0]);
  BOOST_REQUIRE(eventually([&] { return tasks->distinct() == published + 2; }));
  // The inbox counts down when ingest hears back from the matchers (the dead ones too), which
  // may come after the sink has the deliveries.
  BOOST_CHECK(eventually([&] {
    auto stats = call<engine_stats>(stats_atom::value);
    return stats && stats->inbox_depth == 0;
  }));
}

BOOST_AUTO_TEST_CASE(a_killed_emitter_is_restarted_and_delivers_what_was_waiting) {
  start_supervised();
  create(make_dispatcher("t", {task_action("f")}));
  auto shards = parts.db->shards();
  caf::anon_send_exit(
    parts.emitters[emitter_index(action_kind::task, shard_of("t", shards), shards)],
    caf::exit_reason::kill);
  for (int i = 0; i < 50; ++i) publish("t");
  BOOST_REQUIRE(eventually([&] { return restarts() >= 1; }));
  BOOST_REQUIRE(eventually([&] { return tasks->distinct() == 50; }));
}

BOOST_AUTO_TEST_CASE(a_killed_ingest_or_directory_is_restarted) {
  start_supervised();
  create(make_dispatcher("t", {task_action("f")}, "before"));
  caf::anon_send_exit(parts.ingest, caf::exit_reason::kill);
  caf::anon_send_exit(parts.directory, caf::exit_reason::kill);
  BOOST_REQUIRE(eventually([&] { return restarts() >= 2; }));
  // The restarted directory reloaded what it owns; the restarted ingest accepts events.
  auto page = call<dispatcher_page>(find_atom::value, query{});
  BOOST_REQUIRE(page);
  BOOST_CHECK_EQUAL(page->page.total, 1u);
  publish("t");
  BOOST_REQUIRE(eventually([&] { return tasks->size() == 1; }));
}

BOOST_AUTO_TEST_CASE(past_the_budget_the_engine_stops) {
  config.restart_limit = 2;
  start_supervised();
  BOOST_REQUIRE(call<engine_stats>(stats_atom::value));
  caf::scoped_actor self{*sys};
  self->monitor(parts.engine);
  caf::anon_send_exit(parts.matchers[0], caf::exit_reason::kill);
  caf::anon_send_exit(parts.matchers[1], caf::exit_reason::kill);
  caf::anon_send_exit(parts.matchers[2], caf::exit_reason::kill);
  bool engine_down = false;
  self->receive([&](const caf::down_msg&) { engine_down = true; },
                caf::after(std::chrono::seconds(30)) >> [] {});
  BOOST_CHECK(engine_down);
  BOOST_CHECK(!call<engine_stats>(stats_atom::value));
}

BOOST_AUTO_TEST_CASE(stopping_the_engine_stops_every_part) {
  start_supervised();
  caf::scoped_actor self{*sys};
  std::vector<caf::actor_addr> all{parts.ingest.address(), parts.directory.address()};
  for (auto& e : parts.emitters) all.push_back(e.address());
  for (auto& m : parts.matchers) all.push_back(m.address());
  for (auto& a : all) self->monitor(a);
  caf::anon_send_exit(engine, caf::exit_reason::user_shutdown);
  size_t down = 0;
  for (size_t i = 0; i < all.size(); ++i)
    self->receive([&](const caf::down_msg&) { ++down; },
                  caf::after(std::chrono::seconds(10)) >> [] {});
  BOOST_CHECK_EQUAL(down, all.size());
}

BOOST_AUTO_TEST_SUITE_END()
