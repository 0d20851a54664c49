// Backup and restore as an operator does them, against real dispatchd processes: `dispatchd backup`
// copies a node while a publisher keeps publishing, `dispatchd restore` puts the copy into a fresh
// directory, and a second dispatchd started there delivers every event acknowledged before the
// backup exactly as the original did. Also the refusals, one backup at a time, a node stopped
// mid-backup, and deliveries still waiting in the copy going out from the restored node.
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "fixtures/child_process.hpp"
#include "fixtures/dispatchd_process.hpp"
#include "fixtures/http_client.hpp"
#include "fixtures/http_test_server.hpp"
#include "fixtures/temp_dir.hpp"

using namespace dispatch::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

/// What a `dispatchd backup` or `dispatchd restore` command printed, and how it exited.
struct command_result {
  int status = -1; // the exit status; -1 when killed
  std::string output;
};

/// A dispatchd command run as a child process, its stdout and stderr in `log`.
class dispatchd_command {
public:
  dispatchd_command(std::vector<std::string> args, std::string log)
      : log_(std::move(log)), child_(with_binary(std::move(args)), log_) {}

  /// Waits for the exit; fails the test when it does not come in time.
  command_result result() {
    BOOST_CHECK_MESSAGE(child_.wait_exit(dispatchd_deadline),
                        "the command did not end:\n" + read_text_file(log_));
    auto status = child_.kill_and_reap();
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text_file(log_)};
  }

  std::string output() const { return read_text_file(log_); }

private:
  static std::vector<std::string> with_binary(std::vector<std::string> args) {
    args.insert(args.begin(), DISPATCH_TEST_DISPATCHD_PATH);
    return args;
  }

  std::string log_;
  child_process child_;
};

command_result run_command(std::vector<std::string> args, const std::string& log) {
  return dispatchd_command{std::move(args), log}.result();
}

std::string url_of(uint16_t port) {
  return "http://127.0.0.1:" + std::to_string(port);
}

/// The path as the node reports it (symbolic links of a temporary directory resolved).
std::string resolved(const std::string& path) {
  return fs::weakly_canonical(path).string();
}

std::string backup_body(const std::string& to) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> out{buffer};
  out.StartObject();
  out.Key("to");
  out.String(to.c_str());
  out.EndObject();
  return buffer.GetString();
}

/// `GET /admin/v1/backup`, parsed.
rapidjson::Document backup_status(http_client& client, const http_header_list& headers = {}) {
  auto answer = client.request("GET", "/admin/v1/backup", "", headers);
  BOOST_REQUIRE_MESSAGE(answer.status == 200u, answer.body);
  auto doc = json_of(answer);
  BOOST_REQUIRE_MESSAGE(!doc.HasParseError() && doc.IsObject(), answer.body);
  return doc;
}

std::string state_of(http_client& client, const http_header_list& headers = {}) {
  return backup_status(client, headers)["state"].GetString();
}

/// A file that makes the node's backups wait before they copy (DISPATCH_FAULT_PAUSE_BACKUP), so
/// that a backup is deterministically running while the test acts.
struct backup_pause {
  std::string path;
  explicit backup_pause(std::string p) : path(std::move(p)) { std::ofstream{path} << "wait\n"; }
  /// True once a backup reached the pause.
  bool entered() const { return fs::exists(path + ".entered"); }
  void release() const { fs::remove(path); }
};

/// A dispatchd started with the backup pause in its environment.
std::unique_ptr<dispatchd_process> paused_node(const temp_dir& dir, const backup_pause& pause,
                                               std::vector<std::string> more = {}) {
  ::setenv("DISPATCH_FAULT_PAUSE_BACKUP", pause.path.c_str(), 1);
  auto node = std::make_unique<dispatchd_process>(dispatchd_args(dir / "data", std::move(more)),
                                                  dir / "node.log");
  ::unsetenv("DISPATCH_FAULT_PAUSE_BACKUP"); // the child has its copy
  return node;
}

