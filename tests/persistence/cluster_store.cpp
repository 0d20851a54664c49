// Tests of the cluster node's store against a real RocksDB directory (and the in-memory mode): the
// forward queue's order, paging and exact depths, the superseding dispatcher log, and the refusals.
#include "persistence/cluster_store.hpp"

#include <algorithm>
#include <limits>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "fixtures/temp_dir.hpp"
#include "fixtures/why.hpp"
#include "messages/error_code.hpp"

using namespace dispatch;

namespace {

struct fixture {
  test::temp_dir dir;
  cluster_store_options opts;
  cluster_store_ptr db;

  fixture() {
    opts.dir = dir / "cluster";
    opts.sync = false;
    opts.node = 1;
    opts.shards = 4;
    reopen();
  }

  void reopen() {
    db.reset();
    auto opened = dispatch::cluster_store::open(opts);
    BOOST_REQUIRE_MESSAGE(opened, test::why(opened));
    db = *opened;
  }

  // Opens with `changed` options while the fixture's store is closed; answers the refusal text.
  std::string refusal(const cluster_store_options& changed) {
    db.reset();
    auto opened = dispatch::cluster_store::open(changed);
    BOOST_REQUIRE_MESSAGE(!opened, "open with changed options succeeded");
    return message_of(opened.error());
  }
};

event make_event(const std::string& id, std::string content = "{}") {
  return event{id, "order.created", std::move(content), 1700000000000};
}

event_list make_events(const std::string& prefix, size_t n) {
  event_list out;
  for (size_t i = 1; i <= n; ++i)
    out.push_back(make_event(prefix + std::to_string(i), "{\"n\":" + std::to_string(i) + "}"));
  return out;
}

std::vector<uint64_t> sequences_of(const queued_event_list& xs) {
  std::vector<uint64_t> out;
  for (auto& x : xs) out.push_back(x.sequence);
  return out;
}

std::vector<std::string> ids_of(const queued_event_list& xs) {
  std::vector<std::string> out;
  for (auto& x : xs) out.push_back(x.event.id);
  return out;
}

using seqs = std::vector<uint64_t>;
using strings = std::vector<std::string>;
using owners = std::vector<uint32_t>;

std::vector<uint64_t> queue(cluster_store& db, uint32_t owner, const event_list& events) {
  auto sequences = db.enqueue(owner, events);
  BOOST_REQUIRE_MESSAGE(sequences, test::why(sequences));
  return *sequences;
}

queued_event_list page(cluster_store& db, uint32_t owner, uint64_t after, size_t max) {
  auto events = db.peek(owner, after, max);
  BOOST_REQUIRE_MESSAGE(events, test::why(events));
  return *events;
}

queued_event_list peek_all(cluster_store& db, uint32_t owner) {
  return page(db, owner, 0, 100000);
}

log_entry put_entry(const std::string& id, const std::string& event_type) {
  log_entry x;
  x.op = log_op::put;
  x.id = id;
  x.value.id = id;
  x.value.event_type = event_type;
  x.value.name = "dispatcher " + id;
  x.value.actions.resize(1);
  x.value.actions[0].id = "a1";
  x.value.actions[0].kind = action_kind::mail;
  x.value.actions[0].recipients.to = {"ops@example.com"};
  x.value.actions[0].template_id = "tpl-" + event_type;
  return x;
}

log_entry drop_entry(const std::string& id) {
  log_entry x;
  x.op = log_op::drop;
  x.id = id;
  return x;
}

uint64_t append(cluster_store& db, const log_entry& x) {
  auto version = db.append(x);
  BOOST_REQUIRE_MESSAGE(version, test::why(version));
  return *version;
}

log_entry_list entries_after(cluster_store& db, uint64_t version, size_t max = 1000) {
  auto entries = db.entries_after(version, max);
  BOOST_REQUIRE_MESSAGE(entries, test::why(entries));
  return *entries;
}

} // namespace

