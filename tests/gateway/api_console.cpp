// The console's files under /console/: served from the binary, byte for byte as in console/, open
// without a token while the API stays closed, with caching headers, and nothing but GET and HEAD.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "api_fixture.hpp"
#include "gateway/console.hpp"

using namespace dispatch;
using namespace dispatch::test;

namespace {

struct with_tokens : api_fixture {
  with_tokens() {
    options.tokens = {"console-secret"};
    start();
  }
};

std::string file_text(const std::filesystem::path& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(api_console, with_tokens)

BOOST_AUTO_TEST_CASE(the_page_is_served_without_a_token_and_the_api_still_needs_one) {
  auto page = call("GET", "/console/");
  BOOST_TEST(page.status == 200u);
  BOOST_TEST(page.content_type == "text/html; charset=utf-8");
  BOOST_TEST(page.body.find(R"(<script src="console.js" defer></script>)") != std::string::npos);
  BOOST_TEST(page.header("Cache-Control") == "no-cache");
  BOOST_TEST(page.header("X-Content-Type-Options") == "nosniff");
  BOOST_TEST(page.header("Content-Security-Policy").find("default-src 'self'")
             != std::string::npos);
  BOOST_TEST(!page.header("ETag").empty());
  BOOST_TEST(call("GET", "/console/console.js").content_type == "text/javascript; charset=utf-8");
  BOOST_TEST(call("GET", "/console/console.css").content_type == "text/css; charset=utf-8");
  BOOST_TEST(call("GET", "/console/index.html?x=1").body == page.body);
  // The page's own calls carry the token; without it the API answers 401 as before.
  BOOST_TEST(call("GET", "/dispatchers/v1/").status == 401u);
  BOOST_TEST(call("GET", "/consoles").status == 401u); // only /console and below are open
}

BOOST_AUTO_TEST_CASE(every_file_of_the_console_folder_is_served_byte_for_byte) {
  auto folder = std::filesystem::path{DISPATCH_SOURCE_DIR} / "console";
  size_t files = 0;
  for (auto& entry : std::filesystem::directory_iterator{folder}) {
    auto name = entry.path().filename().string();
    auto res = call("GET", "/console/" + name);
    BOOST_TEST(res.status == 200u, name);
    BOOST_TEST((res.body == file_text(entry.path())), name << " differs from the source");
    ++files;
  }
  BOOST_TEST(files == console_asset_count);
}

BOOST_AUTO_TEST_CASE(the_bare_path_redirects_and_unknown_files_are_404) {
  auto bare = call("GET", "/console");
  BOOST_TEST(bare.status == 301u);
  BOOST_TEST(bare.header("Location") == "/console/");
  // An unknown file is answered as every unknown resource is: code 16, the name quoted and cut.
  auto unknown = call("GET", "/console/secrets.txt");
  BOOST_TEST(unknown.status == 404u);
  BOOST_TEST(unknown.content_type == "application/json");
  BOOST_TEST(unknown.code() == 16u);
  BOOST_TEST(text(unknown.json, "message") == "no console file 'secrets.txt'");
  auto long_name = std::string(100, 'a') + ".js";
  auto cut = call("GET", "/console/" + long_name);
  BOOST_TEST(cut.status == 404u);
  BOOST_TEST(cut.code() == 16u);
  BOOST_TEST(text(cut.json, "message") == "no console file '" + std::string(64, 'a') + "...'");
  BOOST_TEST(call("GET", "/console/../health").status == 404u); // no path walks out of the table
}

BOOST_AUTO_TEST_CASE(a_known_etag_is_answered_304_without_the_body) {
  auto first = call("GET", "/console/console.js");
  auto etag = first.header("ETag");
  auto again = call("GET", "/console/console.js", "", {{"If-None-Match", etag}});
  BOOST_TEST(again.status == 304u);
  BOOST_TEST(again.body.empty());
  BOOST_TEST(again.header("ETag") == etag);
  BOOST_TEST(
    call("GET", "/console/console.js", "", {{"If-None-Match", R"("other", W/)" + etag}}).status
    == 304u);
  BOOST_TEST(call("GET", "/console/console.js", "", {{"If-None-Match", R"("other")"}}).status
             == 200u);
  // Another file's tag does not match.
  BOOST_TEST(call("GET", "/console/console.css", "", {{"If-None-Match", etag}}).status == 200u);
}

BOOST_AUTO_TEST_CASE(only_get_and_head_are_taken_and_a_body_is_never_read) {
  // HEAD: the headers of GET, without the body.
  auto got = call("GET", "/console/console.js");
  auto head = call("HEAD", "/console/console.js");
  BOOST_TEST(head.status == 200u);
  BOOST_TEST(head.body.empty());
  BOOST_TEST(head.content_type == got.content_type);
  BOOST_TEST(!got.header("ETag").empty());
  BOOST_TEST(head.header("ETag") == got.header("ETag"));
  BOOST_TEST(head.header("Content-Length") == std::to_string(got.body.size()));
  for (auto method : {"POST", "PUT", "DELETE"}) {
    auto res = call(method, "/console/", method == std::string{"DELETE"} ? "" : "{}");
    BOOST_TEST(res.status == 405u, method);
    BOOST_TEST(res.header("Allow") == "GET, HEAD", method);
  }
  // A body announced to the console is refused on the header, like one without a token.
  http_client raw{"127.0.0.1", port, std::chrono::seconds(5)};
  raw.send_raw("POST /console/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 524288\r\n\r\n");
  auto answer = raw.read_response();
  BOOST_TEST(answer.status == 405u);
  BOOST_TEST(raw.closed_by_server(std::chrono::seconds(5)));
}

BOOST_AUTO_TEST_SUITE_END()
