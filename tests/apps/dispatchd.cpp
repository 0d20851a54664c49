// Tests of the dispatchd binary as an operator meets it: a child process with a temporary data
// directory and port 0, its stderr in a file. Help, start, /health, clean stops, and refusals.
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "fixtures/dispatchd_process.hpp"
#include "fixtures/http_client.hpp"
#include "fixtures/http_test_server.hpp"
#include "fixtures/proc_threads.hpp"
#include "fixtures/temp_dir.hpp"

using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

constexpr auto deadline = 60s; // generous: the machine is shared

/// Runs dispatchd to its end; returns the exit status and what it wrote.
std::pair<int, std::string> run_to_exit(const temp_dir& dir, std::vector<std::string> args) {
  dispatchd_process process{std::move(args), dir / "run.log"};
  auto status = process.exit_status();
  return {status, process.log()};
}

std::vector<std::string> args_for(const temp_dir& dir, std::vector<std::string> more = {}) {
  return dispatchd_args(dir / "data", std::move(more));
}

/// A socket bound and listening on 127.0.0.1 at a free port, closed with this object.
struct taken_port {
  int fd = -1;
  uint16_t port = 0;
  taken_port() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    BOOST_REQUIRE(::listen(fd, 4) == 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  ~taken_port() { ::close(fd); }
};

/// Checks that every line of `log` has the one format: `<UTC time> <LEVEL> <component>: <text>`.
void check_line_format(const std::string& log) {
  std::istringstream lines{log};
  std::regex line_format{
    R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (ERROR|WARN |INFO |DEBUG) [a-z]+: .+)"};
  for (std::string line; std::getline(lines, line);)
    BOOST_TEST(std::regex_match(line, line_format), line);
}

} // namespace

BOOST_AUTO_TEST_SUITE(dispatchd_binary)

BOOST_AUTO_TEST_CASE(readers_run_at_the_configured_lower_priority_and_nothing_else_does) {
  // Three readers and the replayer 7 nice steps below the process: four threads, no more, no
  // fewer. Every other thread (ingest, matchers, emitters, HTTP) keeps the priority it started
  // with, the one this test runs at.
  auto base = ::getpriority(PRIO_PROCESS, 0);
  auto below = std::min(19, base + 7);
  temp_dir dir;
  dispatchd_process dispatchd{args_for(dir, {"--dispatch.readers=3", "--dispatch.readers-nice=7",
                                             "--dispatch.readers-cpu=0.5"}),
                              dir / "run.log"};
  http_client client{"127.0.0.1", dispatchd.port_of("127.0.0.1")};
  BOOST_TEST(client.request("GET", "/deliveries/v1/").status == 200u); // a reader answered
  auto threads = threads_of(dispatchd.pid());
  // Lowered: 7 nice steps below, and under SCHED_IDLE (`readers-idle`, on by default).
  auto lowered = std::count_if(threads.begin(), threads.end(),
                               [&](auto& t) { return t.nice == below && t.policy == SCHED_IDLE; });
  auto others = std::count_if(threads.begin(), threads.end(),
                              [&](auto& t) { return t.nice == base && t.policy == SCHED_OTHER; });
  BOOST_TEST(lowered == 4);
  BOOST_TEST(others + lowered == static_cast<long>(threads.size()));
  BOOST_TEST(others > 4); // the scheduler's workers, the HTTP io thread, the sinks...
  // The readers are named for `top -H`, and lowered; the fourth lowered thread is the replayer.
  auto readers = std::count_if(threads.begin(), threads.end(), [&](auto& t) {
    return t.name == "dispatch-reader" && t.nice == below && t.policy == SCHED_IDLE;
  });
  BOOST_TEST(readers == 3);
  dispatchd.signal(SIGTERM);
  BOOST_TEST(dispatchd.exit_status() == 0);
  // The log says what the readers may use.
  BOOST_TEST(contains(dispatchd.log(), "3 readers, together at most 0.5 cores' worth of CPU"),
             dispatchd.log());
}

