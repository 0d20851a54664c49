// dispatchd: the engine behind the HTTP API, as a service. Wiring only: read the configuration,
// start sinks, engine and server, wait for SIGINT/SIGTERM on the main thread, stop in order.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/spawn_engine.hpp"
#include "apps/dispatchd/admin_commands.hpp"
#include "apps/dispatchd/startup.hpp"
#include "cluster/spawn_node.hpp"
#include "gateway/api.hpp"
#include "gateway/http_server.hpp"
#include "logging/log.hpp"
#include "messages/error_code.hpp"
#include "sinks/webhook_sink.hpp"

#ifndef DISPATCH_VERSION
#define DISPATCH_VERSION "unknown"
#endif

using namespace dispatch;
using namespace dispatch::app;

namespace {

constexpr int exit_failure = 1;
constexpr int exit_usage = 2;

// SIGUSR1 is ours: the engine stopped on its own (its supervisor gave up).
constexpr int engine_stopped_signal = SIGUSR1;

// Blocked before any thread exists, so every thread CAF, RocksDB and Asio start inherits the
// mask and the signals wait for `sigwait` on the main thread: no handler runs anywhere.
sigset_t block_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, engine_stopped_signal);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

int wait_for_signal(const sigset_t& set) {
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

// Raises `engine_stopped_signal` when the engine terminates without being asked to.
void watch_engine(caf::actor_system& sys, const engine_actor& engine,
                  std::shared_ptr<std::atomic<bool>> stopping) {
  sys.spawn([engine, stopping](caf::event_based_actor* self) {
    self->monitor(engine);
    self->set_down_handler([stopping](caf::down_msg&) {
      if (!stopping->load()) ::kill(::getpid(), engine_stopped_signal);
    });
  });
}

// Spawns the webhook sinks the configuration names; kinds without one use the built-in log.
caf::expected<engine_sinks> start_sinks(caf::actor_system& sys, const sinks_config& cfg) {
  engine_sinks sinks;
  // A Task Service schedules tasks itself: the webhook gets a task at once, startTimestamp in it.
  if (cfg.task) {
    auto sink = spawn_webhook_sink(sys, action_kind::task, *cfg.task);
    if (!sink) return sink.error();
    sinks.task = sink_binding{*sink, true};
  }
  if (cfg.mail) {
    auto sink = spawn_webhook_sink(sys, action_kind::mail, *cfg.mail);
    if (!sink) return sink.error();
    sinks.mail = sink_binding{*sink, true};
  }
  return sinks;
}

void stop_sinks(const engine_sinks& sinks) {
  if (sinks.task) caf::anon_send_exit(sinks.task->handle, caf::exit_reason::user_shutdown);
  if (sinks.mail) caf::anon_send_exit(sinks.mail->handle, caf::exit_reason::user_shutdown);
}

// Runs the service until a signal; the actor system's destructor then waits for every actor.
int serve(dispatchd_config& cfg, const dispatchd_settings& settings, const sigset_t& signals) {
  if (clustered(settings.cluster)) prepare_cluster_system(cfg, settings.cluster);
  caf::actor_system sys{cfg};
  auto sinks = start_sinks(sys, settings.sinks);
  if (!sinks) {
    DISPATCH_LOG(error, dispatchd) << "cannot start the sinks: " << message_of(sinks.error());
    return exit_failure;
  }
  auto engine = spawn_cluster_engine(sys, settings.engine, *sinks);
  if (!engine) {
    DISPATCH_LOG(error, dispatchd) << "cannot start the engine: " << message_of(engine.error());
    stop_sinks(*sinks);
    return exit_failure;
  }
  // A cluster node wraps the engine: the API talks to the node, which routes by shard owner.
  engine_actor front = *engine;
  if (clustered(settings.cluster)) {
    auto node = spawn_node(sys, *engine, settings.engine, settings.cluster);
    if (!node) {
      DISPATCH_LOG(error, dispatchd) << message_of(node.error());
      caf::anon_send_exit(*engine, caf::exit_reason::user_shutdown);
      stop_sinks(*sinks);
      return exit_failure;
    }
    front = *node;
  }
  auto stopping = std::make_shared<std::atomic<bool>>(false);
  watch_engine(sys, *engine, stopping);
  auto metrics = std::make_shared<request_metrics>();
  api_options api{settings.http.tokens, settings.http.request_timeout, settings.http.body_limit,
                  metrics};
  auto server = http_server::start(settings.http, make_api_handler(sys, front, api), metrics,
                                   make_api_header_check(api));
  if (!server) {
    DISPATCH_LOG(error, dispatchd) << message_of(server.error());
    stopping->store(true);
    caf::anon_send_exit(front, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(*engine, caf::exit_reason::user_shutdown);
    stop_sinks(*sinks);
    return exit_failure;
  }
  // The server logs "listening on ADDR:PORT" for each address it bound (component http).
  DISPATCH_LOG(info, dispatchd) << "ready";
  auto sig = wait_for_signal(signals);
  stopping->store(true);
  int status = 0;
  if (sig == engine_stopped_signal) {
    DISPATCH_LOG(error, dispatchd) << "the engine stopped; shutting down";
    status = exit_failure;
  } else {
    DISPATCH_LOG(info, dispatchd) << "received " << (sig == SIGINT ? "SIGINT" : "SIGTERM")
                                  << "; shutting down";
  }
  // Answers still owed by the engine get the API's own deadline, then connections close.
  (*server)->stop_accepting();
  (*server)->shutdown(settings.http.request_timeout + std::chrono::seconds(1));
  server->reset();
  caf::anon_send_exit(front, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(*engine, caf::exit_reason::user_shutdown);
  stop_sinks(*sinks);
  return status;
}

// CAF's own --dump-config prints every value as it is, tokens included: dispatchd answers it
// itself, with secrets masked. The flag is taken out of the arguments CAF sees.
bool take_dump_config(std::vector<char*>& args) {
  auto dump = std::find_if(args.begin() + 1, args.end(),
                           [](const char* arg) { return std::string{arg} == "--dump-config"; });
  if (dump == args.end()) return false;
  args.erase(dump);
  return true;
}

bool asks_for_help(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "-?") return true;
  }
  return false;
}

} // namespace