/// A node whose backups wait before they copy (see `backup_pause`), and a client of it.
struct paused_backups {
  temp_dir dir;
  backup_pause pause{dir / "pause-backup"};
  std::unique_ptr<dispatchd_process> node = paused_node(dir, pause);
  uint16_t port = node->port_of("127.0.0.1");
  http_client client{"127.0.0.1", port, 30s};

  /// Starts a backup into `to` and waits until it holds at the pause.
  void start(const std::string& to) {
    auto started = client.request("POST", "/admin/v1/backup", backup_body(to));
    BOOST_REQUIRE_MESSAGE(started.status == 200u, started.body);
    BOOST_TEST(std::string{json_of(started)["state"].GetString()} == "running");
    BOOST_REQUIRE_MESSAGE(eventually([&] { return pause.entered(); }), node->log());
  }
};

/// The dispatcher of these tests: two task actions per `order` event, each with data of its own,
/// so every event makes two deliveries (ordinals 0 and 1).
void create_dispatcher(http_client& client, const http_header_list& headers = {}) {
  auto created = client.request(
    "POST", "/dispatchers/v1/",
    R"({"eventType":"order","name":"fulfilment","actions":[)"
    R"({"type":"task","functionName":"fulfil","data":{"warehouse":"north","lines":[1,2,3]}},)"
    R"({"type":"task","functionName":"invoice","data":{"currency":"EUR"},"priority":3}]})",
    headers);
  BOOST_REQUIRE_MESSAGE(created.status == 200u, created.body);
}

/// Publishes batches of `order` events on its own connection until stopped, and keeps the ids of
/// those acknowledged, in the order their answers came.
class steady_publisher {
public:
  explicit steady_publisher(uint16_t port) : thread_([this, port] { run(port); }) {}
  ~steady_publisher() { stop(); }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  std::vector<std::string> acknowledged() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return acknowledged_;
  }

  size_t count() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return acknowledged_.size();
  }

  std::vector<std::string> failures() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return failures_;
  }

private:
  void run(uint16_t port) {
    try {
      http_client client{"127.0.0.1", port, 30s};
      std::string pad(300, 'x'); // some bytes per event: the copy is more than a few pages
      for (size_t n = 0; !stop_; ++n) {
        std::string batch = "[";
        for (int i = 0; i < 5; ++i)
          batch += std::string{i == 0 ? "" : ","} + R"({"type":"order","id":")" + fresh_object_id()
                   + R"(","content":{"n":)" + std::to_string(n * 5 + i) + R"(,"pad":")" + pad
                   + R"("}})";
        batch += "]";
        auto answer = client.request("POST", "/events/v1/batch", batch);
        auto doc = json_of(answer);
        std::lock_guard<std::mutex> guard{mutex_};
        if (answer.status != 200 || !doc.IsArray()) {
          failures_.push_back(std::to_string(answer.status) + " " + answer.body);
          continue;
        }
        for (auto& outcome : doc.GetArray())
          if (outcome.HasMember("code"))
            failures_.push_back(outcome["message"].GetString());
          else
            acknowledged_.push_back(outcome["id"].GetString());
      }
    } catch (const std::exception& ex) {
      std::lock_guard<std::mutex> guard{mutex_};
      failures_.push_back(ex.what());
    }
  }

  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<std::string> acknowledged_; // guarded by mutex_
  std::vector<std::string> failures_;     // guarded by mutex_
  std::thread thread_;                    // last: it starts once the rest is there
};

/// A task as the built-in log received it: its event and its data (compact JSON text).
struct received_task {
  std::string event_id;
  std::string data;
  bool operator==(const received_task& other) const {
    return event_id == other.event_id && data == other.data;
  }
};

