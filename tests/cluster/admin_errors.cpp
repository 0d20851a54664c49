// Dispatcher writes refused by the coordinator reach a client of another node with the
// coordinator's code and message, as docs/api.md writes them, and change nothing anywhere.
#include <boost/test/unit_test.hpp>

#include "cluster_checks.hpp"
#include "cluster_fixture.hpp"

using namespace dispatch::test;

BOOST_AUTO_TEST_SUITE(cluster_admin_errors)

BOOST_AUTO_TEST_CASE(refusals_cross_from_the_coordinator_unchanged) {
  cluster_options options;
  options.nodes = 2;
  test_cluster cluster{options};
  cluster.start_all();
  auto ids = create_dispatchers(cluster, 2, {"admin.errors"});
  BOOST_REQUIRE_EQUAL(ids.size(), 1u);
  auto named = cluster.request(2, "PUT", "/dispatchers/v1/" + ids[0], R"({"name":"taken"})");
  BOOST_REQUIRE_EQUAL(named.status, 200u);

  check_error(cluster.request(2, "POST", "/dispatchers/v1/", R"({"actions":[]})"), 400, 14,
              "no eventType");
  check_error(cluster.request(2, "POST", "/dispatchers/v1/",
                              R"({"eventType":"x","name":"taken","actions":[]})"),
              400, 17, "a taken name");
  check_error(
    cluster.request(2, "PUT", "/dispatchers/v1/0123456789abcdef01234567", R"({"name":"y"})"), 404,
    16, "an unknown dispatcher");
  check_error(cluster.request(2, "POST", "/dispatchers/v1/" + ids[0] + "/actions",
                              R"({"type":"mail","recipients":{"to":["not-an-address"]},)"
                              R"("templateId":"0123456789abcdef01234567"})"),
              400, 15, "a bad recipient");
  auto message = text_at(
    json_of(cluster.request(2, "POST", "/dispatchers/v1/", R"({"actions":[]})")), "message");
  BOOST_TEST(contains(message, "eventType"), message);
  // Nothing of it was applied: both nodes hold the one dispatcher, unchanged.
  for (uint32_t node : {1u, 2u})
    BOOST_TEST(page_total(cluster.client(node), "/dispatchers/v1/") == 1u, "node " << node);
  check_replicated(cluster, ids, 1, {2});
}

BOOST_AUTO_TEST_SUITE_END()
