// The webhook sink actor: checks its circuit breaker, hands each delivery to its HTTP thread and
// answers the delivery's promise when the thread reports back (promises are only ever touched
// here, on the actor's own turn).
#include "sinks/webhook_sink.hpp"

#include <algorithm>
#include <cctype>
#include <climits>
#include <string_view>

#include <curl/curl.h>

#include <caf/send.hpp>

#include "logging/log.hpp"
#include "messages/error_code.hpp"
#include "messages/json.hpp"
#include "sinks/http_verdict.hpp"

namespace dispatch {

namespace {

using sink_ptr = webhook_sink_actor::stateful_pointer<webhook_sink_state>;

std::string key_of(action_kind kind, const std::string& field) {
  return std::string{"dispatch.sinks."} + to_string(kind) + "." + field;
}

bool is_token_char(char c) {
  // RFC 7230 tchar: what a header name may contain.
  return std::isalnum(static_cast<unsigned char>(c))
         || std::string_view{"!#$%&'*+-.^_`|~"}.find(c) != std::string_view::npos;
}

caf::error validate_url(action_kind kind, const std::string& url) {
  auto key = key_of(kind, "url");
  if (url.empty()) return make_error(error_code::missing_required_fields, key + ": required");
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> parsed{curl_url(), curl_url_cleanup};
  if (!parsed) return make_error(error_code::server, key + ": cannot parse (out of memory)");
  if (auto rc = curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), 0); rc != CURLUE_OK)
    return make_error(error_code::field_format, key + ": not a URL (" + curl_url_strerror(rc)
                                                  + "): " + without_credentials(url));
  char* scheme = nullptr;
  curl_url_get(parsed.get(), CURLUPART_SCHEME, &scheme, 0);
  std::string scheme_text = scheme ? scheme : "";
  curl_free(scheme);
  if (scheme_text != "http" && scheme_text != "https")
    return make_error(error_code::field_format,
                      key + ": not an http(s) URL: " + without_credentials(url));
  // The path of each call is appended to the URL: a query or fragment would end up before it.
  if (url.find_first_of("?#") != std::string::npos)
    return make_error(error_code::field_format, key + ": a base URL has no query or fragment");
  return {};
}

caf::error validate_headers(action_kind kind, const webhook_config& config) {
  for (size_t i = 0; i < config.headers.size(); ++i) {
    auto& [name, value] = config.headers[i];
    auto key = key_of(kind, "headers") + "[" + std::to_string(i) + "]";
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char))
      return make_error(error_code::field_format, key + ": not a header name: " + name);
    if (value.find_first_of(std::string{"\r\n\0", 3}) != std::string::npos)
      return make_error(error_code::field_format, key + ": a header value is one line");
  }
  return {};
}

/// "Name: value" lines for curl; an empty value as "Name;" (curl drops "Name:" instead).
std::vector<std::string> header_lines(const webhook_sink_state& st, const delivery& d) {
  std::vector<std::string> lines;
  lines.reserve(st.config.headers.size() + 3);
  lines.emplace_back("Content-Type: application/json");
  lines.emplace_back("Idempotency-Key: " + d.id);
  // A delivery a replay from the archive made says which (the body keeps the ExH shape).
  if (!d.replay_id.empty()) lines.emplace_back("X-Dispatch-Replay-Id: " + d.replay_id);
  for (auto& [name, value] : st.config.headers)
    lines.push_back(value.empty() ? name + ";" : name + ": " + value);
  lines.emplace_back("Expect:"); // no 100-continue round trip before larger bodies
  return lines;
}

std::string target_of(const webhook_sink_state& st, const delivery& d) {
  return st.base_url + (d.kind == action_kind::task ? "/tasks/v1/" : "/mail/v1/");
}

void report(const webhook_sink_state& st, log_level level, const std::string& what) {
  log_write(log_component::webhook, level,
            std::string{to_string(st.kind)} + " sink " + without_credentials(st.base_url) + ": "
              + what);
}

/// The breaker reads the sink's clock, not the system's: tests move it by hand.
circuit_breaker::time_point breaker_now(const webhook_sink_state& st) {
  return circuit_breaker::time_point{std::chrono::milliseconds{st.config.clock->now()}};
}

/// The answer while the breaker refuses requests: no request was made, so no attempt is spent;
/// try again once the breaker may let it through.
delivery_result refusal(const webhook_sink_state& st, circuit_breaker::time_point now) {
  if (st.breaker.current() == circuit_breaker::state::open)
    return defer("circuit open: " + st.last_failure, st.breaker.remaining(now).count());
  // Half-open: the probe's outcome is known within one request timeout.
  return defer("circuit half-open, probing: " + st.last_failure, st.config.timeout.count());
}

