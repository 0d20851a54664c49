// Tests of the HTTP gateway configuration: defaults, every key from the command line and INI,
// host lists in each accepted spelling, wrong types, ranges, unknown keys, tokens, loopback_only.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <caf/config_option_set.hpp>

#include "config/engine_config.hpp"
#include "config/http_config.hpp"
#include "config/sink_config.hpp"
#include "messages/error_code.hpp"
#include "config/config_test.hpp"
#include "fixtures/why.hpp"

using namespace dispatch;
using dispatch::test::parse_and_read;
using dispatch::test::require_rejection;
using dispatch::test::why;
using namespace std::chrono_literals;

namespace {

caf::expected<http_config> read(std::vector<std::string> args, const std::string& ini = "") {
  return parse_and_read(std::move(args), ini, read_http_config);
}

std::vector<std::string> hosts_of(const caf::expected<http_config>& result) {
  BOOST_REQUIRE_MESSAGE(result, why(result));
  return result->hosts;
}

http_config with_hosts(std::vector<std::string> hosts) {
  http_config cfg;
  cfg.hosts = std::move(hosts);
  return cfg;
}

} // namespace

BOOST_AUTO_TEST_SUITE(http_config_reader)

BOOST_AUTO_TEST_CASE(defaults_and_their_place_in_help_and_settings) {
  auto result = read({});
  BOOST_REQUIRE_MESSAGE(result, why(result));
  http_config d;
  BOOST_TEST(result->hosts == (std::vector<std::string>{"127.0.0.1", "::1"}));
  BOOST_TEST(result->port == 8080);
  BOOST_TEST(result->body_limit == d.body_limit);
  BOOST_TEST(result->header_limit == d.header_limit);
  BOOST_TEST(result->header_timeout.count() == d.header_timeout.count());
  BOOST_TEST(result->body_timeout.count() == d.body_timeout.count());
  BOOST_TEST(result->idle_timeout.count() == d.idle_timeout.count());
  BOOST_TEST(result->request_timeout.count() == d.request_timeout.count());
  BOOST_TEST(result->max_connections == d.max_connections);
  BOOST_TEST(result->io_threads == d.io_threads);
  BOOST_TEST(result->tokens.empty());
  // A config without our options (an embedding user's) reads as the defaults too.
  caf::actor_system_config plain;
  auto from_plain = read_http_config(plain);
  BOOST_REQUIRE(from_plain);
  BOOST_TEST(from_plain->port == 8080);
  caf::config_option_set options;
  add_http_options(options);
  BOOST_TEST(options.size() == 11u);
  auto port = options.qualified_name_lookup("dispatch.http", "port");
  BOOST_REQUIRE(port != nullptr);
  auto help = port->description();
  BOOST_TEST(std::string(help.data(), help.size()).find("(default: 8080)") != std::string::npos);
  dispatch::test::all_options_config cfg;
  BOOST_TEST(caf::get_or(cfg, "dispatch.http.port", int64_t{0}) == 8080);
  BOOST_TEST(static_cast<bool>(caf::get_if<caf::config_value::list>(&cfg, "dispatch.http.host")));
}

BOOST_AUTO_TEST_CASE(every_key_from_the_command_line) {
  auto result = read({"--dispatch.http.host=0.0.0.0", "--dispatch.http.port=0",
                      "--dispatch.http.body-limit=1000", "--dispatch.http.header-limit=2048",
                      "--dispatch.http.header-timeout=1s", "--dispatch.http.body-timeout=2000",
                      "--dispatch.http.idle-timeout=3s", "--dispatch.http.request-timeout=4s",
                      "--dispatch.http.max-connections=10", "--dispatch.http.io-threads=2",
                      "--dispatch.http.tokens=abc,def="});
  BOOST_REQUIRE_MESSAGE(result, why(result));
  BOOST_TEST(result->hosts == (std::vector<std::string>{"0.0.0.0"}));
  BOOST_TEST(result->port == 0);
  BOOST_TEST(result->body_limit == 1000u);
  BOOST_TEST(result->header_limit == 2048u);
  BOOST_TEST(result->header_timeout.count() == 1000);
  BOOST_TEST(result->body_timeout.count() == 2000);
  BOOST_TEST(result->idle_timeout.count() == 3000);
  BOOST_TEST(result->request_timeout.count() == 4000);
  BOOST_TEST(result->max_connections == 10u);
  BOOST_TEST(result->io_threads == 2u);
  BOOST_TEST(result->tokens == (std::vector<std::string>{"abc", "def="}));
}

