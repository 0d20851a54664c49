// A full disk through the engine: publishes are refused with a clear error (never acknowledged),
// health turns red, nothing acknowledged before is lost, and service resumes when space returns.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "fixtures/engine_fixture.hpp"

using namespace dispatch;
using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

/// Fills a file system with one file until it is full; returns the file's path.
std::string fill(const std::string& dir) {
  auto path = dir + "/filler";
  std::ofstream out{path, std::ios::binary};
  std::string chunk(64 * 1024, 'x');
  while (out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()))) out.flush();
  return path;
}

/// The engine with the steps both storage failures share: publish until refused, publish until
/// accepted again, and check that every acknowledged event was delivered.
struct failing_storage : engine_fixture {
  std::vector<std::string> acknowledged;

  /// Publishes events padded to `pad` bytes until one is refused (at most `tries`); the refusal.
  caf::error publish_until_refused(size_t pad, int tries) {
    std::string padding(pad, 'p');
    for (int i = 1; i < tries; ++i) {
      event ev;
      ev.type = "t";
      ev.content = R"({"pad":")" + padding + "\"}";
      auto stored = call<event>(publish_atom::value, ev);
      if (!stored) return stored.error();
      acknowledged.push_back(stored->id);
    }
    return caf::error{};
  }

  /// Publishes until one is accepted (30 s); the last refusal's text when none was.
  bool publishes_resume(std::string& last_error) {
    return eventually(
      [&] {
        event ev;
        ev.type = "t";
        auto stored = call<event>(publish_atom::value, ev);
        if (stored)
          acknowledged.push_back(stored->id);
        else
          last_error = message_of(stored.error());
        return static_cast<bool>(stored);
      },
      30s);
  }

  void check_every_acknowledged_event_delivered() {
    BOOST_REQUIRE_MESSAGE(eventually([&] { return tasks->distinct() >= acknowledged.size(); }, 60s),
                          "delivered " << tasks->distinct() << " of " << acknowledged.size());
    std::set<std::string> delivered_events;
    for (auto& r : tasks->snapshot()) delivered_events.insert(r.value.event_id);
    for (auto& id : acknowledged)
      BOOST_CHECK_MESSAGE(delivered_events.count(id) == 1, "acknowledged event " << id << " lost");
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(storage_failure, failing_storage)

BOOST_AUTO_TEST_CASE(a_full_disk_refuses_publishes_and_service_resumes_with_space) {
  auto mount_point = dir / "tmpfs";
  std::filesystem::create_directories(mount_point);
  auto mount = "mount -t tmpfs -o size=24m tmpfs " + mount_point + " 2>/dev/null";
  if (std::system(mount.c_str()) != 0) {
    BOOST_TEST_MESSAGE("skipped: cannot mount a tmpfs (needs root and mount rights)");
    return;
  }
  struct unmount_at_exit {
    std::string path;
    ~unmount_at_exit() { std::system(("umount -l " + path + " 2>/dev/null").c_str()); }
  } unmount{mount_point};
  config.data_dir = mount_point + "/data";
  start();
  create(make_dispatcher("t", {task_action("f")}));
  acknowledged.push_back(publish("t", R"({"n":0})").id);
  auto filler = fill(mount_point);
  // Publish until the store refuses; every refusal must say why, and nothing refused is counted.
  auto refused = publish_until_refused(2000, 20000);
  BOOST_REQUIRE_MESSAGE(refused, "the full disk never refused a publish");
  BOOST_CHECK(code_of(refused) == error_code::unavailable);
  BOOST_TEST_MESSAGE("refused with: " << message_of(refused));
  BOOST_CHECK_NE(message_of(refused).find("unavailable"), std::string::npos);
  auto healthy = call<bool>(health_atom::value);
  BOOST_CHECK(healthy && !*healthy);
  // Space returns: service resumes without a restart.
  std::filesystem::remove(filler);
  std::string last_error;
  BOOST_REQUIRE_MESSAGE(publishes_resume(last_error),
                        "publishes did not resume once space returned: " << last_error);
  BOOST_CHECK(eventually([&] {
    auto h = call<bool>(health_atom::value);
    return h && *h;
  }));
  // Every acknowledged event is delivered.
  check_every_acknowledged_event_delivered();
  stop();
}

BOOST_AUTO_TEST_CASE(when_file_descriptors_run_out_publishes_are_refused_and_service_resumes) {
  // Small memtables: they switch (a new WAL file) and flush (a new table file) every few
  // publishes, so the store soon needs a descriptor it cannot get.
  config.write_buffer_bytes = 1 << 20;
  start();
  create(make_dispatcher("t", {task_action("f")}));
  acknowledged.push_back(publish("t", R"({"n":0})").id);
  // Take every descriptor the process has left (under a lowered soft limit, to be quick).
  rlimit before{};
  BOOST_REQUIRE(::getrlimit(RLIMIT_NOFILE, &before) == 0);
  rlimit low = before;
  low.rlim_cur = std::min<rlim_t>(before.rlim_cur, 2048);
  BOOST_REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  std::vector<int> taken;
  for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) taken.push_back(fd);
  auto give_back = [&] {
    for (auto fd : taken) ::close(fd);
    taken.clear();
    ::setrlimit(RLIMIT_NOFILE, &before);
  };
  auto refused = publish_until_refused(20000, 2000);
  give_back();
  BOOST_REQUIRE_MESSAGE(refused, "no publish was refused without file descriptors");
  BOOST_TEST_MESSAGE("refused with: " << message_of(refused));
  BOOST_CHECK(code_of(refused) == error_code::unavailable);
  // Descriptors are back: service resumes without a restart.
  std::string last_error;
  BOOST_REQUIRE_MESSAGE(publishes_resume(last_error),
                        "publishes did not resume once descriptors returned: " << last_error);
  BOOST_CHECK(eventually([&] {
    auto h = call<bool>(health_atom::value);
    return h && *h;
  }));
  check_every_acknowledged_event_delivered();
  stop();
}