/// Every task of the built-in log by task id (the delivery id), a page at a time.
std::map<std::string, received_task> tasks_of(http_client& client) {
  std::map<std::string, received_task> tasks;
  for (size_t offset = 0;; offset += 50) {
    auto answer = client.request("GET", "/tasks/v1/?select(data)&limit(50," + std::to_string(offset)
                                          + ")");
    BOOST_REQUIRE_MESSAGE(answer.status == 200u, answer.body);
    auto doc = json_of(answer);
    BOOST_REQUIRE(!doc.HasParseError() && doc.IsObject() && doc["data"].IsArray());
    for (auto& task : doc["data"].GetArray()) {
      rapidjson::StringBuffer data;
      rapidjson::Writer<rapidjson::StringBuffer> out{data};
      task["data"].Accept(out);
      tasks[task["id"].GetString()] = {task["data"]["event"]["id"].GetString(), data.GetString()};
    }
    if (doc["data"].Empty() || offset + 50 >= doc["page"]["total"].GetUint64()) return tasks;
  }
}

/// Waits until the node has delivered everything it holds: no delivery pending or retrying, and
/// the built-in log at least `at_least` tasks long.
void wait_idle(http_client& client, uint64_t at_least, const dispatchd_process& node) {
  bool idle = eventually([&] {
    return page_total(client, "/deliveries/v1/?in(status,pending,retrying)&limit(1)") == 0
           && page_total(client, "/tasks/v1/?limit(1)") >= at_least;
  });
  BOOST_REQUIRE_MESSAGE(idle, "the node did not deliver everything:\n" << node.log());
}

} // namespace

BOOST_AUTO_TEST_SUITE(service_backup)

