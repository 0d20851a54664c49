// A corpus of bad input sent to a running dispatchd while a well-behaved client keeps working:
// each gets its exact status and error code, the other client only 200s, the daemon stays up.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fixtures/dispatchd_process.hpp"
#include "fixtures/http_client.hpp"
#include "fixtures/temp_dir.hpp"

using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

/// One request of the corpus and the error it must get.
struct bad_request {
  const char* what;
  std::string method;
  std::string target;
  std::string body;
  http_header_list headers;
  unsigned status;
  unsigned code;
};

/// A client publishing and reading in a loop on its own connection; it records every answer
/// that is not a 200 (Boost.Test checks belong to the main thread).
class steady_client {
public:
  explicit steady_client(uint16_t port) : thread_([this, port] { run(port); }) {}
  ~steady_client() { stop(); }

  /// Stops the loop; returns the rounds it completed.
  size_t stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    return rounds_;
  }

  std::vector<std::string> failures() {
    std::lock_guard<std::mutex> guard{mutex_};
    return failures_;
  }

private:
  void run(uint16_t port) {
    try {
      http_client client{"127.0.0.1", port, 30s};
      while (!stop_.load()) {
        auto published = client.request("POST", "/events/v1/", R"({"type":"steady"})");
        auto found = client.request("GET", "/dispatchers/v1/?limit(5)");
        for (auto* answer : {&published, &found})
          if (answer->status != 200) fail(std::to_string(answer->status) + " " + answer->body);
        ++rounds_;
      }
    } catch (const std::exception& e) {
      fail(e.what());
    }
  }

  void fail(const std::string& what) {
    std::lock_guard<std::mutex> guard{mutex_};
    failures_.push_back(what);
  }

  std::atomic<bool> stop_{false};
  size_t rounds_ = 0;
  std::mutex mutex_;
  std::vector<std::string> failures_;
  std::thread thread_;
};

std::string nested(size_t depth) {
  return R"({"type":"deep","content":)" + std::string(depth, '[') + "1" + std::string(depth, ']')
         + "}";
}

// The corpus reads best one request a row.
// clang-format off
std::vector<bad_request> bodies_that_are_not_json() {
  const http_header_list json{{"Content-Type", "application/json"}};
  return {
      {"truncated object", "POST", "/events/v1/", R"({"type":)", {}, 400, 22},
      {"unquoted key", "POST", "/events/v1/", R"({type:"x"})", {}, 400, 22},
      {"trailing comma", "POST", "/events/v1/", R"({"type":"x",})", {}, 400, 22},
      {"trailing garbage", "POST", "/events/v1/", R"({"type":"x"} {})", {}, 400, 22},
      {"single quotes", "POST", "/dispatchers/v1/", "{'eventType':'x'}", {}, 400, 22},
      {"nesting 100000 deep", "POST", "/events/v1/", nested(100000), {}, 400, 22},
      {"nesting 65 deep", "POST", "/events/v1/", nested(65), {}, 400, 22},
      {"invalid UTF-8", "POST", "/events/v1/", "{\"type\":\"x\",\"content\":{\"a\":\"\xff\xfe\"}}",
       {}, 400, 22},
      {"overlong UTF-8", "POST", "/events/v1/", "{\"type\":\"\xc0\xaf\"}", {}, 400, 22},
      {"lone surrogate", "POST", "/events/v1/", R"({"type":"x","content":{"a":"\ud800"}})", {},
       400, 22},
      {"duplicate keys", "POST", "/events/v1/", R"({"type":"x","type":"y"})", {}, 400, 22},
      {"duplicate keys in content", "POST", "/events/v1/",
       R"({"type":"x","content":{"a":1,"a":2}})", {}, 400, 22},
      {"text/plain", "POST", "/events/v1/", R"({"type":"x"})", {{"Content-Type", "text/plain"}},
       400, 22},
      {"form", "POST", "/dispatchers/v1/", "eventType=x",
       {{"Content-Type", "application/x-www-form-urlencoded"}}, 400, 22},
      {"empty body on publish", "POST", "/events/v1/", "", json, 400, 13},
      {"empty body on create", "POST", "/dispatchers/v1/", "", json, 400, 13},
      {"array for an event", "POST", "/events/v1/", R"([{"type":"x"}])", {}, 400, 22},
      {"array for a dispatcher", "POST", "/dispatchers/v1/", "[]", {}, 400, 22},
      {"object for a batch", "POST", "/events/v1/batch", R"({"type":"x"})", {}, 400, 22},
      {"a bare number", "POST", "/events/v1/", "42", {}, 400, 22},
      {"a number beyond double", "POST", "/events/v1/", R"({"type":"x","content":{"n":1e400}})",
       {}, 400, 22},
  };
}

