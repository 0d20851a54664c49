// Tests of the cluster configuration: defaults (not clustered), a full configuration from the
// command line and from INI, address parsing, every rejection by key, TLS files, members_of.
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <caf/config_option_set.hpp>

#include "config/cluster_config.hpp"
#include "config/config_test.hpp"
#include "fixtures/temp_dir.hpp"
#include "fixtures/why.hpp"

using namespace dispatch;
using dispatch::test::parse_and_read;
using dispatch::test::require_rejection;
using dispatch::test::why;

namespace {

caf::expected<cluster_config> read(std::vector<std::string> args, const std::string& ini = "") {
  return parse_and_read(std::move(args), ini, read_cluster_config);
}

// `validate` as an expected, so require_rejection applies to configurations filled in code.
caf::expected<cluster_config> checked(const cluster_config& cfg) {
  if (auto err = validate(cfg)) return err;
  return cfg;
}

// Three nodes on loopback, no TLS: valid as it is; each test breaks one thing.
cluster_config loopback_node() {
  cluster_config cfg;
  cfg.node = 1;
  cfg.listen = "127.0.0.1:7400";
  cfg.peers = {"2@127.0.0.1:7401", "3@[::1]:7402"};
  cfg.secret = "sixteen or more characters";
  return cfg;
}

// Certificate, key and CA files (readability is what the configuration checks, not content).
struct tls_files {
  test::temp_dir dir;
  std::string certificate = dir / "node.pem";
  std::string key = dir / "node.key";
  std::string ca = dir / "ca.pem";
  tls_files() {
    for (auto& path : {certificate, key, ca})
      std::ofstream{path} << "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n";
  }
  void apply(cluster_config& cfg) const {
    cfg.certificate = certificate;
    cfg.key = key;
    cfg.ca_file = ca;
  }
};

void check_full(const caf::expected<cluster_config>& result, const tls_files& files) {
  BOOST_REQUIRE_MESSAGE(result, why(result));
  BOOST_TEST(clustered(*result));
  BOOST_TEST(result->node == 1u);
  BOOST_TEST(result->listen == "10.0.0.5:7400");
  BOOST_TEST(result->peers == (std::vector<std::string>{"3@10.0.0.7:7400", "2@10.0.0.6:7400"}));
  BOOST_TEST(result->heartbeat_interval.count() == 250);
  BOOST_TEST(result->peer_timeout.count() == 2000);
  BOOST_TEST(result->reconnect_initial.count() == 100);
  BOOST_TEST(result->reconnect_max.count() == 4000);
  BOOST_TEST(result->join_timeout.count() == 1500);
  BOOST_TEST(result->forward_batch == 512u);
  BOOST_TEST(result->certificate == files.certificate);
  BOOST_TEST(result->key == files.key);
  BOOST_TEST(result->ca_file == files.ca);
  BOOST_TEST(result->passphrase == "s3cret");
  BOOST_TEST(uses_tls(*result));
}

} // namespace

BOOST_AUTO_TEST_SUITE(cluster_config)

BOOST_AUTO_TEST_CASE(defaults_are_not_clustered) {
  auto result = read({});
  BOOST_REQUIRE_MESSAGE(result, why(result));
  dispatch::cluster_config defaults;
  BOOST_TEST(!clustered(*result));
  BOOST_TEST(!uses_tls(*result));
  BOOST_TEST(result->listen.empty());
  BOOST_TEST(result->peers.empty());
  BOOST_TEST(result->heartbeat_interval.count() == defaults.heartbeat_interval.count());
  BOOST_TEST(result->peer_timeout.count() == defaults.peer_timeout.count());
  BOOST_TEST(result->forward_batch == defaults.forward_batch);
  BOOST_TEST(!validate(defaults));
}

