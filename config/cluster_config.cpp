// The `dispatch.cluster.*` options: one table for the option set, the defaults and the reader,
// then `validate`, which judges addresses, peers, timings and TLS files together.
#include "config/cluster_config.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

#include "config/http_config.hpp"
#include "config/option_table.hpp"

namespace dispatch {

namespace {

using std::chrono::milliseconds;

const char* const section = "dispatch.cluster";

const detail::option_table<cluster_config>& cluster_table() {
  using cfg = cluster_config;
  static const detail::option_table<cluster_config> table{
    section,
    {
      {"node", +[](cfg& c) -> uint32_t& { return c.node; },
       "this node's id, >= 1 and unique in the cluster (0: not clustered)"},
      {"listen", +[](cfg& c) -> std::string& { return c.listen; },
       "host:port where the peers reach this node, e.g. 10.0.0.5:7400 or [::1]:7400"},
      {"peers", +[](cfg& c) -> detail::string_list& { return c.peers; },
       "every other member as id@host:port, e.g. [\"2@10.0.0.6:7400\", \"3@10.0.0.7:7400\"]"},
      {"heartbeat-interval", +[](cfg& c) -> milliseconds& { return c.heartbeat_interval; },
       "time in ms between pings to every peer"},
      {"peer-timeout", +[](cfg& c) -> milliseconds& { return c.peer_timeout; },
       "time in ms without an answer after which a peer is down (> 2 heartbeat intervals)"},
      {"reconnect-initial", +[](cfg& c) -> milliseconds& { return c.reconnect_initial; },
       "first wait in ms between connection attempts to a peer, doubling on each failure"},
      {"reconnect-max", +[](cfg& c) -> milliseconds& { return c.reconnect_max; },
       "longest wait in ms between connection attempts"},
      {"join-timeout", +[](cfg& c) -> milliseconds& { return c.join_timeout; },
       "time in ms a starting node waits for its peers' hellos"},
      {"forward-batch", +[](cfg& c) -> uint32_t& { return c.forward_batch; },
       "most events in one forward to a shard's owner (1..65536)"},
      {"certificate", +[](cfg& c) -> std::string& { return c.certificate; },
       "PEM file with this node's certificate (TLS when certificate, key and ca-file are set)"},
      {"key", +[](cfg& c) -> std::string& { return c.key; },
       "PEM file with the certificate's private key"},
      {"ca-file", +[](cfg& c) -> std::string& { return c.ca_file; },
       "PEM file with the CA that signed every node's certificate"},
      {"passphrase", +[](cfg& c) -> std::string& { return c.passphrase; },
       "passphrase of the key, if it has one (a secret: never logged)"},
      {"secret", +[](cfg& c) -> std::string& { return c.secret; },
       "the secret every member shares, >= 16 characters: each peer proves it knows it in "
       "its hello (a secret: never logged; or use secret-file)"},
      {"secret-file", +[](cfg& c) -> std::string& { return c.secret_file; },
       "file whose first line is the cluster secret (instead of secret)"},
    }};
  return table;
}

std::string full(const char* key) {
  return std::string{section} + "." + key;
}

caf::error fail(const char* key, const std::string& reason) {
  return detail::config_error(full(key) + ": " + reason);
}

bool is_ipv4(const std::string& host) {
  in_addr addr;
  return inet_pton(AF_INET, host.c_str(), &addr) == 1;
}

bool is_ipv6(const std::string& host, in6_addr* out = nullptr) {
  in6_addr addr;
  if (inet_pton(AF_INET6, host.c_str(), &addr) != 1) return false;
  if (out) *out = addr;
  return true;
}

// A DNS name: labels of letters, digits and '-', separated by dots. Digits and dots alone would
// be a malformed IPv4 address, not a name.
bool is_host_name(const std::string& host) {
  if (host.empty() || host.size() > 253 || host.front() == '.' || host.front() == '-') return false;
  auto name_char = [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '.'; };
  auto numeric = [](unsigned char c) { return std::isdigit(c) || c == '.'; };
  return std::all_of(host.begin(), host.end(), name_char)
         && !std::all_of(host.begin(), host.end(), numeric);
}

bool all_digits(const std::string& text, size_t max_size) {
  return !text.empty() && text.size() <= max_size
         && std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

// The address as every node spells it: lowercase names, canonical IPv6 in brackets. Members
// compare their lists in the handshake, so "[0:0::1]:7400" and "[::1]:7400" must agree.
std::string canonical(const std::string& host, uint16_t port) {
  in6_addr v6;
  if (is_ipv6(host, &v6)) {
    char text[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &v6, text, sizeof(text));
    return "[" + std::string{text} + "]:" + std::to_string(port);
  }
  std::string lower = host;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower + ":" + std::to_string(port);
}

bool is_loopback(const std::string& host) {
  // The gateway's rule, so both listeners agree on what loopback means.
  http_config probe;
  probe.hosts = {host};
  return loopback_only(probe);
}

bool is_wildcard(const std::string& host) {
  return host == "0.0.0.0" || (is_ipv6(host) && canonical(host, 1) == "[::]:1");
}

struct peer_entry {
  uint32_t id = 0;
  std::string host;
  uint16_t port = 0;
  std::string address; // canonical
};

// Parses "id@host:port"; `key` is the entry's full key, e.g. "dispatch.cluster.peers[1]".
caf::expected<peer_entry> parse_peer(const std::string& key, const std::string& text) {
  auto at = text.find('@');
  if (at == std::string::npos || at == 0)
    return detail::config_error(key + ": expected id@host:port, got \"" + text + "\"");
  auto id = text.substr(0, at);
  if (!all_digits(id, 10) || std::stoull(id) == 0 || std::stoull(id) > UINT32_MAX)
    return detail::config_error(key + ": the id must be a number between 1 and 4294967295, got \""
                                + text + "\"");
  auto address = parse_address(key, text.substr(at + 1));
  if (!address) return std::move(address.error());
  peer_entry result;
  result.id = static_cast<uint32_t>(std::stoull(id));
  result.host = address->first;
  result.port = address->second;
  result.address = canonical(result.host, result.port);
  return result;
}

// Not clustered: any other setting would be silently ignored, which hides a forgotten `node`.
caf::error check_unclustered(const cluster_config& cfg) {
  cluster_config given = cfg;
  cluster_config defaults;
  for (auto& spec : cluster_table().specs()) {
    auto differs = std::visit([&](auto get) { return get(given) != get(defaults); }, spec.field);
    if (differs) return fail("node", "required when " + cluster_table().full_key(spec) + " is set");
  }
  return caf::none;
}

caf::error check_listen(const cluster_config& cfg, std::string& listen_address) {
  if (cfg.listen.empty()) return fail("listen", "required when " + full("node") + " is set");
  auto address = parse_address(full("listen"), cfg.listen);
  if (!address) return std::move(address.error());
  if (is_wildcard(address->first))
    return fail("listen", address->first
                            + " is not an address peers can reach; give this node's own address");
  listen_address = canonical(address->first, address->second);
  return caf::none;
}

caf::error check_peers(const cluster_config& cfg, const std::string& listen_address) {
  std::vector<peer_entry> seen;
  for (size_t i = 0; i < cfg.peers.size(); ++i) {
    auto key = full("peers") + "[" + std::to_string(i) + "]";
    auto peer = parse_peer(key, cfg.peers[i]);
    if (!peer) return std::move(peer.error());
    if (is_wildcard(peer->host))
      return detail::config_error(key + ": " + peer->host + " is not an address to connect to");
    if (peer->id == cfg.node)
      return detail::config_error(key + ": id " + std::to_string(peer->id)
                                  + " is this node's own id (" + full("node") + ")");
    if (peer->address == listen_address)
      return detail::config_error(key + ": address " + peer->address + " is this node's own ("
                                  + full("listen") + ")");
    for (size_t j = 0; j < seen.size(); ++j) {
      auto earlier = " (peers[" + std::to_string(j) + "])";
      if (seen[j].id == peer->id)
        return detail::config_error(key + ": id " + std::to_string(peer->id) + " is listed twice"
                                    + earlier);
      if (seen[j].address == peer->address)
        return detail::config_error(key + ": address " + peer->address + " is listed twice"
                                    + earlier);
    }
    seen.push_back(std::move(*peer));
  }
  return caf::none;
}

std::string ms(milliseconds x) {
  return std::to_string(x.count()) + " ms";
}

caf::error check_timing(const cluster_config& cfg) {
  if (cfg.heartbeat_interval.count() <= 0) return fail("heartbeat-interval", "must be > 0");
  if (cfg.peer_timeout <= 2 * cfg.heartbeat_interval)
    return fail("peer-timeout", "must be more than twice " + full("heartbeat-interval") + " (2 x "
                                  + ms(cfg.heartbeat_interval) + "), got " + ms(cfg.peer_timeout));
  if (cfg.reconnect_initial.count() <= 0) return fail("reconnect-initial", "must be > 0");
  if (cfg.reconnect_max < cfg.reconnect_initial)
    return fail("reconnect-max", "must be at least " + full("reconnect-initial") + " ("
                                   + ms(cfg.reconnect_initial) + "), got " + ms(cfg.reconnect_max));
  if (cfg.join_timeout.count() <= 0) return fail("join-timeout", "must be > 0");
  if (cfg.forward_batch < 1 || cfg.forward_batch > 65536)
    return fail("forward-batch",
                "must be between 1 and 65536, got " + std::to_string(cfg.forward_batch));
  return caf::none;
}

caf::error check_readable(const char* key, const std::string& path) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) return fail(key, "no such file \"" + path + "\"");
  if (!std::filesystem::is_regular_file(status))
    return fail(key, "not a regular file \"" + path + "\"");
  std::ifstream file{path};
  if (!file.good()) return fail(key, "cannot read \"" + path + "\"");
  return caf::none;
}

caf::error check_tls(const cluster_config& cfg) {
  struct tls_file {
    const char* key;
    const std::string& path;
  };
  const tls_file files[] = {
    {"certificate", cfg.certificate}, {"key", cfg.key}, {"ca-file", cfg.ca_file}};
  bool any = !cfg.certificate.empty() || !cfg.key.empty() || !cfg.ca_file.empty();
  for (auto& file : files) {
    if (file.path.empty() && any)
      return fail(file.key, "required for TLS: " + full("certificate") + ", " + full("key")
                              + " and " + full("ca-file") + " are set together or not at all");
    if (!file.path.empty())
      if (auto err = check_readable(file.key, file.path)) return err;
  }
  // The passphrase itself never appears in a message: it is a secret.
  if (!cfg.passphrase.empty() && cfg.key.empty())
    return fail("passphrase", "given without " + full("key"));
  return caf::none;
}

// Beyond loopback the cluster's traffic (events, dispatcher changes) crosses a network.
caf::error check_tls_required(const cluster_config& cfg) {
  if (uses_tls(cfg)) return caf::none;
  auto required = [](const std::string& where) {
    auto reason = std::string{
      "TLS (certificate, key, ca-file) is required when nodes listen "
      "beyond loopback ("};
    return fail("ca-file", reason + where + ")");
  };
  if (auto listen = parse_address(full("listen"), cfg.listen);
      listen && !is_loopback(listen->first))
    return required("listen = " + cfg.listen);
  for (size_t i = 0; i < cfg.peers.size(); ++i) {
    auto peer = parse_peer(full("peers"), cfg.peers[i]);
    if (peer && !is_loopback(peer->host))
      return required("peers[" + std::to_string(i) + "] = " + cfg.peers[i]);
  }
  return caf::none;
}

// Without a proof of membership anyone who reaches the port could forward events, write
// dispatchers and take a member's slot. TLS alone does not bind a certificate to a node id
// (CAF 0.17's OpenSSL layer does not show the peer's certificate), so the secret is required
// with TLS too.
caf::error check_secret(const cluster_config& cfg) {
  if (cfg.secret.empty() && cfg.secret_file.empty())
    return fail("secret", "required to run a cluster node (or " + full("secret-file")
                            + "): every member proves in its hello that it knows the same secret");
  if (!cfg.secret.empty() && !cfg.secret_file.empty())
    return fail("secret-file", "given together with " + full("secret") + "; set one of them");
  auto secret = read_secret(cfg);
  if (!secret) return std::move(secret.error());
  return caf::none;
}

} // namespace

