// The `dispatch.sinks.*` options: read flat through one table, then assembled into a webhook per
// kind that has a URL, after checking the URL and every "Name: value" header line.
#include "config/sink_config.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "config/option_table.hpp"

namespace dispatch {

namespace {

using std::chrono::milliseconds;

// The options as written: a URL and header lines per kind, the rest shared by both webhooks.
struct sink_options {
  std::string task_url;
  detail::string_list task_headers;
  std::string mail_url;
  detail::string_list mail_headers;
  webhook_config shared;
  uint32_t task_rate = 0;
  uint32_t mail_rate = 0;
};

const detail::option_table<sink_options>& sink_table() {
  using cfg = sink_options;
  static const detail::option_table<sink_options> table{
    "dispatch.sinks",
    {
      {"task.url", +[](cfg& c) -> std::string& { return c.task_url; },
       "Task Service base URL for task deliveries, e.g. https://api.example.com (empty: the "
       "built-in log)"},
      {"task.headers", +[](cfg& c) -> detail::string_list& { return c.task_headers; },
       "header lines \"Name: value\" sent with every task request"},
      {"task.rate", +[](cfg& c) -> uint32_t& { return c.task_rate; },
       "task deliveries a second, shared by every shard (0: unlimited); over it they wait"},
      {"mail.url", +[](cfg& c) -> std::string& { return c.mail_url; },
       "Mail Service base URL for mail deliveries (empty: the built-in log)"},
      {"mail.headers", +[](cfg& c) -> detail::string_list& { return c.mail_headers; },
       "header lines \"Name: value\" sent with every mail request"},
      {"mail.rate", +[](cfg& c) -> uint32_t& { return c.mail_rate; },
       "mail deliveries a second, shared by every shard (0: unlimited); over it they wait"},
      {"timeout", +[](cfg& c) -> milliseconds& { return c.shared.timeout; },
       "time in ms for one webhook request, connecting included"},
      {"max-connections", +[](cfg& c) -> uint32_t& { return c.shared.max_connections; },
       "connections per webhook, kept alive and reused"},
      {"breaker-failures", +[](cfg& c) -> uint32_t& { return c.shared.breaker_failures; },
       "consecutive failures that open a webhook's circuit breaker"},
      {"breaker-open", +[](cfg& c) -> milliseconds& { return c.shared.breaker_open; },
       "time in ms an open breaker waits before one probe request"},
    }};
  return table;
}

bool has_control_or_space(const std::string& text) {
  return std::any_of(text.begin(), text.end(),
                     [](unsigned char c) { return c <= 0x20 || c == 0x7f; });
}

bool starts_with_nocase(const std::string& text, const char* prefix) {
  auto n = std::strlen(prefix);
  return text.size() >= n && std::equal(prefix, prefix + n, text.begin(), [](char a, char b) {
           return a == std::tolower(static_cast<unsigned char>(b));
         });
}

// Why `url` is not a usable base URL, or an empty string when it is.
std::string url_problem(const std::string& url) {
  size_t scheme_end = starts_with_nocase(url, "https://")  ? 8
                      : starts_with_nocase(url, "http://") ? 7
                                                           : 0;
  if (scheme_end == 0) return "must start with http:// or https://";
  if (has_control_or_space(url)) return "must not contain spaces or control characters";
  if (url.find_first_of("?#") != std::string::npos)
    return "must not have a query or fragment (it is the service's base URL)";
  auto authority = url.substr(scheme_end, url.find('/', scheme_end) - scheme_end);
  auto host = authority.substr(
    authority.rfind('@') == std::string::npos ? 0 : authority.rfind('@') + 1);
  std::string port;
  bool has_port = false;
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string::npos || close == 1) return "has an unterminated IPv6 address";
    if (close + 1 < host.size()) {
      if (host[close + 1] != ':') return "has text after its IPv6 address";
      has_port = true;
      port = host.substr(close + 2);
    }
  } else if (auto colon = host.find(':'); colon != std::string::npos) {
    has_port = true;
    port = host.substr(colon + 1);
    host.resize(colon);
  }
  if (host.empty()) return "has no host";
  auto digits = [](const std::string& x) {
    return !x.empty() && x.size() <= 5 && std::all_of(x.begin(), x.end(), ::isdigit);
  };
  if (has_port && (!digits(port) || std::stoul(port) == 0 || std::stoul(port) > 65535))
    return "has a port that is not a number between 1 and 65535";
  return {};
}

