// Per-key ordering across a restart: a delivery retrying with its exception record still holds its
// key when the engine starts again on the same directory, so the deliveries of its key that the
// new run re-derives from the log, or takes from new events, wait behind it; other keys flow. A
// replayed dead letter gets its key back from its record.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fixtures/engine_fixture.hpp"
#include "fixtures/poll.hpp"

using namespace dispatch;
using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

/// What the sink saw: the events it delivered, in order, and the attempts per event. The event
/// `stuck` fails every attempt while `failing` holds.
struct keyed_sink {
  std::mutex mtx;
  std::vector<std::string> arrivals; // event ids, one per successful delivery, in order
  std::map<std::string, uint32_t> attempts;
  std::map<std::string, std::string> delivery_ids; // event id -> delivery id
  std::string stuck;
  std::string refused; // answered "permanent" once: a dead letter
  std::atomic<bool> failing{true};

  sink_script script() {
    return [this](const delivery& d, uint32_t) -> caf::optional<delivery_result> {
      std::lock_guard<std::mutex> guard{mtx};
      delivery_ids[d.event_id] = d.id;
      if (++attempts[d.event_id] == 1 && d.event_id == refused)
        return permanent_failure("the service refuses " + refused);
      // Half a second between its attempts: at the restart it is most likely not due, so only
      // its record can tell the new run that its key is held.
      if (d.event_id == stuck && failing)
        return retry_later("the service of " + stuck + " is down", 500);
      arrivals.push_back(d.event_id);
      return delivered();
    };
  }

  uint32_t attempts_of(const std::string& event_id) {
    std::lock_guard<std::mutex> guard{mtx};
    return attempts[event_id];
  }

  std::string delivery_of(const std::string& event_id) {
    std::lock_guard<std::mutex> guard{mtx};
    return delivery_ids[event_id];
  }

  bool got(const std::string& event_id) {
    std::lock_guard<std::mutex> guard{mtx};
    for (auto& id : arrivals)
      if (id == event_id) return true;
    return false;
  }

  /// The first successful delivery of each of `ids`, in the order they arrived.
  std::vector<std::string> first_arrivals_of(const std::vector<std::string>& ids) {
    std::lock_guard<std::mutex> guard{mtx};
    std::vector<std::string> result;
    for (auto& id : arrivals)
      if (std::find(ids.begin(), ids.end(), id) != ids.end()
          && std::find(result.begin(), result.end(), id) == result.end())
        result.push_back(id);
    return result;
  }
};

/// The id of the `n`-th event of the test: 24 hex characters.
std::string event_id_of(int n) {
  auto digits = std::to_string(n);
  return std::string(24 - digits.size(), '0').replace(0, 4, "0adb") + digits;
}

} // namespace

BOOST_AUTO_TEST_SUITE(key_order_restart)

BOOST_AUTO_TEST_CASE(a_retrying_delivery_keeps_its_key_across_a_restart) {
  engine_fixture f;
  f.config.retry.max_attempts = 100000; // the stuck one retries until the test lets it through
  f.config.retry.cap = 50ms;
  auto sink = std::make_shared<keyed_sink>();
  f.tasks->script = sink->script();
  f.start();
  auto disp = make_dispatcher("keyed", {task_action("sync")});
  disp.ordering_key = std::string{"content.user"};
  f.create(disp);
  auto publish = [&](int n, const std::string& user) {
    return f
      .publish("keyed", R"({"user":")" + user + R"(","n":)" + std::to_string(n) + "}",
               event_id_of(n))
      .id;
  };
  // A's first event fails until the end: once tried twice, it retries from its record.
  sink->stuck = event_id_of(1);
  auto a1 = publish(1, "a");
  BOOST_REQUIRE(eventually([&] { return sink->attempts_of(a1) >= 2; }));
  auto a2 = publish(2, "a");
  auto a3 = publish(3, "a");
  auto b1 = publish(4, "b");
  BOOST_REQUIRE(eventually([&] { return sink->got(b1); }));
  BOOST_TEST(!sink->got(a2));
  BOOST_TEST(!sink->got(a3));

  // The new run knows of A's first only from its record, and of A's second and third only from
  // the log (they were waiting in memory): it must hold A's key for the recorded one.
  f.restart();
  auto a4 = publish(5, "a");
  auto b2 = publish(6, "b");
  BOOST_REQUIRE_MESSAGE(eventually([&] { return sink->got(b2); }),
                        "b's key was held back by a's retrying delivery");
  auto retried = sink->attempts_of(a1);
  BOOST_REQUIRE(eventually([&] { return sink->attempts_of(a1) > retried; })); // retrying still
  for (auto& later : {a2, a3, a4})
    BOOST_TEST(!sink->got(later), later << " overtook a's retrying delivery after the restart");

  sink->failing = false;
  BOOST_REQUIRE(eventually([&] { return sink->got(a4); }));
  f.wait_until_settled();
  BOOST_TEST(
    (sink->first_arrivals_of({a1, a2, a3, a4}) == std::vector<std::string>{a1, a2, a3, a4}));
  BOOST_TEST((sink->first_arrivals_of({b1, b2}) == std::vector<std::string>{b1, b2}));
}

BOOST_AUTO_TEST_CASE(a_replayed_dead_letter_waits_behind_its_keys_holder_after_a_restart) {
  engine_fixture f;
  f.config.retry.max_attempts = 100000;
  f.config.retry.cap = 50ms;
  auto sink = std::make_shared<keyed_sink>();
  f.tasks->script = sink->script();
  f.start();
  auto disp = make_dispatcher("keyed", {task_action("sync")});
  disp.ordering_key = std::string{"content.user"};
  f.create(disp);
  auto publish = [&](int n, const std::string& user) {
    return f
      .publish("keyed", R"({"user":")" + user + R"(","n":)" + std::to_string(n) + "}",
               event_id_of(n))
      .id;
  };
  sink->refused = event_id_of(1);
  sink->stuck = event_id_of(2);
  auto a1 = publish(1, "a"); // dead at once, releasing a's key
  auto a2 = publish(2, "a"); // then holds it, retrying
  BOOST_REQUIRE(eventually([&] { return sink->attempts_of(a2) >= 2; }));
  f.restart(); // the dead letter's key is known from its record only
  auto replayed = eventually(
    [&] { return static_cast<bool>(f.call<delivery>(replay_atom::value, sink->delivery_of(a1))); });
  BOOST_REQUIRE_MESSAGE(replayed, "the dead letter could not be replayed");
  auto b1 = publish(3, "b");
  BOOST_REQUIRE(eventually([&] { return sink->got(b1); }));
  auto retried = sink->attempts_of(a2);
  BOOST_REQUIRE(eventually([&] { return sink->attempts_of(a2) > retried + 1; }));
  BOOST_TEST(!sink->got(a1), "the replayed dead letter went past the holder of its key");

  sink->failing = false;
  BOOST_REQUIRE(eventually([&] { return sink->got(a1); }));
  BOOST_TEST((sink->first_arrivals_of({a1, a2}) == std::vector<std::string>{a2, a1}));
}

BOOST_AUTO_TEST_SUITE_END()
