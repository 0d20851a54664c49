// `dispatchd backup` and `dispatchd restore`. The backup is made by the running node (it holds the
// database's lock); this command asks for it over the HTTP API and prints its progress until it
// ends. The restore is offline: the node is not running, and this process writes the directory.
#include "apps/dispatchd/admin_commands.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "messages/error_code.hpp"
#include "messages/json_dom.hpp"
#include "persistence/backup.hpp"

namespace dispatch::app {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

constexpr int exit_failure = 1;
constexpr int exit_usage = 2;

// How often the status is asked for while a backup runs, and how long the node may stay silent.
constexpr auto poll_interval = std::chrono::milliseconds(500);
constexpr auto call_timeout = std::chrono::seconds(30);
constexpr auto unreachable_limit = std::chrono::seconds(30);

const char* const backup_usage
  = "usage: dispatchd backup --to DIR [--url URL] [--token TOKEN]\n"
    "  Asks the running node at URL (default http://127.0.0.1:8080) for a consistent copy of\n"
    "  its data (every database, taken while it runs) into DIR: an absolute path outside the\n"
    "  data directory, new or empty, whose parent exists (on the node's machine). Prints the\n"
    "  progress and a summary; exits 0 once the copy is complete and verified, 1 when it\n"
    "  failed or was refused (saying why), 2 on bad usage. TOKEN is a bearer token of\n"
    "  dispatch.http.tokens (or set DISPATCHD_TOKEN, which keeps it out of the process list).\n"
    "  Interrupting this command does not stop the backup: GET /admin/v1/backup follows it.\n";

const char* const restore_usage
  = "usage: dispatchd restore --from DIR --data-dir TARGET\n"
    "  Restores the backup in DIR (made by dispatchd backup) into TARGET, a new or empty\n"
    "  directory, offline: checks every file against its checksum, restores every database,\n"
    "  opens the result and checks it holds what the backup says. Then start dispatchd with\n"
    "  --dispatch.data-dir=TARGET (same shard count; a cluster node under the same node id).\n"
    "  Exits 0 when done, 1 when it failed (TARGET is left as it was), 2 on bad usage.\n";

/// `--name value` and `--name=value` options; anything else is a usage error.
struct command_line {
  std::vector<std::pair<std::string, std::string>> options;
  bool help = false;
  std::string problem;

  std::optional<std::string> get(const std::string& name) const {
    for (auto& [key, value] : options)
      if (key == name) return value;
    return std::nullopt;
  }
};

command_line parse(int argc, char** argv, const std::vector<std::string>& known) {
  command_line result;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      result.help = true;
      continue;
    }
    auto eq = arg.find('=');
    auto name = arg.substr(0, eq);
    if (name.size() < 3 || name.compare(0, 2, "--") != 0
        || std::find(known.begin(), known.end(), name.substr(2)) == known.end()) {
      result.problem = "unknown argument " + arg;
      return result;
    }
    if (eq != std::string::npos) {
      result.options.emplace_back(name.substr(2), arg.substr(eq + 1));
    } else if (i + 1 < argc) {
      result.options.emplace_back(name.substr(2), argv[++i]);
    } else {
      result.problem = "missing value of " + arg;
      return result;
    }
  }
  return result;
}

std::string iso_time(int64_t ms) {
  auto seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[96];
  std::snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ms % 1000));
  return text;
}

/// An event's sequence is its accept time in ms × 1000 plus a counter (docs/architecture.md).
std::string sequence_text(uint64_t sequence) {
  if (sequence == 0) return "none (the event log is empty)";
  return std::to_string(sequence) + " (accepted " + iso_time(static_cast<int64_t>(sequence / 1000))
         + ")";
}

// -- a small HTTP client for the node's API -------------------------------------------------------

struct node_address {
  std::string host;
  std::string port;
};

/// `http://HOST[:PORT][/]`, HOST a name, an IPv4 address or `[IPv6]`.
std::optional<node_address> parse_url(const std::string& url, std::string& problem) {
  const std::string scheme = "http://";
  if (url.compare(0, scheme.size(), scheme) != 0) {
    problem = "--url: expected http://HOST[:PORT], got " + url;
    return std::nullopt;
  }
  auto rest = url.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.empty() || rest.find('/') != std::string::npos) {
    problem = "--url: expected http://HOST[:PORT], got " + url;
    return std::nullopt;
  }
  node_address address{rest, "80"};
  auto colon = rest.rfind(':');
  auto bracket = rest.rfind(']');
  if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
    address.host = rest.substr(0, colon);
    address.port = rest.substr(colon + 1);
  }
  if (address.host.size() > 2 && address.host.front() == '[' && address.host.back() == ']')
    address.host = address.host.substr(1, address.host.size() - 2);
  if (address.host.empty() || address.port.empty()
      || address.port.find_first_not_of("0123456789") != std::string::npos) {
    problem = "--url: expected http://HOST[:PORT], got " + url;
    return std::nullopt;
  }
  return address;
}

struct http_answer {
  unsigned status = 0;
  std::string body;
};

