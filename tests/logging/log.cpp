// The logger as an operator and an embedder meet it: the one line format, levels globally and
// per component, nothing built for a dropped line, redirection, and whole lines under threads.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fixtures/log_capture.hpp"
#include "fixtures/temp_dir.hpp"
#include "logging/log.hpp"

using namespace dispatch;
using namespace dispatch::test;

namespace dispatch {

// For Boost.Test's failure messages.
std::ostream& operator<<(std::ostream& out, log_level level) {
  return out << to_string(level);
}

} // namespace dispatch

namespace {

// The logger is the process's: every test leaves it as it found it (info, no own levels, stderr).
struct logger_reset {
  logger_reset() { configure_logging({}); }
  ~logger_reset() {
    configure_logging({});
    set_log_writer({});
  }
};

// 2026-12-06T14:03:07.123Z
std::chrono::system_clock::time_point sample_time() {
  using namespace std::chrono;
  return system_clock::time_point{milliseconds{1796565787123}};
}

// Sends file descriptor 2 to a file while it lives, so that the default writer can be read.
class stderr_to_file {
public:
  explicit stderr_to_file(const std::string& path) {
    saved_ = ::dup(STDERR_FILENO);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    BOOST_REQUIRE(fd >= 0);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~stderr_to_file() {
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
  }
  stderr_to_file(const stderr_to_file&) = delete;
  stderr_to_file& operator=(const stderr_to_file&) = delete;

private:
  int saved_ = -1;
};

// Sends file descriptor 2 into a pipe while it lives, read on a thread of its own: a pipe keeps
// only writes up to PIPE_BUF (4096 bytes) whole, so longer lines from several threads can mix
// unless the logger keeps them apart.
class stderr_to_pipe {
public:
  stderr_to_pipe() {
    int ends[2];
    BOOST_REQUIRE(::pipe(ends) == 0);
    saved_ = ::dup(STDERR_FILENO);
    ::dup2(ends[1], STDERR_FILENO);
    ::close(ends[1]);
    read_end_ = ends[0];
    reader_ = std::thread{[this] {
      char buffer[65536];
      for (;;) {
        auto n = ::read(read_end_, buffer, sizeof(buffer));
        if (n <= 0) return;
        text_.append(buffer, static_cast<size_t>(n));
      }
    }};
  }
  ~stderr_to_pipe() { stop(); }
  stderr_to_pipe(const stderr_to_pipe&) = delete;
  stderr_to_pipe& operator=(const stderr_to_pipe&) = delete;