BOOST_FIXTURE_TEST_CASE(a_copy_made_under_load_delivers_what_was_acknowledged_before_it,
                        paused_backups) {
  create_dispatcher(client);
  steady_publisher publisher{port};
  BOOST_REQUIRE_MESSAGE(eventually([&] { return publisher.count() >= 600; }),
                        "publishing did not get going:\n"
                          << node->log());
  // Everything acknowledged before the backup is asked for must be in the copy.
  auto before = publisher.acknowledged();
  auto copy = dir / "copy";
  dispatchd_command backup{{"backup", "--to", copy, "--url", url_of(port)}, dir / "backup.log"};
  BOOST_REQUIRE_MESSAGE(eventually([&] { return pause.entered(); }), "the backup did not start:\n"
                                                                       << backup.output()
                                                                       << node->log());
  // The backup runs (held before it copies) while the publisher goes on, and the command
  // reports its progress meanwhile.
  auto at_start = publisher.count();
  BOOST_REQUIRE(eventually([&] { return publisher.count() >= at_start + 200; }));
  BOOST_REQUIRE_MESSAGE(eventually([&] { return contains(backup.output(), ", copying engine"); }),
                        backup.output());
  auto running = backup_status(client);
  BOOST_TEST(std::string{running["state"].GetString()} == "running");
  BOOST_TEST(std::string{running["to"].GetString()} == resolved(copy));
  BOOST_TEST(running["bytesTotal"].GetUint64() > 0u);
  pause.release();
  auto made = backup.result();
  auto during = publisher.count() - at_start;
  BOOST_TEST_MESSAGE(made.output);
  BOOST_TEST(made.status == 0, made.output);
  BOOST_TEST(contains(made.output, "backup: started into " + resolved(copy)), made.output);
  BOOST_TEST(contains(made.output, "copied (100%)"), made.output);
  BOOST_TEST(contains(made.output, "backup: done in "), made.output);
  BOOST_TEST(contains(made.output, " files, "), made.output);
  BOOST_TEST(contains(made.output, "last event sequence in the copy: "), made.output);
  publisher.stop();
  auto failures = publisher.failures();
  BOOST_TEST(failures.empty(), failures.size() << " publishes failed, the first: "
                                               << (failures.empty() ? "" : failures.front()));
  BOOST_TEST_MESSAGE(before.size()
                     << " events acknowledged before the backup, " << during << " while it ran");
  auto log = node->log();
  BOOST_TEST(contains(log, "backup: started into " + resolved(copy)), log);
  BOOST_TEST(contains(log, "backup: done into " + resolved(copy)), log);
  auto done = backup_status(client);
  BOOST_TEST(std::string{done["state"].GetString()} == "done");
  BOOST_TEST(done["files"].GetUint64() > 0u);
  BOOST_TEST(done["lastSequence"].GetUint64() > 0u);
  BOOST_TEST(contains(made.output, std::to_string(done["lastSequence"].GetUint64())));

  // The original delivers everything it acknowledged: two tasks per event.
  auto all = publisher.acknowledged();
  wait_idle(client, 2 * all.size(), *node);
  auto original = tasks_of(client);
  BOOST_REQUIRE_EQUAL(original.size(), 2 * all.size());

  auto restored_dir = dir / "restored";
  auto restore = run_command({"restore", "--from", copy, "--data-dir", restored_dir},
                             dir / "restore.log");
  BOOST_TEST_MESSAGE(restore.output);
  BOOST_REQUIRE_MESSAGE(restore.status == 0, restore.output);
  BOOST_TEST(contains(restore.output, "restore: done"), restore.output);
  BOOST_TEST(contains(restore.output, "--dispatch.data-dir=" + restored_dir), restore.output);

  dispatchd_process second{dispatchd_args(restored_dir), dir / "restored.log"};
  http_client second_client{"127.0.0.1", second.port_of("127.0.0.1"), 30s};
  wait_idle(second_client, 2 * before.size(), second);
  auto restored = tasks_of(second_client);
  // Every event acknowledged before the backup: delivered there as the original delivered it,
  // under the same delivery ids, with the same data.
  std::set<std::string> before_set(before.begin(), before.end());
  std::map<std::string, size_t> per_event;
  for (auto& [id, task] : restored) ++per_event[task.event_id];
  size_t differing = 0;
  for (auto& [id, task] : original) {
    if (before_set.count(task.event_id) == 0) continue;
    auto found = restored.find(id);
    if (found == restored.end() || !(found->second == task)) ++differing;
  }
  BOOST_TEST(differing == 0u, differing << " tasks of events acknowledged before the backup are "
                                           "missing or differ on the restored node");
  size_t not_twice = 0;
  for (auto& id : before) not_twice += per_event[id] == 2 ? 0 : 1;
  BOOST_TEST(not_twice == 0u, not_twice << " events acknowledged before the backup do not have "
                                           "exactly their two tasks on the restored node");
  // And nothing the original never delivered: what else the copy holds (events accepted while
  // the backup ran) matches the original too.
  size_t unknown = 0;
  for (auto& [id, task] : restored) {
    auto found = original.find(id);
    if (found == original.end() || !(found->second == task)) ++unknown;
  }
  BOOST_TEST(unknown == 0u, unknown << " tasks on the restored node the original does not have");
  // The same dispatcher serves there.
  BOOST_TEST(page_total(second_client, "/dispatchers/v1/?eq(name,fulfilment)") == 1u);
  second.signal(SIGTERM);
  BOOST_TEST(second.exit_status() == 0);
  node->signal(SIGTERM);
  BOOST_TEST(node->exit_status() == 0);
}

