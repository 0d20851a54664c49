// Reads of work done in a cluster: any node answers for every node. The merge of the members'
// pages on its own (sort, window, totals), then three dispatchd nodes: listings, the built-in
// log, replay and purge through a node that does not own the delivery, and a clear refusal while
// a member is frozen.
#include <boost/test/unit_test.hpp>

#include <set>

#include "cluster/gatherer.hpp"
#include "cluster_checks.hpp"
#include "cluster_fixture.hpp"
#include "messages/json.hpp"

using namespace dispatch;
using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

delivery delivery_with(const std::string& id, uint32_t attempts) {
  delivery d;
  d.id = id;
  d.event_id = id;
  d.attempts = attempts;
  return d;
}

member_page<delivery> share_of(uint32_t node, uint64_t total,
                               const std::vector<std::pair<std::string, uint32_t>>& records) {
  member_page<delivery> part;
  part.node = node;
  part.total = total;
  for (auto& [id, attempts] : records) part.data.push_back(delivery_with(id, attempts));
  return part;
}

std::vector<std::string> ids_of(const delivery_page& page) {
  std::vector<std::string> out;
  for (auto& d : page.data) out.push_back(d.id);
  return out;
}

query window_query(uint32_t offset, uint32_t limit) {
  query q;
  q.offset = offset;
  q.limit = limit;
  return q;
}

} // namespace

BOOST_AUTO_TEST_SUITE(cluster_gather)

BOOST_AUTO_TEST_CASE(each_member_is_read_as_deep_as_the_page_reaches) {
  BOOST_TEST(gather_depth(window_query(0, 20)) == 20u);
  BOOST_TEST(gather_depth(window_query(40, 20)) == 60u);
  BOOST_TEST(gather_depth(window_query(40, 500)) == 90u); // the limit is clamped to 50 first
  BOOST_TEST(gather_depth(window_query(40, 0)) == 0u);    // a count only
  BOOST_TEST(gather_depth(window_query(UINT32_MAX - 5, 20)) == UINT32_MAX);
}