BOOST_AUTO_TEST_CASE(help_lists_the_dispatch_options) {
  temp_dir dir;
  auto [status, output] = run_to_exit(dir, {"--help"});
  BOOST_TEST(status == 0);
  BOOST_TEST(contains(output, "--dispatch.http.port"), output);
  BOOST_TEST(contains(output, "--dispatch.data-dir"));
  BOOST_TEST(contains(output, "--dispatch.sinks.task.url"));
  BOOST_TEST(contains(output, "--dispatch.log.level"));
  BOOST_TEST(contains(output, "--config-file"));
  auto [dump_status, dump] = run_to_exit(dir, {"--dump-config", "--dispatch.http.port=9999"});
  BOOST_TEST(dump_status == 0);
  BOOST_TEST(contains(dump, "port = 9999"), dump);
  BOOST_TEST(!std::filesystem::exists(dir / "data")); // neither starts anything
}

BOOST_AUTO_TEST_CASE(starts_answers_health_and_stops_cleanly) {
  temp_dir dir;
  {
    dispatchd_process dispatchd{args_for(dir, {"--dispatch.http.tokens=[s3cr3t-t0ken]"}),
                                dir / "first.log"};
    auto port = dispatchd.port_of("127.0.0.1");
    BOOST_TEST(port != 0);
    http_client client{"127.0.0.1", port};
    auto health = client.request("GET", "/health");
    BOOST_TEST(health.status == 200u, health.body);
    // A dispatcher created now must be there after the restart.
    auto created = client.request("POST", "/dispatchers/v1/",
                                  R"({"eventType":"restart_probe","name":"survives"})",
                                  {{"Authorization", "Bearer s3cr3t-t0ken"}});
    BOOST_TEST(created.status == 200u, created.body);
    dispatchd.signal(SIGTERM);
    BOOST_TEST(dispatchd.exit_status() == 0);
    auto log = dispatchd.log();
    // Every line, RocksDB's and the engine's included: an ISO timestamp, a level, the component,
    // the text.
    check_line_format(log);
    BOOST_TEST(contains(log, "INFO  dispatchd: dispatchd "), log);
    BOOST_TEST(contains(log, "config: "));
    BOOST_TEST(contains(log, "http.port=0"));
    BOOST_TEST(!contains(log, "s3cr3t-t0ken")); // tokens are masked
    BOOST_TEST(contains(log, "data directory: " + dir / "data"));
    BOOST_TEST(contains(log, "task sink: built-in log"));
    BOOST_TEST(contains(log, "received SIGTERM"));
    BOOST_TEST(log.find("listening on") < log.find("ready"));
  }
  // The data directory reopens, with what was written to it.
  dispatchd_process again{args_for(dir, {"--dispatch.http.tokens=s3cr3t-t0ken"}),
                          dir / "second.log"};
  http_client client{"127.0.0.1", again.port_of("127.0.0.1")};
  auto found = client.request("GET", "/dispatchers/v1/?eq(name,survives)", "",
                              {{"Authorization", "Bearer s3cr3t-t0ken"}});
  BOOST_TEST(found.status == 200u);
  BOOST_TEST(contains(found.body, "restart_probe"), found.body);
  again.signal(SIGINT);
  BOOST_TEST(again.exit_status() == 0);
  BOOST_TEST(contains(again.log(), "received SIGINT"));
}