BOOST_AUTO_TEST_SUITE(cluster_store)

BOOST_FIXTURE_TEST_CASE(queues_keep_order_per_owner_and_page, fixture) {
  constexpr auto last_owner = std::numeric_limits<uint32_t>::max();
  BOOST_CHECK(db->owners_waiting().empty());
  BOOST_TEST(queue(*db, 2, make_events("a", 3)) == (seqs{1, 2, 3}));
  BOOST_TEST(queue(*db, 3, make_events("b", 2)) == (seqs{1, 2}));
  BOOST_TEST(queue(*db, 2, make_events("c", 2)) == (seqs{4, 5}));
  BOOST_TEST(queue(*db, last_owner, make_events("z", 1)) == (seqs{1}));
  BOOST_CHECK(queue(*db, 5, {}).empty()); // nothing to queue: no owner appears
  BOOST_TEST(db->owners_waiting() == (owners{2, 3, last_owner}));
  BOOST_CHECK_EQUAL(db->depth(2), 5u);
  BOOST_CHECK_EQUAL(db->depth(3), 2u);
  BOOST_CHECK_EQUAL(db->depth(4), 0u);
  // Pages of two over owner 2, each starting after the last sequence seen.
  auto first = page(*db, 2, 0, 2);
  BOOST_TEST(ids_of(first) == (strings{"a1", "a2"}));
  BOOST_REQUIRE_EQUAL(first.size(), 2u);
  auto second = page(*db, 2, first.back().sequence, 2);
  BOOST_TEST(ids_of(second) == (strings{"a3", "c1"}));
  BOOST_REQUIRE_EQUAL(second.size(), 2u);
  auto third = page(*db, 2, second.back().sequence, 2);
  BOOST_TEST(ids_of(third) == (strings{"c2"}));
  BOOST_TEST(sequences_of(third) == (seqs{5}));
  BOOST_CHECK(page(*db, 2, 5, 2).empty());
  BOOST_CHECK(page(*db, 2, std::numeric_limits<uint64_t>::max(), 2).empty());
  BOOST_CHECK(page(*db, 2, 0, 0).empty());
  // Owners never see each other's events, including the neighbours of the highest owner id.
  BOOST_TEST(ids_of(peek_all(*db, 3)) == (strings{"b1", "b2"}));
  BOOST_TEST(ids_of(peek_all(*db, last_owner)) == (strings{"z1"}));
  BOOST_CHECK(peek_all(*db, 4).empty());
  BOOST_CHECK(peek_all(*db, 1).empty());
}

BOOST_FIXTURE_TEST_CASE(depth_stays_exact_on_repeated_and_gapped_retires, fixture) {
  BOOST_REQUIRE(db->enqueue(2, make_events("e", 10)));
  BOOST_REQUIRE(db->enqueue(3, make_events("o", 2)));
  BOOST_REQUIRE(!db->retire(2, 3, 5));
  BOOST_CHECK_EQUAL(db->depth(2), 7u);
  BOOST_REQUIRE(!db->retire(2, 3, 5)); // acknowledged twice: nothing left to count
  BOOST_CHECK_EQUAL(db->depth(2), 7u);
  BOOST_REQUIRE(!db->retire(2, 1, 8)); // spans the gap 3..5: five events present
  BOOST_CHECK_EQUAL(db->depth(2), 2u);
  BOOST_REQUIRE(!db->retire(2, 20, 30)); // never queued
  BOOST_REQUIRE(!db->retire(2, 10, 9));  // empty range
  BOOST_REQUIRE(!db->retire(4, 1, 100)); // an owner with no queue
  BOOST_CHECK_EQUAL(db->depth(2), 2u);
  BOOST_CHECK_EQUAL(db->depth(4), 0u);
  BOOST_TEST(sequences_of(peek_all(*db, 2)) == (seqs{9, 10}));
  BOOST_CHECK_EQUAL(db->depth(3), 2u); // retiring owner 2 left owner 3 alone
  BOOST_TEST(sequences_of(peek_all(*db, 3)) == (seqs{1, 2}));
  reopen(); // recounted from disk
  BOOST_CHECK_EQUAL(db->depth(2), 2u);
  BOOST_CHECK_EQUAL(db->depth(3), 2u);
  BOOST_TEST(db->owners_waiting() == (owners{2, 3}));
  BOOST_REQUIRE(!db->retire(2, 0, std::numeric_limits<uint64_t>::max()));
  BOOST_CHECK_EQUAL(db->depth(2), 0u);
  BOOST_TEST(db->owners_waiting() == (owners{3}));
  reopen();
  BOOST_CHECK_EQUAL(db->depth(2), 0u);
  BOOST_CHECK(peek_all(*db, 2).empty());
  BOOST_TEST(db->owners_waiting() == (owners{3}));
}

