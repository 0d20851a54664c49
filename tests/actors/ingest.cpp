// Ingest's overload cap on a real actor system and a real store, with matchers of our own: events
// a matcher never answered for stop counting against the cap once that matcher is replaced.
#include <boost/test/unit_test.hpp>

#include <memory>
#include <vector>

#include <caf/all.hpp>

#include "actors/ingest.hpp"
#include "fixtures/engine_fixture.hpp"
#include "fixtures/temp_dir.hpp"
#include "messages/error_code.hpp"

using namespace dispatch;
using namespace std::chrono_literals;

namespace {

using promises = std::shared_ptr<std::vector<caf::response_promise>>;

/// A matcher that takes every routed batch and never answers, as one that died while routing.
matcher_actor::behavior_type silent_matcher(matcher_actor::pointer self, promises kept) {
  return {
    [](rederive_atom, action_kind, uint64_t, uint32_t) { return delivery_batch{}; },
    [self, kept](route_atom, const logged_event_list&) -> caf::result<uint64_t> {
      kept->push_back(self->make_response_promise());
      return caf::delegated<uint64_t>{};
    },
    [](install_atom, const dispatcher&) { return uint64_t{0}; },
    [](uninstall_atom, const std::string&, uint64_t) { return uint64_t{0}; },
    [](handles_atom, const emitter_actor&, const emitter_actor&) {},
    [](flush_atom) {},
  };
}

/// A matcher that consumes every routed batch at once.
matcher_actor::behavior_type prompt_matcher() {
  return {
    [](rederive_atom, action_kind, uint64_t, uint32_t) { return delivery_batch{}; },
    [](route_atom, const logged_event_list& events) { return uint64_t{events.size()}; },
    [](install_atom, const dispatcher&) { return uint64_t{0}; },
    [](uninstall_atom, const std::string&, uint64_t) { return uint64_t{0}; },
    [](handles_atom, const emitter_actor&, const emitter_actor&) {},
    [](flush_atom) {},
  };
}

struct fixture {
  test::temp_dir dir;
  store_ptr db;
  test::test_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  promises kept = std::make_shared<std::vector<caf::response_promise>>();
  std::vector<caf::actor> spawned; // killed at the end, or the system would wait for them

  template <class Handle>
  Handle keep(Handle x) {
    spawned.push_back(caf::actor_cast<caf::actor>(x));
    return x;
  }

  ~fixture() {
    for (auto& x : spawned) caf::anon_send_exit(x, caf::exit_reason::kill);
  }

  fixture() {
    store_options opts;
    opts.data_dir = dir.path();
    opts.sync = false;
    opts.shards = 1;
    auto opened = store::open(opts);
    BOOST_REQUIRE(opened);
    db = std::move(*opened);
  }

  caf::expected<event> publish(const ingest_actor& in) {
    event ev;
    ev.type = "t";
    caf::expected<event> result{caf::error{}};
    self->request(in, 10s, publish_atom::value, ev)
      .receive([&](const event& stored) { result = stored; },
               [&](const caf::error& err) { result = err; });
    return result;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(ingest_overload, fixture)

BOOST_AUTO_TEST_CASE(a_replaced_matcher_gives_back_what_it_never_answered) {
  engine_config config;
  config.shards = 1;
  config.max_unacknowledged = 8;
  auto silent = keep(sys.spawn(silent_matcher, kept));
  auto in = keep(sys.spawn(ingest, config, db, std::make_shared<engine_metrics>(),
                           matcher_list{silent}, nullptr));
  for (int i = 0; i < 8; ++i) BOOST_REQUIRE(publish(in));
  auto refused = publish(in);
  BOOST_REQUIRE(!refused);
  BOOST_TEST((code_of(refused.error()) == error_code::unavailable));
  BOOST_TEST(message_of(refused.error()).find("overloaded") != std::string::npos);
  // The silent matcher is replaced (as the supervisor does after a restart): the eight events it
  // held are the emitters' to find in the log, and the cap is whole again.
  auto prompt = keep(sys.spawn(prompt_matcher));
  caf::anon_send(in, handles_atom::value, matcher_list{prompt});
  // One batch of eight: admitted at once, so whatever the matcher's pace, all or none fit.
  event_list eight(8, event{"", "t", "{}", 0});
  publish_outcome_list outcomes;
  self->request(in, 10s, publish_atom::value, eight)
    .receive([&](const publish_outcome_list& xs) { outcomes = xs; },
             [&](const caf::error& err) { BOOST_FAIL("publish: " << message_of(err)); });
  BOOST_REQUIRE(outcomes.size() == 8u);
  for (auto& x : outcomes) BOOST_TEST(accepted(x), x.message);
}

BOOST_AUTO_TEST_SUITE_END()