BOOST_AUTO_TEST_CASE(a_batch_whose_sync_failed_is_taken_back_even_when_that_fails_at_first) {
  // While `failing` exists the WAL sync of accepted events fails, and so does taking the batch
  // back: the refused event must still be gone from the log once the store writes again, or its
  // deliveries would be derived (and listed) though its publisher was told it failed.
  auto failing = dir / "fail-sync";
  ::setenv("DISPATCH_FAULT_FAIL_SYNC", failing.c_str(), 1);
  config.sync = true;
  start();
  ::unsetenv("DISPATCH_FAULT_FAIL_SYNC");
  create(make_dispatcher("t", {task_action("f")}));
  auto before = publish("t");
  std::ofstream{failing};
  event lost;
  lost.id = "65f0a1b2c3d4e5f60123abcd";
  lost.type = "t";
  auto refused = call<event>(publish_atom::value, lost);
  BOOST_REQUIRE_MESSAGE(!refused, "a publish whose sync failed was acknowledged");
  std::filesystem::remove(failing);
  event after;
  after.type = "t";
  caf::expected<event> stored{caf::error{}};
  BOOST_REQUIRE(eventually(
    [&] {
      stored = call<event>(publish_atom::value, after);
      return static_cast<bool>(stored);
    },
    30s));
  BOOST_REQUIRE(eventually([&] { return tasks->distinct() >= 2; }, 30s));
  stop();
  auto db = open_store();
  std::set<std::string> logged;
  for (uint32_t shard = 0; shard < db->shards(); ++shard) {
    auto entries = db->scan_log(shard, 0, 1000);
    BOOST_REQUIRE(entries);
    for (auto& x : *entries) logged.insert(x.event.id);
  }
  BOOST_TEST(logged.count(before.id) == 1u);
  BOOST_TEST(logged.count(stored->id) == 1u);
  BOOST_TEST(logged.count(lost.id) == 0u, "the refused event is still in the log");
}

BOOST_AUTO_TEST_SUITE_END()