BOOST_FIXTURE_TEST_CASE(sequences_continue_after_reopen, fixture) {
  BOOST_REQUIRE(db->enqueue(2, make_events("a", 3)));
  reopen();
  BOOST_TEST(queue(*db, 2, make_events("b", 2)) == (seqs{4, 5}));
  BOOST_TEST(ids_of(peek_all(*db, 2)) == (strings{"a1", "a2", "a3", "b1", "b2"}));
  // A drained queue does not start over: the owner acknowledged 1..5 and must never see them again.
  BOOST_REQUIRE(!db->retire(2, 1, 5));
  reopen();
  BOOST_CHECK_EQUAL(db->depth(2), 0u);
  BOOST_TEST(queue(*db, 2, make_events("c", 1)) == (seqs{6}));
  BOOST_TEST(queue(*db, 3, make_events("d", 1)) == (seqs{1}));
}

BOOST_FIXTURE_TEST_CASE(events_round_trip_exactly, fixture) {
  event_list events;
  events.push_back(make_event("unicode", "{\"text\":\"Grüße, 東京, 🚀, \\\"quoted\\\" \\u0000\"}"));
  events.push_back(make_event("large", "{\"blob\":\"" + std::string(2 << 20, 'x') + "\"}"));
  events.push_back(event{"", "", "", -5}); // empty fields and a time before the epoch
  std::string binary = "{\"raw\":\"";
  for (int c = 1; c < 256; ++c) binary.push_back(static_cast<char>(c));
  events.push_back(make_event(std::string("nul\0id", 6), binary + "\"}"));
  BOOST_REQUIRE(db->enqueue(7, events));
  for (int round = 0; round < 2; ++round) {
    auto queued = peek_all(*db, 7);
    BOOST_REQUIRE_EQUAL(queued.size(), events.size());
    for (size_t i = 0; i < events.size(); ++i) {
      BOOST_CHECK_EQUAL(queued[i].sequence, i + 1);
      BOOST_CHECK_MESSAGE(queued[i].event == events[i], "event " << i << " differs");
    }
    reopen(); // the same from disk
  }
}

BOOST_FIXTURE_TEST_CASE(concurrent_enqueues_get_distinct_sequences, fixture) {
  constexpr size_t per_thread = 200;
  std::vector<uint64_t> got[2];
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&, t] {
      for (size_t i = 0; i < per_thread; ++i) {
        auto sequences = db->enqueue(9, make_events("t" + std::to_string(t) + "-", 1));
        if (sequences) got[t].insert(got[t].end(), sequences->begin(), sequences->end());
      }
    });
  for (auto& thread : threads) thread.join();
  BOOST_REQUIRE_EQUAL(got[0].size() + got[1].size(), 2 * per_thread);
  std::vector<uint64_t> all = got[0];
  all.insert(all.end(), got[1].begin(), got[1].end());
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i < all.size(); ++i) BOOST_REQUIRE_EQUAL(all[i], i + 1);
  BOOST_CHECK_EQUAL(db->depth(9), 2 * per_thread);
  BOOST_CHECK_EQUAL(peek_all(*db, 9).size(), 2 * per_thread);
}

