// Tests of identifiers: ObjectId checks and generation, the FNV-1a shard hash and delivery ids.
// The hash values are pinned because persisted keys (shards, delivery ids) depend on them.
#include <boost/test/unit_test.hpp>

#include <set>
#include <thread>
#include <vector>

#include "messages/clock.hpp"
#include "messages/ids.hpp"

using namespace dispatch;

namespace {

bool is_lower_hex(const std::string& text) {
  return text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(ids)

BOOST_AUTO_TEST_CASE(object_ids_are_24_hex_characters_in_either_case) {
  BOOST_TEST(is_object_id("65f0a1b2c3d4e5f601234567"));
  BOOST_TEST(is_object_id("65F0A1B2C3D4E5F601234567"));
  BOOST_TEST(!is_object_id(""));
  BOOST_TEST(!is_object_id("65f0a1b2c3d4e5f60123456"));   // 23
  BOOST_TEST(!is_object_id("65f0a1b2c3d4e5f6012345678")); // 25
  BOOST_TEST(!is_object_id("65f0a1b2c3d4e5f60123456g"));
  BOOST_TEST(!is_object_id("65f0a1b2c3d4e5f60123456 "));
  BOOST_TEST(
    !is_object_id(std::string("65f0a1b2c3d4e5f6012345\0"
                              "7",
                              24)));
}

BOOST_AUTO_TEST_CASE(normalize_id_lowercases_only_the_hex_letters) {
  BOOST_TEST(normalize_id("65F0A1B2C3D4E5F601234567") == "65f0a1b2c3d4e5f601234567");
  BOOST_TEST(normalize_id("abcdefabcdefabcdefabcdef") == "abcdefabcdefabcdefabcdef");
}

BOOST_AUTO_TEST_CASE(fnv1a_64_matches_the_published_test_vectors) {
  BOOST_TEST(fnv1a_64("") == 0xcbf29ce484222325ULL);
  BOOST_TEST(fnv1a_64("a") == 0xaf63dc4c8601ec8cULL);
  BOOST_TEST(fnv1a_64("foobar") == 0x85944171f73967e8ULL);
}

BOOST_AUTO_TEST_CASE(shard_of_is_pinned) {
  // Computed once with an independent FNV-1a-64 implementation; changing them moves stored events.
  BOOST_TEST(shard_of("user.created", 16) == 12u);
  BOOST_TEST(shard_of("user.created", 7) == 0u);
  BOOST_TEST(shard_of("order.paid", 16) == 13u);
  BOOST_TEST(shard_of("order.paid", 1) == 0u);
  BOOST_TEST(shard_of("", 16) == 5u);
  BOOST_TEST(shard_of("a", 3) == 1u);
  BOOST_TEST(shard_of("ünïcødé 🎉", 16) == 0u);
  BOOST_TEST(shard_of("anything", 0) == 0u); // no shards: no division by zero
}

BOOST_AUTO_TEST_CASE(shard_of_stays_in_range) {
  for (uint32_t shards : {1u, 2u, 3u, 16u, 1000u})
    for (int i = 0; i < 200; ++i)
      BOOST_TEST(shard_of("type." + std::to_string(i), shards) < shards);
}

BOOST_AUTO_TEST_CASE(delivery_ids_are_stable_24_hex_and_distinct) {
  auto e = "65f000000000000000000001";
  auto d = "65f000000000000000000002";
  auto a = "65f000000000000000000003";
  auto id = delivery_id_of(e, d, a);
  BOOST_TEST(id == "3d907a529e9bb6faf78c8354"); // pinned: idempotency keys already handed out
  BOOST_TEST(delivery_id_of(e, d, a) == id);
  BOOST_TEST(is_object_id(id));
  BOOST_TEST(is_lower_hex(id));
  BOOST_TEST(delivery_id_of(e, a, d) != id); // the order of the parts matters
  BOOST_TEST(delivery_id_of(d, e, a) != id);
  // The separator keeps ("ab", "c") and ("a", "bc") apart.
  BOOST_TEST(delivery_id_of("ab", "c", "x") != delivery_id_of("a", "bc", "x"));
  std::set<std::string> seen;
  for (int i = 0; i < 5000; ++i) seen.insert(delivery_id_of(e, d, "action-" + std::to_string(i)));
  BOOST_TEST(seen.size() == 5000u);
}

BOOST_AUTO_TEST_CASE(generated_ids_have_objectid_layout) {
  id_generator gen{0x0102030405ULL};
  auto before = static_cast<uint64_t>(now_ms() / 1000);
  auto id = gen.next();
  auto after = static_cast<uint64_t>(now_ms() / 1000);
  BOOST_TEST(id.size() == 24u);
  BOOST_TEST(is_lower_hex(id));
  auto seconds = std::stoull(id.substr(0, 8), nullptr, 16);
  BOOST_TEST(seconds >= before);
  BOOST_TEST(seconds <= after);
  BOOST_TEST(id.substr(8, 10) == "0102030405"); // the node bytes
  auto next = gen.next();
  BOOST_TEST(std::stoul(next.substr(18), nullptr, 16)
             == std::stoul(id.substr(18), nullptr, 16) + 1);
}

BOOST_AUTO_TEST_CASE(generated_ids_are_unique_across_threads) {
  id_generator gen;
  std::vector<std::vector<std::string>> per_thread(4);
  std::vector<std::thread> threads;
  for (auto& ids : per_thread)
    threads.emplace_back([&gen, &ids] {
      for (int i = 0; i < 20000; ++i) ids.push_back(gen.next());
    });
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (auto& ids : per_thread)
    for (auto& id : ids) {
      BOOST_TEST_REQUIRE(is_object_id(id));
      all.insert(id);
    }
  BOOST_TEST(all.size() == 80000u);
}

BOOST_AUTO_TEST_CASE(two_random_generators_use_different_nodes) {
  id_generator a;
  id_generator b;
  BOOST_TEST(a.next().substr(8, 10) != b.next().substr(8, 10));
  BOOST_TEST(&default_id_generator() == &default_id_generator());
  BOOST_TEST(is_object_id(default_id_generator().next()));
}

BOOST_AUTO_TEST_CASE(a_delivery_id_is_its_position_and_leads_back_to_it) {
  delivery_position pos{1796525041651123ull, 7, 300};
  auto id = delivery_id_at(pos);
  BOOST_TEST(is_object_id(id));
  BOOST_TEST(id == "0661ee14f00db3000700012c");
  delivery_position back;
  BOOST_REQUIRE(position_of(id, back));
  BOOST_TEST(back.sequence == pos.sequence);
  BOOST_TEST(back.shard == pos.shard);
  BOOST_TEST(back.ordinal == pos.ordinal);
  // The largest fields round-trip; uppercase input reads the same.
  delivery_position max{(1ull << 56) - 1, 0xffff, max_delivery_ordinal};
  BOOST_REQUIRE(position_of(delivery_id_at(max), back));
  BOOST_TEST(back.sequence == max.sequence);
  BOOST_TEST(back.shard == max.shard);
  BOOST_TEST(back.ordinal == max.ordinal);
  BOOST_REQUIRE(position_of("0661EE14F00DB3000700012C", back));
  BOOST_TEST(back.ordinal == 300u);
  BOOST_TEST(!position_of("not an id", back));
  BOOST_TEST(!position_of("06630a1d6b7c33000700012", back));
}

BOOST_AUTO_TEST_CASE(a_generated_event_id_is_an_object_id_that_leads_to_the_log) {
  uint64_t sequence = 1796525041651123ull; // 2026-12-06T02:44:01.651 UTC, counter 123
  auto id = event_id_at(3, sequence);
  BOOST_TEST(is_object_id(id));
  // ObjectId layout: the first 4 bytes are the seconds since the epoch.
  BOOST_TEST(std::stoul(id.substr(0, 8), nullptr, 16) == sequence / 1000000);
  uint32_t shard = 0;
  uint64_t back = 0;
  BOOST_REQUIRE(logged_position_of(id, shard, back));
  BOOST_TEST(shard == 3u);
  BOOST_TEST(back == sequence);
  // Ids from the generator (random node bytes) do not carry the marker, almost always; one
  // that does decodes, and the store compares the id of what is there.
  BOOST_TEST(!logged_position_of("000000000000000000000e01", shard, back));
  BOOST_TEST(!logged_position_of("xyz", shard, back));
}

BOOST_AUTO_TEST_SUITE_END()