BOOST_AUTO_TEST_CASE(deliveries_waiting_in_the_copy_go_out_from_the_restored_node) {
  // The original's Task Service is down: its deliveries wait (retrying) when the backup is made.
  temp_dir dir;
  http_test_server down;
  down.set_default(respond(503, R"({"error":"maintenance"})"));
  dispatchd_process node{
    dispatchd_args(dir / "data", {"--dispatch.retry.initial=200", "--dispatch.retry.cap=400",
                                  "--dispatch.retry.max-attempts=1000",
                                  "--dispatch.sinks.breaker-failures=1000000",
                                  "--dispatch.sinks.task.url=" + down.url()}),
    dir / "node.log"};
  auto port = node.port_of("127.0.0.1");
  http_client client{"127.0.0.1", port, 30s};
  create_dispatcher(client);
  std::set<std::string> events;
  for (int i = 0; i < 20; ++i) {
    auto id = fresh_object_id();
    auto published = client.request("POST", "/events/v1/",
                                    R"({"type":"order","id":")" + id + R"(","content":{"n":1}})");
    BOOST_REQUIRE_MESSAGE(published.status == 200u, published.body);
    events.insert(id);
  }
  BOOST_REQUIRE_MESSAGE(
    eventually([&] { return page_total(client, "/deliveries/v1/?eq(status,retrying)") == 40u; }),
    node.log());
  auto made = run_command({"backup", "--to", dir / "copy", "--url", url_of(port)},
                          dir / "backup.log");
  BOOST_REQUIRE_MESSAGE(made.status == 0, made.output);
  node.signal(SIGTERM);
  BOOST_TEST(node.exit_status() == 0);
  auto restore = run_command({"restore", "--from", dir / "copy", "--data-dir", dir / "restored"},
                             dir / "restore.log");
  BOOST_REQUIRE_MESSAGE(restore.status == 0, restore.output);
  // The restored node has a Task Service that answers: it delivers what waited, with the ids.
  http_test_server up;
  up.set_default(respond(200, R"({"id":"5f0000000000000000000001"})"));
  dispatchd_process second{
    dispatchd_args(dir / "restored",
                   {"--dispatch.retry.initial=200", "--dispatch.sinks.task.url=" + up.url()}),
    dir / "restored.log"};
  BOOST_REQUIRE_MESSAGE(up.wait_for_requests(40, dispatchd_deadline), second.log());
  std::set<std::string> keys_down, keys_up, events_up;
  for (auto& request : down.requests()) keys_down.insert(request.header("Idempotency-Key"));
  for (auto& request : up.requests()) {
    keys_up.insert(request.header("Idempotency-Key"));
    for (auto& id : events)
      if (contains(request.body, id)) events_up.insert(id);
  }
  BOOST_TEST(keys_up.size() == 40u);
  BOOST_TEST((keys_up == keys_down), "the restored node delivered other delivery ids");
  BOOST_TEST(events_up.size() == events.size());
  second.signal(SIGTERM);
  BOOST_TEST(second.exit_status() == 0);
}