BOOST_AUTO_TEST_CASE(every_key_from_an_ini_file) {
  auto ini
    = "[dispatch.http]\nhost = [\"127.0.0.2\", \"::1\", \"localhost\"]\nport = 9090\n"
      "body-limit = 5000\nheader-limit = 4096\nheader-timeout = 100ms\n"
      "body-timeout = 200\nidle-timeout = 1min\nrequest-timeout = 5000\n"
      "max-connections = 3\nio-threads = 4\ntokens = [\"s3cr3t\", \"other-token\"]\n";
  auto result = read({}, ini);
  BOOST_REQUIRE_MESSAGE(result, why(result));
  BOOST_TEST(result->hosts == (std::vector<std::string>{"127.0.0.2", "::1", "localhost"}));
  BOOST_TEST(result->port == 9090);
  BOOST_TEST(result->body_limit == 5000u);
  BOOST_TEST(result->header_limit == 4096u);
  BOOST_TEST(result->header_timeout.count() == 100);
  BOOST_TEST(result->body_timeout.count() == 200);
  BOOST_TEST(result->idle_timeout.count() == 60000);
  BOOST_TEST(result->request_timeout.count() == 5000);
  BOOST_TEST(result->max_connections == 3u);
  BOOST_TEST(result->io_threads == 4u);
  BOOST_TEST(result->tokens == (std::vector<std::string>{"s3cr3t", "other-token"}));
  // The command line wins over the file.
  auto overridden = read({"--dispatch.http.port=7000"}, ini);
  BOOST_REQUIRE(overridden);
  BOOST_TEST(overridden->port == 7000);
  BOOST_TEST(overridden->io_threads == 4u);
}

BOOST_AUTO_TEST_CASE(host_lists_in_every_spelling) {
  using list = std::vector<std::string>;
  BOOST_TEST(hosts_of(read({"--dispatch.http.host=::1"})) == list{"::1"});
  BOOST_TEST(hosts_of(read({"--dispatch.http.host=127.0.0.1, ::1"})) == (list{"127.0.0.1", "::1"}));
  BOOST_TEST(hosts_of(read({"--dispatch.http.host=[\"10.0.0.1\", \"::\"]"}))
             == (list{"10.0.0.1", "::"}));
  BOOST_TEST(hosts_of(read({"--dispatch.http.host=[::1]"})) == list{"::1"}); // the log's form
  BOOST_TEST(hosts_of(read({}, "[dispatch.http]\nhost = \"0.0.0.0\"\n")) == list{"0.0.0.0"});
  BOOST_TEST(hosts_of(read({}, "[dispatch.http]\nhost = ['localhost']\n")) == list{"localhost"});
  require_rejection(read({}, "[dispatch.http]\nhost = []\n"),
                    "dispatch.http.host: must name at least one address");
  require_rejection(read({"--dispatch.http.host=127.0.0.1,"}), "dispatch.http.host[1]");
  require_rejection(read({}, "[dispatch.http]\nhost = [\"1.2.3.4\", 5]\n"),
                    "dispatch.http.host[1]: expected a string, got 5");
  require_rejection(read({}, "[dispatch.http]\nhost = 5\n"),
                    "dispatch.http.host: expected a list of strings, got 5");
  require_rejection(read({"--dispatch.http.host=not an address"}),
                    "dispatch.http.host[0]: not an IP address or host name");
  require_rejection(read({"--dispatch.http.host=127.0.0.1,::1,127.0.0.1"}),
                    "dispatch.http.host[2]: 127.0.0.1 is listed twice");
}

BOOST_AUTO_TEST_CASE(port_range_and_wrong_types) {
  require_rejection(read({"--dispatch.http.port=70000"}),
                    "dispatch.http.port: expected an integer between 0 and 65535, got 70000");
  require_rejection(read({"--dispatch.http.port=-1"}), "dispatch.http.port");
  require_rejection(read({}, "[dispatch.http]\nport = \"8080\"\n"), "dispatch.http.port");
  BOOST_TEST(read({"--dispatch.http.port=65535"})->port == 65535);
  require_rejection(read({}, "[dispatch.http]\nbody-limit = 0\n"),
                    "dispatch.http.body-limit: must be > 0");
  require_rejection(read({}, "[dispatch.http]\nheader-limit = 100\n"),
                    "dispatch.http.header-limit: must be at least 1024");
  require_rejection(read({}, "[dispatch.http]\nidle-timeout = 0\n"), "dispatch.http.idle-timeout");
  require_rejection(read({}, "[dispatch.http]\nrequest-timeout = 1.5\n"),
                    "dispatch.http.request-timeout: expected an integer or a duration");
  require_rejection(read({}, "[dispatch.http]\nio-threads = 0\n"),
                    "dispatch.http.io-threads: must be between 1 and 64");
  require_rejection(read({}, "[dispatch.http]\nmax-connections = true\n"),
                    "dispatch.http.max-connections: expected an unsigned 32-bit integer");
}