caf::expected<std::string> read_secret(const cluster_config& cfg) {
  std::string secret = cfg.secret;
  const char* key = "secret";
  if (!cfg.secret_file.empty()) {
    key = "secret-file";
    if (auto err = check_readable(key, cfg.secret_file)) return err;
    std::ifstream file{cfg.secret_file};
    std::getline(file, secret);
    while (!secret.empty() && std::isspace(static_cast<unsigned char>(secret.back())))
      secret.pop_back();
  }
  if (secret.size() < min_secret_size)
    return fail(key, "the secret must have at least " + std::to_string(min_secret_size)
                       + " characters, got " + std::to_string(secret.size()));
  return secret;
}

caf::expected<std::pair<std::string, uint16_t>> parse_address(const std::string& key,
                                                              const std::string& text) {
  auto bad = [&](const std::string& reason) {
    return detail::config_error(key + ": " + reason + ", got \"" + text + "\"");
  };
  std::string host;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string::npos) return bad("expected [IPv6 address]:port");
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') return bad("expected a port after ]:");
    port = text.substr(close + 2);
    if (!is_ipv6(host)) return bad("expected an IPv6 address in brackets");
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) return bad("expected host:port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string::npos)
      return bad("an IPv6 address goes in brackets, e.g. [::1]:7400");
    if (!is_ipv4(host) && !is_host_name(host)) return bad("not an IP address or host name");
  }
  if (!all_digits(port, 5) || std::stoul(port) == 0 || std::stoul(port) > 65535)
    return bad("the port must be a number between 1 and 65535");
  return std::make_pair(host, static_cast<uint16_t>(std::stoul(port)));
}

