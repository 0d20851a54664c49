// Listings newest first read from keys (every delivery, one kind's: `eq(type,task)`, some
// statuses': `eq(status,delivered)`, `in(status,retrying,dead)`, a time range): the page and its
// total are exactly what a full read answers in the same order, through delivered, dead,
// waiting, replayed and purged deliveries and a restart.
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <memory>
#include <set>

#include "fixtures/engine_fixture.hpp"
#include "messages/rql.hpp"

using namespace dispatch;
using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

/// A publisher's event id (24 hex), the n-th of the test.
std::string event_id_for(int n) {
  char id[32];
  std::snprintf(id, sizeof(id), "%024x", 0xe7e000 + n);
  return id;
}

query rql(const std::string& text) {
  auto q = parse_rql(text);
  if (!q) throw std::runtime_error("bad RQL in the test: " + text);
  return std::move(*q);
}

struct newest_engine : engine_fixture {
  // Events whose task deliveries fail for good, or retry in ten minutes (under `tasks->mtx`).
  std::shared_ptr<std::set<std::string>> dead_events = std::make_shared<std::set<std::string>>();
  std::shared_ptr<std::set<std::string>> waiting_events = std::make_shared<std::set<std::string>>();

  newest_engine() {
    config.retry.initial = 20ms;
    config.retry.cap = 100ms;
    config.retry.max_attempts = 2;
    tasks->script = [dead = dead_events, waiting = waiting_events](const delivery& d, uint32_t) {
      if (dead->count(d.event_id) > 0)
        return caf::optional<delivery_result>{permanent_failure("refused")};
      if (waiting->count(d.event_id) > 0)
        return caf::optional<delivery_result>{retry_later("later", 600000)};
      return caf::optional<delivery_result>{delivered()};
    };
  }

  uint64_t total_of(const std::string& text) {
    auto page = call<delivery_page>(deliveries_atom::value, rql(text));
    return page ? page->page.total : ~uint64_t{0};
  }

  void wait_for(const std::string& text, uint64_t n) {
    BOOST_REQUIRE_MESSAGE(eventually([&] { return total_of(text) == n; }),
                          text << ": expected " << n << ", last " << total_of(text));
  }

  /// The listing `fast_text` (read from keys) answers what `slow_text` (a full read) does.
  void same_pages(const std::string& fast_text, const std::string& slow_text) {
    auto fast = call<delivery_page>(deliveries_atom::value, rql(fast_text));
    auto slow = call<delivery_page>(deliveries_atom::value, rql(slow_text));
    BOOST_REQUIRE_MESSAGE(fast && slow, fast_text);
    BOOST_CHECK_MESSAGE(fast->page.total == slow->page.total,
                        fast_text << ": total " << fast->page.total << " against "
                                  << slow->page.total << " read");
    BOOST_REQUIRE_EQUAL(fast->data.size(), slow->data.size());
    for (size_t i = 0; i < fast->data.size(); ++i) {
      BOOST_CHECK_MESSAGE(fast->data[i].id == slow->data[i].id,
                          fast_text << " [" << i << "]: " << fast->data[i].id << " against "
                                    << slow->data[i].id);
      BOOST_CHECK(fast->data[i].status == slow->data[i].status);
      if (i > 0) BOOST_CHECK_GE(fast->data[i - 1].created, fast->data[i].created);
    }
  }