BOOST_AUTO_TEST_CASE(the_log_level_drops_info_lines_and_a_component_level_lets_one_through) {
  temp_dir dir;
  dispatchd_process dispatchd{
    args_for(dir, {"--dispatch.log.level=warning", "--dispatch.log.components=http=info"}),
    dir / "run.log"};
  // dispatchd's own "ready" is an info line and dropped: the http component's line says it serves.
  auto listening = dispatchd.wait_for("INFO  http: listening on 127\\.0\\.0\\.1:([0-9]+)");
  BOOST_REQUIRE_MESSAGE(!listening.empty(), dispatchd.log());
  http_client client{"127.0.0.1", static_cast<uint16_t>(std::stoi(listening[1].str()))};
  BOOST_TEST(client.request("GET", "/health").status == 200u);
  dispatchd.signal(SIGTERM);
  BOOST_TEST(dispatchd.exit_status() == 0);
  auto log = dispatchd.log();
  check_line_format(log);
  std::istringstream lines{log};
  for (std::string line; std::getline(lines, line);)
    if (contains(line, " INFO ") || contains(line, " DEBUG "))
      BOOST_TEST(contains(line, " http: "), "an info line of another component: " << line);
  BOOST_TEST(!contains(log, "dispatchd: ready"), log);
  BOOST_TEST(!contains(log, "config: "), log);
  BOOST_TEST(!contains(log, "received SIGTERM"), log);
  // The same options in the INI file, with debug for one component: its lines come back.
  std::ofstream{dir / "log.ini"} << "[dispatch.log]\nlevel = \"error\"\n"
                                    "components = [\"dispatchd=debug\"]\n";
  dispatchd_process again{args_for(dir, {"--config-file=" + dir / "log.ini"}), dir / "again.log"};
  BOOST_REQUIRE(!again.wait_for("INFO  dispatchd: ready").empty());
  again.signal(SIGTERM);
  BOOST_TEST(again.exit_status() == 0);
  BOOST_TEST(!contains(again.log(), " http: "), again.log());
}

BOOST_AUTO_TEST_CASE(bad_log_levels_and_components_are_refused_naming_the_key) {
  temp_dir dir;
  auto [status, log] = run_to_exit(dir, args_for(dir, {"--dispatch.log.components=matchr=debug"}));
  BOOST_TEST(status == 1);
  BOOST_TEST(contains(log,
                      "ERROR dispatchd: invalid configuration: dispatch.log.components[0]: "
                      "unknown component \"matchr\""),
             log);
  check_line_format(log);
  auto [level_status, level_log] = run_to_exit(dir, args_for(dir, {"--dispatch.log.level=loud"}));
  BOOST_TEST(level_status == 1);
  BOOST_TEST(contains(level_log, "dispatch.log.level: expected error, warning, info or debug"),
             level_log);
  BOOST_TEST(!std::filesystem::exists(dir / "data"));
}

BOOST_AUTO_TEST_CASE(a_taken_port_is_refused_naming_the_address) {
  temp_dir dir;
  taken_port taken;
  auto [status, log] = run_to_exit(dir, {"--dispatch.data-dir=" + dir / "data",
                                         "--dispatch.http.host=127.0.0.1",
                                         "--dispatch.http.port=" + std::to_string(taken.port)});
  BOOST_TEST(status == 1);
  BOOST_TEST(contains(log, "ERROR"));
  BOOST_TEST(contains(log, "127.0.0.1:" + std::to_string(taken.port)), log);
  BOOST_TEST(!contains(log, "dispatchd: ready"));
}

BOOST_AUTO_TEST_CASE(a_data_directory_in_use_is_refused_naming_it) {
  temp_dir dir;
  dispatchd_process first{args_for(dir), dir / "first.log"};
  first.port_of("127.0.0.1");
  dispatchd_process second{args_for(dir), dir / "second.log"};
  BOOST_TEST(second.exit_status() == 1);
  auto log = second.log();
  BOOST_TEST(contains(log, "data directory " + dir / "data" + " is in use"), log);
  BOOST_TEST(first.running()); // the holder is untouched
  first.signal(SIGTERM);
  BOOST_TEST(first.exit_status() == 0);
}