int main(int argc, char** argv) {
  // `dispatchd backup ...` and `dispatchd restore ...` are commands of their own, not the service.
  if (argc > 1 && is_admin_command(argv[1])) return run_admin_command(argc, argv);
  // CAF's --help lists its global options only; ours lists what an operator sets.
  if (asks_for_help(argc, argv)) {
    std::cout << help_text();
    return 0;
  }
  auto signals = block_signals();
  auto files = raise_file_limit(); // before anything opens a file
  dispatchd_config cfg;
  std::vector<char*> args{argv, argv + argc};
  bool dump_config = take_dump_config(args);
  if (auto err = cfg.parse(static_cast<int>(args.size()), args.data())) {
    DISPATCH_LOG(error, dispatchd) << usage_problem(err) << " (see dispatchd --help)";
    return exit_usage;
  }
  if (cfg.cli_helptext_printed) return 0;
  if (dump_config) {
    std::cout << config_dump(cfg);
    return 0;
  }
  if (!cfg.remainder.empty()) {
    DISPATCH_LOG(error, dispatchd)
      << "unexpected argument " << cfg.remainder.front()
      << " (options take the form --dispatch.KEY=VALUE; see dispatchd --help)";
    return exit_usage;
  }
  auto settings = read_settings(cfg);
  if (!settings) {
    DISPATCH_LOG(error, dispatchd) << "invalid configuration: " << message_of(settings.error());
    return exit_failure;
  }
  configure_logging(settings->log);
  DISPATCH_LOG(info, dispatchd) << "dispatchd " DISPATCH_VERSION " (pid " << ::getpid() << ")";
  DISPATCH_LOG(info, dispatchd) << "config: " << config_summary(cfg);
  auto budget = plan_files(files, settings->http.max_connections, settings->engine.max_open_files);
  if (!budget.enough) {
    DISPATCH_LOG(error, dispatchd) << budget.line;
    return exit_failure;
  }
  log_write(log_component::dispatchd, budget.lowered ? log_level::warning : log_level::info,
            budget.line);
  settings->http.max_connections = budget.connections;
  settings->engine.max_open_files = budget.storage_files;
  if (auto err = prepare_data_dir(settings->engine)) {
    DISPATCH_LOG(error, dispatchd) << message_of(err);
    return exit_failure;
  }
  DISPATCH_LOG(info, dispatchd) << "data directory: "
                                << (settings->engine.in_memory ? "none (in memory)"
                                                               : settings->engine.data_dir);
  DISPATCH_LOG(info, dispatchd) << sink_summary("task", settings->sinks.task);
  DISPATCH_LOG(info, dispatchd) << sink_summary("mail", settings->sinks.mail);
  auto status = serve(cfg, *settings, signals);
  DISPATCH_LOG(info, dispatchd) << (status == 0 ? "stopped" : "stopped after an error");
  return status;
}
