// Checks shared by the cluster tests (cluster_checks.hpp).
#include "cluster_checks.hpp"

#include <boost/test/unit_test.hpp>

#include <regex>

namespace dispatch::test {

using namespace std::chrono_literals;

std::vector<std::string> create_dispatchers(test_cluster& cluster, uint32_t via,
                                            const std::vector<std::string>& types) {
  std::vector<std::string> ids;
  for (auto& type : types) {
    auto created = create_dispatcher(cluster.client(via), type, "handle-" + type);
    ids.push_back(created["id"].GetString());
  }
  return ids;
}

void check_replicated(test_cluster& cluster, const std::vector<std::string>& ids,
                      uint32_t reference, const std::vector<uint32_t>& nodes) {
  for (auto& id : ids) {
    auto original = cluster.request(reference, "GET", "/dispatchers/v1/" + id);
    BOOST_REQUIRE_MESSAGE(original.status == 200u,
                          "node " << reference << " lacks " << id << ": " << original.body);
    auto expected = json_of(original);
    for (auto node : nodes) {
      http_answer copy;
      bool same = eventually(
        [&] {
          copy = cluster.request(node, "GET", "/dispatchers/v1/" + id);
          return copy.status == 200 && json_of(copy) == expected;
        },
        30s);
      BOOST_TEST(same, "node " << node << " answers dispatcher " << id << " with " << copy.status
                               << " " << copy.body << "; node " << reference << " with "
                               << original.body);
    }
  }
}

std::vector<published_event> owned_by(const test_cluster& cluster,
                                      const std::vector<published_event>& events, uint32_t owner,
                                      bool invert) {
  std::vector<published_event> result;
  for (auto& event : events)
    if ((cluster.owner_of(event.type) == owner) != invert) result.push_back(event);
  return result;
}

delivery_tally check_all_delivered(test_cluster& cluster,
                                   const std::vector<published_event>& events,
                                   const std::string& what) {
  auto started = std::chrono::steady_clock::now();
  bool all = cluster.tasks.wait_all_delivered(events, cluster_deadline);
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - started);
  auto tally = cluster.tasks.tally(events);
  BOOST_TEST_MESSAGE(what << ": " << describe(tally) << " (waited " << waited.count()
                          << " ms for the last)");
  BOOST_TEST(all, what << ": not every acknowledged event was delivered: " << describe(tally)
                       << "\n"
                       << cluster.log_tails());
  BOOST_TEST(tally.missing.empty(), what << ": " << tally.missing.size() << " missing");
  BOOST_TEST(tally.unexpected == 0u, what << ": " << tally.unexpected << " unexpected tasks");
  BOOST_TEST(tally.malformed == 0u, what << ": " << tally.malformed << " malformed tasks");
  BOOST_TEST(tally.split == 0u,
             what << ": " << tally.split << " events delivered under several delivery ids");
  // Each node delivers the events of the shards it owns, and only those.
  size_t elsewhere = 0;
  std::string example;
  for (auto& event : events) {
    auto senders = cluster.tasks.nodes_of(event.id);
    auto owner = cluster.owner_of(event.type);
    if (senders.empty() || (senders.size() == 1 && *senders.begin() == owner)) continue;
    if (elsewhere++ == 0)
      example = event.id + " (" + event.type + ", owner " + std::to_string(owner) + ", sent by "
                + std::to_string(*senders.rbegin()) + ")";
  }
  BOOST_TEST(elsewhere == 0u, what << ": " << elsewhere
                                   << " events delivered by a node not owning their shard, e.g. "
                                   << example);
  return tally;
}

void check_queues_drained(test_cluster& cluster, const std::vector<uint32_t>& nodes) {
  for (auto at : nodes) {
    for (auto peer : cluster.ids()) {
      if (peer == at) continue;
      uint64_t depth = 0;
      bool drained = eventually(
        [&] {
          depth = cluster.forward_depth(at, peer);
          return depth == 0;
        },
        cluster_deadline);
      BOOST_TEST(drained, "node " << at << " still has " << depth << " events queued for node "
                                  << peer << "\n"
                                  << cluster.log_tails());
    }
  }
}

namespace {

std::regex peer_down_pattern(uint32_t peer) {
  return std::regex{"cluster: peer " + std::to_string(peer) + " down \\(([^\\n]*)\\)"};
}

} // namespace

size_t peer_down_lines(test_cluster& cluster, uint32_t at, uint32_t peer) {
  auto log = cluster.process(at).log();
  auto pattern = peer_down_pattern(peer);
  return static_cast<size_t>(
    std::distance(std::sregex_iterator(log.begin(), log.end(), pattern), std::sregex_iterator()));
}

std::string wait_peer_down_line(test_cluster& cluster, uint32_t at, uint32_t peer, size_t seen,
                                std::chrono::milliseconds limit) {
  std::string reason;
  bool logged = eventually(
    [&] {
      auto log = cluster.process(at).log();
      auto pattern = peer_down_pattern(peer);
      size_t n = 0;
      for (auto it = std::sregex_iterator(log.begin(), log.end(), pattern);
           it != std::sregex_iterator(); ++it, ++n)
        reason = (*it)[1].str();
      return n > seen;
    },
    limit);
  BOOST_REQUIRE_MESSAGE(logged, "node " << at << " did not log peer " << peer << " down within "
                                        << limit.count() << " ms\n"
                                        << cluster.log_tails());
  return reason;
}

} // namespace dispatch::test