BOOST_AUTO_TEST_CASE(invalid_configuration_is_refused_naming_the_key) {
  temp_dir dir;
  std::ofstream{dir / "bad.ini"} << "[dispatch.http]\nport = 0\nfoo = 1\n";
  auto [status, log] = run_to_exit(dir, args_for(dir, {"--config-file=" + dir / "bad.ini"}));
  BOOST_TEST(status == 1);
  BOOST_TEST(contains(log, "unknown option dispatch.http.foo"), log);
  BOOST_TEST(!std::filesystem::exists(dir / "data"));
  auto [port_status, port_log] = run_to_exit(dir, args_for(dir, {"--dispatch.http.port=70000"}));
  BOOST_TEST(port_status == 1);
  BOOST_TEST(contains(port_log, "dispatch.http.port"), port_log);
  BOOST_TEST(std::count(port_log.begin(), port_log.end(), '\n') == 1); // one line
  // A sink's rate is the engine's to enforce, and checked as such.
  auto [rate_status, rate_log] = run_to_exit(dir,
                                             args_for(dir, {"--dispatch.sinks.task.rate=1000001"}));
  BOOST_TEST(rate_status == 1);
  BOOST_TEST(contains(rate_log, "dispatch.sinks.task.rate: must be at most 1000000 (0: unlimited)"),
             rate_log);
  // A deeper INI section would silently drop its siblings: refused with the way out.
  std::ofstream{dir / "deep.ini"} << "[dispatch.sinks]\ntimeout = 5\n[dispatch.sinks.task]\n"
                                     "url = \"http://x\"\n";
  auto [deep_status, deep_log] = run_to_exit(dir,
                                             args_for(dir, {"--config-file=" + dir / "deep.ini"}));
  BOOST_TEST(deep_status == 1);
  BOOST_TEST(contains(deep_log, "[dispatch.sinks.task]"), deep_log);
  // Bad usage: an option nobody knows on the command line, a config file that is not there.
  auto [usage_status, usage_log] = run_to_exit(dir, args_for(dir, {"--dispatch.http.foo=1"}));
  BOOST_TEST(usage_status == 2);
  BOOST_TEST(contains(usage_log, "unknown option --dispatch.http.foo=1"), usage_log);
  auto [stray_status, stray_log] = run_to_exit(dir, args_for(dir, {"stray"}));
  BOOST_TEST(stray_status == 2);
  BOOST_TEST(contains(stray_log, "unexpected argument stray"), stray_log);
  auto [missing_status, missing_log] = run_to_exit(
    dir, args_for(dir, {"--config-file=" + dir / "absent.ini"}));
  BOOST_TEST(missing_status == 2);
  BOOST_TEST(contains(missing_log, "absent.ini"), missing_log);
}

BOOST_AUTO_TEST_CASE(listening_beyond_loopback_requires_tokens) {
  temp_dir dir;
  auto [status, log] = run_to_exit(dir, {"--dispatch.data-dir=" + dir / "data",
                                         "--dispatch.http.port=0", "--dispatch.http.host=0.0.0.0"});
  BOOST_TEST(status == 1);
  BOOST_TEST(contains(log, "tokens are required"), log);
  dispatchd_process guarded{{"--dispatch.data-dir=" + dir / "data", "--dispatch.http.port=0",
                             "--dispatch.http.host=0.0.0.0", "--dispatch.http.tokens=t0k3n"},
                            dir / "guarded.log"};
  auto port = guarded.port_of("0.0.0.0");
  http_client client{"127.0.0.1", port};
  BOOST_TEST(client.request("GET", "/health").status == 200u);
  BOOST_TEST(client.request("GET", "/dispatchers/v1/").status == 401u); // the token is enforced
  BOOST_TEST(
    client.request("GET", "/dispatchers/v1/", "", {{"Authorization", "Bearer t0k3n"}}).status
    == 200u);
  guarded.signal(SIGTERM);
  BOOST_TEST(guarded.exit_status() == 0);
}

BOOST_AUTO_TEST_CASE(the_default_data_directory_is_created_with_its_parents) {
  temp_dir dir;
  // Run from the temp dir: the default ./var/dispatchd lands inside it.
  auto previous = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  dispatchd_process dispatchd{
    {"--dispatch.http.port=0", "--dispatch.http.host=127.0.0.1", "--dispatch.log.level=debug"},
    dir / "run.log"};
  std::filesystem::current_path(previous);
  dispatchd.port_of("127.0.0.1");
  BOOST_TEST(std::filesystem::is_directory(dir / "var/dispatchd"));
  BOOST_TEST(contains(dispatchd.log(), "data directory: " + dir / "var/dispatchd"));
  dispatchd.signal(SIGTERM);
  BOOST_TEST(dispatchd.exit_status() == 0);
}