BOOST_AUTO_TEST_CASE(defaults_show_in_help_and_settings) {
  caf::config_option_set options;
  add_cluster_options(options);
  auto option = options.qualified_name_lookup("dispatch.cluster", "peer-timeout");
  BOOST_REQUIRE(option != nullptr);
  auto help = option->description();
  BOOST_TEST(std::string(help.data(), help.size()).find("(default: 3000)") != std::string::npos);
  BOOST_TEST(options.qualified_name_lookup("dispatch.cluster", "ca-file") != nullptr);
  test::all_options_config cfg;
  BOOST_TEST(caf::get_or(cfg, "dispatch.cluster.forward-batch", int64_t{0}) == 1024);
  BOOST_TEST(caf::get_or(cfg, "dispatch.cluster.node", int64_t{-1}) == 0);
}

BOOST_AUTO_TEST_CASE(a_full_configuration_from_the_command_line) {
  tls_files files;
  check_full(
    read({"--dispatch.cluster.node=1", "--dispatch.cluster.listen=10.0.0.5:7400",
          "--dispatch.cluster.peers=3@10.0.0.7:7400,2@10.0.0.6:7400",
          "--dispatch.cluster.heartbeat-interval=250", "--dispatch.cluster.peer-timeout=2s",
          "--dispatch.cluster.reconnect-initial=100ms", "--dispatch.cluster.reconnect-max=4000",
          "--dispatch.cluster.join-timeout=1500", "--dispatch.cluster.forward-batch=512",
          "--dispatch.cluster.certificate=" + files.certificate,
          "--dispatch.cluster.key=" + files.key, "--dispatch.cluster.ca-file=" + files.ca,
          "--dispatch.cluster.passphrase=s3cret",
          "--dispatch.cluster.secret=sixteen or more characters"}),
    files);
  // IPv6 in brackets and a list of one, as a shell user types them.
  auto v6 = read({"--dispatch.cluster.node=2", "--dispatch.cluster.listen=[::1]:7400",
                  "--dispatch.cluster.peers=1@[::1]:7401",
                  "--dispatch.cluster.secret=sixteen or more characters"});
  BOOST_REQUIRE_MESSAGE(v6, why(v6));
  BOOST_TEST(v6->listen == "[::1]:7400");
  BOOST_TEST(v6->peers == std::vector<std::string>{"1@[::1]:7401"});
}

BOOST_AUTO_TEST_CASE(a_full_configuration_from_an_ini_file) {
  tls_files files;
  auto ini
    = "[dispatch.cluster]\nnode = 1\nlisten = \"10.0.0.5:7400\"\n"
      "peers = [\"3@10.0.0.7:7400\", \"2@10.0.0.6:7400\"]\n"
      "heartbeat-interval = 250\npeer-timeout = 2s\nreconnect-initial = 100ms\n"
      "reconnect-max = 4000\njoin-timeout = 1500\nforward-batch = 512\n"
      "certificate = \""
      + files.certificate + "\"\nkey = \"" + files.key + "\"\nca-file = \"" + files.ca
      + "\"\npassphrase = \"s3cret\"\nsecret = \"sixteen or more characters\"\n";
  check_full(read({}, ini), files);
  // The command line wins over the file.
  auto result = read({"--dispatch.cluster.forward-batch=64"}, ini);
  BOOST_REQUIRE_MESSAGE(result, why(result));
  BOOST_TEST(result->forward_batch == 64u);
}

BOOST_AUTO_TEST_CASE(example_ini_parses_to_not_clustered) {
  std::ifstream file{test::example_ini_path()};
  BOOST_REQUIRE(file.good());
  test::all_options_config cfg;
  auto err = cfg.parse({}, file);
  BOOST_REQUIRE_MESSAGE(!err, caf::to_string(err));
  auto result = read_cluster_config(cfg);
  BOOST_REQUIRE_MESSAGE(result, why(result));
  BOOST_TEST(!clustered(*result));
  BOOST_TEST(result->peer_timeout.count() == dispatch::cluster_config{}.peer_timeout.count());
  // The section does not disturb the readers of its neighbours.
  BOOST_TEST(read_engine_config(cfg).engaged());
  BOOST_TEST(read_http_config(cfg).engaged());
  BOOST_TEST(read_sink_config(cfg).engaged());
}

