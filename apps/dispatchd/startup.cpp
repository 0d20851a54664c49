// dispatchd's startup: options, reading and checking the configuration, the data directory, and
// the lines the operator sees (log format, config summary with secrets masked, sinks, endpoints).
#include "apps/dispatchd/startup.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include "config/log_config.hpp"
#include "config/option_table.hpp"
#include "messages/error_code.hpp"
#include "sinks/http_verdict.hpp"

namespace dispatch::app {

namespace {

// -- checks CAF does not make --------------------------------------------------------------------

// CAF 0.17's INI parser lets a section nested three deep ([dispatch.sinks.task]) replace its
// whole parent section, silently dropping the keys of [dispatch.sinks] and its other children.
caf::error check_ini_layout(const std::string& path) {
  std::ifstream file{path};
  std::string line;
  for (size_t number = 1; std::getline(file, line); ++number) {
    auto start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] != '[') continue;
    auto name = line.substr(start + 1, line.find(']', start) - start - 1);
    auto last_dot = name.rfind('.');
    if (last_dot == std::string::npos || name.find('.') == last_dot) continue;
    return detail::config_error(
      path + ":" + std::to_string(number) + ": section [" + name
      + "] is nested too deep for CAF's INI reader (it would drop its sibling sections); write "
      + name.substr(last_dot + 1) + " = { key = value, ... } inside [" + name.substr(0, last_dot)
      + "] instead");
  }
  return caf::none;
}

caf::error check_authentication(const http_config& http) {
  if (loopback_only(http) || !http.tokens.empty()) return caf::none;
  std::string hosts;
  for (auto& host : http.hosts) hosts += (hosts.empty() ? "" : ", ") + host;
  return detail::config_error(
    "dispatch.http.tokens: tokens are required to listen beyond "
    "loopback (dispatch.http.host = "
    + hosts + ")");
}

// -- the summary ---------------------------------------------------------------------------------

// A header line with its value hidden: values are often credentials.
std::string without_value(const std::string& header) {
  auto colon = header.find(':');
  return colon == std::string::npos ? std::string{"***"} : header.substr(0, colon) + ": ***";
}

// Whether the option at `key` holds a secret: its value is never shown, whatever its shape.
bool secret_key(const std::string& key) {
  auto name = key.substr(key.rfind('.') + 1);
  return name == "tokens" || name == "passphrase" || name == "secret" || name == "password";
}

caf::config_value masked(const std::string& key, caf::config_value value) {
  auto list = caf::get_if<caf::config_value::list>(&value);
  auto text = caf::get_if<std::string>(&value);
  if (secret_key(key)) {
    if (list)
      for (auto& item : *list) item = caf::config_value{std::string{"***"}};
    else if (!text || !text->empty())
      value = caf::config_value{std::string{"***"}};
  } else if (key.size() > 8 && key.compare(key.size() - 8, 8, ".headers") == 0) {
    if (list)
      for (auto& item : *list)
        if (auto line = caf::get_if<std::string>(&item))
          item = caf::config_value{without_value(*line)};
    if (text) value = caf::config_value{without_value(*text)};
  } else if (key.size() > 4 && key.compare(key.size() - 4, 4, ".url") == 0 && text) {
    value = caf::config_value{without_credentials(*text)};
  }
  return value;
}

void flatten(const caf::settings& section, const std::string& prefix,
             std::map<std::string, caf::config_value>& out) {
  for (auto& [name, value] : section) {
    if (auto nested = caf::get_if<caf::settings>(&value))
      flatten(*nested, prefix + name + ".", out);
    else
      out.emplace(prefix + name, value);
  }
}

} // namespace

// -- config --------------------------------------------------------------------------------------

dispatchd_config::dispatchd_config() {
  // CAF's default work-stealing workers poll in 50 us sleeps when idle; on small VMs those
  // wake-ups cost a fifth of the CPU (bench/README.md). `--scheduler.policy=stealing` restores it.
  set("scheduler.policy", caf::atom("sharing"));
  prepare_config(*this, custom_options_);
  add_http_options(custom_options_);
  put_http_defaults(*this);
  add_sink_options(custom_options_);
  put_sink_defaults(*this);
  add_cluster_options(custom_options_);
  put_cluster_defaults(*this);
}