BOOST_AUTO_TEST_CASE(a_low_soft_file_limit_is_raised_at_start) {
  // Started from a shell whose soft limit is 256 (the hard one stays): dispatchd raises it, says
  // so, and serves 300 connections at once, a publish included.
  temp_dir dir;
  std::vector<std::string> shell{"-c", "ulimit -S -n 256 && exec \"$0\" \"$@\"", DISPATCHD_PATH};
  for (auto& arg : args_for(dir)) shell.push_back(arg);
  dispatchd_process dispatchd{shell, dir / "run.log", "/bin/sh"};
  auto port = dispatchd.port_of("127.0.0.1");
  BOOST_TEST(contains(dispatchd.log(), "(soft limit raised from 256 to the hard limit)"),
             dispatchd.log());
  BOOST_TEST(!contains(dispatchd.log(), "WARN  dispatchd: file descriptors"), dispatchd.log());
  std::vector<std::unique_ptr<http_client>> clients;
  for (int i = 0; i < 300; ++i) {
    clients.push_back(std::make_unique<http_client>("127.0.0.1", port, 10s));
    BOOST_REQUIRE_EQUAL(clients.back()->request("GET", "/health").status, 200u);
  }
  BOOST_TEST(clients.front()->request("POST", "/events/v1/", R"({"type":"t"})").status == 200u);
  clients.clear();
  dispatchd.signal(SIGTERM);
  BOOST_TEST(dispatchd.exit_status() == 0);
}

BOOST_AUTO_TEST_CASE(a_low_hard_file_limit_caps_connections_and_storage_keeps_working) {
  // 320 descriptors in all: storage keeps 80 table files, 192 are reserved, 48 connections are
  // served and the rest refused, so that a flood of idle connections cannot starve RocksDB.
  temp_dir dir;
  std::vector<std::string> shell{"-c", "ulimit -S -n 320 && ulimit -H -n 320 && exec \"$0\" \"$@\"",
                                 DISPATCHD_PATH};
  for (auto& arg : args_for(dir)) shell.push_back(arg);
  dispatchd_process dispatchd{shell, dir / "run.log", "/bin/sh"};
  auto port = dispatchd.port_of("127.0.0.1");
  BOOST_TEST(contains(dispatchd.log(),
                      "storage keeps up to 80 files open, 192 are kept for logs, "
                      "sinks and the cluster, HTTP connections are capped at 48"),
             dispatchd.log());
  http_client first{"127.0.0.1", port, 10s};
  BOOST_REQUIRE_EQUAL(first.request("GET", "/health").status, 200u);
  std::vector<int> idle;
  for (int i = 0; i < 330; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0)
      idle.push_back(fd);
    else
      ::close(fd);
  }
  BOOST_TEST(eventually([&] { return contains(dispatchd.log(), "connection cap of 48 reached"); }),
             dispatchd.log());
  for (int i = 0; i < 20; ++i)
    BOOST_REQUIRE_EQUAL(first.request("POST", "/events/v1/", R"({"type":"t"})").status, 200u);
  for (int fd : idle) ::close(fd);
  BOOST_TEST(eventually([&] {
    http_client fresh{"127.0.0.1", port, 10s};
    return fresh.request("POST", "/events/v1/", R"({"type":"t"})").status == 200u;
  }));
  dispatchd.signal(SIGTERM);
  BOOST_TEST(dispatchd.exit_status() == 0);
}

