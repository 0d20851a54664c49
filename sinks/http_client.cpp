// The curl multi loop of the webhook sinks. New requests are handed over under a mutex and
// `curl_multi_wakeup` interrupts `curl_multi_poll`; finished transfers are classified here (status,
// Retry-After, curl error) and reported. Every easy handle belongs to this thread alone.
#include "sinks/http_client.hpp"

#include <algorithm>
#include <ctime>
#include <deque>
#include <mutex>
#include <unordered_map>

#include <pthread.h>

#include <curl/curl.h>

#include "messages/error_code.hpp"
#include "sinks/http_verdict.hpp"

namespace dispatch {

namespace {

/// One request in flight, owned by the curl thread; curl points at its buffers.
struct transfer {
  uint64_t id = 0;
  std::string url;
  std::string shown_url; // the url without credentials, for reasons a token holder can read
  std::string body;
  curl_slist* headers = nullptr;
  std::string response;
  size_t response_cap = 0;
  char error[CURL_ERROR_SIZE] = {};
  CURL* easy = nullptr;

  ~transfer() {
    if (easy) curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
  }
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<transfer*>(user);
  auto bytes = size * count;
  // Keep the start only, but accept everything: refusing would abort the transfer and lose the
  // connection.
  if (t->response.size() < t->response_cap)
    t->response.append(data, std::min(bytes, t->response_cap - t->response.size()));
  return bytes;
}

std::string retry_after_of(CURL* easy) {
  curl_header* h = nullptr;
  if (curl_easy_header(easy, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h)
    return h->value ? h->value : "";
  return {};
}

delivery_result transport_verdict(const transfer& t, CURLcode code,
                                  std::chrono::milliseconds timeout) {
  if (code == CURLE_OPERATION_TIMEDOUT)
    return retry_later("timeout after " + std::to_string(timeout.count()) + " ms waiting for "
                       + t.shown_url);
  std::string what = t.error[0] != '\0' ? t.error : curl_easy_strerror(code);
  return retry_later(what + " (POST " + t.shown_url + ")");
}

} // namespace

struct http_client::core {
  http_client_options options;
  http_report report;
  CURLM* multi = nullptr;

  std::mutex mtx;
  std::deque<http_post> incoming; // guarded by mtx
  bool stopping = false;          // guarded by mtx

  std::unordered_map<CURL*, std::unique_ptr<transfer>> active; // curl thread only

  ~core() {
    // Runs after the thread is done (it holds a reference while it runs).
    if (multi) curl_multi_cleanup(multi);
  }

  void run();
  void begin(http_post post);
  void finish_done();
  void abort_all();
};

void http_client::core::begin(http_post post) {
  auto t = std::make_unique<transfer>();
  t->id = post.id;
  t->url = std::move(post.url);
  t->shown_url = without_credentials(t->url);
  t->body = std::move(post.body);
  t->response_cap = options.max_response_bytes;
  for (auto& line : post.headers) {
    auto* grown = curl_slist_append(t->headers, line.c_str());
    if (!grown) {
      report(t->id, retry_later("webhook: out of memory for headers"));
      return;
    }
    t->headers = grown;
  }
  t->easy = curl_easy_init();
  if (!t->easy) {
    report(t->id, retry_later("webhook: curl_easy_init failed"));
    return;
  }
  auto* e = t->easy;
  curl_easy_setopt(e, CURLOPT_URL, t->url.c_str());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body.data());
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->body.size()));
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
  if (curl_multi_add_handle(multi, e) != CURLM_OK) {
    report(t->id, retry_later("webhook: curl_multi_add_handle failed"));
    return;
  }
  active.emplace(e, std::move(t));
}

void http_client::core::finish_done() {
  int left = 0;
  while (auto* msg = curl_multi_info_read(multi, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    auto found = active.find(msg->easy_handle);
    if (found == active.end()) continue;
    auto t = std::move(found->second);
    active.erase(found);
    delivery_result verdict;
    if (msg->data.result != CURLE_OK) {
      verdict = transport_verdict(*t, msg->data.result, options.timeout);
    } else {
      long status = 0;
      curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
      verdict = verdict_of_response(status, t->shown_url, t->response, retry_after_of(t->easy),
                                    std::time(nullptr));
    }
    // `msg` is invalid once its handle leaves the multi handle: nothing reads it below.
    curl_multi_remove_handle(multi, t->easy);
    auto id = t->id;
    t.reset();
    report(id, std::move(verdict));
  }
}

void http_client::core::abort_all() {
  for (auto& [easy, t] : active) curl_multi_remove_handle(multi, easy);
  active.clear();
}

void http_client::core::run() {
  pthread_setname_np(pthread_self(), options.thread_name.substr(0, 15).c_str());
  for (;;) {
    std::deque<http_post> batch;
    {
      std::lock_guard<std::mutex> guard{mtx};
      if (stopping) break;
      batch.swap(incoming);
    }
    for (auto& post : batch) begin(std::move(post));
    int running = 0;
    curl_multi_perform(multi, &running);
    finish_done();
    // Sleeps until a socket is ready, curl's next timeout, or a wakeup from `submit`/`stop`.
    curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  }
  abort_all();
}

caf::expected<std::unique_ptr<http_client>> http_client::start(http_client_options options,
                                                               http_report report) {
  static std::once_flag global_init;
  static CURLcode global_status = CURLE_OK;
  std::call_once(global_init, [] { global_status = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (global_status != CURLE_OK)
    return make_error(error_code::server, std::string{"webhook: curl_global_init failed: "}
                                            + curl_easy_strerror(global_status));
  auto shared = std::make_shared<core>();
  shared->options = std::move(options);
  shared->report = std::move(report);
  shared->multi = curl_multi_init();
  if (!shared->multi) return make_error(error_code::server, "webhook: curl_multi_init failed");
  auto cap = static_cast<long>(shared->options.max_connections);
  curl_multi_setopt(shared->multi, CURLMOPT_MAX_HOST_CONNECTIONS, cap);
  // Keep as many idle connections as may be open, so a burst does not close and reopen them.
  if (cap > 0) curl_multi_setopt(shared->multi, CURLMOPT_MAXCONNECTS, cap);
  return std::unique_ptr<http_client>{new http_client{std::move(shared)}};
}

http_client::http_client(std::shared_ptr<core> shared) : core_(std::move(shared)) {
  thread_ = std::thread{[shared = core_] { shared->run(); }};
}

http_client::~http_client() {
  stop();
}

void http_client::submit(http_post post) {
  {
    std::lock_guard<std::mutex> guard{core_->mtx};
    if (core_->stopping) return;
    core_->incoming.push_back(std::move(post));
  }
  curl_multi_wakeup(core_->multi);
}

void http_client::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> guard{core_->mtx};
    core_->stopping = true;
  }
  curl_multi_wakeup(core_->multi);
  if (thread_.get_id() == std::this_thread::get_id())
    thread_.detach(); // called from a report: the loop ends when the report returns
  else
    thread_.join();
}

} // namespace dispatch