/// One request on a connection of its own; the error says what failed on the way.
std::optional<http_answer> call(const node_address& node, http::verb method,
                                const std::string& target, const std::string& body,
                                const std::string& token, std::string& problem) {
  try {
    boost::asio::io_context io;
    tcp::resolver resolver{io};
    beast::tcp_stream stream{io};
    stream.expires_after(call_timeout);
    stream.connect(resolver.resolve(node.host, node.port));
    http::request<http::string_body> req{method, target, 11};
    auto host = node.host.find(':') != std::string::npos ? "[" + node.host + "]" : node.host;
    req.set(http::field::host, host + ":" + node.port);
    req.set(http::field::user_agent, "dispatchd-backup");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    return http_answer{res.result_int(), std::move(res.body())};
  } catch (const std::exception& ex) {
    problem = "cannot reach the node at http://" + node.host + ":" + node.port + " (" + ex.what()
              + ")";
    return std::nullopt;
  }
}

/// An error answer's message (docs/api.md: `{code, name, message}`), or the status line.
std::string refusal_of(const http_answer& answer) {
  rapidjson::Document doc;
  doc.Parse<dom_parse_flags>(answer.body.c_str(), answer.body.size());
  auto message = doc.HasParseError() ? std::string{} : member_text(doc, "message");
  return "HTTP " + std::to_string(answer.status) + (message.empty() ? "" : ": " + message);
}

// -- backup ---------------------------------------------------------------------------------------

/// A backup's status as the node answers it (`GET /admin/v1/backup`).
struct status_view {
  std::string state, to, phase, error;
  uint64_t started = 0, duration = 0, total = 0, copied = 0, files = 0, bytes = 0, last = 0;
  std::string parts;
};

