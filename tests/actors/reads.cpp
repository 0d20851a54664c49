// Reads off the write path: a listing is answered by a reader on its own thread, so a publish sent
// while a long listing runs is answered at once; the health check probes storage at most once a
// second however often it is asked. A listing is held in its scan by the store's fault injection
// (`DISPATCH_FAULT_PAUSE_SCANS`), so "while it runs" is exact, not a matter of timing.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>

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

  void hold_scans() { std::ofstream{pause}; }

  void release_scans() { std::filesystem::remove(pause); }

  bool scan_entered() const { return std::filesystem::exists(pause.string() + ".entered"); }
};

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
  for (uint32_t i = 0; i < config.readers; ++i)
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
