// The readers' CPU budget (actors/cpu_budget.hpp): the bucket's arithmetic on a clock the test
// steps, a thread that paces its reads under a budget, and an engine whose readers, listed from
// without pause by four clients while events are published, use no more CPU than
// `dispatch.readers-cpu` gives them (measured from /proc, as an operator's `top -H` would see
// it), and more when nothing is written.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "actors/cpu_budget.hpp"
#include "actors/reader.hpp"
#include "fixtures/engine_fixture.hpp"
#include "fixtures/proc_threads.hpp"
#include "messages/rql.hpp"

using namespace dispatch;
using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

using tp = cpu_budget::clock::time_point;

/// CPU time of the threads of this process named `name`, and how many there are.
struct threads_cpu {
  double used_s = 0;
  int threads = 0;
};

threads_cpu cpu_of_threads(const std::string& name) {
  threads_cpu result;
  for (auto& t : threads_of(::getpid()))
    if (t.name == name) {
      result.used_s += t.cpu_s;
      ++result.threads;
    }
  return result;
}

/// A duration in milliseconds, as the checks print it.
double ms(std::chrono::nanoseconds d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

query rql(const std::string& text) {
  auto q = parse_rql(text);
  if (!q) throw std::runtime_error("bad RQL in the test: " + text);
  return std::move(*q);
}

} // namespace

BOOST_AUTO_TEST_SUITE(read_budget)

BOOST_AUTO_TEST_CASE(the_budget_starts_with_its_burst_and_refills_at_its_rate) {
  tp t0{};
  cpu_budget half{0.5, 10ms, t0};
  BOOST_TEST(ms(half.charge(10ms, t0)) == 0); // the burst, saved up
  // 10 ms over: at half a core a second, 20 ms pass before it is repaid.
  BOOST_TEST(ms(half.charge(10ms, t0)) == 20);
  BOOST_TEST(ms(half.charge(0ms, t0 + 20ms)) == 0);
  // A second thread overdrawing meanwhile waits for both debts.
  BOOST_TEST(ms(half.charge(5ms, t0 + 20ms)) == 10);
  BOOST_TEST(ms(half.charge(5ms, t0 + 20ms)) == 20);
  // Idle for a minute saves no more than the burst.
  BOOST_TEST(ms(half.charge(30ms, t0 + 60s)) == 40);
  // Time going backwards (another thread's later reading came first) refills nothing.
  BOOST_TEST(ms(half.charge(0ms, t0 + 59s)) == 40);
}

BOOST_AUTO_TEST_CASE(the_budget_holds_only_while_something_is_written) {
  tp t0{};
  uint64_t writes = 0;
  cpu_budget budget{0.5, 10ms, t0, [&] { return writes; }};
  // Nothing written yet: reads take what they want, and owe nothing.
  BOOST_TEST(ms(budget.charge(100ms, t0)) == 0);
  BOOST_TEST(ms(budget.charge(100ms, t0 + 1ms)) == 0);
  // A write: from now on the budget holds, starting from its burst.
  writes = 1;
  BOOST_TEST(ms(budget.charge(10ms, t0 + 2ms)) == 0);
  BOOST_TEST(ms(budget.charge(10ms, t0 + 2ms)) == 20);
  // No write for less than a second: it still holds.
  BOOST_TEST(ms(budget.charge(0ms, t0 + 900ms)) == 0);
  BOOST_TEST(ms(budget.charge(30ms, t0 + 900ms)) == 40);
  // A second after the last write seen, it stops holding; the debt is forgiven.
  BOOST_TEST(ms(budget.charge(30ms, t0 + 1002ms)) == 0);
  BOOST_TEST(ms(budget.charge(30ms, t0 + 1003ms)) == 0);
  // Writes again: it holds at once.
  writes = 2;
  BOOST_TEST(ms(budget.charge(30ms, t0 + 1004ms)) == 40);
}

BOOST_AUTO_TEST_CASE(greedy_threads_together_get_the_budget_and_no_more) {
  // Three threads on three cores, each running 1 ms slices whenever it is not waiting, on a clock
  // stepped by 1 ms for 10 s. Together they get 0.75 cores: no more (the point) and not much less
  // (a budget that merely starves readers would pass the first check).
  for (double cores : {0.25, 0.75, 1.5}) {
    tp t0{};
    cpu_budget budget{cores, cpu_budget::default_burst, t0};
    std::vector<tp> wake(3, t0);
    std::chrono::nanoseconds used{0};
    const auto run = 10s;
    for (auto now = t0; now < t0 + run; now += 1ms)
      for (auto& w : wake) {
        if (w > now) continue;
        used += 1ms;
        w = now + 1ms + budget.charge(1ms, now + 1ms);
      }
    auto ran = std::chrono::duration<double>(used).count();
    auto allowed = cores * 10.0;
    BOOST_TEST_INFO("cores " << cores << ": used " << ran << " s of CPU in 10 s");
    BOOST_TEST(ran <= allowed + 0.01 + 0.003); // the burst, and one slice of each thread
    BOOST_TEST(ran >= allowed * 0.95);
  }
}