BOOST_AUTO_TEST_CASE(addresses_parse_with_ipv6_in_brackets) {
  auto parsed = [](const std::string& text) {
    auto result = parse_address("k", text);
    BOOST_REQUIRE_MESSAGE(result, why(result));
    return *result;
  };
  BOOST_TEST(
    (parsed("127.0.0.1:7400") == std::make_pair(std::string{"127.0.0.1"}, uint16_t{7400})));
  BOOST_TEST((parsed("[::1]:7400") == std::make_pair(std::string{"::1"}, uint16_t{7400})));
  BOOST_TEST((parsed("node-a.example.com:1")
              == std::make_pair(std::string{"node-a.example.com"}, uint16_t{1})));
  BOOST_TEST(parsed("localhost:65535").second == 65535);
  const std::pair<const char*, const char*> rejected[] = {
    {"x", "expected host:port"},
    {":7400", "expected host:port"},
    {"127.0.0.1", "expected host:port"},
    {"127.0.0.1:", "the port must be a number between 1 and 65535"},
    {"127.0.0.1:0", "the port must be a number between 1 and 65535"},
    {"127.0.0.1:65536", "the port must be a number between 1 and 65535"},
    {"127.0.0.1:99999999999", "the port must be a number between 1 and 65535"},
    {"127.0.0.1:74a0", "the port must be a number between 1 and 65535"},
    {"127.0.0.1:-1", "the port must be a number between 1 and 65535"},
    {"::1:7400", "an IPv6 address goes in brackets, e.g. [::1]:7400"},
    {"[::1]7400", "expected a port after ]:"},
    {"[::1", "expected [IPv6 address]:port"},
    {"[10.0.0.1]:7400", "expected an IPv6 address in brackets"},
    {"bad host:7400", "not an IP address or host name"},
    {"999.1.1.1:7400", "not an IP address or host name"},
  };
  for (auto& [text, reason] : rejected)
    require_rejection(parse_address("dispatch.cluster.listen", text),
                      std::string{"dispatch.cluster.listen: "} + reason + ", got \"" + text + "\"");
}