BOOST_AUTO_TEST_CASE(a_sorted_page_interleaves_the_members_and_totals_add_up) {
  auto q = window_query(1, 3);
  q.sort.push_back(sort_key{"attempts", true}); // descending
  std::vector<member_page<delivery>> parts;
  parts.push_back(share_of(3, 10, {{"c1", 9}, {"c2", 4}}));
  parts.push_back(share_of(1, 5, {{"a1", 8}, {"a2", 7}, {"a3", 1}}));
  parts.push_back(share_of(2, 0, {}));
  auto page = merge_pages(q, std::move(parts));
  BOOST_TEST(page.page.total == 15u);
  BOOST_TEST(page.page.offset == 1u);
  BOOST_TEST(page.page.limit == 3u);
  // All: c1 9, a1 8, a2 7, c2 4, a3 1; the window skips one.
  BOOST_TEST(ids_of(page) == (std::vector<std::string>{"a1", "a2", "c2"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_unsorted_page_is_merged_newest_first_and_equal_keys_keep_node_order) {
  std::vector<member_page<delivery>> parts;
  parts.push_back(share_of(2, 2, {{"b1", 1}, {"b2", 1}}));
  parts.push_back(share_of(1, 2, {{"a1", 1}, {"a2", 1}}));
  // Each member answered newest first; the merge keeps that order across them.
  parts[0].data[0].created = 30, parts[0].data[1].created = 10;
  parts[1].data[0].created = 40, parts[1].data[1].created = 20;
  auto unsorted = merge_pages(window_query(1, 2), parts);
  BOOST_TEST(ids_of(unsorted) == (std::vector<std::string>{"b1", "a2"}),
             boost::test_tools::per_element());
  auto q = window_query(0, 4);
  q.sort.push_back(sort_key{"attempts", false});
  auto ties = merge_pages(q, parts);
  BOOST_TEST(ids_of(ties) == (std::vector<std::string>{"a1", "a2", "b1", "b2"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_window_merge_is_not_clamped_to_a_page) {
  std::vector<member_page<delivery>> parts(2);
  for (uint32_t node = 1; node <= 2; ++node) {
    parts[node - 1].node = node;
    parts[node - 1].total = 40;
    for (int i = 0; i < 40; ++i)
      parts[node - 1].data.push_back(
        delivery_with(std::to_string(node) + "-" + std::to_string(i), 1));
  }
  auto window = merge_pages(window_query(0, 70), parts, max_window_depth);
  BOOST_TEST(window.data.size() == 70u);
  BOOST_TEST(window.page.total == 80u);
  auto page = merge_pages(window_query(0, 70), parts);
  BOOST_TEST(page.data.size() == size_t{max_page_size});
}

BOOST_AUTO_TEST_CASE(a_delivery_met_twice_is_listed_once) {
  std::vector<member_page<delivery>> parts;
  parts.push_back(share_of(1, 2, {{"x", 1}, {"y", 1}}));
  parts.push_back(share_of(2, 1, {{"x", 1}}));
  auto page = merge_pages(window_query(0, 10), std::move(parts));
  // Newest first; created at the same time, by id, descending.
  BOOST_TEST(ids_of(page) == (std::vector<std::string>{"y", "x"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(json_records_merge_by_their_fields) {
  auto q = window_query(0, 10);
  q.sort.push_back(sort_key{"n", false});
  std::vector<member_page<std::string>> parts(2);
  parts[0].node = 1;
  parts[0].total = 2;
  parts[0].data = {R"({"n":2})", R"({"n":4})"};
  parts[1].node = 2;
  parts[1].total = 2;
  parts[1].data = {R"({"n":1})", R"({"n":3})"};
  auto page = merge_pages(q, std::move(parts));
  BOOST_TEST(page.page.total == 4u);
  BOOST_TEST(
    page.data == (std::vector<std::string>{R"({"n":1})", R"({"n":2})", R"({"n":3})", R"({"n":4})"}),
    boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

constexpr size_t events_per_type = 5;

// One dispatcher per type with a task action (to the built-in log) and a mail action (to a
// webhook nobody listens on: dead after its one attempt).
void create_task_and_mail_dispatchers(test_cluster& cluster,
                                      const std::vector<std::string>& types) {
  for (auto& type : types) {
    auto body = R"({"eventType":")" + type + R"(","name":"reads-)" + type
                + R"(","actions":[{"type":"task","functionName":"f-)" + type
                + R"("},{"type":"mail","templateId":"5f0c6ee5e0b4b3001c3c9a01",)"
                + R"("recipients":{"to":["someone@example.com"]}}]})";
    auto answer = cluster.request(1, "POST", "/dispatchers/v1/", body);
    BOOST_REQUIRE_MESSAGE(answer.status == 200u, answer.body);
  }
}

// GET `target` on node `at`, which must answer 200 with a page; returns it.
rapidjson::Document page_at(test_cluster& cluster, uint32_t at, const std::string& target) {
  auto answer = cluster.request(at, "GET", target);
  BOOST_REQUIRE_MESSAGE(answer.status == 200u, "node " << at << " " << target << ": "
                                                       << answer.status << " " << answer.body);
  auto doc = json_of(answer);
  BOOST_REQUIRE(doc.IsObject() && doc.HasMember("page") && doc.HasMember("data"));
  return doc;
}

uint64_t total_at(test_cluster& cluster, uint32_t at, const std::string& target) {
  return number_at(page_at(cluster, at, target)["page"], "total");
}

// The delivery ids of the pages of `target` (RQL without limit) read `step` at a time.
std::vector<std::string> read_all(test_cluster& cluster, uint32_t at, const std::string& target,
                                  uint64_t total, uint32_t step) {
  std::vector<std::string> ids;
  for (uint64_t offset = 0; offset < total; offset += step) {
    auto doc = page_at(
      cluster, at, target + "&limit(" + std::to_string(step) + "," + std::to_string(offset) + ")");
    BOOST_TEST(number_at(doc["page"], "total") == total);
    for (auto& d : doc["data"].GetArray()) ids.push_back(d["id"].GetString());
  }
  return ids;
}

// A delivery of `status` and `type` ("task"/"mail") whose event type node `owner` owns.
std::string delivery_owned_by(test_cluster& cluster, uint32_t owner, const std::string& status,
                              const std::string& kind) {
  auto doc = page_at(cluster, 1,
                     "/deliveries/v1/?eq(status," + status + ")&eq(type," + kind + ")&limit(50)");
  for (auto& d : doc["data"].GetArray())
    if (cluster.owner_of(d["eventType"].GetString()) == owner) return d["id"].GetString();
  BOOST_FAIL("no " << status << " " << kind << " delivery owned by node " << owner);
  return {};
}

} // namespace

BOOST_AUTO_TEST_SUITE(cluster_reads)

BOOST_AUTO_TEST_CASE(every_node_answers_for_the_deliveries_of_the_whole_cluster) {
  cluster_options options;
  options.more = {"--dispatch.sinks.task.url=\"\"", "--dispatch.sinks.mail.url=http://127.0.0.1:1",
                  "--dispatch.retry.max-attempts=1"};
  test_cluster cluster{options};
  cluster.start_all();
  auto types = cluster.types_per_shard("reads");
  create_task_and_mail_dispatchers(cluster, types);
  for (auto node : cluster.ids())
    BOOST_TEST(cluster.shards_of(node) < options.shards, "node " << node << " owns every shard");
  auto published = publish_round_robin(cluster.http_ports({2}), types,
                                       types.size() * events_per_type, 20);
  BOOST_REQUIRE(published.acknowledged.size() == types.size() * events_per_type);
  const uint64_t events = published.acknowledged.size();

  // Every node counts every delivery, although each owns only some shards.
  BOOST_TEST(
    eventually(
      [&] {
        return total_at(cluster, 3, "/deliveries/v1/?eq(status,delivered)&limit(1)") == events
               && total_at(cluster, 3, "/deliveries/v1/?eq(status,dead)&limit(1)") == events;
      },
      cluster_deadline),
    cluster.log_tails());
  for (auto node : cluster.ids()) {
    BOOST_TEST(total_at(cluster, node, "/deliveries/v1/?limit(1)") == 2 * events);
    BOOST_TEST(total_at(cluster, node, "/tasks/v1/?limit(1)") == events);
    // The archive: each member lists the events of the shards it owns.
    BOOST_TEST(total_at(cluster, node, "/events/v1/?limit(1)") == events);
  }

  // Pages across the members: unsorted and sorted, every delivery once, the same on every node.
  auto unsorted = read_all(cluster, 2, "/deliveries/v1/?ne(id,x)", 2 * events, 30);
  BOOST_TEST(std::set<std::string>(unsorted.begin(), unsorted.end()).size() == 2 * events);
  auto sorted = read_all(cluster, 1, "/deliveries/v1/?sort(-id)", 2 * events, 17);
  BOOST_TEST(std::set<std::string>(sorted.begin(), sorted.end()).size() == 2 * events);
  BOOST_TEST(std::is_sorted(sorted.rbegin(), sorted.rend()));
  BOOST_TEST(read_all(cluster, 3, "/deliveries/v1/?sort(-id)", 2 * events, 17) == sorted,
             boost::test_tools::per_element());

  // As deep as 10,000 records (offset + limit); deeper is refused with a reason.
  auto deepest = page_at(cluster, 2, "/deliveries/v1/?sort(id)&limit(10,9990)");
  BOOST_TEST(number_at(deepest["page"], "total") == 2 * events);
  BOOST_TEST(deepest["data"].Size() == 0u);
  auto too_deep = cluster.request(2, "GET", "/deliveries/v1/?limit(11,9990)");
  BOOST_TEST(too_deep.status == 400u, too_deep.body);
  BOOST_TEST(number_at(json_of(too_deep), "code") == 19u, too_deep.body);
  BOOST_TEST(too_deep.body.find("10000") != std::string::npos, too_deep.body);

  // A filter reaches the owner: one event's two deliveries, asked on a node that does not own it.
  auto elsewhere = owned_by(cluster, published.acknowledged, 1, true).front();
  BOOST_TEST(total_at(cluster, 1, "/deliveries/v1/?eq(eventId," + elsewhere.id + ")") == 2u);

  // Replay and purge through node 1 act on deliveries node 3 owns.
  auto owner = cluster.owner_of(elsewhere.type);
  auto replayed = cluster.request(1, "POST", "/deliveries/v1/replay?eq(status,dead)");
  BOOST_TEST(replayed.status == 200u, replayed.body);
  BOOST_TEST(number_at(json_of(replayed), "affectedRecords") == events, replayed.body);
  BOOST_TEST(eventually(
    [&] { return total_at(cluster, 2, "/deliveries/v1/?eq(status,dead)&limit(1)") == events; },
    cluster_deadline));
  auto dead = delivery_owned_by(cluster, owner, "dead", "mail");
  auto one = cluster.request(1, "POST", "/deliveries/v1/" + dead + "/replay");
  BOOST_TEST(one.status == 200u, one.body);
  BOOST_TEST(text_at(json_of(one), "id") == dead);
  auto delivered = delivery_owned_by(cluster, owner, "delivered", "task");
  auto purged = cluster.request(1, "DELETE", "/deliveries/v1/" + delivered);
  BOOST_TEST(purged.status == 200u, purged.body);
  BOOST_TEST(number_at(json_of(purged), "affectedRecords") == 1u);
  BOOST_TEST(total_at(cluster, 2, "/deliveries/v1/?eq(id," + delivered + ")") == 0u);
  BOOST_TEST(total_at(cluster, 2, "/deliveries/v1/?limit(1)") == 2 * events - 1);
  auto again = cluster.request(1, "DELETE", "/deliveries/v1/" + delivered);
  BOOST_TEST(again.status == 404u, again.body);
  BOOST_TEST(number_at(json_of(again), "code") == 16u);

  // A frozen member: listings are refused with its name rather than answered without its share.
  auto seen = peer_down_lines(cluster, 1, 3);
  cluster.pause(3);
  wait_peer_down_line(cluster, 1, 3, seen, 30s);
  auto refused = cluster.request(1, "GET", "/deliveries/v1/");
  BOOST_TEST(refused.status == 503u, refused.body);
  BOOST_TEST(number_at(json_of(refused), "code") == 1u);
  BOOST_TEST(refused.body.find("node 3") != std::string::npos, refused.body);
  auto unknown = cluster.request(1, "DELETE", "/deliveries/v1/0123456789abcdef01234567");
  BOOST_TEST(unknown.status == 503u,
             "unknown can't be told while node 3 is away: " << unknown.body);
  cluster.resume(3);
  cluster.wait_peers_up();
  BOOST_TEST(total_at(cluster, 1, "/deliveries/v1/?limit(1)") == 2 * events - 1);
  auto gone = cluster.request(1, "DELETE", "/deliveries/v1/0123456789abcdef01234567");
  BOOST_TEST(gone.status == 404u, gone.body);
}

BOOST_AUTO_TEST_SUITE_END()
