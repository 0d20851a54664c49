// Embedding as the example does it: the user's own sink, a function-based actor spawned without
// arguments, receives the engine's tasks. Under `make test-sanitize` it also covers the spawn that
// trips UBSan inside CAF (scripts/ubsan.supp), so a broken suppression setup fails here.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <mutex>
#include <vector>

#include <caf/send.hpp>

#include "fixtures/engine_fixture.hpp"

using namespace dispatch;
using namespace dispatch::test;

namespace {

// A sink spawned without arguments has nowhere but file scope to report to.
std::mutex received_mtx;
std::vector<std::string> received_functions;

sink_actor::behavior_type sink_without_arguments(sink_actor::pointer) {
  return {
    [](deliver_atom, const delivery_list& batch) {
      std::lock_guard<std::mutex> guard{received_mtx};
      for (auto& d : batch) received_functions.push_back(d.task.function_name);
      return delivery_result_list(batch.size(), delivered());
    },
  };
}

std::vector<std::string> received() {
  std::lock_guard<std::mutex> guard{received_mtx};
  return received_functions;
}

} // namespace

BOOST_AUTO_TEST_SUITE(argumentless_sink)

BOOST_AUTO_TEST_CASE(a_sink_spawned_without_arguments_gets_the_tasks) {
  engine_fixture fx;
  fx.sys_config = std::make_unique<test_system_config>();
  fx.sys = std::make_unique<caf::actor_system>(*fx.sys_config);
  auto sink = fx.sys->spawn(sink_without_arguments);
  engine_sinks sinks;
  sinks.task = sink_binding{sink, false};
  auto handle = spawn_engine(*fx.sys, fx.config, sinks);
  BOOST_REQUIRE_MESSAGE(handle, "spawn_engine failed: " + message_of(handle.error()));
  fx.engine = *handle;
  fx.create(make_dispatcher("order_paid", {task_action("ship-order")}));
  fx.publish("order_paid", R"({"orderId":"o-1"})");
  BOOST_REQUIRE(eventually([] { return received().size() == 1; }));
  BOOST_CHECK_EQUAL(received().front(), "ship-order");
  caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()
