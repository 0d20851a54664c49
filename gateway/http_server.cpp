// The HTTP server: one io_context run by cfg.io_threads threads, its listeners and sessions, and
// an orderly shutdown that waits for owed answers, then drops every connection.

#include "gateway/http_server.hpp"

#include <algorithm>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "gateway/http_listener.hpp"
#include "gateway/http_session.hpp"
#include "logging/log.hpp"

namespace dispatch {

namespace {

namespace net = boost::asio;
using namespace http_internal;
using namespace std::chrono_literals;

// Waits for `done` up to `limit`, polling: shutdown is rare and its waits are short.
template <class Predicate>
bool wait_for(std::chrono::milliseconds limit, Predicate done) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

class beast_server final : public http_server {
public:
  explicit beast_server(server_state_ptr state)
      : ioc_(static_cast<int>(std::max(1u, state->cfg.io_threads))),
        work_(net::make_work_guard(ioc_)), state_(std::move(state)) {}

  ~beast_server() override { shutdown(0ms); }

  caf::error listen() {
    auto listeners = bind_listeners(ioc_, state_);
    if (!listeners) return std::move(listeners.error());
    listeners_ = std::move(*listeners);
    for (auto& listener : listeners_) endpoints_.push_back(listener->endpoint());
    return caf::none;
  }

  void run() {
    for (auto& listener : listeners_) listener->start();
    auto count = std::max(1u, state_->cfg.io_threads);
    for (unsigned i = 0; i < count; ++i) threads_.emplace_back([this] { run_io(); });
  }

  std::vector<listen_endpoint> endpoints() const override { return endpoints_; }

  void stop_accepting() override {
    std::lock_guard<std::mutex> guard{control_};
    if (!accepting_) return;
    accepting_ = false;
    // Acceptors belong to their strands; on an io thread we cannot wait for them without risking
    // a deadlock, elsewhere we wait so that no connection is accepted after we return.
    auto on_io_thread = ioc_.get_executor().running_in_this_thread();
    for (auto& listener : listeners_) {
      auto closed = std::make_shared<std::promise<void>>();
      auto done = closed->get_future();
      net::post(listener->executor(), [listener, closed] {
        listener->stop();
        closed->set_value();
      });
      if (!on_io_thread && !ioc_.stopped()) done.wait_for(2s);
    }
  }

  void shutdown(std::chrono::milliseconds grace) override {
    std::lock_guard<std::mutex> once{shutdown_};
    if (stopped_) return;
    stop_accepting();
    state_->closing = true;
    wait_for(grace, [this] { return state_->owed.load() <= 0; });
    close_sessions();
    {
      std::lock_guard<std::mutex> guard{state_->mutex};
      state_->running = false; // from now on a late answer is dropped, never posted
    }
    work_.reset();
    ioc_.stop();
    for (auto& thread : threads_)
      if (thread.joinable()) thread.join();
    // Whatever is left (a session stopped mid-way) goes with its handlers when ioc_ dies; the
    // handler may hold answers that hold the state: break that cycle.
    decltype(state_->sessions) leftover;
    {
      std::lock_guard<std::mutex> guard{state_->mutex};
      leftover.swap(state_->sessions);
    }
    leftover.clear();
    listeners_.clear();
    state_->handler = nullptr;
    state_->header_check = nullptr;
    stopped_ = true;
  }

private:
  // A handler that throws must not take the io thread (and the process) with it.
  void run_io() {
    for (;;) {
      try {
        ioc_.run();
        return;
      } catch (const std::exception& e) {
        DISPATCH_LOG(error, http) << "io thread: unexpected exception: " << e.what();
      }
    }
  }

  // Every session closes on its own strand; give them a moment to do so before the io threads stop.
  void close_sessions() {
    std::vector<std::shared_ptr<http_session>> sessions;
    {
      std::lock_guard<std::mutex> guard{state_->mutex};
      for (auto& entry : state_->sessions) sessions.push_back(entry.second);
    }
    for (auto& session : sessions) net::post(session->executor(), [session] { session->close(); });
    sessions.clear();
    wait_for(1s, [this] {
      std::lock_guard<std::mutex> guard{state_->mutex};
      return state_->sessions.empty();
    });
  }

  net::io_context ioc_; // first member: destroyed last, after everything that uses it
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  server_state_ptr state_;
  std::vector<http_listener_ptr> listeners_;
  std::vector<listen_endpoint> endpoints_;
  std::vector<std::thread> threads_;
  std::mutex control_;  // guards accepting_
  std::mutex shutdown_; // one shutdown at a time
  bool accepting_ = true;
  bool stopped_ = false;
};

} // namespace

caf::expected<std::unique_ptr<http_server>> http_server::start(const http_config& cfg,
                                                               http_handler handler,
                                                               request_metrics_ptr metrics,
                                                               http_header_check check) {
  auto state = std::make_shared<server_state>();
  state->cfg = cfg;
  state->handler = std::move(handler);
  state->header_check = std::move(check);
  state->metrics = std::move(metrics);
  auto server = std::make_unique<beast_server>(state);
  if (auto err = server->listen()) return err;
  server->run();
  return std::unique_ptr<http_server>{std::move(server)};
}

} // namespace dispatch