BOOST_AUTO_TEST_CASE(settings_without_a_node_are_refused) {
  require_rejection(read({"--dispatch.cluster.peers=2@127.0.0.1:7401"}),
                    "dispatch.cluster.node: required when dispatch.cluster.peers is set");
  require_rejection(read({}, "[dispatch.cluster]\nlisten = \"127.0.0.1:7400\"\n"),
                    "dispatch.cluster.node: required when dispatch.cluster.listen is set");
  require_rejection(
    read({"--dispatch.cluster.heartbeat-interval=100"}),
    "dispatch.cluster.node: required when dispatch.cluster.heartbeat-interval is set");
  dispatch::cluster_config cfg;
  cfg.passphrase = "hunter2";
  auto result = checked(cfg);
  require_rejection(result, "dispatch.cluster.node: required when dispatch.cluster.passphrase");
  BOOST_TEST(message_of(result.error()).find("hunter2") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(listen_is_required_and_must_parse) {
  BOOST_TEST(!validate(loopback_node()));
  auto cfg = loopback_node();
  cfg.listen.clear();
  require_rejection(checked(cfg),
                    "dispatch.cluster.listen: required when dispatch.cluster.node is set");
  cfg.listen = "127.0.0.1";
  require_rejection(checked(cfg), "dispatch.cluster.listen: expected host:port, got \"127.0.0.1\"");
  cfg.listen = "0.0.0.0:7400";
  require_rejection(checked(cfg), "dispatch.cluster.listen: 0.0.0.0 is not an address peers");
  cfg.listen = "[::]:7400";
  require_rejection(checked(cfg), "dispatch.cluster.listen: :: is not an address peers");
  // A single node is a valid (if small) cluster.
  cfg = loopback_node();
  cfg.peers.clear();
  BOOST_TEST(!validate(cfg));
}

BOOST_AUTO_TEST_CASE(peers_must_parse_as_id_at_address) {
  auto with_peer = [](const std::string& second) {
    auto cfg = loopback_node();
    cfg.peers[1] = second;
    return checked(cfg);
  };
  require_rejection(with_peer("x"), "dispatch.cluster.peers[1]: expected id@host:port, got \"x\"");
  require_rejection(with_peer("@127.0.0.1:7402"),
                    "dispatch.cluster.peers[1]: expected id@host:port");
  require_rejection(with_peer("0@127.0.0.1:7402"),
                    "dispatch.cluster.peers[1]: the id must be a number between 1 and 4294967295");
  require_rejection(with_peer("three@127.0.0.1:7402"),
                    "dispatch.cluster.peers[1]: the id must be a number between 1");
  require_rejection(with_peer("4294967296@127.0.0.1:7402"),
                    "dispatch.cluster.peers[1]: the id must be a number between 1");
  require_rejection(with_peer("3@127.0.0.1"),
                    "dispatch.cluster.peers[1]: expected host:port, got \"127.0.0.1\"");
  require_rejection(with_peer("3@127.0.0.1:70000"),
                    "dispatch.cluster.peers[1]: the port must be a number between 1 and 65535");
  require_rejection(with_peer("3@0.0.0.0:7402"),
                    "dispatch.cluster.peers[1]: 0.0.0.0 is not an address to connect to");
}

BOOST_AUTO_TEST_CASE(peer_ids_and_addresses_are_unique) {
  auto cfg = loopback_node();
  cfg.peers.push_back("2@127.0.0.1:7409");
  require_rejection(checked(cfg), "dispatch.cluster.peers[2]: id 2 is listed twice (peers[0])");
  cfg = loopback_node();
  cfg.peers[1] = "1@127.0.0.1:7402";
  require_rejection(
    checked(cfg), "dispatch.cluster.peers[1]: id 1 is this node's own id (dispatch.cluster.node)");
  cfg = loopback_node();
  cfg.peers.push_back("4@[0:0::1]:7402"); // the same address as peers[1], spelled otherwise
  require_rejection(checked(cfg),
                    "dispatch.cluster.peers[2]: address [::1]:7402 is listed twice (peers[1])");
  cfg = loopback_node();
  cfg.peers.push_back("4@LocalHost:7403");
  cfg.peers.push_back("5@localhost:7403");
  require_rejection(checked(cfg), "dispatch.cluster.peers[3]: address localhost:7403 is listed");
  cfg = loopback_node();
  cfg.peers[0] = "2@127.0.0.1:7400";
  require_rejection(checked(cfg),
                    "dispatch.cluster.peers[0]: address 127.0.0.1:7400 is this "
                    "node's own (dispatch.cluster.listen)");
}

BOOST_AUTO_TEST_CASE(timings_are_checked_against_each_other) {
  using std::chrono::milliseconds;
  auto with = [](auto change) {
    auto cfg = loopback_node();
    change(cfg);
    return checked(cfg);
  };
  using cfg_t = dispatch::cluster_config;
  require_rejection(with([](cfg_t& c) { c.heartbeat_interval = milliseconds{0}; }),
                    "dispatch.cluster.heartbeat-interval: must be > 0");
  require_rejection(
    with([](cfg_t& c) { c.peer_timeout = milliseconds{1000}; }),
    "dispatch.cluster.peer-timeout: must be more than twice dispatch.cluster.heartbeat-interval "
    "(2 x 500 ms), got 1000 ms");
  BOOST_TEST(with([](cfg_t& c) { c.peer_timeout = milliseconds{1001}; }).engaged());
  require_rejection(with([](cfg_t& c) { c.reconnect_initial = milliseconds{-5}; }),
                    "dispatch.cluster.reconnect-initial: must be > 0");
  require_rejection(with([](cfg_t& c) { c.reconnect_max = milliseconds{199}; }),
                    "dispatch.cluster.reconnect-max: must be at least "
                    "dispatch.cluster.reconnect-initial (200 ms), got 199 ms");
  BOOST_TEST(with([](cfg_t& c) { c.reconnect_max = milliseconds{200}; }).engaged());
  require_rejection(with([](cfg_t& c) { c.join_timeout = milliseconds{0}; }),
                    "dispatch.cluster.join-timeout: must be > 0");
  require_rejection(with([](cfg_t& c) { c.forward_batch = 0; }),
                    "dispatch.cluster.forward-batch: must be between 1 and 65536, got 0");
  require_rejection(with([](cfg_t& c) { c.forward_batch = 65537; }),
                    "dispatch.cluster.forward-batch: must be between 1 and 65536, got 65537");
  BOOST_TEST(with([](cfg_t& c) { c.forward_batch = 65536; }).engaged());
  // Through the reader: negative durations and wrong types name the key as well.
  auto clustered = std::vector<std::string>{"--dispatch.cluster.node=1",
                                            "--dispatch.cluster.listen=127.0.0.1:7400"};
  auto args = clustered;
  args.push_back("--dispatch.cluster.join-timeout=-1");
  require_rejection(read(args), "dispatch.cluster.join-timeout: must be > 0");
  require_rejection(read(clustered, "[dispatch.cluster]\npeer-timeout = \"soon\"\n"),
                    "dispatch.cluster.peer-timeout: expected an integer or a duration");
}

BOOST_AUTO_TEST_CASE(a_cluster_needs_one_secret_of_sixteen_characters_never_echoed) {
  using cfg_t = dispatch::cluster_config;
  auto with = [](auto change) {
    auto cfg = loopback_node();
    change(cfg);
    return checked(cfg);
  };
  require_rejection(with([](cfg_t& c) { c.secret.clear(); }),
                    "dispatch.cluster.secret: required to run a cluster node (or "
                    "dispatch.cluster.secret-file)");
  // Required with TLS as well: a certificate is not bound to a node id.
  tls_files files;
  require_rejection(with([&](cfg_t& c) {
                      c.secret.clear();
                      files.apply(c);
                    }),
                    "dispatch.cluster.secret: required");
  auto short_one = with([](cfg_t& c) { c.secret = "hunter2hunter2"; });
  require_rejection(short_one,
                    "dispatch.cluster.secret: the secret must have at least 16 "
                    "characters, got 14");
  BOOST_TEST(why(short_one).find("hunter2") == std::string::npos);
  test::temp_dir dir;
  auto path = dir / "secret";
  std::ofstream{path} << "from a file, sixteen or more\n";
  require_rejection(with([&](cfg_t& c) { c.secret_file = path; }),
                    "dispatch.cluster.secret-file: given together with dispatch.cluster.secret");
  auto from_file = with([&](cfg_t& c) {
    c.secret.clear();
    c.secret_file = path;
  });
  BOOST_REQUIRE_MESSAGE(from_file, why(from_file));
  auto secret = read_secret(*from_file);
  BOOST_REQUIRE(secret);
  BOOST_TEST(*secret == "from a file, sixteen or more"); // without the line break
  require_rejection(with([&](cfg_t& c) {
                      c.secret.clear();
                      c.secret_file = dir / "absent";
                    }),
                    "dispatch.cluster.secret-file: no such file");
}

BOOST_AUTO_TEST_CASE(tls_files_come_all_together_and_readable) {
  tls_files files;
  auto cfg = loopback_node();
  files.apply(cfg);
  BOOST_TEST(!validate(cfg));
  auto without = [&](std::string dispatch::cluster_config::*field) {
    auto copy = cfg;
    copy.*field = "";
    return checked(copy);
  };
  require_rejection(without(&dispatch::cluster_config::certificate),
                    "dispatch.cluster.certificate: required for TLS");
  require_rejection(without(&dispatch::cluster_config::key),
                    "dispatch.cluster.key: required for TLS");
  require_rejection(without(&dispatch::cluster_config::ca_file),
                    "dispatch.cluster.ca-file: required for TLS");
  auto copy = cfg;
  copy.key = files.dir / "missing.key";
  require_rejection(checked(copy), "dispatch.cluster.key: no such file \"" + copy.key + "\"");
  copy = cfg;
  copy.ca_file = files.dir.path();
  require_rejection(checked(copy), "dispatch.cluster.ca-file: not a regular file");
  copy = cfg;
  copy.key.clear();
  copy.certificate.clear();
  copy.ca_file.clear();
  copy.passphrase = "hunter2";
  auto result = checked(copy);
  require_rejection(result, "dispatch.cluster.passphrase: given without dispatch.cluster.key");
  BOOST_TEST(message_of(result.error()).find("hunter2") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_unreadable_tls_file_is_refused) {
  if (geteuid() == 0) {
    BOOST_TEST_MESSAGE("skipped: root reads every file");
    return;
  }
  tls_files files;
  auto cfg = loopback_node();
  files.apply(cfg);
  BOOST_REQUIRE(chmod(files.certificate.c_str(), 0) == 0);
  require_rejection(checked(cfg), "dispatch.cluster.certificate: cannot read");
}

BOOST_AUTO_TEST_CASE(tls_is_required_beyond_loopback) {
  auto cfg = loopback_node();
  cfg.listen = "10.0.0.5:7400";
  require_rejection(checked(cfg),
                    "dispatch.cluster.ca-file: TLS (certificate, key, ca-file) is required when "
                    "nodes listen beyond loopback (listen = 10.0.0.5:7400)");
  cfg = loopback_node();
  cfg.peers[1] = "3@node-c.example.com:7400";
  require_rejection(checked(cfg),
                    "is required when nodes listen beyond loopback "
                    "(peers[1] = 3@node-c.example.com:7400)");
  // Every loopback spelling passes without TLS; TLS passes anywhere.
  cfg = loopback_node();
  cfg.listen = "127.0.0.2:7400";
  cfg.peers = {"2@localhost:7401", "3@[::1]:7402", "4@127.255.0.1:7403"};
  BOOST_TEST(!validate(cfg));
  tls_files files;
  cfg.listen = "10.0.0.5:7400";
  cfg.peers = {"2@10.0.0.6:7400", "3@[fd00::7]:7400"};
  files.apply(cfg);
  BOOST_TEST(!validate(cfg));
}

BOOST_AUTO_TEST_CASE(unknown_keys_and_wrong_types_are_refused_by_name) {
  require_rejection(read({}, "[dispatch.cluster]\npeer = [\"2@127.0.0.1:7401\"]\n"),
                    "unknown option dispatch.cluster.peer; did you mean dispatch.cluster.peers?");
  require_rejection(read({}, "[dispatch.cluster]\nheartbeat-intervall = 100\n"),
                    "unknown option dispatch.cluster.heartbeat-intervall; did you mean "
                    "dispatch.cluster.heartbeat-interval?");
  require_rejection(read({}, "[dispatch.cluster]\nnode = \"one\"\n"),
                    "dispatch.cluster.node: expected an unsigned 32-bit integer");
  require_rejection(read({}, "[dispatch.cluster]\nnode = -1\n"),
                    "dispatch.cluster.node: expected an unsigned 32-bit integer");
  require_rejection(read({}, "[dispatch.cluster]\npeers = [2]\n"),
                    "dispatch.cluster.peers[0]: expected a string");
  require_rejection(read({}, "[dispatch]\ncluster = 1\n"), "dispatch.cluster: expected a section");
}

BOOST_AUTO_TEST_CASE(members_are_self_and_peers_sorted_by_id) {
  auto cfg = loopback_node();
  cfg.node = 2;
  cfg.listen = "LOCALHOST:7401";
  cfg.peers = {"3@[0::1]:7402", "1@127.0.0.1:7400"};
  BOOST_REQUIRE(!validate(cfg));
  auto members = members_of(cfg);
  BOOST_REQUIRE_EQUAL(members.size(), 3u);
  BOOST_TEST(members[0].id == 1u);
  BOOST_TEST(members[0].address == "127.0.0.1:7400");
  BOOST_TEST(members[1].id == 2u);
  BOOST_TEST(members[1].address == "localhost:7401"); // every node spells an address alike
  BOOST_TEST(members[2].id == 3u);
  BOOST_TEST(members[2].address == "[::1]:7402");
}

BOOST_AUTO_TEST_SUITE_END()