BOOST_FIXTURE_TEST_CASE(log_keeps_the_latest_change_per_dispatcher, fixture) {
  BOOST_CHECK_EQUAL(db->last_version(), 0u);
  BOOST_CHECK(entries_after(*db, 0).empty());
  BOOST_CHECK_EQUAL(append(*db, put_entry("a", "order.created")), 1u);
  BOOST_CHECK_EQUAL(append(*db, put_entry("b", "order.paid")), 2u);
  BOOST_CHECK_EQUAL(append(*db, put_entry("c", "order.sent")), 3u);
  BOOST_CHECK_EQUAL(append(*db, put_entry("a", "order.updated")), 4u);
  BOOST_CHECK_EQUAL(append(*db, drop_entry("b")), 5u);
  BOOST_CHECK_EQUAL(db->last_version(), 5u);
  auto check_log = [&] {
    auto entries = entries_after(*db, 0);
    BOOST_REQUIRE_EQUAL(entries.size(), 3u); // c@3, a@4, b dropped @5
    BOOST_CHECK_EQUAL(entries[0].version, 3u);
    BOOST_CHECK_EQUAL(entries[0].id, "c");
    BOOST_CHECK_EQUAL(entries[1].version, 4u);
    BOOST_CHECK_EQUAL(entries[1].id, "a");
    BOOST_CHECK(entries[1].op == log_op::put);
    auto expected = put_entry("a", "order.updated");
    BOOST_CHECK(entries[1].value == expected.value);
    BOOST_CHECK_EQUAL(entries[2].version, 5u);
    BOOST_CHECK_EQUAL(entries[2].id, "b");
    BOOST_CHECK(entries[2].op == log_op::drop);
    auto page = entries_after(*db, 3, 1);
    BOOST_REQUIRE_EQUAL(page.size(), 1u);
    BOOST_CHECK_EQUAL(page[0].version, 4u);
    BOOST_CHECK_EQUAL(entries_after(*db, 4).size(), 1u);
    BOOST_CHECK(entries_after(*db, 5).empty());
    BOOST_CHECK(entries_after(*db, 0, 0).empty());
  };
  check_log();
  reopen();
  BOOST_CHECK_EQUAL(db->last_version(), 5u);
  check_log();
  // The index survived too: a put after the drop supersedes the drop.
  BOOST_CHECK_EQUAL(append(*db, put_entry("b", "order.back")), 6u);
  auto entries = entries_after(*db, 0);
  BOOST_REQUIRE_EQUAL(entries.size(), 3u);
  BOOST_CHECK_EQUAL(entries[2].id, "b");
  BOOST_CHECK(entries[2].op == log_op::put);
  BOOST_CHECK_EQUAL(entries[2].version, 6u);
}

BOOST_FIXTURE_TEST_CASE(log_refuses_an_entry_without_id, fixture) {
  auto version = db->append(put_entry("", "order.created"));
  BOOST_REQUIRE(!version);
  BOOST_CHECK_EQUAL(message_of(version.error()),
                    "cluster store: append: id: the entry names no dispatcher");
  BOOST_CHECK_EQUAL(db->last_version(), 0u);
}

BOOST_FIXTURE_TEST_CASE(applied_version_survives_reopen, fixture) {
  BOOST_CHECK_EQUAL(db->applied_version(), 0u);
  BOOST_REQUIRE(!db->set_applied_version(17));
  BOOST_CHECK_EQUAL(db->applied_version(), 17u);
  reopen();
  BOOST_CHECK_EQUAL(db->applied_version(), 17u);
  BOOST_CHECK_EQUAL(db->last_version(), 0u); // a follower's log stays empty
  BOOST_REQUIRE(!db->set_applied_version(18));
  reopen();
  BOOST_CHECK_EQUAL(db->applied_version(), 18u);
}