std::vector<bad_request> fields_of_wrong_shape() {
  auto unknown = fresh_object_id();
  return {
      {"empty eventType", "POST", "/dispatchers/v1/", R"({"eventType":""})", {}, 400, 14},
      {"empty event type", "POST", "/events/v1/", R"({"type":""})", {}, 400, 14},
      {"no event type", "POST", "/events/v1/", R"({"content":{}})", {}, 400, 14},
      {"numeric eventType", "POST", "/dispatchers/v1/", R"({"eventType":5})", {}, 400, 15},
      {"numeric name", "POST", "/dispatchers/v1/", R"({"eventType":"x","name":7})", {}, 400, 15},
      {"tags as a string", "POST", "/dispatchers/v1/", R"({"eventType":"x","tags":"a"})", {}, 400,
       15},
      {"actions as an object", "POST", "/dispatchers/v1/", R"({"eventType":"x","actions":{}})",
       {}, 400, 15},
      {"numeric functionName", "POST", "/dispatchers/v1/",
       R"({"eventType":"x","actions":[{"type":"task","functionName":3}]})", {}, 400, 15},
      {"huge priority", "POST", "/dispatchers/v1/",
       R"({"eventType":"x","actions":[{"type":"task","functionName":"f",)"
       R"("priority":99999999999999999999}]})",
       {}, 400, 15},
      {"content as a string", "POST", "/events/v1/", R"({"type":"x","content":"s"})", {}, 400, 15},
      {"numeric event id", "POST", "/events/v1/", R"({"type":"x","id":42})", {}, 400, 12},
      {"event id not hex", "POST", "/events/v1/", R"({"type":"x","id":"not-an-object-id"})", {},
       400, 12},
      {"timestamp as words", "POST", "/events/v1/", R"({"type":"x","creationTimestamp":"soon"})",
       {}, 400, 15},
      {"huge timestamp", "POST", "/events/v1/", R"({"type":"x","creationTimestamp":1e300})", {},
       400, 15},
      {"malformed RQL: open call", "GET", "/dispatchers/v1/?eq(name", "", {}, 400, 19},
      {"malformed RQL: unknown operator", "GET", "/dispatchers/v1/?frob(name,x)", "", {}, 400, 19},
      {"malformed RQL: bad limit", "GET", "/dispatchers/v1/?limit(abc)", "", {}, 400, 19},
      {"malformed RQL: extra paren", "GET", "/tasks/v1/?eq(name,a))", "", {}, 400, 19},
      {"malformed RQL: empty sort", "GET", "/deliveries/v1/?sort(", "", {}, 400, 19},
      {"short id", "GET", "/dispatchers/v1/123", "", {}, 400, 12},
      {"id not hex", "DELETE", "/dispatchers/v1/zzzzzzzzzzzzzzzzzzzzzzzz", "", {}, 400, 12},
      {"action id too long", "DELETE", "/dispatchers/v1/" + unknown + "/actions/" + unknown + "0",
       "", {}, 400, 12},
      {"delivery id wrong", "POST", "/deliveries/v1/xyz/replay", "", {}, 400, 12},
      {"unknown dispatcher", "GET", "/dispatchers/v1/" + unknown, "", {}, 404, 16},
      {"update unknown dispatcher", "PUT", "/dispatchers/v1/" + unknown, R"({"name":"n"})", {},
       404, 16},
      {"remove unknown dispatcher", "DELETE", "/dispatchers/v1/" + unknown, "", {}, 404, 16},
      {"replay unknown delivery", "POST", "/deliveries/v1/" + unknown + "/replay", "", {}, 404, 16},
      {"purge unknown delivery", "DELETE", "/deliveries/v1/" + unknown, "", {}, 404, 16},
      {"unknown path", "GET", "/nothing/v1/", "", {}, 404, 16},
  };
}

// clang-format on

