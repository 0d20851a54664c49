// dispatchd on a small tmpfs that fills up: publishes are refused 503 code 1 (never 500), /health
// turns 503, and once space returns both recover; every acknowledged event is delivered.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "fixtures/dispatchd_process.hpp"
#include "fixtures/http_client.hpp"
#include "fixtures/temp_dir.hpp"

using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

/// A tmpfs of `size` mounted at `path` for the test's life; `mounted` is false when the machine
/// does not allow it (not root, no mount rights).
struct tmpfs_mount {
  std::string path;
  bool mounted = false;

  tmpfs_mount(std::string where, const std::string& size) : path(std::move(where)) {
    std::filesystem::create_directories(path);
    auto command = "mount -t tmpfs -o size=" + size + " tmpfs " + path + " 2>/dev/null";
    mounted = std::system(command.c_str()) == 0;
  }

  ~tmpfs_mount() {
    if (mounted) std::system(("umount -l " + path + " 2>/dev/null").c_str());
  }
};

/// Writes one file until the file system is full.
void fill_up(const std::string& path) {
  std::ofstream out{path, std::ios::binary};
  std::string chunk(64 * 1024, 'b');
  while (out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()))) out.flush();
}

/// Publishes to one dispatchd, keeping what was acknowledged and what else came back.
struct publisher {
  http_client& client;
  std::vector<std::string> acknowledged;
  std::map<unsigned, size_t> answers; // status -> count, 200 included
  http_answer last_refusal;

  unsigned publish(const std::string& padding = "") {
    auto id = fresh_object_id();
    auto answer = client.request("POST", "/events/v1/",
                                 R"({"type":"disk","id":")" + id + R"(","content":{"pad":")"
                                   + padding + R"("}})");
    ++answers[answer.status];
    if (answer.status == 200)
      acknowledged.push_back(id);
    else
      last_refusal = answer;
    return answer.status;
  }
};

unsigned health(http_client& client) {
  return client.request("GET", "/health").status;
}

} // namespace

BOOST_AUTO_TEST_SUITE(service_full_disk)

BOOST_AUTO_TEST_CASE(a_full_disk_refuses_publishes_until_space_returns) {
  temp_dir dir;
  tmpfs_mount disk{dir / "tmpfs", "32m"};
  if (!disk.mounted) {
    BOOST_TEST_MESSAGE("skipped: cannot mount a tmpfs (needs root and mount rights)");
    return;
  }
  dispatchd_process dispatchd{dispatchd_args(disk.path + "/data"), dir / "run.log"};
  http_client client{"127.0.0.1", dispatchd.port_of("127.0.0.1"), 30s};
  auto created = client.request(
    "POST", "/dispatchers/v1/",
    R"({"eventType":"disk","actions":[{"type":"task","functionName":"on_disk"}]})");
  BOOST_REQUIRE_MESSAGE(created.status == 200u, created.body);
  publisher events{client, {}, {}, {}};
  for (int i = 0; i < 5; ++i) BOOST_TEST(events.publish() == 200u);
  // The disk fills: publishes go on until the store refuses one.
  auto ballast = disk.path + "/ballast";
  fill_up(ballast);
  // Leave a little room, so that some publishes are acknowledged on the brink of the full disk.
  std::filesystem::resize_file(ballast, std::filesystem::file_size(ballast) - (512 << 10));
  std::string padding(2000, 'p');
  for (int i = 0; i < 20000 && events.publish(padding) == 200;) ++i;
  BOOST_REQUIRE_MESSAGE(events.answers.size() > 1, "the full disk never refused a publish");
  check_error(events.last_refusal, 503, 1, "a publish to a full disk");
  BOOST_TEST_MESSAGE("refused with: " << events.last_refusal.body);
  // The client learns why, not where: no path of the server's file system.
  BOOST_TEST(events.last_refusal.body.find(disk.path) == std::string::npos,
             events.last_refusal.body);
  BOOST_TEST(events.last_refusal.body.find("no space") != std::string::npos,
             events.last_refusal.body);
  BOOST_TEST(eventually([&] { return health(client) == 503; }, 30s), "/health stayed green");
  // Still full: still refused, and the answer says so each time.
  for (int i = 0; i < 3; ++i) BOOST_TEST(events.publish(padding) == 503u);
  check_error(events.last_refusal, 503, 1, "a publish while the disk stays full");
  // Space returns: service resumes without a restart.
  std::filesystem::remove(ballast);
  BOOST_TEST(eventually([&] { return events.publish() == 200; }),
             "publishes did not resume: " << events.last_refusal.body);
  BOOST_TEST(eventually([&] { return health(client) == 200; }), "/health stayed red");
  for (int i = 0; i < 5; ++i) BOOST_TEST(events.publish() == 200u);
  std::string seen;
  for (auto& [status, n] : events.answers)
    seen += " " + std::to_string(status) + "x" + std::to_string(n);
  BOOST_TEST_MESSAGE("publish answers:" << seen);
  for (auto& [status, n] : events.answers)
    BOOST_TEST((status == 200u || status == 503u), status << " answered " << n << " times");
  // Every acknowledged event, before, during and after, is delivered.
  BOOST_TEST(eventually([&] {
               return page_total(client, "/tasks/v1/?limit(1)") >= events.acknowledged.size();
             }),
             "tasks missing:\n"
               << dispatchd.log());
  size_t total = 0;
  auto delivered = tasks_by_event(client, total);
  for (auto& id : events.acknowledged) {
    auto tasks = delivered.count(id) ? delivered.at(id) : 0;
    BOOST_TEST(tasks == 1u, "acknowledged event " << id << " has " << tasks << " tasks");
  }
  dispatchd.signal(SIGTERM);
  BOOST_TEST(dispatchd.exit_status() == 0, dispatchd.log());
}

BOOST_AUTO_TEST_SUITE_END()
