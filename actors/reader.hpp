// A reader: answers listings from the store on its own thread, off the path publishes take. The
// engine facade keeps a small pool of them and delegates every listing; a read of millions of
// deliveries then holds back nothing but the reads queued behind it on the same reader.
#pragma once

#include <memory>

#include "actors/cpu_budget.hpp"
#include "actors/thread_priority.hpp"
#include "messages/clock.hpp"
#include "messages/interfaces.hpp"
#include "persistence/store.hpp"

namespace dispatch {

struct reader_state {
  static inline const char* name = "reader";
  store_ptr db;
  clock_ptr clock; // stamps the deliveries a rematch makes
};

/// Every delivery matching `q` as one page (what a reader answers for `GET /deliveries/v1/`).
caf::expected<delivery_page> list_deliveries(const store_ptr& db, const query& q,
                                             uint32_t max_limit);

/// What the built-in log sink received of `kind` matching `q`, as one page (`GET /tasks/v1/`).
caf::expected<json_page> list_log(const store_ptr& db, action_kind kind, const query& q,
                                  uint32_t max_limit);

/// How a reader yields to the write path. Only a reader on a thread of its own (detached) takes
/// them: on a shared scheduler thread they would slow, or stop, every actor that runs there.
struct reader_yield {
  background_priority priority;       // lowered first, so that reads wait for the CPU
  std::shared_ptr<cpu_budget> budget; // what its reads charge (null: none); shared by the pool
};

/// The name a reader gives its thread when it has one of its own.
constexpr const char* reader_thread_name = "dispatch-reader";

/// Spawns with the store it reads and the engine's clock; on a thread of its own, that thread
/// takes its name, its priority and its budget first (`yield`), so that reads leave the CPU to
/// publishes.
reader_actor::behavior_type reader(reader_actor::stateful_pointer<reader_state> self, store_ptr db,
                                   clock_ptr clock, reader_yield yield);

} // namespace dispatch