BOOST_AUTO_TEST_CASE(refusals_name_the_field_and_tokens_guard_the_routes) {
  temp_dir dir;
  fs::create_directories(dir / "full");
  std::ofstream{dir / "full/file"} << "taken\n";
  dispatchd_process node{dispatchd_args(dir / "data", {"--dispatch.http.tokens=[b4ckup-t0ken]"}),
                         dir / "node.log"};
  auto port = node.port_of("127.0.0.1");
  http_client client{"127.0.0.1", port, 30s};
  http_header_list auth{{"Authorization", "Bearer b4ckup-t0ken"}};
  // A request refused for its token closes its connection: each on a connection of its own.
  auto unauthorized = [&](const std::string& method, const std::string& body,
                          const http_header_list& headers) {
    http_client once{"127.0.0.1", port, 30s};
    return once.request(method, "/admin/v1/backup", body, headers);
  };
  check_error(unauthorized("POST", backup_body(dir / "copy"), {}), 401, 10, "no token");
  check_error(unauthorized("GET", "", {}), 401, 10, "status without a token");
  check_error(unauthorized("POST", backup_body(dir / "copy"), {{"Authorization", "Bearer wrong"}}),
              401, 10, "a wrong token");
  struct refusal {
    std::string body;
    unsigned code;
    std::string says;
  };
  std::vector<refusal> refusals{
    {backup_body("relative/copy"), 15, "to: must be an absolute path"},
    {backup_body(dir / "full"), 15, "exists and is not empty"},
    {backup_body(dir / "full/file"), 15, "exists and is not a directory"},
    {backup_body(dir / "data"), 15, "is inside the data directory"},
    {backup_body(dir / "data/backups/today"), 15, "is inside the data directory"},
    {backup_body(dir / "elsewhere/../data/x"), 15, "is inside the data directory"},
    {backup_body(dir / "no-such-parent/copy"), 15, "the parent directory"},
    {R"({"to":"/tmp/a\u0001b"})", 15, "control characters"},
    {R"({"to":42})", 15, "to: must be a string"},
    {R"({})", 14, "to: required"},
    {R"({"to":""})", 14, "to: required"},
    {R"(["/tmp/x"])", 22, "body"},
    {R"({"to":)", 22, "body"},
  };
  for (auto& r : refusals) {
    auto answer = client.request("POST", "/admin/v1/backup", r.body, auth);
    check_error(answer, 400, r.code, r.body);
    BOOST_TEST(contains(answer.body, r.says), r.body << " -> " << answer.body);
  }
  BOOST_TEST(!fs::exists(dir / "copy"));
  BOOST_TEST(fs::exists(dir / "full/file"));
  BOOST_TEST(state_of(client, auth) == "none"); // a refusal is no backup

  // The command: its exit status and what it says.
  auto no_token = run_command({"backup", "--to", dir / "copy", "--url", url_of(port)},
                              dir / "no-token.log");
  BOOST_TEST(no_token.status == 1);
  BOOST_TEST(contains(no_token.output, "HTTP 401"), no_token.output);
  auto refused = run_command(
    {"backup", "--to", dir / "full", "--url", url_of(port), "--token", "b4ckup-t0ken"},
    dir / "refused.log");
  BOOST_TEST(refused.status == 1);
  BOOST_TEST(contains(refused.output, "exists and is not empty"), refused.output);
  auto usage = run_command({"backup", "--url", url_of(port)}, dir / "usage.log");
  BOOST_TEST(usage.status == 2);
  BOOST_TEST(contains(usage.output, "--to DIR is required"), usage.output);
  auto bad_url = run_command({"backup", "--to", dir / "copy", "--url", "ftp://x"},
                             dir / "bad-url.log");
  BOOST_TEST(bad_url.status == 2);
  BOOST_TEST(contains(bad_url.output, "--url"), bad_url.output);
  auto made = run_command(
    {"backup", "--to=" + dir / "copy", "--url=" + url_of(port), "--token=b4ckup-t0ken"},
    dir / "made.log");
  BOOST_TEST(made.status == 0, made.output);
  BOOST_TEST(fs::exists(dir / "copy/backup.json"));
  BOOST_TEST(state_of(client, auth) == "done");
  node.signal(SIGTERM);
  BOOST_TEST(node.exit_status() == 0);
  // No node there any more: the command says it cannot reach it.
  auto gone = run_command({"backup", "--to", dir / "copy2", "--url", url_of(port)},
                          dir / "gone.log");
  BOOST_TEST(gone.status == 1);
  BOOST_TEST(contains(gone.output, "cannot reach the node"), gone.output);
}

BOOST_FIXTURE_TEST_CASE(one_backup_runs_at_a_time, paused_backups) {
  start(dir / "first");
  auto second = client.request("POST", "/admin/v1/backup", backup_body(dir / "second"));
  check_error(second, 409, 17, "a second backup");
  BOOST_TEST(contains(second.body, "already running"), second.body);
  BOOST_TEST(contains(second.body, resolved(dir / "first")), second.body);
  BOOST_TEST(!fs::exists(dir / "second"));
  auto status = backup_status(client);
  BOOST_TEST(std::string{status["to"].GetString()} == resolved(dir / "first"));
  BOOST_TEST(std::string{status["state"].GetString()} == "running");
  pause.release();
  BOOST_REQUIRE_MESSAGE(eventually([&] { return state_of(client) == "done"; }), node->log());
  // Once it ended, the next one may start.
  auto third = client.request("POST", "/admin/v1/backup", backup_body(dir / "second"));
  BOOST_TEST(third.status == 200u, third.body);
  BOOST_REQUIRE(eventually([&] { return state_of(client) == "done"; }));
  BOOST_TEST(fs::exists(dir / "first/backup.json"));
  BOOST_TEST(fs::exists(dir / "second/backup.json"));
}

