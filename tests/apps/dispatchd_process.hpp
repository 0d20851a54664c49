// dispatchd as a child process for the apps tests: started with a temporary data directory and
// port 0, its log in a file, killed with the test; plus readers for its JSON answers.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "fixtures/child_process.hpp"
#include "fixtures/http_client.hpp"

namespace dispatch::test {

/// Generous: the machine is shared, and a test waits for conditions, never for a speed.
constexpr std::chrono::seconds dispatchd_deadline{60};

std::string read_text_file(const std::string& path);

bool contains(const std::string& text, const std::string& part);

/// Options for a dispatchd on `data_dir`, listening on 127.0.0.1 at a free port.
std::vector<std::string> dispatchd_args(const std::string& data_dir,
                                        std::vector<std::string> more = {});

/// dispatchd as a child process, its stdout and stderr in `log_path`; killed when this ends.
class dispatchd_process {
 public:
  dispatchd_process(std::vector<std::string> args, std::string log_path);
  ~dispatchd_process();
  dispatchd_process(const dispatchd_process&) = delete;
  dispatchd_process& operator=(const dispatchd_process&) = delete;

  std::string log() const { return read_text_file(log_path_); }

  /// Waits for a log line matching `pattern`; returns its match (empty when the process exited
  /// or the deadline passed first).
  std::smatch wait_for(const std::string& pattern);

  /// The listening port of `host` (as the log writes it), after the process is ready.
  uint16_t port_of(const std::string& host);

  bool running() { return child_.running(); }

  void signal(int sig) { child_.signal(sig); }

  /// Waits up to `limit` for the exit (SIGKILL after it) and returns the exit status; -1 when it
  /// was killed by a signal.
  int exit_status(std::chrono::milliseconds limit = dispatchd_deadline);

 private:
  std::string log_path_;
  std::string log_text_;
  child_process child_;
};

/// An answer's body as JSON (a parse error shows in `HasParseError()`).
rapidjson::Document json_of(const http_answer& answer);

/// Checks an error answer as API.md writes it: the status, a JSON body `{code, name, message}`
/// with that code and a non-empty message. `what` names the input in failure messages.
void check_error(const http_answer& answer, unsigned status, unsigned code,
                 const std::string& what);

/// Reads every task of the built-in log, a page at a time; counts them by event id. `total` is
/// the log's size as its last page said.
std::map<std::string, size_t> tasks_by_event(http_client& client, size_t& total);

/// `page.total` of a find answer; UINT64_MAX when the answer is not a page.
uint64_t page_total(http_client& client, const std::string& target);

/// Waits until `condition` holds, polling; false when `limit` passed first.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds limit = dispatchd_deadline);

/// A fresh 24-hex id (an ExH ObjectId shape), unique within this test process.
std::string fresh_object_id();

}  // namespace dispatch::test