BOOST_AUTO_TEST_CASE(a_task_webhook_receives_deliveries_with_its_headers) {
  temp_dir dir;
  http_test_server task_service;
  // The map form: CAF's INI reader would let [dispatch.sinks.task] replace [dispatch.sinks].
  std::ofstream{dir / "sinks.ini"} << "[dispatch.sinks]\ntimeout = 5s\ntask = {\n  url = \""
                                   << task_service.url()
                                   << "/\"\n  headers = [\"Authorization: Bearer task-s3cret\", "
                                      "\"X-Env: test\"]\n}\n";
  dispatchd_process dispatchd{args_for(dir, {"--config-file=" + dir / "sinks.ini"}),
                              dir / "run.log"};
  http_client client{"127.0.0.1", dispatchd.port_of("127.0.0.1")};
  auto log = dispatchd.log();
  BOOST_TEST(
    contains(log, "task sink: webhook POST " + task_service.url() + "/tasks/v1/ (2 headers)"), log);
  BOOST_TEST(contains(log, "mail sink: built-in log"));
  BOOST_TEST(!contains(log, "task-s3cret")); // header values are masked in the summary
  auto created = client.request(
    "POST", "/dispatchers/v1/",
    R"({"eventType":"user_created","actions":[{"type":"task","functionName":"welcome"}]})");
  BOOST_REQUIRE_MESSAGE(created.status == 200u, created.body);
  auto published = client.request("POST", "/events/v1/", R"({"type":"user_created"})");
  BOOST_REQUIRE_MESSAGE(published.status == 200u, published.body);
  BOOST_REQUIRE(task_service.wait_for_requests(1, std::chrono::milliseconds{deadline}));
  auto request = task_service.requests().front();
  BOOST_TEST(request.method == "POST");
  BOOST_TEST(request.target == "/tasks/v1/");
  BOOST_TEST(request.header("Authorization") == "Bearer task-s3cret");
  BOOST_TEST(request.header("X-Env") == "test");
  BOOST_TEST(contains(request.body, "welcome"), request.body);
  dispatchd.signal(SIGTERM);
  BOOST_TEST(dispatchd.exit_status() == 0);
}

BOOST_AUTO_TEST_CASE(secrets_are_masked_in_the_log_the_dump_and_delivery_errors) {
  // A token given as a scalar in the INI file, a sink URL with a password, and a sink that refuses
  // connections, so that the URL ends up in a delivery's last error.
  temp_dir dir;
  int closed = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::bind(closed, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  ::getsockname(closed, reinterpret_cast<sockaddr*>(&addr), &len); // bound, never listening
  std::ofstream{dir / "secrets.ini"}
    << "[dispatch.http]\ntokens = \"scalar-s3cret-t0ken\"\n[dispatch.sinks]\ntask = {\n"
    << "  url = \"http://robot:pa55-w0rd@127.0.0.1:" << ntohs(addr.sin_port) << "/\"\n}\n";
  auto config = "--config-file=" + dir / "secrets.ini";
  auto [dump_status, dump] = run_to_exit(dir, {"--dump-config", config});
  BOOST_TEST(dump_status == 0, dump);
  BOOST_TEST(contains(dump, "tokens = \"***\""), dump);
  BOOST_TEST(contains(dump, "url = \"http://***@127.0.0.1:"), dump);
  BOOST_TEST(!contains(dump, "scalar-s3cret-t0ken"));
  BOOST_TEST(!contains(dump, "pa55-w0rd"));

  dispatchd_process dispatchd{args_for(dir, {config}), dir / "run.log"};
  http_client client{"127.0.0.1", dispatchd.port_of("127.0.0.1")};
  http_header_list auth{{"Authorization", "Bearer scalar-s3cret-t0ken"}};
  auto created = client.request(
    "POST", "/dispatchers/v1/",
    R"({"eventType":"user_created","actions":[{"type":"task","functionName":"welcome"}]})", auth);
  BOOST_REQUIRE_MESSAGE(created.status == 200u, created.body);
  BOOST_REQUIRE(client.request("POST", "/events/v1/", R"({"type":"user_created"})", auth).status
                == 200u);
  std::string listed;
  BOOST_TEST(eventually([&] {
               listed = client.request("GET", "/deliveries/v1/", "", auth).body;
               return contains(listed, "lastError");
             }),
             listed);
  BOOST_TEST(contains(listed, "http://***@127.0.0.1:"), listed);
  BOOST_TEST(!contains(listed, "pa55-w0rd"));
  auto log = dispatchd.log();
  BOOST_TEST(!contains(log, "scalar-s3cret-t0ken"), log);
  BOOST_TEST(!contains(log, "pa55-w0rd"), log);
  dispatchd.signal(SIGTERM);
  BOOST_TEST(dispatchd.exit_status() == 0);
  ::close(closed);
}

BOOST_AUTO_TEST_SUITE_END()
