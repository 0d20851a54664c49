// dispatchd stopped by SIGTERM while eight clients publish as fast as they can: it exits 0, and
// after a restart on the same data directory every event it acknowledged has its task.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fixtures/dispatchd_process.hpp"
#include "fixtures/http_client.hpp"
#include "fixtures/poll.hpp"
#include "fixtures/temp_dir.hpp"

using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

constexpr int publisher_count = 8;

/// Acknowledged publishes before the SIGTERM, which then comes with every publisher busy.
constexpr size_t load_before_stop = 2000;

/// What the publishers saw, shared between their threads.
struct publish_record {
  std::mutex mutex;
  std::vector<std::string> acknowledged;  // event ids answered 200
  std::map<unsigned, size_t> refusals;    // status (not 200) -> count
  size_t dropped = 0;                     // requests whose connection closed or timed out
  std::vector<std::string> wrong_answers; // a 200 whose body is not the event sent
};

// One client on its own keep-alive connection, publishing until the server stops answering.
void publish_until_stopped(uint16_t port, publish_record& record, const std::atomic<bool>& stop) {
  std::unique_ptr<http_client> client;
  int connect_failures = 0;
  for (int n = 0; !stop.load(); ++n) {
    try {
      if (!client) client = std::make_unique<http_client>("127.0.0.1", port, 20s);
      auto id = fresh_object_id();
      auto answer = client->request("POST", "/events/v1/",
                                    R"({"type":"load","id":")" + id + R"(","content":{"n":)"
                                      + std::to_string(n) + "}}");
      std::lock_guard<std::mutex> guard{record.mutex};
      if (answer.status != 200) {
        ++record.refusals[answer.status];
      } else if (contains(answer.body, "\"id\":\"" + id + "\"")) {
        record.acknowledged.push_back(id);
      } else {
        record.wrong_answers.push_back(answer.body);
      }
    } catch (const connection_closed&) {
      // Closed mid-request: the event may or may not be stored; try a new connection.
      std::lock_guard<std::mutex> guard{record.mutex};
      ++record.dropped;
      client.reset();
    } catch (const http_client_error&) {
      // Refused connection (the server stopped listening) or no answer in time.
      client.reset();
      if (++connect_failures > 3) return;
      std::this_thread::sleep_for(50ms);
    }
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(service_shutdown)

BOOST_AUTO_TEST_CASE(sigterm_under_load_keeps_every_acknowledged_event) {
  temp_dir dir;
  publish_record record;
  {
    dispatchd_process dispatchd{dispatchd_args(dir / "data"), dir / "first.log"};
    auto port = dispatchd.port_of("127.0.0.1");
    http_client setup{"127.0.0.1", port};
    auto created = setup.request(
      "POST", "/dispatchers/v1/",
      R"({"eventType":"load","actions":[{"type":"task","functionName":"on_load"}]})");
    BOOST_REQUIRE_MESSAGE(created.status == 200u, created.body);
    std::atomic<bool> stop{false};
    std::vector<std::thread> publishers;
    for (int i = 0; i < publisher_count; ++i)
      publishers.emplace_back([&] { publish_until_stopped(port, record, stop); });
    auto loaded = eventually([&] {
      std::lock_guard<std::mutex> guard{record.mutex};
      return record.acknowledged.size() >= load_before_stop;
    });
    dispatchd.signal(SIGTERM);
    auto status = dispatchd.exit_status();
    stop.store(true);
    for (auto& publisher : publishers) publisher.join();
    BOOST_TEST(loaded, "not " << load_before_stop << " publishes acknowledged before the stop");
    BOOST_TEST(status == 0, dispatchd.log());
    auto log = dispatchd.log();
    BOOST_TEST(contains(log, "received SIGTERM"), log);
    BOOST_TEST(contains(log, "INFO  dispatchd: stopped"), log);
  }
  std::string refusals;
  for (auto& [status, n] : record.refusals)
    refusals += " " + std::to_string(status) + "x" + std::to_string(n);
  BOOST_TEST_MESSAGE("acknowledged " << record.acknowledged.size() << ", dropped " << record.dropped
                                     << ", refused:" << refusals);
  for (auto& body : record.wrong_answers) BOOST_ERROR("a 200 without the event sent: " << body);
  // Overload and shutdown answer 503; anything else (a 500 above all) is a fault.
  for (auto& [status, n] : record.refusals) BOOST_TEST(status == 503u, status << " x" << n);
  BOOST_REQUIRE_MESSAGE(record.acknowledged.size() > 0, "no publish was acknowledged");

  dispatchd_process again{dispatchd_args(dir / "data"), dir / "second.log"};
  http_client client{"127.0.0.1", again.port_of("127.0.0.1"), 30s};
  // Deliveries left pending by the stop go out after the restart; wait until none is open.
  BOOST_TEST(eventually(
               [&] {
                 return page_total(client, "/deliveries/v1/?ne(status,delivered)&limit(1)") == 0
                        && page_total(client, "/tasks/v1/?limit(1)") >= record.acknowledged.size();
               },
               90s),
             "deliveries still open after the restart:\n"
               << again.log());
  size_t total = 0;
  auto delivered = tasks_by_event(client, total);
  size_t missing = 0, duplicated = 0;
  for (auto& id : record.acknowledged) {
    auto found = delivered.find(id);
    if (found == delivered.end()) {
      if (++missing <= 10) BOOST_ERROR("acknowledged event " << id << " has no task");
    } else if (found->second > 1) {
      duplicated += found->second - 1;
    }
  }
  BOOST_TEST_MESSAGE("tasks " << total << " for " << delivered.size() << " events; " << missing
                              << " acknowledged events missing, " << duplicated
                              << " duplicate tasks of acknowledged events");
  BOOST_TEST(missing == 0u);
  BOOST_TEST(duplicated == 0u); // an event is dispatched once, even across the restart
  again.signal(SIGTERM);
  BOOST_TEST(again.exit_status() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
