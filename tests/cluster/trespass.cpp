// A process that is not a member connects to the nodes' cluster ports and tries what a member may
// do: forward events, write dispatchers, push replication, read, and take a member's slot by a
// hello. Every call is refused, nothing changes, and the cluster keeps serving.
#include <boost/test/unit_test.hpp>

#include <caf/scoped_actor.hpp>

#include "cluster/member_auth.hpp"
#include "cluster_checks.hpp"
#include "cluster_fixture.hpp"
#include "intruder.hpp"
#include "messages/error_code.hpp"

using namespace dispatch;
using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

constexpr auto call_timeout = 10s;

/// A refusal must be ours, say why, and not be a timeout (a node that crashed answers nothing).
void check_refused(const caf::error& err, error_code code, const std::string& part,
                   const std::string& what) {
  BOOST_TEST(is_dispatch_error(err), what << ": " << message_of(err));
  BOOST_TEST((code_of(err) == code), what << ": " << message_of(err));
  BOOST_TEST(contains(message_of(err), part), what << ": " << message_of(err));
}

dispatcher mail_to_the_intruder(const std::string& event_type) {
  action mail;
  mail.id = fresh_object_id();
  mail.kind = action_kind::mail;
  mail.recipients.to = {"intruder@example.com"};
  mail.template_id = fresh_object_id();
  dispatcher d;
  d.id = fresh_object_id();
  d.event_type = event_type;
  d.actions = {mail};
  return d;
}

/// The first "trespass.<n>" type node `owner` owns.
std::string type_owned_by(const test_cluster& cluster, uint32_t owner) {
  for (int n = 0;; ++n) {
    auto type = "trespass." + std::to_string(n);
    if (cluster.owner_of(type) == owner) return type;
  }
}

/// Sends one call as the stranger: it must be refused as from a non-member.
template <class Reply, class... Ts>
void expect_no_permission(caf::scoped_actor& self, const peer_actor& node, const char* what,
                          Ts&&... xs) {
  self->request(node, call_timeout, std::forward<Ts>(xs)...)
    .receive([&](Reply&) { BOOST_ERROR(what << " was accepted from a non-member"); },
             [&](caf::error& err) {
               check_refused(err, error_code::no_permission, "members only", what);
             });
}

size_t refusal_lines(test_cluster& cluster, uint32_t node) {
  auto log = cluster.process(node).log();
  size_t count = 0;
  for (size_t at = 0; (at = log.find("has not proven its membership", at)) != std::string::npos;
       ++at)
    ++count;
  return count;
}

} // namespace

BOOST_AUTO_TEST_SUITE(cluster_trespass)

BOOST_AUTO_TEST_CASE(a_non_member_is_refused_every_call_and_changes_nothing) {
  cluster_options options;
  options.nodes = 2;
  test_cluster cluster{options};
  cluster.start_all();
  intruder stranger;
  auto coordinator = stranger.connect(port_of(cluster.cluster_address(1)));
  auto follower = stranger.connect(port_of(cluster.cluster_address(2)));
  caf::scoped_actor self{stranger.system()};
  // An event the coordinator owns, forwarded in the follower's name.
  event ev{fresh_object_id(), type_owned_by(cluster, 1), R"({"from":"intruder"})", 0};
  expect_no_permission<uint64_t>(self, coordinator, "forward", forward_atom::value, uint32_t{2},
                                 event_list{ev});
  // A dispatcher with a mail action to an address of the intruder's choosing.
  admin_request create;
  create.kind = admin_kind::create_dispatcher;
  create.value = mail_to_the_intruder(ev.type);
  expect_no_permission<admin_reply>(self, coordinator, "admin", admin_atom::value, create);
  // A replication entry pushed to the follower as if from the coordinator.
  log_entry put;
  put.version = 1;
  put.op = log_op::put;
  put.value = mail_to_the_intruder(ev.type);
  put.id = put.value.id;
  expect_no_permission<uint64_t>(self, follower, "replicate", replicate_atom::value, uint64_t{0},
                                 log_entry_list{put});
  // Reads: the dispatcher log, heartbeats, work done.
  expect_no_permission<log_entry_list>(self, coordinator, "catch-up", catch_up_atom::value,
                                       uint64_t{0});
  expect_no_permission<uint32_t>(self, follower, "ping", ping_atom::value, uint32_t{1});
  expect_no_permission<delivery_page>(self, follower, "deliveries", deliveries_atom::value,
                                      flatten(query{}), uint32_t{20});
  expect_no_permission<uint32_t>(self, follower, "purge", purge_atom::value, fresh_object_id());

  // Nothing reached storage on either node, and neither node took the follower for refused.
  BOOST_TEST(number_at(cluster.state(1), "received") == 0u);
  for (uint32_t node : {1u, 2u})
    BOOST_TEST(page_total(cluster.client(node), "/dispatchers/v1/") == 0u, "node " << node);
  BOOST_TEST(cluster.peer_state(1, 2) == "up");
  BOOST_TEST(cluster.peer_state(2, 1) == "up");
  // Each node logged the stranger once, not once per call.
  BOOST_TEST(refusal_lines(cluster, 1) == 1u, cluster.process(1).log());
  BOOST_TEST(refusal_lines(cluster, 2) == 1u, cluster.process(2).log());
  // And the cluster still serves its members: a dispatcher written through the follower.
  auto ids = create_dispatchers(cluster, 2, {"trespass.after"});
  check_replicated(cluster, ids, 1, {2});
}

