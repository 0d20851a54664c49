// Reads off the write path: a listing is answered by a reader on its own thread, so a publish sent
// while a long listing runs is answered at once; the health check probes storage at most once a
// second however often it is asked; the deliveries of named events are looked up by key. A listing is held in its scan by the store's fault injection
// (`DISPATCH_FAULT_PAUSE_SCANS`), so "while it runs" is exact, not a matter of timing.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>

#include "fixtures/engine_fixture.hpp"

using namespace dispatch;
using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

/// An engine whose listing scans wait while `pause` exists.
struct paused_reads : engine_fixture {
  std::filesystem::path pause = std::filesystem::path{dir.path()} / "pause-scans";

  paused_reads() {
    ::setenv("DISPATCH_FAULT_PAUSE_SCANS", pause.c_str(), 1);
    start();
    ::unsetenv("DISPATCH_FAULT_PAUSE_SCANS");
  }

  /// From now on every scan waits; `scan_entered` says whether one has begun since.
  void hold_scans() {
    std::filesystem::remove(pause.string() + ".entered");
    std::ofstream{pause};
  }

  void release_scans() { std::filesystem::remove(pause); }

  bool scan_entered() const { return std::filesystem::exists(pause.string() + ".entered"); }
};

query of_events(const std::vector<std::string>& event_ids) {
  query q;
  q.where.op = filter_op::in;
  q.where.path = "eventId";
  for (auto& id : event_ids) q.where.values.push_back(string_value(id));
  return q;
}