std::string help_text() {
  caf::config_option_set options;
  add_engine_options(options);
  add_http_options(options);
  add_sink_options(options);
  add_cluster_options(options);
  add_log_options(options);
  return "usage: dispatchd [--config-file=FILE] [--dispatch.KEY=VALUE ...]\n"
         "       dispatchd backup --to DIR [--url URL] [--token TOKEN]  (see backup --help)\n"
         "       dispatchd restore --from DIR --data-dir TARGET        (see restore --help)\n"
         "  Serves the dispatch HTTP API; stops cleanly on SIGINT or SIGTERM.\n"
         "  Lists take [\"a\", \"b\"] or a,b. Options (--long-help adds CAF's own):\n\n"
         "  --config-file=<string> : INI file with [dispatch...] sections\n"
         "  --dump-config          : print the effective configuration and exit\n\n"
         + options.help_text(false);
}

std::string usage_problem(const caf::error& err) {
  // CAF renders these as `parser_error(<code>, ({"argument" = "<arg>"}))`.
  static const std::regex parser_error{R"re(parser_error\((\w+), \(\{"argument" = "(.*)"\}\)\))re"};
  auto text = caf::to_string(err);
  std::smatch match;
  if (!std::regex_search(text, match, parser_error)) return caf::actor_system_config::render(err);
  auto code = match[1].str();
  auto reason = code == "not_an_option"      ? "unknown option"
                : code == "missing_argument" ? "missing value in"
                                             : "invalid value in";
  return std::string{reason} + " " + match[2].str();
}

caf::expected<dispatchd_settings> read_settings(const dispatchd_config& cfg) {
  if (!cfg.config_file_path.empty())
    if (auto err = check_ini_layout(cfg.config_file_path)) return err;
  dispatchd_settings result;
  auto engine = read_engine_config(cfg);
  if (!engine) return engine.error();
  result.engine = std::move(*engine);
  auto http = read_http_config(cfg);
  if (!http) return http.error();
  result.http = std::move(*http);
  auto sinks = read_sink_config(cfg);
  if (!sinks) return sinks.error();
  result.sinks = std::move(*sinks);
  result.engine.task_sink_rate = result.sinks.task_rate; // the emitters enforce the sinks' rates
  result.engine.mail_sink_rate = result.sinks.mail_rate;
  if (auto err = validate(result.engine)) return err; // the rates are checked there
  auto cluster = read_cluster_config(cfg);
  if (!cluster) return cluster.error();
  result.cluster = std::move(*cluster);
  auto log = read_log_config(cfg);
  if (!log) return log.error();
  result.log = std::move(*log);
  if (auto err = check_authentication(result.http)) return err;
  // The emitter waits for a sink's verdict; it must outwait a webhook's own timeout, or it would
  // record "request timed out" instead of the webhook's reason (and count the attempt twice).
  for (auto* hook : {&result.sinks.task, &result.sinks.mail})
    if (*hook)
      result.engine.sink_timeout = std::max(result.engine.sink_timeout,
                                            (*hook)->timeout + std::chrono::seconds(2));
  return result;
}

caf::error prepare_data_dir(engine_config& engine) {
  if (engine.in_memory) return caf::none;
  std::error_code ec;
  auto dir = std::filesystem::absolute(engine.data_dir, ec).lexically_normal();
  if (!ec) std::filesystem::create_directories(dir, ec);
  if (ec)
    return make_error(error_code::server,
                      "cannot create data directory " + dir.string() + ": " + ec.message());
  engine.data_dir = dir.string();
  if (engine.data_dir.size() > 1 && engine.data_dir.back() == '/') engine.data_dir.pop_back();
  return caf::none;
}

std::string config_summary(const dispatchd_config& cfg) {
  // The parsed values over the defaults: an INI section replaces the defaults CAF held for it.
  std::map<std::string, caf::config_value> values;
  if (auto dispatch = caf::get_if<caf::settings>(&caf::content(cfg), "dispatch"))
    flatten(*dispatch, "", values);
  dispatchd_config defaults;
  if (auto dispatch = caf::get_if<caf::settings>(&caf::content(defaults), "dispatch"))
    flatten(*dispatch, "", values); // emplace keeps what was parsed
  std::string result;
  for (auto& [key, value] : values)
    result += (result.empty() ? "" : " ") + key + "=" + caf::to_string(masked(key, value));
  return result;
}

