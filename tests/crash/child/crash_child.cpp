// The crash test's child process: embeds an engine on a data directory, publishes numbered events
// in batches and appends what was acknowledged and what its task sink got to files, until killed.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <unordered_set>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "actors/spawn_engine.hpp"
#include "crash_protocol.hpp"
#include "messages/type_registry.hpp"

using namespace dispatch;

namespace {

constexpr uint32_t batch_size = 50;
constexpr uint32_t requests_in_flight = 8;
constexpr auto publish_timeout = std::chrono::seconds(30);
constexpr auto retry_delay = std::chrono::milliseconds(50);
// Waiting to be killed, but not forever should the test itself be gone.
constexpr auto give_up_after = std::chrono::minutes(5);

/// Appends `text` with one write(2) on an O_APPEND descriptor: once it returns, the bytes are in
/// the file and survive a SIGKILL of this process.
bool append(int fd, const std::string& text) {
  for (;;) {
    auto n = ::write(fd, text.data(), text.size());
    if (n == static_cast<ssize_t>(text.size())) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

int open_append(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::cerr << "crash_child: cannot open " << path << "\n";
    std::_Exit(2);
  }
  return fd;
}

struct purger_state {
  static inline const char* name = "crash_purger";
  caf::optional<engine_actor> engine;
  std::vector<std::string> waiting; // told before the engine was
  std::deque<std::string> later;    // purged once `lag` more were told
  uint64_t told = 0;
};

/// Every other purge waits this many later ones: its emitter has then written the cursor and
/// the day count that hold it (the purge takes it out of the written count), where the others
/// still find it in memory.
constexpr size_t lag = 300;

/// Purges deliveries through the engine (handed over once it runs) as it is told to, and appends
/// each id whose purge the engine answered to `fd` (one write each).
caf::behavior purger(caf::stateful_actor<purger_state>* self, int fd) {
  auto purge = [self, fd](const std::string& id) {
    self->request(*self->state.engine, publish_timeout, purge_atom::value, id)
      .then(
        [fd, id](uint32_t) {
          if (!append(fd, id + "\n")) std::cerr << "crash_child: cannot record a purge\n";
        },
        [id](const caf::error& err) {
          std::cerr << "crash_child: purge " << id << " failed: " << message_of(err) << "\n";
        });
  };
  return {
    [self, purge](const engine_actor& engine) {
      self->state.engine = engine;
      for (auto& id : self->state.waiting) purge(id);
      self->state.waiting.clear();
    },
    [self, purge](purge_atom, const std::string& id) {
      auto& st = self->state;
      auto now = id;
      if (st.told++ % 2 == 1) {
        st.later.push_back(id);
        if (st.later.size() <= lag) return;
        now = st.later.front();
        st.later.pop_front();
      }
      if (st.engine)
        purge(now);
      else
        st.waiting.push_back(now);
    },
  };
}

/// The task sink: records each batch (one write) before answering it delivered. With
/// `fail_every` N > 0, the first attempt of every N-th event's delivery fails (retry at once), so
/// that outcome writes hold exception records; failed attempts are not recorded. With a purger,
/// the delivery of every `purge_every`-th event is purged once recorded (while its emitter may
/// still hold it, or count it, in memory).
sink_actor::behavior_type file_sink(sink_actor::pointer, int fd, uint32_t fail_every,
                                    caf::actor purger, uint32_t purge_every) {
  auto failed = std::make_shared<std::unordered_set<std::string>>();
  return {
    [fd, fail_every, failed, purger, purge_every](deliver_atom, const delivery_list& batch) {
      delivery_result_list results(batch.size(), delivered());
      std::string lines;
      for (size_t i = 0; i < batch.size(); ++i) {
        auto& d = batch[i];
        auto index = std::strtoul(d.event_id.c_str() + 16, nullptr, 16);
        if (fail_every > 0 && index % fail_every == 0 && failed->insert(d.id).second) {
          results[i] = retry_later("crash_child: scripted first failure");
          continue;
        }
        lines += d.id + " " + d.event_id + "\n";
      }
      if (!lines.empty() && !append(fd, lines))
        return delivery_result_list(batch.size(),
                                    retry_later("crash_child: cannot record the deliveries"));
      if (purger)
        for (size_t i = 0; i < batch.size(); ++i) {
          auto index = std::strtoul(batch[i].event_id.c_str() + 16, nullptr, 16);
          if (index % purge_every == 1 && results[i].verdict == sink_verdict::delivered)
            caf::anon_send(purger, purge_atom::value, batch[i].id);
        }
      return results;
    },
  };
}

struct publisher_state {
  static inline const char* name = "crash_publisher";
  engine_actor engine;
  int acked_fd = -1;
  std::string done_path;
  uint32_t total = 0;
  uint32_t next = 0;           // the next index never sent
  std::deque<uint32_t> resend; // indices rejected or lost with a failed request
  uint32_t in_flight = 0;
  uint32_t acked = 0;
  bool resend_scheduled = false;
};

using publisher_ptr = caf::stateful_actor<publisher_state>*;

void fill_window(publisher_ptr self);

void schedule_resend(publisher_ptr self) {
  if (self->state.resend_scheduled) return;
  self->state.resend_scheduled = true;
  self->delayed_send(self, retry_delay, tick_atom::value);
}

/// Records the acknowledged events of one answered batch; queues the rest to be sent again.
void on_outcomes(publisher_ptr self, const std::vector<uint32_t>& indices,
                 const publish_outcome_list& outcomes) {
  auto& st = self->state;
  std::string lines;
  for (size_t i = 0; i < indices.size(); ++i) {
    auto id = crash::event_id_of(indices[i]);
    if (i < outcomes.size() && accepted(outcomes[i]) && outcomes[i].stored.id == id) {
      lines += id + "\n";
      ++st.acked;
    } else {
      st.resend.push_back(indices[i]);
    }
  }
  if (!lines.empty() && !append(st.acked_fd, lines)) {
    std::cerr << "crash_child: cannot record acknowledgements\n";
    std::_Exit(2);
  }
  if (!st.resend.empty()) schedule_resend(self);
}

void send_batch(publisher_ptr self, std::vector<uint32_t> indices) {
  event_list batch;
  batch.reserve(indices.size());
  for (auto index : indices) {
    event ev;
    ev.id = crash::event_id_of(index);
    ev.type = crash::event_type;
    ev.content = R"({"index":)" + std::to_string(index) + "}";
    batch.push_back(std::move(ev));
  }
  ++self->state.in_flight;
  self->request(self->state.engine, publish_timeout, publish_atom::value, std::move(batch))
    .then(
      [self, indices](const publish_outcome_list& outcomes) {
        --self->state.in_flight;
        on_outcomes(self, indices, outcomes);
        fill_window(self);
      },
      [self, indices](const caf::error& err) {
        std::cerr << "crash_child: publish failed: " << message_of(err) << "\n";
        --self->state.in_flight;
        auto& resend = self->state.resend;
        resend.insert(resend.end(), indices.begin(), indices.end());
        schedule_resend(self);
      });
}

/// Keeps `requests_in_flight` batches at the engine; marks the run done once all are acknowledged.
void fill_window(publisher_ptr self) {
  auto& st = self->state;
  while (st.in_flight < requests_in_flight && (!st.resend.empty() || st.next < st.total)) {
    std::vector<uint32_t> indices;
    while (indices.size() < batch_size && !st.resend.empty() && !st.resend_scheduled) {
      indices.push_back(st.resend.front());
      st.resend.pop_front();
    }
    while (indices.size() < batch_size && st.next < st.total) indices.push_back(st.next++);
    if (indices.empty()) break;
    send_batch(self, std::move(indices));
  }
  if (st.acked == st.total && st.in_flight == 0) {
    ::close(open_append(st.done_path));
    self->quit();
  }
}

caf::behavior publisher(publisher_ptr self, engine_actor engine, int acked_fd,
                        std::string done_path, uint32_t total) {
  auto& st = self->state;
  st.engine = std::move(engine);
  st.acked_fd = acked_fd;
  st.done_path = std::move(done_path);
  st.total = total;
  fill_window(self);
  return {
    [self](tick_atom) {
      self->state.resend_scheduled = false;
      fill_window(self);
    },
  };
}

/// The dispatcher for the crash event type: the one a previous run created, else a new one.
bool ensure_dispatcher(caf::scoped_actor& self, const engine_actor& engine) {
  query by_name;
  by_name.where.op = filter_op::eq;
  by_name.where.path = "name";
  by_name.where.values.push_back(string_value(crash::dispatcher_name));
  bool ok = false;
  bool found = false;
  self->request(engine, std::chrono::seconds(30), find_atom::value, by_name)
    .receive(
      [&](const dispatcher_page& page) {
        ok = true;
        found = !page.data.empty();
      },
      [&](const caf::error& err) { std::cerr << "find: " << message_of(err) << "\n"; });
  if (!ok || found) return ok;
  dispatcher d;
  d.event_type = crash::event_type;
  d.name = std::string{crash::dispatcher_name};
  action task;
  task.kind = action_kind::task;
  task.function_name = crash::function_name;
  d.actions.push_back(task);
  ok = false;
  self->request(engine, std::chrono::seconds(30), create_atom::value, d)
    .receive([&](const dispatcher&) { ok = true; },
             [&](const caf::error& err) { std::cerr << "create: " << message_of(err) << "\n"; });
  return ok;
}

class child_config : public caf::actor_system_config {
public:
  child_config() {
    dispatch::add_message_types(*this);
    set("scheduler.max-threads", 2);
    set("logger.verbosity", caf::atom("quiet"));
  }
};

} // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::cerr << "usage: crash_child <data-dir> <record-dir> [events]\n";
    return 2;
  }
  std::string record_dir = argv[2];
  uint32_t total = argc == 4 ? static_cast<uint32_t>(std::strtoul(argv[3], nullptr, 10))
                             : crash::default_events;
  int deliveries_fd = open_append(record_dir + "/" + crash::deliveries_file);
  int acked_fd = open_append(record_dir + "/" + crash::acked_file);
  child_config cfg;
  caf::actor_system sys{cfg};
  engine_config config;
  config.data_dir = argv[1];
  engine_sinks sinks;
  auto number_in = [](const char* variable) {
    auto text = std::getenv(variable);
    return text ? static_cast<uint32_t>(std::strtoul(text, nullptr, 10)) : 0u;
  };
  // The sink tells the purger, which is handed the engine once it runs.
  auto purge_every = number_in(crash::purge_every_variable);
  caf::actor purge_relay;
  if (purge_every > 0)
    purge_relay = sys.spawn(purger, open_append(record_dir + "/" + crash::purged_file));
  sinks.task = sink_binding{sys.spawn(file_sink, deliveries_fd,
                                      number_in(crash::fail_every_variable), purge_relay,
                                      purge_every),
                            false};
  auto engine = spawn_engine(sys, config, sinks);
  if (!engine) {
    std::cerr << "crash_child: cannot start the engine: " << message_of(engine.error()) << "\n";
    std::_Exit(2);
  }
  if (purge_relay) caf::anon_send(purge_relay, *engine);
  {
    caf::scoped_actor self{sys};
    if (!ensure_dispatcher(self, *engine)) std::_Exit(2);
  }
  auto done_path = record_dir + "/" + crash::done_file;
  if (total > 0)
    sys.spawn(publisher, *engine, acked_fd, done_path, total);
  else
    ::close(open_append(done_path));
  // Runs until killed: no orderly shutdown ever happens, which is the point.
  std::this_thread::sleep_for(give_up_after);
  std::cerr << "crash_child: never killed; giving up\n";
  std::_Exit(3);
}
