// Tests of the sink configuration: the built-in log by default, webhooks per kind with their
// header lines, shared limits, and refusals naming the key (URLs, headers, types, unknown keys).
#include <boost/test/unit_test.hpp>

#include <sstream>

#include <caf/config_option_set.hpp>

#include "config/engine_config.hpp"
#include "config/sink_config.hpp"
#include "messages/error_code.hpp"
#include "config/config_test.hpp"
#include "fixtures/why.hpp"

using namespace dispatch;
using dispatch::test::parse_and_read;
using dispatch::test::require_rejection;
using dispatch::test::why;

namespace {

caf::expected<sinks_config> read(std::vector<std::string> args, const std::string& ini = "") {
  return parse_and_read(std::move(args), ini, read_sink_config);
}

caf::expected<sinks_config> task_url(const std::string& url) {
  return read({"--dispatch.sinks.task.url=" + url});
}

caf::expected<sinks_config> task_header(const std::string& line) {
  return read({}, "[dispatch.sinks.task]\nurl = \"http://tasks.local\"\nheaders = [\"" + line
                    + "\"]\n");
}

using header_list = std::vector<std::pair<std::string, std::string>>;

} // namespace

BOOST_AUTO_TEST_SUITE(sink_config_reader)

BOOST_AUTO_TEST_CASE(defaults_are_the_built_in_log) {
  auto result = read({});
  BOOST_REQUIRE_MESSAGE(result, why(result));
  BOOST_TEST(!result->task);
  BOOST_TEST(!result->mail);
  caf::actor_system_config plain;
  auto from_plain = read_sink_config(plain);
  BOOST_REQUIRE(from_plain);
  BOOST_TEST(!from_plain->task);
  caf::config_option_set options;
  add_sink_options(options);
  BOOST_TEST(options.size() == 10u);
  BOOST_TEST(result->task_rate == 0u); // unlimited
  BOOST_TEST(result->mail_rate == 0u);
  const std::vector<std::pair<std::string, std::string>> keys{
    {"dispatch.sinks.task", "rate"},        {"dispatch.sinks.mail", "rate"},
    {"dispatch.sinks.task", "url"},         {"dispatch.sinks.task", "headers"},
    {"dispatch.sinks.mail", "url"},         {"dispatch.sinks.mail", "headers"},
    {"dispatch.sinks", "timeout"},          {"dispatch.sinks", "max-connections"},
    {"dispatch.sinks", "breaker-failures"}, {"dispatch.sinks", "breaker-open"}};
  for (auto& [category, name] : keys)
    BOOST_TEST(options.qualified_name_lookup(category, name) != nullptr, category << "." << name);
  dispatch::test::all_options_config cfg;
  BOOST_TEST(caf::get_or(cfg, "dispatch.sinks.timeout", int64_t{0}) == 10000);
  BOOST_TEST(caf::get_or(cfg, "dispatch.sinks.task.url", std::string{"unset"}).empty());
}

BOOST_AUTO_TEST_CASE(every_key_from_an_ini_file) {
  // CAF's INI parser lets a [dispatch.sinks.task] section replace all of [dispatch.sinks]: the
  // kinds are written as maps inside the one section.
  auto ini
    = "[dispatch.sinks]\ntimeout = 2s\nmax-connections = 8\nbreaker-failures = 3\n"
      "breaker-open = 1500\n"
      "task = {\n  url = \"https://api.example.com/\"\n"
      "  headers = [\"Authorization: Bearer abc\", \"X-Env:  prod \"]\n}\n"
      "mail = { url = \"http://[::1]:8025/base\" }\n";
  auto result = read({}, ini);
  BOOST_REQUIRE_MESSAGE(result, why(result));
  BOOST_REQUIRE(result->task);
  BOOST_REQUIRE(result->mail);
  auto& task = *result->task;
  BOOST_TEST(task.url == "https://api.example.com"); // the trailing '/' is dropped
  BOOST_TEST((task.headers == header_list{{"Authorization", "Bearer abc"}, {"X-Env", "prod"}}));
  BOOST_TEST(task.timeout.count() == 2000);
  BOOST_TEST(task.max_connections == 8u);
  BOOST_TEST(task.breaker_failures == 3u);
  BOOST_TEST(task.breaker_open.count() == 1500);
  auto& mail = *result->mail;
  BOOST_TEST(mail.url == "http://[::1]:8025/base");
  BOOST_TEST(mail.headers.empty());
  BOOST_TEST(mail.timeout.count() == 2000); // the shared settings apply to both
  BOOST_TEST(mail.breaker_failures == 3u);
}