BOOST_AUTO_TEST_CASE(a_hello_without_the_secret_or_for_an_up_member_is_refused) {
  cluster_options options;
  options.nodes = 2;
  test_cluster cluster{options};
  cluster.start_all();
  intruder stranger;
  auto coordinator = stranger.connect(port_of(cluster.cluster_address(1)));
  caf::scoped_actor self{stranger.system()};
  auto stranger_node = stranger.system().node();
  // Our own endpoint stand-in: any actor of the stranger's node.
  auto endpoint = caf::actor_cast<caf::strong_actor_ptr>(self);
  auto first_step = [&](uint32_t claimed) {
    std::string nonce;
    self->request(coordinator, call_timeout, hello_atom::value, claimed, fresh_nonce())
      .receive([&](std::string& theirs, std::string&) { nonce = std::move(theirs); },
               [&](caf::error& err) { BOOST_ERROR("first step refused: " << message_of(err)); });
    return nonce;
  };
  auto introduction = [&](uint32_t claimed, uint32_t shards) {
    member_info info;
    info.node = claimed;
    info.shards = shards;
    info.endpoint = endpoint;
    info.max_event_bytes = 1 << 20;
    return info;
  };
  auto second_step = [&](const member_info& info, const std::string& proof, error_code code,
                         const std::string& part, const char* what) {
    self->request(coordinator, call_timeout, hello_atom::value, info, proof)
      .receive([&](member_info&) { BOOST_ERROR(what << ": the hello was accepted"); },
               [&](caf::error& err) { check_refused(err, code, part, what); });
  };
  // Claiming node 2 with a wrong secret, and an introduction that would mark node 2 refused
  // (another shard count) if it were believed.
  auto nonce = first_step(2);
  auto wrong = member_proof("not the cluster's secret at all", hello_role::caller, nonce, 2,
                            stranger_node);
  second_step(introduction(2, 99), wrong, error_code::no_permission, "did not prove membership",
              "a wrong secret");
  // A proof made for another nonce: a nonce answers one hello only, and this one is used up.
  auto replayed = member_proof(cluster.secret(), hello_role::caller, nonce, 2, stranger_node);
  second_step(introduction(2, 99), replayed, error_code::no_permission, "did not prove membership",
              "a used nonce");
  // With the secret itself, node 2 is still not the stranger's to claim while it is up.
  nonce = first_step(2);
  auto right = member_proof(cluster.secret(), hello_role::caller, nonce, 2, stranger_node);
  second_step(introduction(2, 99), right, error_code::unavailable, "is up here",
              "an up member's id");
  // A proof from one caller does not pass for another's nonce binding: a node id not a member.
  nonce = first_step(9);
  second_step(introduction(9, 8),
              member_proof(cluster.secret(), hello_role::caller, nonce, 9, stranger_node),
              error_code::no_permission, "did not prove membership", "a non-member id");

  // Node 2 kept its slot and its state on both sides, and the calls of a member still work.
  BOOST_TEST(cluster.peer_state(1, 2) == "up");
  BOOST_TEST(cluster.peer_state(2, 1) == "up");
  auto log = cluster.process(1).log();
  BOOST_TEST(contains(log, "refused a hello claiming node 2"), log);
  BOOST_TEST(!contains(log, cluster.secret()), "the secret is in the log");
  auto ids = create_dispatchers(cluster, 2, {"trespass.hello"});
  check_replicated(cluster, ids, 1, {2});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cluster_tls_identity)

