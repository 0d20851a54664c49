// Where deliveries go (`dispatch.sinks.*`): a webhook per kind (the ExH Task Service and Mail
// Service calls), or, without a URL, the built-in log. Read after parsing; unknown keys refused.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>
#include <caf/optional.hpp>

#include "messages/clock.hpp"

namespace dispatch {

/// One webhook sink. Tasks are POSTed to `url + "/tasks/v1/"`, mails to `url + "/mail/v1/"`
/// (`url` is the service's base, e.g. `https://api.example.com`; a trailing '/' is ignored).
struct webhook_config {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers; // sent with every request
  std::chrono::milliseconds timeout{10000};                 // one request, connect included
  uint32_t max_connections = 64;                            // kept alive and reused
  uint32_t breaker_failures = 5;                 // consecutive failures that open the breaker
  std::chrono::milliseconds breaker_open{30000}; // how long it stays open before one probe
  // Where the breaker reads the time (set in code only): tests step a clock of their own. The
  // default does not jump when the system clock is set, which would hold the breaker open or
  // let a probe out early.
  clock_ptr clock = monotonic_clock();
};

struct sinks_config {
  caf::optional<webhook_config> task; // absent: the built-in log
  caf::optional<webhook_config> mail;
  // Deliveries a second to each kind's sink, webhook or built-in log (0: unlimited). The engine
  // enforces them: dispatchd copies them into `engine_config::task_sink_rate` / `mail_sink_rate`,
  // and `validate(engine_config)` checks them there.
  uint32_t task_rate = 0;
  uint32_t mail_rate = 0;
};

/// Adds the `dispatch.sinks.*` options: `task.url`, `task.headers` (a list of "Name: value"),
/// `task.rate`, `mail.url`, `mail.headers`, `mail.rate`, and the shared `timeout`, `max-connections`, `breaker-failures`,
/// `breaker-open`.
void add_sink_options(caf::config_option_set& options);

/// Puts the defaults into the settings, so `--dump-config` shows the effective configuration.
void put_sink_defaults(caf::actor_system_config& cfg);

/// Reads `dispatch.sinks.*` after parsing. Fails on unknown keys, wrong types, a URL that is not
/// http(s), or a header without "Name: value" form, naming the key.
caf::expected<sinks_config> read_sink_config(const caf::actor_system_config& cfg);

} // namespace dispatch
