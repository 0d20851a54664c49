// Tests of per-key ordering as a plain class: one delivery per key at a time, the rest in
// accepted order, a retrying holder holding back only its key, a dead letter releasing it, and
// memory that returns to nothing after a million distinct keys.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "actors/key_order.hpp"

using namespace dispatch;

namespace {

delivery numbered(int n) {
  delivery d;
  d.id = "delivery-" + std::to_string(n);
  return d;
}

/// Admits `n` and answers the verdict.
key_order::verdict admit(key_order& order, ordering_key k, int n) {
  auto d = numbered(n);
  return order.admit(k, d);
}

/// Releases `id`'s key and answers the id of the next holder ("" when none took it).
std::string released_to(key_order& order, ordering_key k, const std::string& id) {
  auto next = order.release(k, id);
  return next ? next->value.id : std::string{};
}

} // namespace

BOOST_AUTO_TEST_SUITE(key_ordering)

BOOST_AUTO_TEST_CASE(one_at_a_time_per_key_and_the_rest_in_accepted_order) {
  key_order order{100};
  BOOST_TEST((admit(order, 7, 1) == key_order::verdict::go));
  BOOST_TEST((admit(order, 7, 2) == key_order::verdict::waiting));
  BOOST_TEST((admit(order, 7, 3) == key_order::verdict::waiting));
  BOOST_TEST((admit(order, 8, 4) == key_order::verdict::go)); // another key is not held back
  BOOST_TEST(order.waiting() == 2u);
  BOOST_TEST(order.keys() == 2u);
  BOOST_TEST(released_to(order, 7, "delivery-1") == "delivery-2");
  BOOST_TEST(order.holds(7, "delivery-2"));
  // The new holder asks again (the emitter does not look first): it goes, it does not queue.
  BOOST_TEST((admit(order, 7, 2) == key_order::verdict::go));
  BOOST_TEST(order.waiting() == 1u);
  BOOST_TEST(released_to(order, 7, "delivery-2") == "delivery-3");
  BOOST_TEST(!order.release(7, "delivery-3"));
  BOOST_TEST(!order.held(7)); // nothing waits: forgotten
  BOOST_TEST(order.keys() == 1u);
}

BOOST_AUTO_TEST_CASE(a_retrying_holder_keeps_its_key_and_a_dead_letter_releases_it) {
  key_order order{100};
  admit(order, 1, 1); // fails: retrying; the emitter does not release it
  admit(order, 1, 2);
  for (int n = 10; n < 20; ++n) {
    // Other keys come and go meanwhile.
    BOOST_TEST((admit(order, 100 + n, n) == key_order::verdict::go));
    BOOST_TEST(!order.release(100 + n, "delivery-" + std::to_string(n)));
  }
  BOOST_TEST(order.holds(1, "delivery-1"));
  BOOST_TEST(order.waiting() == 1u);
  // Its budget is spent: a dead letter releases the key to the next one.
  BOOST_TEST(released_to(order, 1, "delivery-1") == "delivery-2");
}

BOOST_AUTO_TEST_CASE(only_the_holder_releases_its_key) {
  key_order order{100};
  admit(order, 1, 1);
  admit(order, 1, 2);
  BOOST_TEST(!order.release(1, "delivery-2")); // a waiting one finishing (purge) is no release
  BOOST_TEST(!order.release(2, "delivery-1"));
  BOOST_TEST(order.holds(1, "delivery-1"));
  BOOST_TEST(order.waiting() == 1u);
}

BOOST_AUTO_TEST_CASE(a_recorded_holder_found_at_start_holds_back_the_rederived_ones) {
  key_order order{100};
  order.hold(5, "recorded");
  BOOST_TEST((admit(order, 5, 1) == key_order::verdict::waiting));
  BOOST_TEST(released_to(order, 5, "recorded") == "delivery-1");
}

BOOST_AUTO_TEST_CASE(a_purged_waiting_delivery_is_forgotten) {
  key_order order{100};
  admit(order, 3, 1);
  admit(order, 3, 2);
  admit(order, 3, 3);
  auto d = numbered(4);
  BOOST_TEST((order.admit(3, d, 44) == key_order::verdict::waiting));
  BOOST_TEST(order.forget("delivery-2").has_value());
  BOOST_TEST(!order.forget("delivery-2"));
  BOOST_TEST(order.forget("delivery-4").value_or(0) == 44u);
  BOOST_TEST(released_to(order, 3, "delivery-1") == "delivery-3");
}

BOOST_AUTO_TEST_CASE(a_million_distinct_keys_leave_nothing_behind) {
  key_order order{1000};
  // Deliveries of a million keys, up to 500 at the sink at once, each released when answered.
  std::vector<std::pair<ordering_key, std::string>> at_sink;
  size_t peak = 0;
  size_t peak_holders = 0;
  for (int n = 0; n < 1'000'000; ++n) {
    auto k = static_cast<ordering_key>(n) * 2654435761u;
    auto d = numbered(n);
    BOOST_REQUIRE((order.admit(k, d) == key_order::verdict::go));
    at_sink.emplace_back(k, d.id);
    if (at_sink.size() == 500) {
      peak = std::max(peak, order.keys());
      peak_holders = std::max(peak_holders, order.holders());
      for (auto& [key, id] : at_sink) BOOST_REQUIRE(!order.release(key, id));
      at_sink.clear();
    }
  }
  BOOST_TEST(peak == 500u);
  BOOST_TEST(peak_holders == 500u);
  BOOST_TEST(order.keys() == 0u);
  BOOST_TEST(order.holders() == 0u);
  BOOST_TEST(order.waiting() == 0u);
}

BOOST_AUTO_TEST_CASE(beyond_the_cap_a_new_key_is_refused_until_one_is_released) {
  key_order order{3};
  BOOST_TEST((admit(order, 1, 1) == key_order::verdict::go));
  BOOST_TEST((admit(order, 2, 2) == key_order::verdict::go));
  BOOST_TEST((admit(order, 3, 3) == key_order::verdict::go));
  auto d = numbered(4);
  BOOST_TEST((order.admit(4, d) == key_order::verdict::refused));
  BOOST_TEST(d.id == "delivery-4"); // not taken: the caller still has it
  BOOST_TEST((admit(order, 1, 5) == key_order::verdict::waiting)); // a held key still queues
  BOOST_TEST(!order.release(2, "delivery-2"));
  BOOST_TEST((order.admit(4, d) == key_order::verdict::go));
  BOOST_TEST(order.keys() == 3u);
}

BOOST_AUTO_TEST_SUITE_END()