BOOST_FIXTURE_TEST_CASE(refuses_a_directory_of_another_node_or_shard_count, fixture) {
  BOOST_REQUIRE(db->enqueue(2, make_events("a", 1)));
  auto other_node = opts;
  other_node.node = 2;
  BOOST_CHECK_EQUAL(refusal(other_node),
                    "cluster store: cluster data directory belongs to node 1, this is node 2");
  auto other_shards = opts;
  other_shards.shards = 8;
  auto message = refusal(other_shards);
  BOOST_CHECK_EQUAL(message,
                    "cluster store: cluster data directory was made with 4 shards, the engine "
                    "has 8");
  BOOST_CHECK(message.find(opts.dir) == std::string::npos);
  // The refusals changed nothing: the right identity opens and finds its queue.
  reopen();
  BOOST_CHECK_EQUAL(db->depth(2), 1u);
}

BOOST_FIXTURE_TEST_CASE(refuses_invalid_options, fixture) {
  auto no_node = opts;
  no_node.node = 0;
  BOOST_CHECK_EQUAL(refusal(no_node), "cluster store: node: must be at least 1");
  auto no_shards = opts;
  no_shards.shards = 0;
  BOOST_CHECK_EQUAL(refusal(no_shards), "cluster store: shards: must be at least 1");
  auto no_dir = opts;
  no_dir.dir.clear();
  BOOST_CHECK_EQUAL(refusal(no_dir), "cluster store: dir: must not be empty");
}

BOOST_FIXTURE_TEST_CASE(second_open_is_refused_while_in_use, fixture) {
  auto second = dispatch::cluster_store::open(opts);
  BOOST_REQUIRE(!second);
  auto message = message_of(second.error());
  BOOST_CHECK_EQUAL(message,
                    "cluster store: the cluster data directory is held by another process");
  BOOST_CHECK(message.find(dir.path()) == std::string::npos);
  BOOST_REQUIRE(db->enqueue(2, make_events("a", 1))); // the first one still works
  reopen();                                           // and once released, opening works again
  BOOST_CHECK_EQUAL(db->depth(2), 1u);
}

BOOST_AUTO_TEST_CASE(in_memory_mode_works_without_a_directory) {
  cluster_store_options opts;
  opts.in_memory = true;
  opts.node = 3;
  opts.shards = 2;
  auto first = dispatch::cluster_store::open(opts);
  BOOST_REQUIRE_MESSAGE(first, test::why(first));
  auto second = dispatch::cluster_store::open(opts); // each has its own memory: no lock, no sharing
  BOOST_REQUIRE_MESSAGE(second, test::why(second));
  auto& db = **first;
  BOOST_TEST(queue(db, 1, make_events("m", 4)) == (seqs{1, 2, 3, 4}));
  BOOST_REQUIRE(!db.retire(1, 2, 3));
  BOOST_CHECK_EQUAL(db.depth(1), 2u);
  BOOST_TEST(ids_of(peek_all(db, 1)) == (strings{"m1", "m4"}));
  BOOST_CHECK_EQUAL(append(db, put_entry("a", "x")), 1u);
  BOOST_CHECK_EQUAL(append(db, put_entry("a", "y")), 2u);
  BOOST_CHECK_EQUAL(entries_after(db, 0).size(), 1u);
  BOOST_REQUIRE(!db.set_applied_version(2));
  BOOST_CHECK_EQUAL(db.applied_version(), 2u);
  auto& other = **second;
  BOOST_CHECK_EQUAL(other.depth(1), 0u);
  BOOST_CHECK(peek_all(other, 1).empty());
  BOOST_CHECK_EQUAL(other.last_version(), 0u);
  BOOST_CHECK(entries_after(other, 0).empty());
}

BOOST_AUTO_TEST_SUITE_END()
