// The webhook sink tests' fixture: a scriptable HTTP server on loopback, an actor system, sinks
// spawned against the server, and a blocking `deliver`.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "fixtures/engine_fixture.hpp"
#include "fixtures/http_test_server.hpp"
#include "messages/error_code.hpp"
#include "messages/ids.hpp"
#include "sinks/webhook_sink.hpp"
#include "fixtures/samples.hpp"

namespace dispatch::test {

using namespace std::chrono_literals;

/// The sinks' clock in these tests: it stands still until the test moves it, so the breaker's
/// open window passes exactly when the test says (requests' own timeouts are curl's, real).
class manual_clock final : public dispatch::clock {
public:
  timestamp_ms now() const noexcept override { return now_.load(); }
  void advance(std::chrono::milliseconds span) { now_ += span.count(); }

private:
  std::atomic<timestamp_ms> now_{now_ms()};
};

struct sink_fixture {
  http_test_server server;
  test_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  std::shared_ptr<manual_clock> time = std::make_shared<manual_clock>();
  webhook_config config;
  std::vector<sink_actor> sinks;

  sink_fixture() {
    config.clock = time;
    config.url = server.url();
    config.timeout = 2000ms;
    config.breaker_failures = 100; // out of the way unless a test is about it
  }

  ~sink_fixture() {
    for (auto& sink : sinks) caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
  }

  sink_actor spawn() {
    auto sink = spawn_webhook_sink(sys, action_kind::task, config);
    BOOST_REQUIRE_MESSAGE(sink, "spawn_webhook_sink: " << (sink ? "" : message_of(sink.error())));
    sinks.push_back(*sink);
    return *sink;
  }

  delivery_result deliver(const sink_actor& sink, const delivery& d) {
    delivery_result result = retry_later("no answer");
    self->request(sink, 10s, deliver_atom::value, delivery_list{d})
      .receive(
        [&](const delivery_result_list& r) {
          if (r.size() == 1)
            result = r.front();
          else
            result = retry_later("error: " + std::to_string(r.size()) + " answers for one");
        },
        [&](const caf::error& err) { result = retry_later("error: " + message_of(err)); });
    return result;
  }
};

inline delivery make_delivery(action_kind kind) {
  auto d = dispatch::test::new_delivery(kind);
  if (kind == action_kind::task) {
    d.task.function_name = "sendWelcome";
    d.task.data = R"({"lang":"nl","event":{"type":"user.created","content":{"name":"Zoë"}}})";
    d.task.priority = 2;
  } else {
    d.mail.template_id = "5e9f1b2c3d4e5f6a7b8c9d0e";
    d.mail.recipients.to = {"a@example.com"};
    d.mail.content = R"({"event":{"type":"user.created"}})";
  }
  return d;
}

inline bool is(const delivery_result& r, sink_verdict v) {
  return r.verdict == v;
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace dispatch::test
