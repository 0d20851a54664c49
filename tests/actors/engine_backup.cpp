// Backups through the engine's typed handle, as an embedding program makes them: the status as it
// runs and once done, one backup at a time, a copy restored and opened by a new engine, and an
// engine stopped mid-backup that shuts down without leaving a partial copy.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <caf/send.hpp>

#include "fixtures/dispatchd_process.hpp"
#include "fixtures/engine_fixture.hpp"
#include "fixtures/why.hpp"
#include "messages/error_code.hpp"
#include "persistence/backup.hpp"

using namespace dispatch;
using namespace dispatch::test;
namespace fs = std::filesystem;

namespace {

/// The engine's backups wait before they copy while the file exists (DISPATCH_FAULT_PAUSE_BACKUP,
/// read by each backup as it starts).
struct pause_file {
  std::string path;
  explicit pause_file(std::string p) : path(std::move(p)) {
    std::ofstream{path} << "wait\n";
    ::setenv("DISPATCH_FAULT_PAUSE_BACKUP", path.c_str(), 1);
  }
  ~pause_file() {
    ::unsetenv("DISPATCH_FAULT_PAUSE_BACKUP");
    release();
  }
  bool entered() const { return fs::exists(path + ".entered"); }
  void release() const {
    std::error_code ec;
    fs::remove(path, ec);
  }
};

struct started_engine : engine_fixture {
  started_engine() {
    start();
    create(make_dispatcher("order", {task_action("fulfil", R"({"w":1})")}));
    for (int i = 0; i < 30; ++i) publish("order", R"({"n":)" + std::to_string(i) + "}");
  }

  backup_status status() {
    auto answer = call<backup_status>(backup_atom::value);
    BOOST_REQUIRE_MESSAGE(answer, why(answer));
    return *answer;
  }

  /// Waits until the backup ended; its final status.
  backup_status ended() {
    backup_status last;
    BOOST_REQUIRE(eventually([&] {
      last = status();
      return last.state != backup_state::running;
    }));
    return last;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(engine_backup, started_engine)

BOOST_AUTO_TEST_CASE(a_backup_through_the_handle_restores_into_an_engine_that_opens_it) {
  BOOST_TEST((status().state == backup_state::none));
  auto to = dir / "copy";
  auto started = call<backup_status>(backup_atom::value, to);
  BOOST_REQUIRE_MESSAGE(started, why(started));
  BOOST_TEST((started->state == backup_state::running));
  BOOST_TEST(started->to == to);
  BOOST_TEST((started->parts == std::vector<std::string>{"engine"}));
  auto done = ended();
  BOOST_REQUIRE_MESSAGE(done.state == backup_state::done, done.error);
  BOOST_TEST(done.files > 0u);
  BOOST_TEST(done.bytes == done.bytes_copied);
  BOOST_TEST(done.finished >= done.started);
  BOOST_TEST(done.last_sequence > 0u);
  // Written after the copy: not in it.
  publish("order", R"({"n":"late"})");
  stop();
  auto restored = restore_backup(to, dir / "restored", [](const std::string&) {});
  BOOST_REQUIRE_MESSAGE(restored, why(restored));
  BOOST_TEST(restored->last_sequence == done.last_sequence);
  config.data_dir = dir / "restored";
  start();
  auto found = call<dispatcher_page>(find_atom::value, query{});
  BOOST_REQUIRE_MESSAGE(found, why(found));
  BOOST_TEST(found->page.total == 1u);
  stop();
  auto db = open_store();
  BOOST_TEST(db->last_log_sequence() == done.last_sequence);
}

BOOST_AUTO_TEST_CASE(one_at_a_time_and_refusals_leave_the_last_status) {
  pause_file pause{dir / "pause"};
  auto first = call<backup_status>(backup_atom::value, dir / "first");
  BOOST_REQUIRE_MESSAGE(first, why(first));
  BOOST_REQUIRE(eventually([&] { return pause.entered(); }));
  auto second = call<backup_status>(backup_atom::value, dir / "second");
  BOOST_REQUIRE(!second);
  BOOST_TEST((code_of(second.error()) == error_code::conflict));
  auto relative = call<backup_status>(backup_atom::value, std::string{"relative"});
  BOOST_REQUIRE(!relative);
  BOOST_TEST((code_of(relative.error()) == error_code::conflict)); // busy first
  pause.release();
  BOOST_REQUIRE((ended().state == backup_state::done));
  relative = call<backup_status>(backup_atom::value, std::string{"relative"});
  BOOST_REQUIRE(!relative);
  BOOST_TEST((code_of(relative.error()) == error_code::field_format));
  auto inside = call<backup_status>(backup_atom::value, config.data_dir + "/backup");
  BOOST_REQUIRE(!inside);
  BOOST_TEST(message_of(inside.error()).find("inside the data directory") != std::string::npos,
             message_of(inside.error()));
  // The refusals left the status of the last backup as it was.
  auto last = status();
  BOOST_TEST((last.state == backup_state::done));
  BOOST_TEST(last.to == dir / "first");
}

BOOST_AUTO_TEST_CASE(an_engine_stopped_mid_backup_shuts_down_and_leaves_no_partial_copy) {
  pause_file pause{dir / "pause"};
  auto started = call<backup_status>(backup_atom::value, dir / "copy");
  BOOST_REQUIRE_MESSAGE(started, why(started));
  BOOST_REQUIRE(eventually([&] { return pause.entered(); }));
  BOOST_TEST(fs::exists(dir / "copy"));
  caf::anon_send_exit(engine, caf::exit_reason::user_shutdown);
  stop(); // the actor system's destructor waits for the backup's runner: it must end
  BOOST_TEST(!fs::exists(dir / "copy"));
}

BOOST_AUTO_TEST_SUITE_END()