// Bytes no HTTP client would send, each on its own connection.
void check_broken_http(uint16_t port) {
  {
    http_client client{"127.0.0.1", port, 30s};
    client.send_raw("GARBAGE\r\n\r\n");
    check_error(client.read_response(), 400, 22, "a request line of garbage");
  }
  {
    http_client client{"127.0.0.1", port, 30s};
    auto answer = client.request("GET", "/health", "", {{"X-Padding", std::string(20000, 'a')}});
    check_error(answer, 431, 22, "headers beyond the limit");
  }
  {
    // Content-Length promises more than comes, then the client goes away: nothing to answer.
    http_client client{"127.0.0.1", port, 30s};
    client.send_raw(
      "POST /events/v1/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 100\r\n\r\n{\"type\":");
    client.close();
  }
  {
    // The whole 10 MiB is sent, and the answer must still be read (not a reset).
    http_client client{"127.0.0.1", port, 30s};
    std::string body = R"({"type":"big","content":{"pad":")" + std::string(10 << 20, 'x') + "\"}}";
    try {
      check_error(client.request("POST", "/events/v1/", body), 413, 22, "a 10 MiB body");
    } catch (const std::exception& e) {
      BOOST_ERROR("a 10 MiB body: no answer, " << e.what());
    }
    http_client polite{"127.0.0.1", port, 30s};
    check_error(polite.request("POST", "/events/v1/", body, {{"Expect", "100-continue"}}), 413, 22,
                "a 10 MiB body announced with Expect: 100-continue");
  }
}

// Names and content beyond ASCII are stored and read back byte for byte.
void check_unicode_round_trip(uint16_t port) {
  http_client client{"127.0.0.1", port, 30s};
  // Written as universal character names; GCC's execution character set is UTF-8.
  const std::string name = "Gr\u00fc\u00dfe \u540d\u524d \u2713";
  const std::string greeting = "hi \U0001F44B\U0001F3FD"; // waving hand, skin tone
  auto created = client.request("POST", "/dispatchers/v1/",
                                R"({"eventType":"unicode_probe","name":")" + name
                                  + R"(","actions":[{"type":"task","functionName":"f"}]})");
  BOOST_REQUIRE_MESSAGE(created.status == 200u, created.body);
  auto id = std::string{json_of(created)["id"].GetString()};
  auto read = json_of(client.request("GET", "/dispatchers/v1/" + id));
  BOOST_TEST(std::string{read["name"].GetString()} == name);
  auto event_id = fresh_object_id();
  auto published = client.request("POST", "/events/v1/",
                                  R"({"type":"unicode_probe","id":")" + event_id
                                    + R"(","content":{"greeting":")" + greeting
                                    + R"(","\u043a\u043b\u044e\u0447":"\ud83d\ude00"}})");
  BOOST_REQUIRE_MESSAGE(published.status == 200u, published.body);
  auto check_content = [&](const rapidjson::Value& content, const std::string& where) {
    BOOST_TEST_CONTEXT(where) {
      BOOST_REQUIRE(content.IsObject());
      BOOST_TEST(std::string{content["greeting"].GetString()} == greeting);
      // The escaped key and the escaped surrogate pair arrive as UTF-8.
      auto key = "\u043a\u043b\u044e\u0447";
      BOOST_REQUIRE(content.HasMember(key));
      BOOST_TEST(std::string{content[key].GetString()} == "\U0001F600");
    }
  };
  check_content(json_of(published)["content"], "the publish answer");
  rapidjson::Document tasks;
  BOOST_REQUIRE(eventually([&] {
    tasks = json_of(client.request("GET", "/tasks/v1/?eq(data.event.id," + event_id + ")"));
    return tasks.IsObject() && tasks["data"].Size() == 1;
  }));
  check_content(tasks["data"][0]["data"]["event"]["content"], "the task");
}

} // namespace

BOOST_AUTO_TEST_SUITE(service_bad_input)

BOOST_AUTO_TEST_CASE(bad_input_is_answered_while_another_client_is_served) {
  temp_dir dir;
  dispatchd_process dispatchd{dispatchd_args(dir / "data"), dir / "run.log"};
  auto port = dispatchd.port_of("127.0.0.1");
  steady_client steady{port};
  auto corpus = bodies_that_are_not_json();
  for (auto& more : fields_of_wrong_shape()) corpus.push_back(more);
  for (auto& bad : corpus) {
    // A fresh connection each: a refusal may close it.
    http_client client{"127.0.0.1", port, 30s};
    check_error(client.request(bad.method, bad.target, bad.body, bad.headers), bad.status, bad.code,
                bad.what);
  }
  check_broken_http(port);
  check_unicode_round_trip(port);
  BOOST_TEST(steady.stop() > 0u);
  for (auto& failure : steady.failures()) BOOST_ERROR("the steady client got: " << failure);
  http_client client{"127.0.0.1", port};
  BOOST_TEST(client.request("GET", "/health").status == 200u);
  BOOST_TEST(dispatchd.running());
}

BOOST_AUTO_TEST_SUITE_END()