BOOST_AUTO_TEST_CASE(every_key_from_the_command_line) {
  auto result = read({"--dispatch.sinks.mail.url=http://mail.local:8080",
                      "--dispatch.sinks.mail.headers=[\"X-A: 1\", \"X-B: two words\"]",
                      "--dispatch.sinks.timeout=500ms", "--dispatch.sinks.max-connections=2",
                      "--dispatch.sinks.breaker-failures=9", "--dispatch.sinks.breaker-open=1s"});
  BOOST_REQUIRE_MESSAGE(result, why(result));
  BOOST_TEST(!result->task);
  BOOST_REQUIRE(result->mail);
  BOOST_TEST(result->mail->url == "http://mail.local:8080");
  BOOST_TEST((result->mail->headers == header_list{{"X-A", "1"}, {"X-B", "two words"}}));
  BOOST_TEST(result->mail->timeout.count() == 500);
  BOOST_TEST(result->mail->max_connections == 2u);
  BOOST_TEST(result->mail->breaker_failures == 9u);
  BOOST_TEST(result->mail->breaker_open.count() == 1000);
  // A single header line needs no list brackets.
  auto single = read(
    {"--dispatch.sinks.task.url=http://t", "--dispatch.sinks.task.headers=X-A: 1"});
  BOOST_REQUIRE_MESSAGE(single, why(single));
  BOOST_TEST((single->task->headers == header_list{{"X-A", "1"}}));
}

BOOST_AUTO_TEST_CASE(bad_urls_are_refused_naming_the_key) {
  require_rejection(task_url("ftp://files.local"),
                    "dispatch.sinks.task.url: must start with http:// or https://");
  require_rejection(task_url("api.example.com"), "must start with http:// or https://");
  require_rejection(task_url("http://"), "dispatch.sinks.task.url: has no host");
  require_rejection(task_url("http:///tasks"), "has no host");
  require_rejection(task_url("http://user@/x"), "has no host");
  require_rejection(task_url("http://a b"), "must not contain spaces");
  require_rejection(task_url("http://host/?x=1"), "must not have a query or fragment");
  require_rejection(task_url("http://host:99999"), "has a port that is not a number");
  require_rejection(task_url("http://host:"), "has a port that is not a number");
  require_rejection(task_url("http://host:0"), "has a port that is not a number");
  require_rejection(task_url("http://host:8x"), "has a port that is not a number");
  require_rejection(task_url("http://[::1"), "has an unterminated IPv6 address");
  require_rejection(task_url("http://[::1]x"), "has text after its IPv6 address");
  require_rejection(read({"--dispatch.sinks.mail.url=mailto:x@y"}), "dispatch.sinks.mail.url");
  require_rejection(read({}, "[dispatch.sinks.task]\nurl = 42\n"),
                    "dispatch.sinks.task.url: expected a string, got 42");
  BOOST_TEST(task_url("HTTPS://Example.com:443/api").engaged());
}

