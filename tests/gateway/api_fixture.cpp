// The api_* suites' fixture: engine start/stop around the API handler behind the real HTTP server,
// and a blocking `call` over a keep-alive loopback connection (reopened when the server closes it).
#include "api_fixture.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <boost/test/unit_test.hpp>
#include <caf/send.hpp>

namespace dispatch::test {

namespace {

bool same_name(const std::string& x, const std::string& y) {
  return x.size() == y.size()
         && std::equal(x.begin(), x.end(), y.begin(), [](unsigned char a, unsigned char b) {
              return std::tolower(a) == std::tolower(b);
            });
}

const std::string* find_header(const header_list& headers, const std::string& name) {
  for (auto& [key, value] : headers)
    if (same_name(key, name)) return &value;
  return nullptr;
}

} // namespace

std::string api_response::header(const std::string& name) const {
  auto value = find_header(headers, name);
  return value ? *value : std::string{};
}

unsigned api_response::code() const {
  if (!json.IsObject() || !json.HasMember("code") || !json["code"].IsUint()) return 0;
  return json["code"].GetUint();
}

api_fixture::api_fixture() {
  config.data_dir = dir / "data";
  config.shards = 2;
  config.retry.initial = std::chrono::milliseconds(20);
  config.retry.cap = std::chrono::milliseconds(200);
  config.retry.max_attempts = 3;
  config.request_timeout = std::chrono::seconds(5);
  config.sink_timeout = std::chrono::seconds(2);
  options.request_timeout = std::chrono::seconds(10);
  options.metrics = std::make_shared<request_metrics>();
}

api_fixture::~api_fixture() {
  stop();
}

void api_fixture::start(bool recording_sinks) {
  sys_config = std::make_unique<test_system_config>();
  sys = std::make_unique<caf::actor_system>(*sys_config);
  engine_sinks sinks;
  if (recording_sinks) {
    task_sink = spawn_recording_sink(*sys, tasks);
    mail_sink = spawn_recording_sink(*sys, mails);
    sinks.task = sink_binding{task_sink, false};
    sinks.mail = sink_binding{mail_sink, false};
  }
  auto handle = spawn_engine(*sys, config, sinks);
  if (!handle) throw std::runtime_error("spawn_engine failed: " + message_of(handle.error()));
  engine = *handle;
  handler = make_api_handler(*sys, engine, options);
  http_config cfg;
  cfg.hosts = {"127.0.0.1"};
  cfg.port = 0;
  cfg.body_limit = options.body_limit;
  cfg.request_timeout = options.request_timeout;
  auto served = [this](http_request req, http_reply reply) {
    req.from_loopback = req.from_loopback && from_loopback;
    handler(std::move(req), std::move(reply));
  };
  auto check = [this, check = make_api_header_check(options)](const http_request& req) {
    auto seen = req;
    seen.from_loopback = seen.from_loopback && from_loopback;
    return check(seen);
  };
  auto started = http_server::start(cfg, served, options.metrics, check);
  if (!started)
    throw std::runtime_error("http_server::start failed: " + message_of(started.error()));
  server = std::move(*started);
  port = server->endpoints().at(0).port;
}

http_client& api_fixture::client() {
  if (!client_)
    client_ = std::make_unique<http_client>("127.0.0.1", port, std::chrono::seconds(60));
  return *client_;
}

void api_fixture::stop() {
  // The server first: its sessions hold the handler, and answers still owed come from the engine.
  client_.reset();
  if (server) server->shutdown(std::chrono::seconds(5));
  server.reset();
  if (!sys) return;
  handler = nullptr;
  caf::anon_send_exit(engine, caf::exit_reason::user_shutdown);
  if (task_sink) caf::anon_send_exit(task_sink, caf::exit_reason::user_shutdown);
  if (mail_sink) caf::anon_send_exit(mail_sink, caf::exit_reason::user_shutdown);
  engine = nullptr;
  task_sink = nullptr;
  mail_sink = nullptr;
  sys.reset();
  sys_config.reset();
}

api_response api_fixture::call(const std::string& method, const std::string& target,
                               const std::string& body, const header_list& headers) {
  auto answer = client().request(method, target, body, headers);
  // Never resend a request (a POST could run twice); reconnect only when told the connection ends.
  if (same_name(answer.header("Connection"), "close")) client_.reset();
  api_response result;
  result.status = answer.status;
  result.content_type = answer.header("Content-Type");
  result.body = std::move(answer.body);
  result.headers = std::move(answer.headers);
  result.json.Parse(result.body.data(), result.body.size());
  if (result.json.HasParseError()) result.json.SetNull();
  return result;
}

api_response api_fixture::ok(const std::string& method, const std::string& target,
                             const std::string& body, const header_list& headers) {
  auto res = call(method, target, body, headers);
  BOOST_REQUIRE_MESSAGE(res.status == 200,
                        method << " " << target << " answered " << res.status << ": " << res.body);
  return res;
}

std::string api_fixture::create_task_dispatcher(const std::string& event_type,
                                                const std::string& name) {
  std::string body = R"({"eventType":")" + event_type + R"(",)";
  if (!name.empty()) body += R"("name":")" + name + R"(",)";
  body += R"("actions":[{"type":"task","functionName":"handle-)" + event_type + R"("}]})";
  auto res = ok("POST", "/dispatchers/v1/", body);
  return text(res.json, "id");
}

std::string text(const rapidjson::Value& object, const char* key) {
  if (!object.IsObject() || !object.HasMember(key) || !object[key].IsString()) return {};
  return object[key].GetString();
}

std::string dump(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer{buffer};
  value.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

} // namespace dispatch::test