/// Hands each delivery of a batch to the HTTP thread (one request each, all at once), unless the
/// breaker refuses it; the batch is answered when the last of its requests has reported.
caf::result<delivery_result_list> on_deliver(sink_ptr self, const delivery_list& batch) {
  auto& st = self->state;
  delivery_result_list results(batch.size());
  if (!st.client) {
    for (auto& r : results) r = retry_later("webhook: " + st.client_error);
    return results;
  }
  auto number = st.next_batch++;
  size_t outstanding = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    auto& d = batch[i];
    auto now = breaker_now(st);
    if (!st.breaker.allow(now)) {
      results[i] = refusal(st, now);
      continue;
    }
    auto id = st.next_request++;
    http_post post;
    post.id = id;
    post.url = target_of(st, d);
    post.body = d.kind == action_kind::task ? task_body(d.task) : mail_body(d.mail);
    post.headers = header_lines(st, d);
    st.waiting.emplace(id, std::make_pair(number, i));
    st.client->submit(std::move(post));
    ++outstanding;
  }
  if (outstanding == 0) return results;
  auto promise = self->make_response_promise<delivery_result_list>();
  st.batches.emplace(number,
                     webhook_sink_state::open_batch{promise, std::move(results), outstanding});
  return promise;
}

void on_answered(sink_ptr self, uint64_t id, const delivery_result& verdict) {
  auto& st = self->state;
  auto found = st.waiting.find(id);
  if (found == st.waiting.end()) return;
  auto [number, index] = found->second;
  st.waiting.erase(found);
  auto before = st.breaker.current();
  if (verdict.verdict == sink_verdict::retry) {
    st.last_failure = verdict.reason;
    st.breaker.record_failure(breaker_now(st));
  } else {
    st.breaker.record_success(); // a permanent refusal still says the endpoint is alive
  }
  auto after = st.breaker.current();
  if (after != before && after != circuit_breaker::state::half_open)
    report(st, after == circuit_breaker::state::open ? log_level::warning : log_level::info,
           std::string{"circuit "} + to_string(after)
             + (after == circuit_breaker::state::open ? ": " + st.last_failure : ""));
  auto open = st.batches.find(number);
  if (open == st.batches.end()) return;
  open->second.results[index] = verdict;
  if (--open->second.outstanding == 0) {
    open->second.promise.deliver(std::move(open->second.results));
    st.batches.erase(open);
  }
}

/// Reports from the HTTP thread become messages to the sink. The thread holds only a weak
/// reference: it must not keep the sink alive.
http_report report_to(const caf::actor_addr& sink) {
  return [sink](uint64_t id, delivery_result verdict) {
    auto strong = caf::actor_cast<caf::strong_actor_ptr>(sink);
    if (!strong) return;
    caf::anon_send(caf::actor_cast<webhook_sink_actor>(strong), answered_atom::value, id,
                   std::move(verdict));
  };
}

} // namespace

webhook_sink_actor::behavior_type
webhook_sink(webhook_sink_actor::stateful_pointer<webhook_sink_state> self, action_kind kind,
             webhook_config config) {
  auto& st = self->state;
  st.kind = kind;
  st.base_url = config.url;
  while (!st.base_url.empty() && st.base_url.back() == '/') st.base_url.pop_back();
  st.breaker = circuit_breaker{config.breaker_failures, config.breaker_open};
  http_client_options options;
  options.timeout = config.timeout;
  options.max_connections = config.max_connections;
  options.thread_name = std::string{"webhook-"} + to_string(kind);
  st.config = std::move(config);
  auto client = http_client::start(std::move(options), report_to(self->address()));
  if (client) {
    st.client = std::move(*client);
  } else {
    // Only when curl itself cannot start (out of memory): every delivery is answered "retry".
    st.client_error = message_of(client.error());
    report(st, log_level::error, st.client_error);
  }
  return {
    [self](deliver_atom, const delivery_list& batch) { return on_deliver(self, batch); },
    [self](answered_atom, uint64_t id, const delivery_result& verdict) {
      on_answered(self, id, verdict);
    },
  };
}

caf::error validate_webhook_config(action_kind kind, const webhook_config& config) {
  if (auto err = validate_url(kind, config.url)) return err;
  if (auto err = validate_headers(kind, config)) return err;
  if (config.timeout.count() <= 0 || config.timeout.count() > LONG_MAX)
    return make_error(error_code::field_format, "dispatch.sinks.timeout: must be > 0");
  if (config.breaker_open.count() < 0)
    return make_error(error_code::field_format, "dispatch.sinks.breaker-open: must be >= 0");
  if (!config.clock)
    return make_error(error_code::field_format, "webhook_config.clock: must be set");
  return {};
}

caf::expected<sink_actor> spawn_webhook_sink(caf::actor_system& sys, action_kind kind,
                                             webhook_config config) {
  if (auto err = validate_webhook_config(kind, config)) return err;
  auto handle = sys.spawn(webhook_sink, kind, std::move(config));
  return caf::actor_cast<sink_actor>(handle);
}

} // namespace dispatch