// RFC 7230 token characters, the only ones a header name may use.
bool is_header_name(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || std::strchr("!#$%&'*+-.^_`|~", c);
  });
}

std::string trim(const std::string& text) {
  auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

// Headers the webhook sink sets itself: a configured copy would corrupt or duplicate them.
const char* const sink_owned_headers[] = {"content-length", "content-type", "transfer-encoding",
                                          "idempotency-key"};

// Parses one "Name: value" line. Messages leave the value out: it is often a secret.
caf::error parse_header(const std::string& key, const std::string& line,
                        std::pair<std::string, std::string>& out) {
  auto colon = line.find(':');
  auto name = colon == std::string::npos ? std::string{} : line.substr(0, colon);
  if (!is_header_name(name))
    return detail::config_error(key +
                                ": expected \"Name: value\" with a name of letters, "
                                "digits and !#$%&'*+-.^_`|~");
  auto value = trim(line.substr(colon + 1));
  if (value.empty()) return detail::config_error(key + ": header " + name + " has no value");
  auto control = [](unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; };
  if (std::any_of(value.begin(), value.end(), control))
    return detail::config_error(key + ": header " + name + " has a control character");
  for (auto owned : sink_owned_headers)
    if (starts_with_nocase(name, owned) && name.size() == std::strlen(owned))
      return detail::config_error(key + ": header " + name + " is set by the sink itself");
  out = {name, value};
  return caf::none;
}

// A webhook for one kind, or nothing when its URL is empty.
caf::error make_webhook(const char* kind, std::string url, const detail::string_list& headers,
                        const webhook_config& shared, caf::optional<webhook_config>& out) {
  auto prefix = std::string{"dispatch.sinks."} + kind;
  if (url.empty()) {
    if (!headers.empty())
      return detail::config_error(prefix + ".headers: given without " + prefix + ".url");
    return caf::none;
  }
  if (auto problem = url_problem(url); !problem.empty())
    return detail::config_error(prefix + ".url: " + problem);
  while (url.back() == '/') url.pop_back(); // the sink appends "/tasks/v1/" or "/mail/v1/"
  webhook_config result = shared;
  result.url = std::move(url);
  for (size_t i = 0; i < headers.size(); ++i) {
    std::pair<std::string, std::string> header;
    auto key = prefix + ".headers[" + std::to_string(i) + "]";
    if (auto err = parse_header(key, headers[i], header)) return err;
    result.headers.push_back(std::move(header));
  }
  out = std::move(result);
  return caf::none;
}

caf::error check_shared(const webhook_config& c) {
  auto fail = [](const char* key) {
    return detail::config_error(std::string{"dispatch.sinks."} + key + ": must be > 0");
  };
  if (c.timeout.count() <= 0) return fail("timeout");
  if (c.max_connections == 0) return fail("max-connections");
  if (c.breaker_failures == 0) return fail("breaker-failures");
  if (c.breaker_open.count() <= 0) return fail("breaker-open");
  return caf::none;
}

} // namespace

void add_sink_options(caf::config_option_set& options) {
  sink_table().add_options(options);
}

void put_sink_defaults(caf::actor_system_config& cfg) {
  sink_table().put_defaults(cfg.content);
}

caf::expected<sinks_config> read_sink_config(const caf::actor_system_config& cfg) {
  sink_options options;
  if (auto err = sink_table().read(caf::content(cfg), options)) return err;
  if (auto err = check_shared(options.shared)) return err;
  sinks_config result;
  result.task_rate = options.task_rate;
  result.mail_rate = options.mail_rate;
  if (auto err = make_webhook("task", std::move(options.task_url), options.task_headers,
                              options.shared, result.task))
    return err;
  if (auto err = make_webhook("mail", std::move(options.mail_url), options.mail_headers,
                              options.shared, result.mail))
    return err;
  return result;
}

} // namespace dispatch