member_list members_of(const cluster_config& cfg) {
  member_list result;
  auto listen = parse_address(full("listen"), cfg.listen);
  result.push_back({cfg.node, listen ? canonical(listen->first, listen->second) : cfg.listen});
  for (auto& text : cfg.peers) {
    auto peer = parse_peer(full("peers"), text);
    if (peer)
      result.push_back({peer->id, peer->address});
    else // not validated: keep what was written rather than drop a member
      result.push_back({0, text});
  }
  std::sort(result.begin(), result.end(),
            [](const member& x, const member& y) { return x.id < y.id; });
  return result;
}

void add_cluster_options(caf::config_option_set& options) {
  cluster_table().add_options(options);
}

void put_cluster_defaults(caf::actor_system_config& cfg) {
  cluster_table().put_defaults(cfg.content);
}

caf::expected<cluster_config> read_cluster_config(const caf::actor_system_config& cfg) {
  cluster_config result;
  if (auto err = cluster_table().read(caf::content(cfg), result)) return err;
  if (auto err = validate(result)) return err;
  return result;
}

caf::error validate(const cluster_config& cfg) {
  if (!clustered(cfg)) return check_unclustered(cfg);
  std::string listen_address;
  if (auto err = check_listen(cfg, listen_address)) return err;
  if (auto err = check_peers(cfg, listen_address)) return err;
  if (auto err = check_timing(cfg)) return err;
  if (auto err = check_tls(cfg)) return err;
  if (auto err = check_tls_required(cfg)) return err;
  return check_secret(cfg);
}

} // namespace dispatch