BOOST_AUTO_TEST_CASE(bad_header_lines_are_refused_without_echoing_values) {
  require_rejection(task_header("Authorization Bearer s3cr3t"),
                    "dispatch.sinks.task.headers[0]: expected \"Name: value\"");
  require_rejection(task_header(": value"), "expected \"Name: value\"");
  require_rejection(task_header("Bad Name: x"), "expected \"Name: value\"");
  require_rejection(task_header("X-Empty:   "), "header X-Empty has no value");
  require_rejection(task_header("X-Bad: a\\rInjected: 1"), "header X-Bad has a control character");
  require_rejection(task_header("Content-Length: 5"), "header Content-Length is set by the sink");
  require_rejection(task_header("idempotency-key: x"), "is set by the sink");
  auto secret = task_header("Authorization Bearer s3cr3t");
  BOOST_REQUIRE(!secret);
  BOOST_TEST(message_of(secret.error()).find("s3cr3t") == std::string::npos);
  require_rejection(
    read({}, "[dispatch.sinks.task]\nurl = \"http://t\"\nheaders = [\"X: 1\", 2]\n"),
    "dispatch.sinks.task.headers[1]: expected a string, got 2");
  require_rejection(read({}, "[dispatch.sinks.mail]\nheaders = [\"X-A: 1\"]\n"),
                    "dispatch.sinks.mail.headers: given without dispatch.sinks.mail.url");
  // A colon inside the value is part of the value.
  auto colon = task_header("X-Time: 12:30");
  BOOST_REQUIRE(colon);
  BOOST_TEST((colon->task->headers == header_list{{"X-Time", "12:30"}}));
}

BOOST_AUTO_TEST_CASE(shared_settings_types_and_ranges) {
  require_rejection(read({}, "[dispatch.sinks]\ntimeout = 0\n"),
                    "dispatch.sinks.timeout: must be > 0");
  require_rejection(read({}, "[dispatch.sinks]\nmax-connections = 0\n"),
                    "dispatch.sinks.max-connections: must be > 0");
  require_rejection(read({}, "[dispatch.sinks]\nbreaker-failures = 0\n"),
                    "dispatch.sinks.breaker-failures: must be > 0");
  require_rejection(read({}, "[dispatch.sinks]\nbreaker-open = \"soon\"\n"),
                    "dispatch.sinks.breaker-open: expected an integer or a duration");
  require_rejection(read({}, "[dispatch.sinks]\nmax-connections = -4\n"),
                    "dispatch.sinks.max-connections: expected an unsigned 32-bit integer");
}

BOOST_AUTO_TEST_CASE(rates_per_kind_with_or_without_a_webhook) {
  // The built-in log takes a rate too: it stands in for the service the rate protects.
  auto result = read({"--dispatch.sinks.task.rate=250", "--dispatch.sinks.mail.rate=3"});
  BOOST_REQUIRE_MESSAGE(result, why(result));
  BOOST_TEST(result->task_rate == 250u);
  BOOST_TEST(result->mail_rate == 3u);
  BOOST_TEST(!result->task);
  auto ini = read({}, "[dispatch.sinks]\ntask = { url = \"http://t\", rate = 40 }\n");
  BOOST_REQUIRE_MESSAGE(ini, why(ini));
  BOOST_TEST(ini->task_rate == 40u);
  BOOST_REQUIRE(ini->task);
  // Too high a rate is refused by `validate(engine_config)`, which dispatchd applies to the rates
  // it hands the engine (config.engine_config, apps.dispatchd).
  require_rejection(read({}, "[dispatch.sinks]\nmail = { rate = -1 }\n"),
                    "dispatch.sinks.mail.rate: expected an unsigned 32-bit integer");
}

BOOST_AUTO_TEST_CASE(unknown_keys_are_refused_by_name) {
  require_rejection(read({}, "[dispatch.sinks]\nfoo = 1\n"), "unknown option dispatch.sinks.foo");
  require_rejection(
    read({}, "[dispatch.sinks.task]\nulr = \"http://x\"\n"),
    "unknown option dispatch.sinks.task.ulr; did you mean dispatch.sinks.task.url?");
  require_rejection(read({}, "[dispatch.sinks.sms]\nurl = \"http://x\"\n"),
                    "unknown option dispatch.sinks.sms.url");
  require_rejection(read({}, "[dispatch.sinks]\ntask = \"http://x\"\n"),
                    "unknown option dispatch.sinks.task");
  require_rejection(read({}, "[dispatch]\nsinks = 1\n"), "dispatch.sinks: expected a section");
}

BOOST_AUTO_TEST_SUITE_END()