std::optional<status_view> read_status(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse<dom_parse_flags>(body.c_str(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  status_view s;
  s.state = member_text(doc, "state");
  s.to = member_text(doc, "to");
  s.phase = member_text(doc, "phase");
  s.error = member_text(doc, "error");
  s.started = member_u64(doc, "startedTimestamp");
  s.duration = member_u64(doc, "durationMs");
  s.total = member_u64(doc, "bytesTotal");
  s.copied = member_u64(doc, "bytesCopied");
  s.files = member_u64(doc, "files");
  s.bytes = member_u64(doc, "bytes");
  s.last = member_u64(doc, "lastSequence");
  auto parts = doc.FindMember("parts");
  if (parts != doc.MemberEnd() && parts->value.IsArray())
    for (auto& p : parts->value.GetArray())
      if (p.IsString()) s.parts += (s.parts.empty() ? "" : ", ") + std::string{p.GetString()};
  if (s.state.empty()) return std::nullopt;
  return s;
}

std::string progress_line(uint64_t copied, uint64_t total, const std::string& phase) {
  auto percent = total == 0 ? 100 : std::min<uint64_t>(copied * 100 / total, 100);
  return "backup: " + size_text(copied) + " of " + size_text(total) + " copied ("
         + std::to_string(percent) + "%)" + (phase.empty() ? "" : ", copying " + phase);
}

std::string json_request(const std::string& to) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> out{buffer};
  out.StartObject();
  out.Key("to");
  out.String(to.data(), static_cast<rapidjson::SizeType>(to.size()));
  out.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

/// Follows the backup that started as `ours` until it ends; answers the exit status.
int follow(const node_address& node, const std::string& token, const status_view& ours) {
  auto last_line = std::chrono::steady_clock::now();
  bool reported = false; // a line for the first answer while it runs, then when it moved
  uint64_t last_copied = 0;
  auto reachable = std::chrono::steady_clock::now();
  bool silent = false; // said that the node does not answer (once until it does again)
  while (true) {
    std::this_thread::sleep_for(poll_interval);
    std::string problem;
    auto answer = call(node, http::verb::get, "/admin/v1/backup", "", token, problem);
    if (!answer || answer->status != 200) {
      if (answer) problem = "the node refused the status call: " + refusal_of(*answer);
      if (!silent) std::cerr << "dispatchd backup: " << problem << "; asking again" << std::endl;
      silent = true;
      if (std::chrono::steady_clock::now() - reachable > unreachable_limit) {
        std::cerr << "dispatchd backup: " << problem
                  << "; the backup's outcome is unknown (ask GET /admin/v1/backup once the node "
                     "answers)\n";
        return exit_failure;
      }
      continue;
    }
    reachable = std::chrono::steady_clock::now();
    silent = false;
    auto status = read_status(answer->body);
    if (!status || status->to != ours.to || status->started != ours.started) {
      std::cerr << "dispatchd backup: the node no longer reports this backup (it was restarted, "
                   "or another backup began); look for the backup's end in its log\n";
      return exit_failure;
    }
    if (status->state == "running") {
      auto now = std::chrono::steady_clock::now();
      if (!reported || status->copied != last_copied
          || now - last_line >= std::chrono::seconds(5)) {
        reported = true;
        std::cout << progress_line(status->copied, status->total, status->phase) << std::endl;
        last_copied = status->copied;
        last_line = now;
      }
      continue;
    }
    if (status->state == "done") {
      std::cout << progress_line(status->bytes, status->bytes, "") << "\n"
                << "backup: done in " << status->duration / 1000 << "."
                << (status->duration % 1000) / 100 << " s into " << status->to << ": "
                << status->files << " files, " << size_text(status->bytes) << " (" << status->parts
                << "), every file checked against its checksum\n"
                << "backup: last event sequence in the copy: " << sequence_text(status->last)
                << "\n"
                << "backup: restore it with: dispatchd restore --from " << status->to
                << " --data-dir <new directory>" << std::endl;
      return 0;
    }
    std::cerr << "dispatchd backup: failed after " << status->duration / 1000 << "."
              << (status->duration % 1000) / 100 << " s: " << status->error << "\n";
    return exit_failure;
  }
}

int backup_command(int argc, char** argv) {
  auto cmd = parse(argc, argv, {"to", "url", "token"});
  if (cmd.help) {
    std::cout << backup_usage;
    return 0;
  }
  auto to = cmd.get("to");
  if (cmd.problem.empty() && !to) cmd.problem = "--to DIR is required";
  std::string problem = cmd.problem;
  std::optional<node_address> node;
  if (problem.empty()) node = parse_url(cmd.get("url").value_or("http://127.0.0.1:8080"), problem);
  if (!problem.empty()) {
    std::cerr << "dispatchd backup: " << problem << "\n" << backup_usage;
    return exit_usage;
  }
  std::string token;
  if (auto given = cmd.get("token"))
    token = *given;
  else if (auto env = std::getenv("DISPATCHD_TOKEN"))
    token = env;
  auto answer = call(*node, http::verb::post, "/admin/v1/backup", json_request(*to), token,
                     problem);
  if (!answer) {
    std::cerr << "dispatchd backup: " << problem << "\n";
    return exit_failure;
  }
  if (answer->status != 200) {
    std::cerr << "dispatchd backup: the node refused the backup: " << refusal_of(*answer) << "\n";
    return exit_failure;
  }
  auto started = read_status(answer->body);
  if (!started || started->state != "running") {
    std::cerr << "dispatchd backup: the node answered something else than a running backup: "
              << answer->body << "\n";
    return exit_failure;
  }
  std::cout << "backup: started into " << started->to << " (" << started->parts << "; about "
            << size_text(started->total) << " to copy)" << std::endl;
  return follow(*node, token, *started);
}

// -- restore --------------------------------------------------------------------------------------

int restore_command(int argc, char** argv) {
  auto cmd = parse(argc, argv, {"from", "data-dir"});
  if (cmd.help) {
    std::cout << restore_usage;
    return 0;
  }
  auto from = cmd.get("from");
  auto target = cmd.get("data-dir");
  if (cmd.problem.empty() && !from) cmd.problem = "--from DIR is required";
  if (cmd.problem.empty() && !target) cmd.problem = "--data-dir TARGET is required";
  if (!cmd.problem.empty()) {
    std::cerr << "dispatchd restore: " << cmd.problem << "\n" << restore_usage;
    return exit_usage;
  }
  auto start = std::chrono::steady_clock::now();
  auto manifest = read_backup_manifest(*from);
  if (!manifest) {
    std::cerr << "dispatchd restore: " << message_of(manifest.error()) << "\n";
    return exit_failure;
  }
  std::string parts;
  for (auto& p : manifest->parts) parts += (parts.empty() ? "" : ", ") + p.name;
  std::cout << "restore: the backup in " << *from << " was made by dispatchd " << manifest->software
            << " at " << iso_time(manifest->started) << " from " << manifest->data_dir << ": "
            << parts << "; " << manifest->files << " files, " << size_text(manifest->bytes) << "; "
            << manifest->shards << " shards"
            << (manifest->node != 0 ? "; cluster node " + std::to_string(manifest->node) : "")
            << std::endl;
  auto restored = restore_backup(*from, *target,
                                 [](const std::string& line) { std::cout << line << std::endl; });
  if (!restored) {
    std::cerr << "dispatchd restore: " << message_of(restored.error()) << "\n";
    return exit_failure;
  }
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now()
                                                                    - start)
                .count();
  auto dir = std::filesystem::absolute(*target).lexically_normal().string();
  std::cout << "restore: done in " << took / 1000 << "." << (took % 1000) / 100
            << " s; last event sequence: " << sequence_text(restored->last_sequence) << "\n"
            << "restore: start the node with --dispatch.data-dir=" << dir
            << " --dispatch.shards=" << restored->shards
            << (restored->node != 0 ? " --dispatch.cluster.node=" + std::to_string(restored->node)
                                    : std::string{})
            << std::endl;
  return 0;
}

} // namespace

bool is_admin_command(const std::string& argument) {
  return argument == "backup" || argument == "restore";
}

int run_admin_command(int argc, char** argv) {
  std::string command = argv[1];
  return command == "backup" ? backup_command(argc, argv) : restore_command(argc, argv);
}

} // namespace dispatch::app
