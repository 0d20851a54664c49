// An event whose deliveries cannot be derived (making one throws: a bug, or memory) is set aside:
// recorded with why, listed with the held events, counted, and never matched again; the matcher
// keeps running and the events around it are delivered. Before, the exception took the matcher
// down, and after every restart the emitters' catch-up derived the same event again.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "fixtures/engine_fixture.hpp"
#include "messages/ids.hpp"

using namespace dispatch;
using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

/// While this file exists and names an event type, deriving events of that type throws
/// (`DISPATCH_FAULT_FAIL_DERIVE`, read once per process: every case of the suite shares it).
const std::filesystem::path& fault_file() {
  static const std::filesystem::path path = [] {
    auto p = std::filesystem::temp_directory_path()
             / ("dispatch-fail-derive-" + std::to_string(::getpid()));
    ::setenv("DISPATCH_FAULT_FAIL_DERIVE", p.c_str(), 1);
    return p;
  }();
  return path;
}

void fail_deriving(const std::string& type) {
  std::ofstream{fault_file()} << type << "\n";
}

void derive_again() {
  std::filesystem::remove(fault_file());
}

struct set_aside_fixture : engine_fixture {
  set_aside_fixture() { fault_file(); }
  ~set_aside_fixture() { derive_again(); }

  std::set<std::string> delivered_events() const {
    std::set<std::string> ids;
    for (auto& r : tasks->snapshot()) ids.insert(r.value.event_id);
    return ids;
  }

  /// The archived events listed with `setAside`.
  std::vector<std::string> listed_set_aside() {
    query q;
    q.where.op = filter_op::contains;
    q.where.path = "setAside";
    q.limit = max_page_size;
    auto page = call<json_page>(events_atom::value, q);
    BOOST_REQUIRE(page);
    std::vector<std::string> found;
    for (auto& json : page->data)
      if (json.find(R"("setAside":)") != std::string::npos) found.push_back(json);
    return found;
  }

  engine_stats stats() {
    auto s = call<engine_stats>(stats_atom::value);
    BOOST_REQUIRE(s);
    return *s;
  }