  /// Every listing newest first (all, tasks, mails; pages at several offsets) is the same as the
  /// one a full read answers (a filter that matches everything but is not read from keys), and
  /// the total is `expected`.
  void check_listings(uint64_t expected) {
    // Time ranges cut where deliveries are: between the creation times of some of them.
    auto newest = call<delivery_page>(deliveries_atom::value, rql("limit(50)"));
    BOOST_REQUIRE(newest && newest->data.size() >= 10u);
    auto at = [&](size_t i) { return std::to_string(newest->data[i].created); };
    auto oldest = std::to_string(newest->data.back().created);
    std::vector<std::string> ranges{
      "ge(creationTimestamp," + at(9) + ")&lt(creationTimestamp," + at(2) + ")",
      "gt(creationTimestamp," + at(5) + ")", "le(creationTimestamp," + oldest + ")&eq(type,task)",
      "eq(type,mail)&gt(creationTimestamp," + oldest + ")&le(creationTimestamp," + at(0) + ")"};
    for (auto& where : ranges)
      for (std::string window : {"limit(50)", "limit(3,2)"})
        same_pages(where + "&" + window, "ne(id,none)&" + where + "&" + window);
    // By status: one, several, with a kind or a range; the statuses add up to the total.
    std::vector<std::string> by_status{"eq(status,delivered)&eq(type,mail)",
                                       "eq(status,dead)&eq(type,task)",
                                       "in(status,retrying,dead)",
                                       "in(status,pending,held,retrying)&eq(type,task)",
                                       "eq(status,delivered)&ge(creationTimestamp," + at(9) + ")",
                                       "eq(status,retrying)&le(creationTimestamp," + at(0) + ")"};
    uint64_t statuses = 0;
    for (std::string status : {"delivered", "dead", "pending", "held", "retrying"}) {
      by_status.push_back("eq(status," + status + ")");
      statuses += total_of("eq(status," + status + ")");
    }
    BOOST_CHECK_EQUAL(statuses, expected);
    for (auto& where : by_status)
      for (std::string window : {"limit(50)", "limit(3,2)"})
        same_pages(where + "&" + window, "ne(id,none)&" + where + "&" + window);
    uint64_t sum = 0;
    for (std::string where : {"", "eq(type,task)", "eq(type,mail)"}) {
      for (std::string window : {"limit(50)", "limit(5)", "limit(5,7)", "limit(50,40)"}) {
        auto fast_text = (where.empty() ? "" : where + "&") + window;
        auto slow_text = "ne(id,none)&" + (where.empty() ? "" : where + "&") + window;
        same_pages(fast_text, slow_text);
      }
      if (!where.empty()) sum += total_of(where);
    }
    BOOST_CHECK_EQUAL(total_of(""), expected);
    BOOST_CHECK_EQUAL(sum, expected);
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(newest_listing, newest_engine)

BOOST_AUTO_TEST_CASE(listings_from_keys_equal_a_full_read_through_every_kind_of_change) {
  start();
  create(make_dispatcher(
    "t", {task_action("f"), mail_action("a@example.com", "5a0000000000000000000001")}));
  create(make_dispatcher("u", {task_action("g")}));
  // Delivered without records: 15 events of each type, 45 deliveries.
  for (int i = 0; i < 30; ++i)
    publish(i % 2 == 0 ? "t" : "u", R"({"n":)" + std::to_string(i) + "}");
  wait_for("eq(status,delivered)", 45);
  check_listings(45);
  // Dead letters (task; their mails are delivered) and deliveries waiting for a retry.
  std::vector<std::string> dead_ids;
  {
    std::lock_guard<std::mutex> guard{tasks->mtx};
    for (int i = 0; i < 6; ++i) dead_events->insert(event_id_for(i));
    for (int i = 6; i < 10; ++i) waiting_events->insert(event_id_for(i));
  }
  for (int i = 0; i < 10; ++i)
    publish(i < 6 ? "t" : "u", R"({"late":)" + std::to_string(i) + "}", event_id_for(i));
  wait_for("eq(status,dead)", 6);
  wait_for("eq(status,retrying)", 4);
  wait_for("eq(status,delivered)", 51);
  check_listings(61);
  // Two dead letters replayed and delivered (created anew: listed first), one delivered, one dead
  // and one waiting delivery purged.
  {
    std::lock_guard<std::mutex> guard{tasks->mtx};
    dead_events->clear();
  }
  auto dead = call<delivery_page>(deliveries_atom::value, rql("eq(status,dead)"));
  BOOST_REQUIRE(dead && dead->data.size() == 6u);
  for (int i = 0; i < 2; ++i) BOOST_REQUIRE(call<delivery>(replay_atom::value, dead->data[i].id));
  wait_for("eq(status,delivered)", 53);
  auto first = call<delivery_page>(deliveries_atom::value, rql("limit(2)"));
  BOOST_REQUIRE(first && first->data.size() == 2u);
  std::set<std::string> replayed{dead->data[0].id, dead->data[1].id};
  BOOST_CHECK(replayed.count(first->data[0].id) == 1 && replayed.count(first->data[1].id) == 1);
  auto delivered = call<delivery_page>(deliveries_atom::value,
                                       rql("eq(status,delivered)&eq(type,task)&limit(1,20)"));
  auto waiting = call<delivery_page>(deliveries_atom::value, rql("eq(status,retrying)"));
  BOOST_REQUIRE(delivered && delivered->data.size() == 1u && waiting && !waiting->data.empty());
  for (auto& id : {delivered->data[0].id, dead->data[5].id, waiting->data[0].id}) {
    auto purged = call<uint32_t>(purge_atom::value, id);
    BOOST_REQUIRE_MESSAGE(purged, "purge " << id);
  }
  wait_for("", 58);
  check_listings(58);
  // The same after a restart (counts read back, records counted again), and with more events.
  restart();
  check_listings(58);
  for (int i = 0; i < 5; ++i) publish("t", R"({"after":)" + std::to_string(i) + "}");
  wait_for("eq(status,delivered)", 62);
  check_listings(68);
}

BOOST_AUTO_TEST_SUITE_END()