BOOST_AUTO_TEST_CASE(unknown_keys_are_refused_by_name) {
  require_rejection(read({}, "[dispatch.http]\nfoo = 1\n"), "unknown option dispatch.http.foo");
  require_rejection(read({}, "[dispatch.http]\nprot = 1\n"),
                    "unknown option dispatch.http.prot; did you mean dispatch.http.port?");
  require_rejection(read({}, "[dispatch.http.tls]\ncert = \"x\"\n"),
                    "unknown option dispatch.http.tls.cert");
  require_rejection(read({}, "[dispatch.http.port]\nx = 1\n"),
                    "dispatch.http.port: expected a value, got a section");
  require_rejection(read({}, "[dispatch]\nhttp = 1\n"), "dispatch.http: expected a section");
  // CAF itself refuses an unknown option on the command line.
  auto cli = read({"--dispatch.http.foo=1"});
  BOOST_REQUIRE(!cli);
  BOOST_TEST(message_of(cli.error()).find("dispatch.http.foo") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(tokens_must_be_bearer_tokens_and_stay_secret) {
  require_rejection(read({}, "[dispatch.http]\ntokens = [\"good\", \"has space\"]\n"),
                    "dispatch.http.tokens[1]: not a bearer token");
  auto bad = read({}, "[dispatch.http]\ntokens = [\"s3cr3t\\n\"]\n");
  BOOST_REQUIRE(!bad);
  BOOST_TEST(message_of(bad.error()).find("s3cr3t") == std::string::npos);
  require_rejection(read({}, "[dispatch.http]\ntokens = [\"\"]\n"), "dispatch.http.tokens[0]");
  require_rejection(read({}, "[dispatch.http]\ntokens = [\"==\"]\n"), "dispatch.http.tokens[0]");
  auto single = read({}, "[dispatch.http]\ntokens = \"only-one\"\n");
  BOOST_REQUIRE(single);
  BOOST_TEST(single->tokens == std::vector<std::string>{"only-one"});
  auto none = read({"--dispatch.http.tokens=[]"});
  BOOST_REQUIRE(none);
  BOOST_TEST(none->tokens.empty());
}

BOOST_AUTO_TEST_CASE(loopback_only_knows_loopback_addresses) {
  BOOST_TEST(loopback_only(http_config{}));
  BOOST_TEST(loopback_only(with_hosts({"127.0.0.1"})));
  BOOST_TEST(loopback_only(with_hosts({"127.255.0.9", "::1", "LocalHost"})));
  BOOST_TEST(loopback_only(with_hosts({"::ffff:127.0.0.1"})));
  BOOST_TEST(loopback_only(with_hosts({"0:0:0:0:0:0:0:1"})));
  BOOST_TEST(!loopback_only(with_hosts({"0.0.0.0"})));
  BOOST_TEST(!loopback_only(with_hosts({"::"})));
  BOOST_TEST(!loopback_only(with_hosts({"127.0.0.1", "10.1.2.3"})));
  BOOST_TEST(!loopback_only(with_hosts({"128.0.0.1"})));
  BOOST_TEST(!loopback_only(with_hosts({"::2"})));
  BOOST_TEST(!loopback_only(with_hosts({"example.com"})));
  BOOST_TEST(!loopback_only(with_hosts({"localhost.example.com"})));
  BOOST_TEST(!loopback_only(with_hosts({"::ffff:10.0.0.1"})));
}

BOOST_AUTO_TEST_CASE(example_ini_parses_to_the_defaults) {
  auto path = dispatch::test::example_ini_path();
  std::ifstream file{path};
  BOOST_REQUIRE(file.good());
  dispatch::test::all_options_config cfg;
  auto err = cfg.parse({}, file);
  BOOST_REQUIRE_MESSAGE(!err, caf::to_string(err));
  auto http = read_http_config(cfg);
  BOOST_REQUIRE_MESSAGE(http, why(http));
  BOOST_TEST(http->hosts == (std::vector<std::string>{"127.0.0.1", "::1"}));
  BOOST_TEST(http->port == 8080);
  BOOST_TEST(http->request_timeout.count() == http_config{}.request_timeout.count());
  BOOST_TEST(http->tokens.empty());
  auto sinks = read_sink_config(cfg);
  BOOST_REQUIRE_MESSAGE(sinks, why(sinks));
  BOOST_TEST(!sinks->task);
  BOOST_TEST(!sinks->mail);
  BOOST_TEST(caf::get_or(cfg, "dispatch.sinks.breaker-failures", int64_t{0}) == 5);
  BOOST_TEST(read_engine_config(cfg).engaged());
}

BOOST_AUTO_TEST_SUITE_END()