  uint64_t deliveries_of(const std::string& event_id) {
    query q;
    q.where.op = filter_op::eq;
    q.where.path = "eventId";
    q.where.values.push_back(string_value(event_id));
    auto page = call<delivery_page>(deliveries_atom::value, q);
    BOOST_REQUIRE(page);
    return page->page.total;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(set_aside, set_aside_fixture)

BOOST_AUTO_TEST_CASE(a_live_event_that_cannot_be_derived_is_set_aside_and_the_rest_flow) {
  fail_deriving("poison");
  config.shards = 1; // the poisoned event and the good ones share one matcher
  start();
  create(make_dispatcher("ok", {task_action("f")}));
  create(make_dispatcher("poison", {task_action("g"), task_action("h")}));
  auto before = publish("ok", R"({"n":1})");
  auto poison = publish("poison", R"({"n":2})");
  auto after = publish("ok", R"({"n":3})");
  BOOST_REQUIRE(eventually([&] { return delivered_events().size() >= 2; }, 30s));
  BOOST_REQUIRE(eventually([&] { return stats().set_aside == 1; }, 30s));

  auto delivered = delivered_events();
  BOOST_TEST(delivered.count(before.id) == 1u);
  BOOST_TEST(delivered.count(after.id) == 1u);
  BOOST_TEST(delivered.count(poison.id) == 0u);
  BOOST_TEST(stats().restarts == 0u, "the matcher went down with the event");

  auto listed = listed_set_aside();
  BOOST_REQUIRE_EQUAL(listed.size(), 1u);
  BOOST_TEST(listed[0].find(poison.id) != std::string::npos);
  BOOST_TEST(listed[0].find("fault injected") != std::string::npos, listed[0]);
  BOOST_TEST(listed[0].find(R"("content":{"n":2})") != std::string::npos, listed[0]);
  BOOST_TEST(deliveries_of(poison.id) == 0u);
  BOOST_TEST(deliveries_of(before.id) == 1u);

  // After a restart the event is not matched again (it would fail again): no restart loop, and
  // the engine keeps delivering.
  restart();
  auto later = publish("ok", R"({"n":4})");
  BOOST_REQUIRE(eventually([&] { return delivered_events().count(later.id) == 1; }, 30s));
  BOOST_TEST(stats().restarts == 0u);
  BOOST_TEST(listed_set_aside().size() == 1u);

  // Once deriving would work again, a set-aside event still has no deliveries: nothing was sent
  // for it, so none may be listed as delivered.
  derive_again();
  restart();
  BOOST_TEST(deliveries_of(poison.id) == 0u);
  BOOST_TEST(listed_set_aside().size() == 1u);
  BOOST_TEST(delivered_events().count(poison.id) == 0u);
  stop();
}

BOOST_AUTO_TEST_CASE(an_event_met_first_by_the_emitters_catch_up_is_set_aside_there) {
  // Events in the log that no matcher derived live (written while the engine was down, as after
  // a crash between the log write and the match): the emitters read them from the log at start.
  config.shards = 1;
  start();
  create(make_dispatcher("ok", {task_action("f")}));
  create(make_dispatcher("poison", {task_action("g")}));
  stop();
  std::vector<event> logged;
  {
    auto db = open_store();
    std::vector<accepted_event> batch;
    auto base = static_cast<uint64_t>(now_ms()) * 1000;
    for (auto type : {"ok", "poison", "ok"}) {
      event ev;
      auto sequence = base + batch.size() + 1;
      ev.id = event_id_at(0, sequence);
      ev.type = type;
      ev.content = R"({"k":1})";
      ev.creation_timestamp = now_ms();
      batch.push_back(accepted_event{0, sequence, ev, false});
      logged.push_back(ev);
    }
    BOOST_REQUIRE(!db->accept_events(batch, now_ms()));
  }
  fail_deriving("poison");
  start();
  BOOST_REQUIRE(eventually([&] { return delivered_events().size() >= 2; }, 30s));
  BOOST_REQUIRE(eventually([&] { return stats().set_aside == 1; }, 30s));
  auto delivered = delivered_events();
  BOOST_TEST(delivered.count(logged[0].id) == 1u);
  BOOST_TEST(delivered.count(logged[2].id) == 1u);
  BOOST_TEST(delivered.count(logged[1].id) == 0u);
  BOOST_TEST(stats().restarts == 0u);
  auto listed = listed_set_aside();
  BOOST_REQUIRE_EQUAL(listed.size(), 1u);
  BOOST_TEST(listed[0].find(logged[1].id) != std::string::npos);
  stop();
}

BOOST_AUTO_TEST_CASE(a_set_aside_event_is_matched_again_on_request_once_the_cause_is_gone) {
  fail_deriving("poison");
  config.shards = 2;
  start();
  create(make_dispatcher("ok", {task_action("f")}));
  create(make_dispatcher("poison", {task_action("g"), task_action("h"),
                                    mail_action("ops@example.com", "5f0a1b2c3d4e5f6071829304")}));
  auto poison = publish("poison", R"({"user":"u1"})");
  BOOST_REQUIRE(eventually([&] { return stats().set_aside == 1; }, 30s));

  // While the cause is still there, asking again fails with why, and the event stays aside.
  auto again = call<uint32_t>(rematch_atom::value, poison.id);
  BOOST_REQUIRE(!again);
  BOOST_TEST(message_of(again.error()).find("still cannot be matched") != std::string::npos,
             message_of(again.error()));
  BOOST_TEST(listed_set_aside().size() == 1u);

  derive_again();
  auto made = call<uint32_t>(rematch_atom::value, poison.id);
  if (!made) BOOST_FAIL("matching again failed: " + message_of(made.error()));
  BOOST_TEST(*made == 3u);
  auto delivered_of = [&](const sink_record_ptr& sink) {
    size_t n = 0;
    for (auto& r : sink->snapshot()) n += r.value.event_id == poison.id ? 1 : 0;
    return n;
  };
  BOOST_REQUIRE(
    eventually([&] { return delivered_of(tasks) == 2 && delivered_of(mails) == 1; }, 30s));
  BOOST_TEST(listed_set_aside().empty());
  BOOST_REQUIRE(eventually([&] { return deliveries_of(poison.id) == 3; }, 30s));

  // Done once: not set aside any more, so a second request finds nothing to do.
  auto twice = call<uint32_t>(rematch_atom::value, poison.id);
  BOOST_REQUIRE(!twice);
  BOOST_TEST((code_of(twice.error()) == error_code::resource_unknown));
  auto unknown = call<uint32_t>(rematch_atom::value, std::string{"0123456789abcdef01234567"});
  BOOST_REQUIRE(!unknown);
  BOOST_TEST((code_of(unknown.error()) == error_code::resource_unknown));

  // After a restart nothing is sent twice, and the event's deliveries are still listed.
  restart();
  auto later = publish("ok");
  BOOST_REQUIRE(eventually([&] { return delivered_events().count(later.id) == 1; }, 30s));
  BOOST_TEST(delivered_of(tasks) == 2u);
  BOOST_TEST(delivered_of(mails) == 1u);
  BOOST_TEST(deliveries_of(poison.id) == 3u);
  stop();
}

BOOST_AUTO_TEST_CASE(a_set_aside_event_can_be_let_go_without_deliveries) {
  fail_deriving("poison");
  start();
  create(make_dispatcher("poison", {task_action("g")}));
  auto poison = publish("poison");
  BOOST_REQUIRE(eventually([&] { return stats().set_aside == 1; }, 30s));
  derive_again();
  auto let_go = call<uint32_t>(discard_atom::value, poison.id);
  if (!let_go) BOOST_FAIL("discarding failed: " + message_of(let_go.error()));
  BOOST_TEST(*let_go == 1u);
  BOOST_TEST(listed_set_aside().empty());
  // Gone for good: not replayable, not discarded twice, and never derived again, even after a
  // restart now that deriving would work.
  auto replay = call<uint32_t>(rematch_atom::value, poison.id);
  BOOST_REQUIRE(!replay);
  BOOST_TEST((code_of(replay.error()) == error_code::resource_unknown));
  auto twice = call<uint32_t>(discard_atom::value, poison.id);
  BOOST_REQUIRE(!twice);
  BOOST_TEST((code_of(twice.error()) == error_code::resource_unknown));
  restart();
  auto later = publish("poison");
  BOOST_REQUIRE(eventually([&] { return delivered_events().count(later.id) == 1; }, 30s));
  BOOST_TEST(delivered_events().count(poison.id) == 0u);
  BOOST_TEST(deliveries_of(poison.id) == 0u);
  stop();
}

BOOST_AUTO_TEST_SUITE_END()
