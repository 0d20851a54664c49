// The matcher's memory of removed dispatchers: a late install loses to its removal, and a million
// removals do not make it grow without bound.
#include <boost/test/unit_test.hpp>

#include <string>

#include "actors/tombstones.hpp"

using namespace dispatch;

BOOST_AUTO_TEST_SUITE(matcher_tombstones)

BOOST_AUTO_TEST_CASE(an_install_older_than_its_removal_loses) {
  tombstones removed;
  removed.record("a", 7);
  BOOST_TEST(removed.removal_covering("a", 6) == 7u);
  BOOST_TEST(removed.removal_covering("a", 7) == 7u);
  BOOST_TEST(removed.removal_covering("a", 8) == 0u); // a newer install wins
  BOOST_TEST(removed.removal_covering("b", 1) == 0u);
  removed.record("a", 5); // an older removal does not lower the newer one
  BOOST_TEST(removed.removal_covering("a", 6) == 7u);
}

BOOST_AUTO_TEST_CASE(a_million_removals_stay_bounded_and_recent_ones_are_kept) {
  tombstones removed;
  constexpr uint64_t count = 1'000'000;
  size_t largest = 0;
  for (uint64_t version = 1; version <= count; ++version) {
    removed.record("dispatcher-" + std::to_string(version), version);
    largest = std::max(largest, removed.size());
  }
  BOOST_TEST(largest <= 2 * tombstones::horizon + 1);
  // Every removal within the horizon of the newest still stops its late install.
  for (uint64_t version = count - tombstones::horizon; version <= count; ++version)
    BOOST_TEST_REQUIRE(removed.removal_covering("dispatcher-" + std::to_string(version), version)
                       == version);
}

BOOST_AUTO_TEST_SUITE_END()