namespace {

void dump(const caf::settings& section, const std::string& prefix, int indent, std::string& out) {
  std::string pad(static_cast<size_t>(indent) * 2, ' ');
  for (auto& [name, value] : section) {
    if (auto nested = caf::get_if<caf::settings>(&value)) {
      out += pad + name + " {\n";
      dump(*nested, prefix + name + ".", indent + 1, out);
      out += pad + "}\n";
    } else {
      out += pad + name + " = " + caf::to_string(masked(prefix + name, value)) + "\n";
    }
  }
}

} // namespace

std::string config_dump(const dispatchd_config& cfg) {
  std::string out;
  dump(caf::content(cfg), "", 0, out);
  return out;
}

std::string sink_summary(const char* kind, const caf::optional<webhook_config>& sink) {
  std::string text = std::string{kind} + " sink: ";
  if (!sink) return text + "built-in log";
  auto path = std::string{kind} == "task" ? "/tasks/v1/" : "/mail/v1/";
  text += "webhook POST " + without_credentials(sink->url) + path;
  auto count = sink->headers.size();
  if (count > 0) text += " (" + std::to_string(count) + (count == 1 ? " header)" : " headers)");
  return text;
}

file_limit raise_file_limit() {
  file_limit result;
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return result;
  result.before = result.now = lim.rlim_cur;
  result.hard = lim.rlim_max;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) result.now = raised.rlim_cur;
  }
  return result;
}

file_budget plan_files(const file_limit& limit, uint32_t max_connections, uint32_t max_open_files) {
  // WAL, manifest, info logs, the cluster store, webhook connections (curl's pool), cluster peers
  // and CAF's own descriptors.
  constexpr uint64_t fixed_reserve = 192;
  constexpr uint64_t min_storage_files = 32;
  auto text = [](uint64_t n) {
    return n == RLIM_INFINITY ? std::string{"unlimited"} : std::to_string(n);
  };
  file_budget plan;
  plan.reserve = static_cast<uint32_t>(fixed_reserve);
  uint64_t allowed = limit.now == 0 || limit.now == RLIM_INFINITY ? UINT32_MAX : limit.now;
  // Storage takes what it asks for, but never more than a quarter of a small limit.
  uint64_t storage = std::min<uint64_t>(max_open_files,
                                        std::max<uint64_t>(min_storage_files, allowed / 4));
  uint64_t left = allowed > fixed_reserve + storage ? allowed - fixed_reserve - storage : 0;
  plan.storage_files = static_cast<uint32_t>(storage);
  plan.connections = static_cast<uint32_t>(std::min<uint64_t>(max_connections, left));
  plan.lowered = storage < max_open_files || plan.connections < max_connections;
  plan.enough = plan.connections >= std::min(min_connections, max_connections);
  plan.line = "file descriptors: " + text(limit.now) + " allowed";
  if (limit.now != limit.before)
    plan.line += " (soft limit raised from " + text(limit.before) + " to the hard limit)";
  else if (limit.hard != 0)
    plan.line += " (the hard limit is " + text(limit.hard) + ")";
  plan.line += "; storage keeps up to " + std::to_string(plan.storage_files) + " files open, "
               + std::to_string(plan.reserve) + " are kept for logs, sinks and the cluster, "
               + "HTTP connections are capped at " + std::to_string(plan.connections);
  if (!plan.enough)
    plan.line += ": too few to serve (at least "
                 + std::to_string(fixed_reserve + min_storage_files + min_connections)
                 + " needed); raise the hard limit (e.g. LimitNOFILE=65536)";
  else if (plan.lowered)
    plan.line += " (lowered from dispatch.http.max-connections = " + std::to_string(max_connections)
                 + ", dispatch.max-open-files = " + std::to_string(max_open_files)
                 + "; raise the hard limit, e.g. LimitNOFILE=65536, for more)";
  return plan;
}

} // namespace dispatch::app
