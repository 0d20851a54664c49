// The dispatchd child process and the JSON readers shared by the apps tests
// (dispatchd_process.hpp). The child dies with the test (PR_SET_PDEATHSIG) so a failed test never
// leaves a daemon behind.
#include "dispatchd_process.hpp"

#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace dispatch::test {

using namespace std::chrono_literals;

std::string read_text_file(const std::string& path) {
  std::ifstream in{path};
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<std::string> dispatchd_args(const std::string& data_dir,
                                        std::vector<std::string> more) {
  std::vector<std::string> args{"--dispatch.data-dir=" + data_dir, "--dispatch.http.port=0",
                                "--dispatch.http.host=127.0.0.1"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

namespace {

std::vector<std::string> with_binary(std::vector<std::string> args) {
  args.insert(args.begin(), DISPATCHD_PATH);
  return args;
}

} // namespace

dispatchd_process::dispatchd_process(std::vector<std::string> args, std::string log_path)
    : log_path_(std::move(log_path)), child_(with_binary(std::move(args)), log_path_) {}

dispatchd_process::~dispatchd_process() = default;

std::smatch dispatchd_process::wait_for(const std::string& pattern) {
  std::regex re{pattern};
  auto until = std::chrono::steady_clock::now() + dispatchd_deadline;
  while (std::chrono::steady_clock::now() < until) {
    log_text_ = log();
    std::smatch match;
    if (std::regex_search(log_text_, match, re)) return match;
    if (!running()) {
      log_text_ = log();
      std::regex_search(log_text_, match, re);
      return match;
    }
    std::this_thread::sleep_for(20ms);
  }
  return {};
}

uint16_t dispatchd_process::port_of(const std::string& host) {
  auto ready = wait_for("\\bready\\n");
  BOOST_REQUIRE_MESSAGE(!ready.empty(), "dispatchd did not get ready:\n" + log());
  auto match = wait_for("listening on " +
                        std::regex_replace(host, std::regex{"[.\\[\\]]"}, "\\$&") + ":([0-9]+)");
  BOOST_REQUIRE_MESSAGE(!match.empty(), "no listening line for " + host + ":\n" + log());
  return static_cast<uint16_t>(std::stoi(match[1].str()));
}

int dispatchd_process::exit_status(std::chrono::milliseconds limit) {
  BOOST_CHECK_MESSAGE(child_.wait_exit(limit), "dispatchd did not exit in time:\n" + log());
  auto status = child_.kill_and_reap();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

rapidjson::Document json_of(const http_answer& answer) {
  rapidjson::Document doc;
  doc.Parse(answer.body.c_str(), answer.body.size());
  return doc;
}

void check_error(const http_answer& answer, unsigned status, unsigned code,
                 const std::string& what) {
  BOOST_TEST_CONTEXT(what << " -> " << answer.status << " " << answer.body) {
    BOOST_TEST(answer.status == status);
    auto doc = json_of(answer);
    BOOST_REQUIRE(!doc.HasParseError());
    BOOST_REQUIRE(doc.IsObject());
    BOOST_TEST((doc.HasMember("code") && doc["code"].IsUint() && doc["code"].GetUint() == code));
    BOOST_TEST((doc.HasMember("name") && doc["name"].IsString() && doc["name"].GetStringLength()));
    BOOST_TEST((doc.HasMember("message") && doc["message"].IsString() &&
                doc["message"].GetStringLength() > 0));
  }
}

std::map<std::string, size_t> tasks_by_event(http_client& client, size_t& total) {
  std::map<std::string, size_t> count;
  total = 0;
  for (size_t offset = 0;; offset += 50) {
    auto answer = client.request(
        "GET", "/tasks/v1/?select(data.event.id)&limit(50," + std::to_string(offset) + ")");
    BOOST_REQUIRE_MESSAGE(answer.status == 200u, answer.body);
    auto doc = json_of(answer);
    BOOST_REQUIRE(!doc.HasParseError() && doc.IsObject() && doc["data"].IsArray());
    total = doc["page"]["total"].GetUint64();
    for (auto& task : doc["data"].GetArray()) ++count[task["data"]["event"]["id"].GetString()];
    if (doc["data"].Empty() || offset + 50 >= total) return count;
  }
}

uint64_t page_total(http_client& client, const std::string& target) {
  auto answer = client.request("GET", target);
  if (answer.status != 200) return UINT64_MAX;
  auto doc = json_of(answer);
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("page")) return UINT64_MAX;
  return doc["page"]["total"].GetUint64();
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(50ms);
  }
}

std::string fresh_object_id() {
  // A random process prefix keeps ids of separate test runs apart; the counter keeps ours apart.
  static const uint64_t prefix = std::random_device{}() ^ static_cast<uint64_t>(::getpid()) << 16;
  static std::atomic<uint64_t> counter{0};
  char text[25];
  std::snprintf(text, sizeof(text), "%08x%016llx", static_cast<unsigned>(prefix & 0xffffffffu),
                static_cast<unsigned long long>(counter.fetch_add(1)));
  return text;
}

}  // namespace dispatch::test
