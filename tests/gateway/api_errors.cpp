// The HTTP API's answers to bad requests: body rules, unknown paths and methods, malformed RQL,
// the body limit, bearer tokens, and an engine that is gone.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <future>
#include <iostream>

#include <caf/logger.hpp>
#include <caf/send.hpp>

#include "api_fixture.hpp"
#include "messages/json.hpp"
#include "messages/validation.hpp"

using namespace dispatch;
using namespace dispatch::test;

namespace {

struct started : api_fixture {
  started() {
    options.body_limit = 4096;
    start();
  }
};

struct with_tokens : api_fixture {
  with_tokens() {
    options.tokens = {"first-secret", "second-secret"};
    start();
  }
};

void check_error(const api_response& res, unsigned status, unsigned code) {
  BOOST_TEST(res.status == status);
  BOOST_TEST(res.code() == code, "body: " << res.body);
  BOOST_TEST(res.content_type == "application/json");
  BOOST_TEST(res.json.HasMember("name"));
  BOOST_TEST(res.json.HasMember("message"));
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(api_errors, started)

BOOST_AUTO_TEST_CASE(a_missing_body_is_13) {
  for (auto target : {"/dispatchers/v1/", "/events/v1/", "/events/v1/batch"})
    check_error(call("POST", target), 400, 13);
  auto id = create_task_dispatcher("t");
  check_error(call("PUT", "/dispatchers/v1/" + id), 400, 13);
  check_error(call("POST", "/dispatchers/v1/" + id + "/actions"), 400, 13);
}

BOOST_AUTO_TEST_CASE(a_foreign_content_type_is_22_and_says_so) {
  auto res = call("POST", "/events/v1/", R"({"type":"t"})", {{"Content-Type", "text/plain"}});
  check_error(res, 400, 22);
  BOOST_TEST(text(res.json, "message").find("Content-Type") != std::string::npos);
  check_error(
    call("POST", "/events/v1/", R"({"type":"t"})", {{"Content-Type", "application/jsonx"}}), 400,
    22);
  for (auto type :
       {"application/json", "Application/JSON; charset=UTF-8", " application/json ;x=y"})
    BOOST_TEST(call("POST", "/events/v1/", R"({"type":"t"})", {{"Content-Type", type}}).status
                 == 200u,
               type);
}

BOOST_AUTO_TEST_CASE(bodies_that_are_not_json_objects_are_22) {
  std::string deep(65, '[');
  deep += std::string(65, ']');
  std::string deep_object;
  for (int i = 0; i < 70; ++i) deep_object += R"({"a":)";
  deep_object += "1" + std::string(70, '}');
  for (std::string body : {std::string{"not json"}, std::string{"[1,2]"}, std::string{"\"s\""},
                           std::string{R"({"type":"t")"}, std::string{R"({"type":"a","type":"b"})"},
                           std::string{"{\"type\":\"\xff\xfe\"}"}, deep_object})
    check_error(call("POST", "/events/v1/", body), 400, 22);
  check_error(call("POST", "/dispatchers/v1/", deep), 400, 22);
}

// Found by fuzz/http_request.cpp: a path or header quoted byte for byte (and cut at 64 bytes) made
// an error body that was not UTF-8, so strict JSON clients could not read the error.
BOOST_AUTO_TEST_CASE(an_error_quoting_client_bytes_is_still_valid_json) {
  std::string cut_letters;
  for (int i = 0; i < 40; ++i) cut_letters += "\xC3\xA9"; // é, cut mid-letter by the quote
  // A lone byte, a letter cut by the quote, an overlong form, a surrogate, beyond Unicode.
  for (std::string path : {std::string{"/\xFF\xFE/v1"}, "/" + cut_letters, std::string{"/\xC0\xAF"},
                           std::string{"/\xED\xA0\x80x"}, std::string{"/a\xF4\x90\x80\x80"}}) {
    auto res = call("GET", path);
    check_error(res, 404, 16);
    BOOST_TEST(!check_json(res.body), "body: " << res.body);
    BOOST_TEST(is_utf8(res.body), "body: " << res.body);
  }
  auto res = call("POST", "/events/v1/", R"({"type":"t"})", {{"Content-Type", "text/\xC3("}});
  check_error(res, 400, 22);
  BOOST_TEST(!check_json(res.body), "body: " << res.body);
  BOOST_TEST(text(res.json, "message").find("text/\xEF\xBF\xBD(") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(unknown_paths_are_404_naming_the_path) {
  for (auto target : {"/", "/nothing", "/dispatchers", "/dispatchers/v2/", "/events/v1/x/y",
                      "/dispatchers/v1//", "/healthz", "/metrics/x"}) {
    auto res = call("GET", target);
    check_error(res, 404, 16);
  }
  auto res = call("GET", "/no/such/thing?eq(a,b)");
  BOOST_TEST(text(res.json, "message").find("/no/such/thing") != std::string::npos);
  BOOST_TEST(text(res.json, "message").find("eq(a,b)") == std::string::npos);
}

// HEAD is GET without the body: the same status and headers (Content-Length included).
BOOST_AUTO_TEST_CASE(head_answers_like_get_without_a_body) {
  create_task_dispatcher("t.head");
  for (auto target : {"/health", "/dispatchers/v1/", "/deliveries/v1/", "/no/such/thing"}) {
    auto get = call("GET", target);
    auto head = call("HEAD", target);
    BOOST_TEST_CONTEXT(target) {
      BOOST_TEST(head.status == get.status);
      BOOST_TEST(head.body.empty());
      BOOST_TEST(!get.body.empty());
      BOOST_TEST(head.header("Content-Length") == std::to_string(get.body.size()));
      BOOST_TEST(head.header("Content-Type") == get.header("Content-Type"));
    }
  }
  // A path without GET still refuses HEAD.
  auto res = call("HEAD", "/events/v1/batch");
  BOOST_TEST(res.status == 405u);
  BOOST_TEST(res.header("Allow") == "POST");
}

BOOST_AUTO_TEST_CASE(a_known_path_with_another_method_is_405) {
  auto res = call("DELETE", "/dispatchers/v1/");
  check_error(res, 405, 16);
  BOOST_TEST(res.header("Allow") == "GET, HEAD, POST");
  check_error(call("GET", "/events/v1/batch"), 405, 16);
  check_error(call("POST", "/health"), 405, 16);
  check_error(call("GET", "/deliveries/v1/replay"), 405, 16);
  check_error(call("PATCH", "/dispatchers/v1/0123456789abcdef01234567"), 405, 16);
}

BOOST_AUTO_TEST_CASE(malformed_rql_is_19) {
  for (auto target : {"/dispatchers/v1/?eq(name", "/deliveries/v1/?frobnicate(a,b)",
                      "/tasks/v1/?limit(x)", "/mail/v1/?eq(a,%zz)"})
    check_error(call("GET", target), 400, 19);
}

BOOST_AUTO_TEST_CASE(a_body_over_the_limit_is_413) {
  std::string big = R"({"type":"t","content":{"pad":")" + std::string(5000, 'x') + "\"}}";
  auto res = call("POST", "/events/v1/", big);
  check_error(res, 413, 22);
}

BOOST_AUTO_TEST_CASE(a_gone_engine_is_503) {
  caf::anon_send_exit(engine, caf::exit_reason::user_shutdown);
  BOOST_REQUIRE(eventually([&] { return call("GET", "/dispatchers/v1/").status == 503u; }));
  auto res = call("POST", "/events/v1/", R"({"type":"t"})");
  check_error(res, 503, 1);
  BOOST_TEST(res.header("Retry-After") == "1");
  auto health = call("GET", "/health");
  BOOST_TEST(health.status == 503u);
  BOOST_TEST(text(health.json, "status") == "unavailable");
  BOOST_TEST(!text(health.json, "message").empty());
}

BOOST_AUTO_TEST_CASE(the_actor_system_stops_while_the_server_still_runs) {
  // Requests spawn their bridge actors on the server's io thread; CAF must not stay pinned to it,
  // or the actor system's destructor waits for that thread forever.
  BOOST_TEST(ok("GET", "/health").status == 200u);
  // The handler holds the engine's handle: like the engine itself, it goes before the system.
  handler = nullptr;
  caf::anon_send_exit(engine, caf::exit_reason::user_shutdown);
  engine = nullptr;
  // This thread spawned the engine, which pinned CAF's logger here too: unpin it, since the
  // system is destroyed on another thread (the guard against a hang).
  caf::logger::set_current_actor_system(nullptr);
  auto stopped = std::async(std::launch::async, [this] { sys.reset(); });
  if (stopped.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    // Waiting on would hang this process (the future joins the stuck destructor): fail now.
    std::cerr << "the actor system did not stop within 30 s while the server ran" << std::endl;
    std::_Exit(1);
  }
  server->shutdown(std::chrono::seconds(1)); // the handler must not be called after the system
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(api_tokens, with_tokens)

BOOST_AUTO_TEST_CASE(without_a_valid_token_every_route_but_health_is_401) {
  for (auto target : {"/dispatchers/v1/", "/deliveries/v1/", "/tasks/v1/", "/nothing"})
    check_error(call("GET", target), 401, 10);
  auto res = call("POST", "/events/v1/", R"({"type":"t"})");
  check_error(res, 401, 10);
  BOOST_TEST(text(res.json, "name") == "NO_PERMISSION_EXCEPTION");
  for (auto auth : {"Bearer wrong", "Bearer first-secre", "Bearer first-secretx", "first-secret",
                    "Basic first-secret", "Bearer ", "Bearer"})
    check_error(call("GET", "/dispatchers/v1/", "", {{"Authorization", auth}}), 401, 10);
  BOOST_TEST(call("GET", "/health").status == 200u);
  BOOST_TEST(call("GET", "/events/v1/health").status == 200u);
}

BOOST_AUTO_TEST_CASE(a_request_without_a_token_is_refused_before_its_body_is_read) {
  // The header announces 512 KiB and no byte of the body follows: the answer comes anyway (a
  // server that read the body first would wait for it until its body timeout).
  http_client raw{"127.0.0.1", port, std::chrono::seconds(5)};
  raw.send_raw(
    "POST /events/v1/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    "Content-Length: 524288\r\n\r\n");
  auto answer = raw.read_response();
  BOOST_TEST(answer.status == 401u);
  BOOST_TEST(answer.body.find("NO_PERMISSION_EXCEPTION") != std::string::npos, answer.body);
  // The connection closes after the answer (the unread body cannot be taken for a next request).
  BOOST_TEST(raw.closed_by_server(std::chrono::seconds(5)));
  // With a valid token the same announcement is read and answered on its merits.
  http_client good{"127.0.0.1", port, std::chrono::seconds(5)};
  auto ok = good.request("POST", "/events/v1/", R"({"type":"t"})",
                         {{"Authorization", "Bearer second-secret"}});
  BOOST_TEST(ok.status == 200u);
}

BOOST_AUTO_TEST_CASE(a_configured_token_opens_every_route) {
  for (auto auth : {"Bearer first-secret", "Bearer second-secret", "bearer second-secret"})
    BOOST_TEST(call("GET", "/dispatchers/v1/", "", {{"Authorization", auth}}).status == 200u, auth);
  auto res = call("POST", "/events/v1/", R"({"type":"t"})",
                  {{"Authorization", "Bearer first-secret"}});
  BOOST_TEST(res.status == 200u);
}

BOOST_AUTO_TEST_CASE(metrics_need_a_token_beyond_loopback) {
  BOOST_TEST(call("GET", "/metrics").status == 200u);
  from_loopback = false;
  check_error(call("GET", "/metrics"), 401, 10);
  BOOST_TEST(call("GET", "/metrics", "", {{"Authorization", "Bearer second-secret"}}).status
             == 200u);
  BOOST_TEST(call("GET", "/health").status == 200u);
}

BOOST_AUTO_TEST_SUITE_END()