  /// Puts stderr back and returns everything that came through the pipe.
  const std::string& stop() {
    if (saved_ >= 0) {
      ::dup2(saved_, STDERR_FILENO); // closes the pipe's last write end: the reader sees its end
      ::close(saved_);
      saved_ = -1;
      reader_.join();
      ::close(read_end_);
    }
    return text_;
  }

private:
  int saved_ = -1;
  int read_end_ = -1;
  std::thread reader_;
  std::string text_;
};

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool contains_suffix(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size()
         && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> result;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);) result.push_back(line);
  return result;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(logger, logger_reset)

BOOST_AUTO_TEST_CASE(a_line_is_utc_time_level_component_and_text) {
  auto line = [](log_level level, log_component component, const char* text) {
    return format_log_line(log_line{sample_time(), level, component, text});
  };
  BOOST_TEST(line(log_level::info, log_component::matcher, "text")
             == "2026-12-06T14:03:07.123Z INFO  matcher: text");
  BOOST_TEST(line(log_level::warning, log_component::http, "cap reached")
             == "2026-12-06T14:03:07.123Z WARN  http: cap reached");
  BOOST_TEST(line(log_level::error, log_component::store, "x")
             == "2026-12-06T14:03:07.123Z ERROR store: x");
  BOOST_TEST(line(log_level::debug, log_component::dispatchd, "")
             == "2026-12-06T14:03:07.123Z DEBUG dispatchd: ");
  // Milliseconds keep their leading zeros.
  auto early = format_log_line(
    log_line{std::chrono::system_clock::time_point{std::chrono::milliseconds{1796565787004}},
             log_level::info, log_component::cluster, "t"});
  BOOST_TEST(early == "2026-12-06T14:03:07.004Z INFO  cluster: t");
}

BOOST_AUTO_TEST_CASE(a_text_with_line_breaks_stays_one_line) {
  log_capture captured;
  log_write(log_component::store, log_level::error, "first\nsecond\r\nthird\n\n");
  auto lines = captured.lines();
  BOOST_REQUIRE_EQUAL(lines.size(), 1u);
  BOOST_TEST(lines[0].substr(25) == "ERROR store: first\\nsecond\\r\\nthird");
}

BOOST_AUTO_TEST_CASE(names_of_levels_and_components_round_trip) {
  for (auto level : {log_level::error, log_level::warning, log_level::info, log_level::debug})
    BOOST_TEST((log_level_named(to_string(level)) == level));
  for (auto component : log_components())
    BOOST_TEST((log_component_named(to_string(component)) == component), to_string(component));
  BOOST_TEST(log_components().size() == log_component_count);
  BOOST_TEST(!log_level_named("WARNING"));
  BOOST_TEST(!log_level_named("warn"));
  BOOST_TEST(!log_component_named("matchers"));
  BOOST_TEST(std::string{to_string(log_component::webhook)} == "webhook");
}

BOOST_AUTO_TEST_CASE(the_global_level_drops_what_lies_below_it) {
  log_capture captured;
  DISPATCH_LOG(debug, matcher) << "debug at info";
  DISPATCH_LOG(info, matcher) << "info at info";
  set_log_level(log_level::warning);
  DISPATCH_LOG(info, emitter) << "info at warning";
  DISPATCH_LOG(warning, emitter) << "warning at warning";
  DISPATCH_LOG(error, emitter) << "error at warning";
  set_log_level(log_level::error);
  DISPATCH_LOG(warning, http) << "warning at error";
  DISPATCH_LOG(error, http) << "error at error";
  set_log_level(log_level::debug);
  DISPATCH_LOG(debug, http) << "debug at debug";
  std::vector<std::string> texts;
  for (auto& line : captured.lines()) texts.push_back(line.substr(line.find(": ") + 2));
  std::vector<std::string> expected{"info at info", "warning at warning", "error at warning",
                                    "error at error", "debug at debug"};
  BOOST_TEST(texts == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_component_level_overrides_the_global_one_both_ways) {
  log_capture captured;
  set_log_level(log_level::warning);
  set_log_level(log_component::matcher, log_level::debug);
  set_log_level(log_component::http, log_level::error);
  BOOST_TEST(log_level_of(log_component::matcher) == log_level::debug);
  BOOST_TEST(log_level_of(log_component::emitter) == log_level::warning);
  DISPATCH_LOG(debug, matcher) << "matcher debug"; // its own level lets it through
  DISPATCH_LOG(info, emitter) << "emitter info";   // the global level drops it
  DISPATCH_LOG(warning, http) << "http warning";   // its own level drops it
  DISPATCH_LOG(warning, supervisor) << "supervisor warning";
  // The global level changes under the components without a level of their own only.
  set_log_level(log_level::info);
  DISPATCH_LOG(info, emitter) << "emitter info again";
  DISPATCH_LOG(warning, http) << "http warning again";
  // Reset: the component follows the global level again.
  reset_log_level(log_component::http);
  DISPATCH_LOG(info, http) << "http info after reset";
  BOOST_TEST(captured.contains("DEBUG matcher: matcher debug"), captured.text());
  for (auto& line : captured.lines()) BOOST_TEST(!contains_suffix(line, ": emitter info"), line);
  BOOST_TEST(!captured.contains("http warning"), captured.text());
  BOOST_TEST(captured.contains("WARN  supervisor: supervisor warning"));
  BOOST_TEST(captured.contains("INFO  emitter: emitter info again"));
  BOOST_TEST(captured.contains("INFO  http: http info after reset"));
  BOOST_TEST(captured.lines().size() == 4u, captured.text());
}

BOOST_AUTO_TEST_CASE(configure_logging_puts_a_whole_configuration_in_force) {
  set_log_level(log_component::store, log_level::debug);
  log_config config;
  config.level = log_level::error;
  config.components = {{log_component::cluster, log_level::info}};
  configure_logging(config);
  BOOST_TEST(log_level_of(log_component::cluster) == log_level::info);
  BOOST_TEST(log_level_of(log_component::store) == log_level::error); // its old level is gone
  BOOST_TEST(log_level_of(log_component::dispatchd) == log_level::error);
  BOOST_TEST(log_enabled(log_component::cluster, log_level::info));
  BOOST_TEST(!log_enabled(log_component::cluster, log_level::debug));
  BOOST_TEST(!log_enabled(log_component::dispatchd, log_level::warning));
}

BOOST_AUTO_TEST_CASE(a_dropped_line_builds_nothing) {
  log_capture captured;
  int built = 0;
  auto expensive = [&built] {
    ++built;
    return std::string(1000, 'x');
  };
  set_log_level(log_level::info);
  DISPATCH_LOG(debug, matcher) << "dropped " << expensive();
  BOOST_TEST(built == 0);
  DISPATCH_LOG(info, matcher) << "kept " << expensive().size();
  BOOST_TEST(built == 1);
  // One expression: an unbraced if/else around it keeps its meaning.
  bool took_else = false;
  if (built == 0)
    DISPATCH_LOG(info, matcher) << "never";
  else
    took_else = true;
  BOOST_TEST(took_else);
  BOOST_TEST(captured.lines().size() == 1u, captured.text());
  BOOST_TEST(captured.contains("INFO  matcher: kept 1000"));
}

BOOST_AUTO_TEST_CASE(a_writer_receives_every_line_and_stderr_has_them_back_after) {
  temp_dir dir;
  stderr_to_file to_file{dir / "stderr.log"};
  std::vector<std::string> received;
  set_log_writer([&received](const log_line& record) {
    std::ostringstream line;
    line << to_string(record.component) << "|" << to_string(record.level) << "|" << record.text;
    received.push_back(line.str());
  });
  DISPATCH_LOG(warning, webhook) << "circuit open: HTTP " << 503;
  log_write(log_component::cluster, log_level::info, "peer 2 up");
  log_write(log_component::cluster, log_level::debug, "dropped before the writer");
  set_log_writer({});
  DISPATCH_LOG(error, http) << "back on stderr";
  std::vector<std::string> expected{"webhook|warning|circuit open: HTTP 503",
                                    "cluster|info|peer 2 up"};
  BOOST_TEST(received == expected, boost::test_tools::per_element());
  auto lines = lines_of(read_file(dir / "stderr.log"));
  BOOST_REQUIRE_EQUAL(lines.size(), 1u);
  std::regex format{R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ERROR http: back on stderr)"};
  BOOST_TEST(std::regex_match(lines[0], format), lines[0]);
}

BOOST_AUTO_TEST_CASE(a_writer_that_logs_itself_sends_that_line_to_stderr) {
  temp_dir dir;
  stderr_to_file to_file{dir / "stderr.log"};
  int calls = 0;
  set_log_writer([&calls](const log_line&) {
    ++calls;
    DISPATCH_LOG(warning, dispatchd) << "from inside the writer";
  });
  DISPATCH_LOG(info, engine) << "outer";
  set_log_writer({});
  BOOST_TEST(calls == 1);
  auto text = read_file(dir / "stderr.log");
  BOOST_TEST(text.find("WARN  dispatchd: from inside the writer\n") != std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(lines_from_many_threads_stay_whole_on_stderr) {
  // Lines longer than a pipe's atomic write (4096 bytes) from several threads at once: each must
  // arrive whole, in its own line, none lost.
  constexpr int threads = 6;
  constexpr int per_thread = 300;
  stderr_to_pipe to_pipe;
  std::vector<std::thread> writers;
  for (int t = 0; t < threads; ++t)
    writers.emplace_back([t] {
      std::string body(5000 + t * 100, static_cast<char>('a' + t));
      for (int i = 0; i < per_thread; ++i)
        DISPATCH_LOG(info, emitter) << "thread " << t << " line " << i << " " << body;
    });
  for (auto& w : writers) w.join();
  auto lines = lines_of(to_pipe.stop());
  BOOST_REQUIRE_EQUAL(lines.size(), static_cast<size_t>(threads * per_thread));
  std::regex format{
    R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO  emitter: thread (\d) line (\d+) ([a-z]+))"};
  std::map<int, int> next_of_thread;
  size_t malformed = 0;
  for (auto& line : lines) {
    std::smatch m;
    if (!std::regex_match(line, m, format)) {
      ++malformed;
      continue;
    }
    int t = std::stoi(m[1].str());
    auto body = m[3].str();
    if (body != std::string(5000 + t * 100, static_cast<char>('a' + t))) ++malformed;
    // One thread's lines come in the order it wrote them.
    if (std::stoi(m[2].str()) != next_of_thread[t]++) ++malformed;
  }
  BOOST_TEST(malformed == 0u);
}

BOOST_AUTO_TEST_CASE(a_writer_is_never_called_by_two_threads_at_once) {
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  std::vector<std::string> kept; // no lock of its own: the logger's is enough
  set_log_writer([&](const log_line& record) {
    if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
    kept.emplace_back(record.text);
    std::this_thread::yield();
    inside.fetch_sub(1);
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t)
    writers.emplace_back([t] {
      for (int i = 0; i < 2000; ++i) DISPATCH_LOG(warning, cluster) << t << ":" << i;
    });
  for (auto& w : writers) w.join();
  set_log_writer({});
  BOOST_TEST(overlaps.load() == 0);
  BOOST_TEST(kept.size() == 8000u);
}

BOOST_AUTO_TEST_SUITE_END()