BOOST_FIXTURE_TEST_CASE(a_node_stopped_mid_backup_stops_cleanly_and_leaves_no_partial_copy,
                        paused_backups) {
  start(dir / "copy");
  BOOST_TEST(fs::exists(dir / "copy"));
  node->signal(SIGTERM);
  BOOST_TEST(node->exit_status() == 0, node->log());
  auto log = node->log();
  BOOST_TEST(contains(log, "backup: failed into " + resolved(dir / "copy")), log);
  BOOST_TEST(contains(log, "its partial copy was removed"), log);
  BOOST_TEST(!fs::exists(dir / "copy"));
}

BOOST_AUTO_TEST_CASE(restore_refuses_what_it_cannot_use_and_leaves_it_alone) {
  temp_dir dir;
  {
    dispatchd_process node{dispatchd_args(dir / "data"), dir / "node.log"};
    http_client client{"127.0.0.1", node.port_of("127.0.0.1"), 30s};
    create_dispatcher(client);
    auto made = run_command(
      {"backup", "--to", dir / "copy", "--url", url_of(node.port_of("127.0.0.1"))},
      dir / "backup.log");
    BOOST_REQUIRE_MESSAGE(made.status == 0, made.output);
    node.signal(SIGTERM);
    BOOST_TEST(node.exit_status() == 0);
  }
  fs::create_directories(dir / "full");
  std::ofstream{dir / "full/file"} << "taken\n";
  auto into_full = run_command({"restore", "--from", dir / "copy", "--data-dir", dir / "full"},
                               dir / "full.log");
  BOOST_TEST(into_full.status == 1);
  BOOST_TEST(contains(into_full.output, "data-dir: "), into_full.output);
  BOOST_TEST(contains(into_full.output, "exists and is not empty"), into_full.output);
  BOOST_TEST(read_text_file(dir / "full/file") == "taken\n");
  auto not_a_backup = run_command({"restore", "--from", dir / "data", "--data-dir", dir / "r1"},
                                  dir / "not-a-backup.log");
  BOOST_TEST(not_a_backup.status == 1);
  BOOST_TEST(contains(not_a_backup.output, "holds no complete backup"), not_a_backup.output);
  BOOST_TEST(!fs::exists(dir / "r1"));
  auto inside = run_command({"restore", "--from", dir / "copy", "--data-dir", dir / "copy/x"},
                            dir / "inside.log");
  BOOST_TEST(inside.status == 1);
  BOOST_TEST(contains(inside.output, "inside the backup"), inside.output);
  auto usage = run_command({"restore", "--data-dir", dir / "r2"}, dir / "usage.log");
  BOOST_TEST(usage.status == 2);
  BOOST_TEST(contains(usage.output, "--from DIR is required"), usage.output);
  // A copy damaged since it was made: caught by its checksums, nothing restored.
  std::string largest;
  uintmax_t size = 0;
  for (auto& entry : fs::recursive_directory_iterator(dir / "copy/engine"))
    if (entry.is_regular_file() && entry.file_size() > size) {
      size = entry.file_size();
      largest = entry.path().string();
    }
  BOOST_REQUIRE(size > 16u);
  {
    std::fstream file{largest, std::ios::in | std::ios::out | std::ios::binary};
    file.seekp(static_cast<std::streamoff>(size / 2));
    file.put('\x5a').put('\xa5').put('\x5a');
  }
  auto damaged = run_command({"restore", "--from", dir / "copy", "--data-dir", dir / "r3"},
                             dir / "damaged.log");
  BOOST_TEST(damaged.status == 1);
  BOOST_TEST(contains(damaged.output, "damaged"), damaged.output);
  BOOST_TEST(!fs::exists(dir / "r3"));
}

BOOST_AUTO_TEST_SUITE_END()