query with_status(query q, const std::string& status) {
  filter both;
  both.op = filter_op::and_;
  both.children.push_back(q.where);
  filter on_status;
  on_status.op = filter_op::eq;
  on_status.path = "status";
  on_status.values.push_back(string_value(status));
  both.children.push_back(on_status);
  q.where = both;
  return q;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(reads, paused_reads)

BOOST_AUTO_TEST_CASE(a_listing_in_progress_holds_no_publish_back) {
  create(make_dispatcher("user_created", {task_action("welcome")}));
  publish("user_created", R"({"n":1})");
  BOOST_REQUIRE(eventually([&] { return tasks->size() == 1; }));
  hold_scans();
  auto listing = std::async(
    std::launch::async, [this] { return call<delivery_page>(deliveries_atom::value, query{}); });
  BOOST_REQUIRE(eventually([&] { return scan_entered(); }));
  // The listing is inside its scan now, and stays there until released. Meanwhile the engine
  // accepts, matches and delivers, and answers the other calls.
  auto second = publish("user_created", R"({"n":2})");
  BOOST_CHECK_EQUAL(second.id.size(), 24u);
  BOOST_CHECK(eventually([&] { return tasks->size() == 2; }));
  auto health = call<bool>(health_atom::value);
  BOOST_REQUIRE(health);
  BOOST_CHECK(*health);
  BOOST_CHECK(static_cast<bool>(call<engine_stats>(stats_atom::value)));
  BOOST_CHECK(listing.wait_for(0s) == std::future_status::timeout);
  release_scans();
  auto page = listing.get();
  BOOST_REQUIRE_MESSAGE(static_cast<bool>(page), (page ? std::string{} : message_of(page.error())));
  BOOST_CHECK_GE(page->page.total, 1u);
}

BOOST_AUTO_TEST_CASE(with_every_reader_inside_a_scan_publishes_still_flow) {
  // One listing per reader (round robin), all held in their scans: a publish is still delivered.
  create(make_dispatcher("user_created", {task_action("welcome")}));
  hold_scans();
  std::vector<std::future<caf::expected<delivery_page>>> listings;
  for (uint32_t i = 0; i < config.readers.count; ++i)
    listings.push_back(std::async(
      std::launch::async, [this] { return call<delivery_page>(deliveries_atom::value, query{}); }));
  BOOST_REQUIRE(eventually([&] { return scan_entered(); }));
  publish("user_created");
  BOOST_CHECK(eventually([&] { return tasks->size() == 1; }));
  release_scans();
  for (auto& l : listings) {
    auto page = l.get();
    BOOST_CHECK_MESSAGE(static_cast<bool>(page), (page ? std::string{} : message_of(page.error())));
  }
}

BOOST_AUTO_TEST_CASE(the_deliveries_of_named_events_are_looked_up_by_key_not_scanned) {
  {
    std::lock_guard<std::mutex> guard{tasks->mtx};
    tasks->script = always_permanent();
  }
  create(make_dispatcher(
    "order", {task_action("ship"), mail_action("a@example.com", "5c1f0e2d9a8b7c6d5e4f3a2b")}));
  auto generated = publish("order", R"({"n":1})");
  auto chosen = publish("order", R"({"n":2})", "64b000000000000000000042");
  auto other = publish("order", R"({"n":3})");
  wait_until_settled();
  // A delivery without a record is listed as delivered once its emitter's progress is written.
  BOOST_REQUIRE(eventually([&] {
    auto page = call<delivery_page>(
      deliveries_atom::value,
      with_status(of_events({generated.id, chosen.id, other.id}), "delivered"));
    return page && page->page.total == 3;
  }));
  // Every scan waits from now on: what follows is answered by lookups, or times out.
  hold_scans();
  auto check = [&](const std::string& event_id) {
    auto page = call<delivery_page>(deliveries_atom::value, of_events({event_id}));
    BOOST_REQUIRE_MESSAGE(static_cast<bool>(page),
                          event_id << ": " << (page ? std::string{} : message_of(page.error())));
    BOOST_CHECK_EQUAL(page->page.total, 2u);
    std::multiset<std::string> seen;
    for (auto& d : page->data) {
      BOOST_CHECK_EQUAL(d.event_id, event_id);
      seen.insert(to_string(d.kind) + std::string{"/"} + to_string(d.status));
    }
    std::string listed;
    for (auto& x : seen) listed += x + " ";
    BOOST_CHECK_MESSAGE(seen == (std::multiset<std::string>{"mail/delivered", "task/dead"}),
                        event_id << ": " << listed);
  };
  check(generated.id);
  check(chosen.id);
  auto both = call<delivery_page>(deliveries_atom::value, of_events({generated.id, chosen.id}));
  BOOST_REQUIRE(both);
  BOOST_CHECK_EQUAL(both->page.total, 4u);
  auto dead = call<delivery_page>(deliveries_atom::value,
                                  with_status(of_events({chosen.id, other.id}), "dead"));
  BOOST_REQUIRE(dead);
  BOOST_CHECK_EQUAL(dead->page.total, 2u);
  for (auto& d : dead->data) BOOST_CHECK(d.status == delivery_status::dead);
  // A purged delivery is gone from its event's listing too.
  auto letter = dead->data.front();
  BOOST_REQUIRE(call<uint32_t>(purge_atom::value, letter.id));
  auto after = call<delivery_page>(deliveries_atom::value, of_events({letter.event_id}));
  BOOST_REQUIRE(after);
  BOOST_CHECK_EQUAL(after->page.total, 1u);
  BOOST_CHECK(!scan_entered());
  release_scans();
  // An id the log does not know can only have records: they are scanned for, and there are none.
  auto unknown = call<delivery_page>(deliveries_atom::value, of_events({"no-such-event"}));
  BOOST_REQUIRE(unknown);
  BOOST_CHECK_EQUAL(unknown->page.total, 0u);
}

BOOST_AUTO_TEST_CASE(health_probes_storage_at_most_once_a_second) {
  auto before = call<engine_stats>(stats_atom::value);
  BOOST_REQUIRE(before);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 200; ++i) {
    auto ok = call<bool>(health_atom::value);
    BOOST_REQUIRE(ok);
    BOOST_CHECK(*ok);
  }
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now()
                                                                  - start)
                   .count();
  auto after = call<engine_stats>(stats_atom::value);
  BOOST_REQUIRE(after);
  auto probes = after->storage_probes - before->storage_probes;
  BOOST_CHECK_GE(probes, 1u);
  BOOST_CHECK_LE(probes, static_cast<uint64_t>(seconds) + 1);
}

BOOST_AUTO_TEST_SUITE_END()
