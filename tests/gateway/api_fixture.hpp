// A real engine behind the HTTP API for the api_* suites: a temp data directory, the built-in log
// sinks (or recording sinks with a script), the real server on a loopback port, and
// `call(method, target, body, headers)` over one keep-alive connection.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <rapidjson/document.h>
#include <caf/actor_system.hpp>

#include "fixtures/engine_fixture.hpp"
#include "fixtures/http_client.hpp"
#include "gateway/api.hpp"
#include "gateway/http_server.hpp"

namespace dispatch::test {

using header_list = std::vector<std::pair<std::string, std::string>>;

/// An answer as a client sees it, with its body parsed when it is JSON.
struct api_response {
  unsigned status = 0;
  std::string content_type;
  std::string body;
  header_list headers;
  rapidjson::Document json; // null when the body is not JSON

  /// The value of a response header (case-insensitive name); empty when absent.
  std::string header(const std::string& name) const;
  /// `json["code"]`, or 0 when the body has no code.
  unsigned code() const;
};

class api_fixture {
public:
  api_fixture();
  ~api_fixture();

  /// Starts the engine and the handler. With recording sinks, deliveries go to `tasks`/`mails`
  /// (answering by their scripts); otherwise to the built-in log, readable via /tasks and /mail.
  void start(bool recording_sinks = false);

  void stop();

  /// One request through the API; `Content-Type: application/json` is added for a non-empty body
  /// unless `headers` names a Content-Type. Header names are case-insensitive.
  api_response call(const std::string& method, const std::string& target,
                    const std::string& body = "", const header_list& headers = {});

  /// `call` that must answer 200 (checked), for the steps a test builds on.
  api_response ok(const std::string& method, const std::string& target,
                  const std::string& body = "", const header_list& headers = {});

  /// Creates a dispatcher for `event_type` with one task action and returns its id.
  std::string create_task_dispatcher(const std::string& event_type, const std::string& name = "");

  temp_dir dir;
  engine_config config;
  api_options options;
  // A test cannot connect from beyond loopback: false marks every request as coming from a remote
  // peer before it reaches the handler.
  bool from_loopback = true;
  sink_record_ptr tasks = std::make_shared<sink_record>();
  sink_record_ptr mails = std::make_shared<sink_record>();
  std::unique_ptr<test_system_config> sys_config;
  std::unique_ptr<caf::actor_system> sys;
  sink_actor task_sink;
  sink_actor mail_sink;
  engine_actor engine;
  http_handler handler;
  std::unique_ptr<http_server> server;
  uint16_t port = 0;

private:
  http_client& client();

  std::unique_ptr<http_client> client_;
};

/// Reads a JSON string member (empty when absent or not a string).
std::string text(const rapidjson::Value& object, const char* key);

/// Serializes a JSON value (for messages and comparisons).
std::string dump(const rapidjson::Value& value);

} // namespace dispatch::test
