// The `dispatch.http.*` options: one table for the option set, the defaults and the reader, then
// the checks a value of the right type can still fail (ranges, addresses, token syntax).
#include "config/http_config.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "config/option_table.hpp"

namespace dispatch {

namespace {

using std::chrono::milliseconds;

const detail::option_table<http_config>& http_table() {
  using cfg = http_config;
  static const detail::option_table<http_config> table{
    "dispatch.http",
    {
      {"host", +[](cfg& c) -> detail::string_list& { return c.hosts; },
       "addresses to listen on, e.g. [\"127.0.0.1\", \"::1\"] or 0.0.0.0 (needs tokens beyond "
       "loopback)"},
      {"port", +[](cfg& c) -> uint16_t& { return c.port; },
       "TCP port on every host (0: a free port)"},
      {"body-limit", +[](cfg& c) -> uint32_t& { return c.body_limit; },
       "largest request body in bytes (larger: 413)"},
      {"header-limit", +[](cfg& c) -> uint32_t& { return c.header_limit; },
       "largest request line and headers together, in bytes"},
      {"header-timeout", +[](cfg& c) -> milliseconds& { return c.header_timeout; },
       "time in ms to receive a request's headers"},
      {"body-timeout", +[](cfg& c) -> milliseconds& { return c.body_timeout; },
       "time in ms to receive a request's body after its headers"},
      {"idle-timeout", +[](cfg& c) -> milliseconds& { return c.idle_timeout; },
       "time in ms a kept-alive connection may wait for its next request"},
      {"request-timeout", +[](cfg& c) -> milliseconds& { return c.request_timeout; },
       "time in ms the engine has to answer one request (then 503)"},
      {"max-connections", +[](cfg& c) -> uint32_t& { return c.max_connections; },
       "open connections at once; further ones are refused"},
      {"io-threads", +[](cfg& c) -> uint32_t& { return c.io_threads; },
       "threads serving connections (1..64)"},
      {"tokens", +[](cfg& c) -> detail::string_list& { return c.tokens; },
       "accepted bearer tokens; empty: no authentication (allowed on loopback only)"},
    }};
  return table;
}

bool is_ipv4(const std::string& host, in_addr* out = nullptr) {
  in_addr addr;
  if (inet_pton(AF_INET, host.c_str(), &addr) != 1) return false;
  if (out) *out = addr;
  return true;
}

bool is_ipv6(const std::string& host, in6_addr* out = nullptr) {
  in6_addr addr;
  if (inet_pton(AF_INET6, host.c_str(), &addr) != 1) return false;
  if (out) *out = addr;
  return true;
}

// A DNS name: labels of letters, digits and '-', separated by dots.
bool is_host_name(const std::string& host) {
  if (host.empty() || host.size() > 253 || host.front() == '.' || host.front() == '-') return false;
  return std::all_of(host.begin(), host.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '.'; });
}

bool iequals(const std::string& x, const char* y) {
  return x.size() == std::strlen(y) && std::equal(x.begin(), x.end(), y, [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

// A bearer token (RFC 6750 b64token): letters, digits, "-._~+/", then optional trailing '='.
bool is_bearer_token(const std::string& token) {
  auto end = token.find_last_not_of('=');
  if (end == std::string::npos) return false;
  return std::all_of(token.begin(), token.begin() + static_cast<std::ptrdiff_t>(end) + 1,
                     [](unsigned char c) { return std::isalnum(c) || std::strchr("-._~+/", c); });
}

caf::error check_hosts(std::vector<std::string>& hosts) {
  if (hosts.empty())
    return detail::config_error("dispatch.http.host: must name at least one address");
  for (size_t i = 0; i < hosts.size(); ++i) {
    auto key = "dispatch.http.host[" + std::to_string(i) + "]";
    auto& host = hosts[i];
    // "[::1]", as the log writes it, means "::1".
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
      host = host.substr(1, host.size() - 2);
    if (!is_ipv4(host) && !is_ipv6(host) && !is_host_name(host))
      return detail::config_error(key + ": not an IP address or host name: \"" + host + "\"");
    if (std::find(hosts.begin(), hosts.begin() + static_cast<std::ptrdiff_t>(i), host)
        != hosts.begin() + static_cast<std::ptrdiff_t>(i))
      return detail::config_error(key + ": " + host + " is listed twice");
  }
  return caf::none;
}

caf::error check_tokens(const std::vector<std::string>& tokens) {
  for (size_t i = 0; i < tokens.size(); ++i)
    // The token itself stays out of the message: it is a secret.
    if (!is_bearer_token(tokens[i]))
      return detail::config_error("dispatch.http.tokens[" + std::to_string(i) +
                                  "]: not a bearer token (letters, digits and -._~+/, "
                                  "optionally ending in =)");
  return caf::none;
}

caf::error check_ranges(const http_config& c) {
  auto fail = [](const char* key, const char* reason) {
    return detail::config_error(std::string{"dispatch.http."} + key + ": " + reason);
  };
  if (c.body_limit == 0) return fail("body-limit", "must be > 0");
  if (c.header_limit < 1024) return fail("header-limit", "must be at least 1024");
  if (c.header_timeout.count() <= 0) return fail("header-timeout", "must be > 0");
  if (c.body_timeout.count() <= 0) return fail("body-timeout", "must be > 0");
  if (c.idle_timeout.count() <= 0) return fail("idle-timeout", "must be > 0");
  if (c.request_timeout.count() <= 0) return fail("request-timeout", "must be > 0");
  if (c.max_connections == 0) return fail("max-connections", "must be > 0");
  if (c.io_threads < 1 || c.io_threads > 64) return fail("io-threads", "must be between 1 and 64");
  return caf::none;
}

} // namespace

bool loopback_only(const http_config& cfg) {
  for (auto& host : cfg.hosts) {
    in_addr v4;
    in6_addr v6;
    if (iequals(host, "localhost")) continue;
    if (is_ipv4(host, &v4) && (ntohl(v4.s_addr) >> 24) == 127) continue;
    if (is_ipv6(host, &v6)) {
      if (IN6_IS_ADDR_LOOPBACK(&v6)) continue;
      // ::ffff:127.x.y.z is IPv4's loopback seen through an IPv6 socket.
      if (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127) continue;
    }
    return false;
  }
  return true;
}

void add_http_options(caf::config_option_set& options) {
  http_table().add_options(options);
}

void put_http_defaults(caf::actor_system_config& cfg) {
  http_table().put_defaults(cfg.content);
}

caf::expected<http_config> read_http_config(const caf::actor_system_config& cfg) {
  http_config result;
  if (auto err = http_table().read(caf::content(cfg), result)) return err;
  if (auto err = check_hosts(result.hosts)) return err;
  if (auto err = check_ranges(result)) return err;
  if (auto err = check_tokens(result.tokens)) return err;
  return result;
}

} // namespace dispatch