// With TLS the secret proves membership and the certificate which member: an insider holding the
// secret and node 3's certificate and key (a real member's, signed by the cluster's CA) may say
// hello as node 3, never as node 2.
BOOST_AUTO_TEST_CASE(with_tls_a_hello_must_come_with_the_certificate_of_the_member_claimed) {
  cluster_options options;
  options.tls = true;
  test_cluster cluster{options};
  cluster.start(1);
  cluster.wait_ready(1);
  auto& files = cluster.tls();
  cluster_config creds;
  creds.certificate = files.certificate.at(3);
  creds.key = files.key.at(3);
  creds.ca_file = files.ca_file;
  intruder insider{creds};
  auto coordinator = insider.connect(port_of(cluster.cluster_address(1)));
  caf::scoped_actor self{insider.system()};
  auto insider_node = insider.system().node();
  member_auth as_node3;
  as_node3.secret = cluster.secret();
  auto identity = load_tls_identity(creds.certificate, creds.key, "", creds.ca_file, 3);
  BOOST_REQUIRE_MESSAGE(identity, message_of(identity.error()));
  as_node3.identity = *identity;
  // Node 2's certificate does not name node 3: it is refused as this node's own identity.
  auto wrong_own = load_tls_identity(files.certificate.at(2), files.key.at(2), "", files.ca_file,
                                     3);
  BOOST_REQUIRE(!wrong_own);
  BOOST_TEST(contains(message_of(wrong_own.error()), "URI:urn:dispatch:node:3"),
             message_of(wrong_own.error()));

  auto first_step = [&](uint32_t claimed) {
    auto ours = fresh_nonce();
    std::string nonce;
    self->request(coordinator, call_timeout, hello_atom::value, claimed, ours)
      .receive(
        [&](std::string& theirs, std::string& proof) {
          nonce = std::move(theirs);
          // The node's own proof carries its certificate, which names node 1.
          auto why = refusal_of_proof(as_node3, hello_role::answer, ours, 1, coordinator.node(),
                                      proof);
          BOOST_TEST(!why, "node 1's proof: " << *why);
          auto as_other = refusal_of_proof(as_node3, hello_role::answer, ours, 2,
                                           coordinator.node(), proof);
          BOOST_TEST(static_cast<bool>(as_other), "node 1's proof passed for node 2");
        },
        [&](caf::error& err) { BOOST_ERROR("first step refused: " << message_of(err)); });
    return nonce;
  };
  auto introduction = [&](uint32_t claimed) {
    member_info info;
    info.node = claimed;
    info.shards = options.shards;
    info.endpoint = caf::actor_cast<caf::strong_actor_ptr>(self);
    info.max_event_bytes = 1; // differs: a hello that gets past its proof is refused for that
    return info;
  };
  auto second_step = [&](uint32_t claimed, const std::string& proof) {
    caf::error refusal;
    self->request(coordinator, call_timeout, hello_atom::value, introduction(claimed), proof)
      .receive([&](member_info&) { BOOST_ERROR("the hello claiming " << claimed << " passed"); },
               [&](caf::error& err) { refusal = std::move(err); });
    return refusal;
  };

  // Node 2 claimed with node 3's certificate: the proof is refused.
  auto nonce = first_step(2);
  check_refused(second_step(2, prove(as_node3, hello_role::caller, nonce, 2, insider_node)),
                error_code::no_permission, "did not prove membership",
                "node 2 claimed with node 3's certificate");
  // Node 2 claimed with the secret alone: refused, a certificate is required.
  nonce = first_step(2);
  check_refused(
    second_step(2, member_proof(cluster.secret(), hello_role::caller, nonce, 2, insider_node)),
    error_code::no_permission, "did not prove membership", "the secret alone");
  // Node 3 claimed with node 3's certificate: the proof passes, and only the introduction's own
  // differences (the event size limit here) are refused.
  nonce = first_step(3);
  auto as_itself = second_step(3, prove(as_node3, hello_role::caller, nonce, 3, insider_node));
  BOOST_TEST(!contains(message_of(as_itself), "did not prove membership"), message_of(as_itself));
  BOOST_TEST(contains(message_of(as_itself), "event size limit differs"), message_of(as_itself));

  // Hostile proofs are refused whole, before or after parsing, and never take the node down.
  auto mac = member_proof(cluster.secret(), hello_role::caller, "n", 3, insider_node);
  auto cert_hex = prove(as_node3, hello_role::caller, "n", 3, insider_node);
  cert_hex = cert_hex.substr(mac.size() + 1, cert_hex.rfind('.') - mac.size() - 1);
  std::string random_der;
  for (int i = 0; i < 600; ++i) random_der += "0123456789abcdef"[(i * 7919) % 16];
  for (auto& [hostile, why] : std::vector<std::pair<std::string, std::string>>{
         {"", "did not prove"},
         {mac + ".", "no certificate"},
         {mac + ".zz.zz", "does not parse"},
         {mac + "." + cert_hex.substr(0, cert_hex.size() / 2) + ".00", "does not parse"},
         {mac + "." + random_der + ".00", "does not parse"},
         {mac + "." + cert_hex + ".", "signature does not verify"},
         {mac + "." + cert_hex + ".0", "signature does not verify"},
         {mac + "." + cert_hex + "." + std::string(512, 'f'), "signature does not verify"},
         {mac + "." + cert_hex + ".00.00", "signature does not verify"},
         {mac + std::string(40000, '.'), "too long"}}) {
    auto refused = refusal_of_proof(as_node3, hello_role::caller, "n", 3, insider_node, hostile);
    BOOST_TEST(static_cast<bool>(refused), "accepted: " << hostile.substr(0, 80));
    if (refused) BOOST_TEST(contains(*refused, why), *refused << " (wanted: " << why << ")");
  }
  nonce = first_step(2);
  check_refused(second_step(2, mac + "." + random_der + ".00"), error_code::no_permission,
                "did not prove membership", "a certificate that does not parse");
  nonce = first_step(3);
  BOOST_TEST(!first_step(2).empty(), "node 1 stopped answering hellos");

  auto log = cluster.process(1).log();
  BOOST_TEST(contains(log, "does not name node 2"), log);
  BOOST_TEST(contains(log, "presented no certificate"), log);
  BOOST_TEST(!contains(log, cluster.secret()), "the secret is in the log");
}

BOOST_AUTO_TEST_SUITE_END()
