// Messages no member sends, sent to a node's cluster port: a deliveries request whose filter is
// nested 200,000 deep in the old recursive wire form, the flat form with 200,000 terms, and raw
// garbage. The node answers or drops each and keeps serving its clients and its peers.
#include <boost/test/unit_test.hpp>

#include <random>

#include <caf/binary_serializer.hpp>
#include <caf/scoped_actor.hpp>

#include "cluster/member_auth.hpp"
#include "cluster_fixture.hpp"
#include "intruder.hpp"
#include "messages/error_code.hpp"

using namespace dispatch;
using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

/// The first step of a hello is answered to anyone: the port still speaks CAF.
void check_port_answers(test_cluster& cluster, uint32_t node) {
  intruder stranger;
  auto endpoint = stranger.connect(port_of(cluster.cluster_address(node)));
  caf::scoped_actor self{stranger.system()};
  bool answered = false;
  self->request(endpoint, 10s, hello_atom::value, uint32_t{2}, fresh_nonce())
    .receive([&](std::string&, std::string&) { answered = true; },
             [&](caf::error& err) { BOOST_ERROR("no hello answer: " << message_of(err)); });
  BOOST_TEST(answered);
}

/// Called once `attacked` has judged the hostile input (answered it, or closed the connection):
/// a crash it caused has happened by then. Every node still runs and answers over HTTP with
/// every peer up, and the attacked one's cluster port answers a hello.
void check_serving(test_cluster& cluster, uint32_t attacked, const std::string& after) {
  for (uint32_t node : cluster.ids()) {
    BOOST_REQUIRE_MESSAGE(cluster.process(node).running(), "node " << node << " stopped after "
                                                                   << after << ":\n"
                                                                   << cluster.log_tails());
    for (uint32_t peer : cluster.ids())
      if (peer != node)
        BOOST_TEST(cluster.peer_state(node, peer) == "up",
                   "node " << node << " sees " << peer << " after " << after);
  }
  check_port_answers(cluster, attacked);
}

std::string random_bytes(size_t size, uint32_t seed) {
  std::mt19937 gen{seed};
  std::string bytes(size, '\0');
  for (auto& c : bytes) c = static_cast<char>(gen() & 0xff);
  return bytes;
}

} // namespace

BOOST_AUTO_TEST_SUITE(cluster_hostile_wire)

BOOST_AUTO_TEST_CASE(the_deep_query_is_the_old_wire_form_byte_for_byte) {
  // What the intruder sends must be what a recursive `query` would have been on the wire, or the
  // test below would prove nothing.
  query q;
  q.where.op = filter_op::all;
  for (int level = 0; level < 3; ++level) {
    filter outer;
    outer.op = filter_op::and_;
    outer.children.push_back(std::move(q.where));
    q.where = std::move(outer);
  }
  std::vector<char> expected;
  std::vector<char> sent;
  caf::binary_serializer real{nullptr, expected};
  BOOST_REQUIRE(!real(q));
  caf::binary_serializer deep{nullptr, sent};
  deep_query stand_in{3};
  BOOST_REQUIRE(!deep(stand_in));
  BOOST_TEST(sent == expected);
}

BOOST_AUTO_TEST_CASE(deep_malformed_and_garbage_messages_leave_the_node_serving) {
  cluster_options options;
  options.nodes = 2;
  test_cluster cluster{options};
  cluster.start_all();
  auto port = port_of(cluster.cluster_address(1));
  {
    // The old wire form: no node announces "dispatch.query" any more, so none deserializes it.
    // Asked as a request, so the test waits until it went out and was judged: the answer is an
    // error (CAF 0.17 answers a message it cannot type with unexpected_message), never a page,
    // and not the request's own timeout (then nothing says the node has read it).
    intruder stranger;
    auto endpoint = caf::actor_cast<caf::actor>(stranger.connect(port));
    caf::scoped_actor self{stranger.system()};
    self->request(endpoint, 30s, deliveries_atom::value, deep_query{200000}, uint32_t{20})
      .receive([](delivery_page&) { BOOST_ERROR("a 200,000-deep filter was answered"); },
               [](caf::error& err) {
                 BOOST_TEST((err == caf::sec::unexpected_message), caf::to_string(err));
               });
  }
  check_serving(cluster, 1, "a 200,000-deep filter");
  {
    // The flat form with 200,000 terms: a flat vector, refused to a stranger before it is read.
    intruder stranger;
    auto endpoint = stranger.connect(port);
    caf::scoped_actor self{stranger.system()};
    flat_query flat;
    flat.where.push_back(filter_term{filter_op::eq, "status", {string_value("failed")}, 0});
    flat.where.resize(200000, filter_term{filter_op::and_, "", {}, 1});
    self->request(endpoint, 30s, deliveries_atom::value, flat, uint32_t{20})
      .receive([](delivery_page&) { BOOST_ERROR("a stranger's listing was answered"); },
               [](caf::error& err) {
                 BOOST_TEST((code_of(err) == error_code::no_permission), message_of(err));
               });
  }
  check_serving(cluster, 1, "200,000 flat filter terms");
  // Raw bytes: noise, and a header-sized block of 0xff (every length field at its maximum).
  BOOST_TEST(send_raw_bytes(port, random_bytes(64 * 1024, 15)), "the node kept the noise open");
  BOOST_TEST(send_raw_bytes(port, std::string(64, '\xff') + random_bytes(1024, 16)),
             "the node kept the 0xff block open");
  check_serving(cluster, 1, "garbage bytes");
  // A filtered listing of the whole cluster still crosses between the members (in flat form).
  for (uint32_t node : cluster.ids()) {
    auto answer = cluster.request(node, "GET",
                                  "/deliveries/v1/?or(eq(status,failed),eq(status,"
                                  "delivered))");
    BOOST_TEST(answer.status == 200u, "node " << node << ": " << answer.body);
  }
}

BOOST_AUTO_TEST_SUITE_END()