BOOST_AUTO_TEST_CASE(a_thread_pacing_its_reads_uses_no_more_than_the_budget) {
  // A real thread, spinning through a "read" that calls pace_read: its CPU clock advances at
  // the budget's rate, not at the wall clock's.
  auto budget = std::make_shared<cpu_budget>(0.2);
  std::chrono::nanoseconds used{0};
  std::chrono::duration<double> wall{0};
  std::thread spinner{[&] {
    meter_reads(budget);
    auto start_cpu = thread_cpu_time();
    auto start = std::chrono::steady_clock::now();
    volatile uint64_t sink = 0;
    while (std::chrono::steady_clock::now() - start < 1s) {
      for (int i = 0; i < 1000; ++i) sink = sink + static_cast<uint64_t>(i);
      pace_read();
    }
    settle_read();
    wall = std::chrono::steady_clock::now() - start;
    used = thread_cpu_time() - start_cpu;
  }};
  spinner.join();
  auto ran = std::chrono::duration<double>(used).count();
  BOOST_TEST_INFO("used " << ran << " s of CPU in " << wall.count() << " s");
  BOOST_TEST(ran <= 0.2 * wall.count() + 0.02);
  BOOST_TEST(ran > 0.0);
}

BOOST_AUTO_TEST_CASE(a_thread_without_a_budget_is_not_paced) {
  // The read functions called directly (tools, tests, the bench) run at full speed.
  std::chrono::duration<double> wall{0};
  std::thread spinner{[&] {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 1000000; ++i) pace_read();
    settle_read();
    wall = std::chrono::steady_clock::now() - start;
  }};
  spinner.join();
  BOOST_TEST(wall.count() < 1.0); // a million calls; a single wait of a paced thread is longer
}

namespace {

/// Two readers sharing a quarter of a core, at the write path's own priority (so nothing but
/// the budget holds them back), an archive of 3,000 events, and four clients asking for a listing
/// that walks all of it (a filter not read from keys), each as soon as its last one is answered.
struct listed_engine : engine_fixture {
  listed_engine() {
    config.readers.count = 2;
    config.readers.cpu = 0.25;
    config.readers.idle = false;
    config.readers.nice = 0;
    start();
    event_list batch;
    for (int i = 0; i < 3000; ++i) {
      event e;
      e.type = "budget_probe";
      e.content = R"({"n":)" + std::to_string(i) + "}";
      batch.push_back(std::move(e));
      if (batch.size() == 500) {
        BOOST_REQUIRE(static_cast<bool>(call<publish_outcome_list>(publish_atom::value, batch)));
        batch.clear();
      }
    }
    auto first = call<json_page>(events_atom::value, walk);
    BOOST_REQUIRE_MESSAGE(static_cast<bool>(first),
                          (first ? std::string{} : message_of(first.error())));
    BOOST_TEST(first->page.total == 3000u);
  }

  ~listed_engine() { stop_clients(); }

  void start_clients() {
    for (int i = 0; i < 4; ++i)
      clients.emplace_back([this] {
        while (!stop) {
          auto page = call<json_page>(events_atom::value, walk);
          ++(page && page->page.total >= 3000u ? answered : failed);
        }
      });
  }

  void stop_clients() {
    stop = true;
    for (auto& c : clients) c.join();
    clients.clear();
  }

  /// The readers' CPU time over `window` and the window's length, in seconds.
  std::pair<double, double> readers_cpu_over(std::chrono::milliseconds window) {
    auto before = cpu_of_threads(reader_thread_name);
    auto start_wall = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(window);
    auto after = cpu_of_threads(reader_thread_name);
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - start_wall;
    BOOST_TEST(before.threads == 2);
    BOOST_TEST(after.threads == 2);
    return {after.used_s - before.used_s, took.count()};
  }

  query walk = rql("ne(type,none)&limit(5)");
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> answered{0};
  std::atomic<uint64_t> failed{0};
  std::vector<std::thread> clients;
};

} // namespace

BOOST_FIXTURE_TEST_CASE(four_clients_listing_while_events_flow_get_the_readers_budget,
                        listed_engine) {
  // A publisher keeps writing (an event every 20 ms) all through the window.
  std::atomic<bool> publishing{true};
  std::thread publisher{[&] {
    while (publishing) {
      publish("budget_probe", R"({"n":-1})");
      std::this_thread::sleep_for(20ms);
    }
  }};
  start_clients();
  std::this_thread::sleep_for(300ms); // every reader busy
  auto [used, window] = readers_cpu_over(3s);
  stop_clients();
  publishing = false;
  publisher.join();
  BOOST_TEST_INFO("the readers used " << used << " s of CPU in " << window << " s; " << answered
                                      << " listings answered");
  // The budget, its burst, and the clock ticks /proc counts in (one per thread at each end).
  auto tick = 1.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
  BOOST_TEST(used <= 0.25 * window + 0.01 + 4 * tick);
  BOOST_TEST(answered > 0u);
  BOOST_TEST(failed == 0u);
}

BOOST_FIXTURE_TEST_CASE(on_a_node_where_nothing_is_written_listings_run_free, listed_engine) {
  // The same clients, no publisher: a second after the last write the budget lets go, and the
  // readers take more than a quarter of a core, as much as the machine gives them. The check
  // waits for twice the budget over a window, for up to 20 s: a busy machine only slows it.
  std::this_thread::sleep_for(cpu_budget::quiet_after);
  start_clients();
  auto free = false;
  double used = 0, window = 0;
  for (int i = 0; i < 10 && !free; ++i) {
    std::tie(used, window) = readers_cpu_over(2s);
    free = used >= 2 * 0.25 * window;
  }
  stop_clients();
  BOOST_TEST_INFO("the readers used " << used << " s of CPU in " << window << " s");
  BOOST_TEST(free);
  BOOST_TEST(failed == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
