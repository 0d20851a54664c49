// Embedding: the engine inside a user's actor system that already runs its own actors and the
// middleman, with the built-in log sinks read back through the engine; stopping the engine leaves
// the user's actors running and the system shuts down cleanly.
#include <boost/test/unit_test.hpp>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include <rapidjson/document.h>

#include "actors/spawn_engine.hpp"
#include "config/engine_config.hpp"
#include "fixtures/recording_sink.hpp"
#include "fixtures/temp_dir.hpp"

using namespace dispatch;
using namespace dispatch::test;

namespace {

// The handle embedders hold offers no internal handlers: replication (which stores dispatchers
// without validation) is only on the cluster's handle.
template <class Handle, class Signature>
constexpr bool offers = caf::detail::tl_contains<typename Handle::signatures, Signature>::value;
using replica_put = caf::replies_to<put_atom, dispatcher>::with<uint32_t>;
using replica_drop = caf::replies_to<drop_atom, std::string>::with<uint32_t>;
static_assert(!offers<engine_actor, replica_put> && !offers<engine_actor, replica_drop>,
              "engine_actor must not offer the replica's put/drop");
static_assert(
  offers<cluster_engine_actor, replica_put> && offers<cluster_engine_actor, replica_drop>,
  "the cluster's engine handle takes replicated dispatchers");

class user_config : public caf::actor_system_config {
public:
  user_config() {
    prepare_config(*this, custom_options_);
    load<caf::io::middleman>();
    set("logger.verbosity", caf::atom("quiet"));
  }
};

/// The user's own actor: answers pings, and must survive the engine's shutdown.
caf::behavior user_actor() {
  return {
    [](ping_atom) { return std::string{"pong"}; },
  };
}

template <class T, class Handle, class... Ts>
caf::expected<T> ask(caf::actor_system& sys, const Handle& dest, Ts&&... xs) {
  caf::expected<T> result{caf::error{}};
  caf::scoped_actor self{sys};
  self->request(dest, std::chrono::seconds(10), std::forward<Ts>(xs)...)
    .receive([&](T& x) { result = std::move(x); }, [&](caf::error& e) { result = std::move(e); });
  return result;
}

} // namespace

BOOST_AUTO_TEST_SUITE(embedding)

BOOST_AUTO_TEST_CASE(engine_runs_beside_user_actors_and_the_middleman) {
  temp_dir dir;
  user_config cfg;
  caf::actor_system sys{cfg};
  auto mine = sys.spawn(user_actor);
  engine_config config;
  config.data_dir = dir / "data";
  auto engine = spawn_engine(sys, config); // no sinks given: the built-in log
  BOOST_REQUIRE_MESSAGE(engine, message_of(engine.error()));
  dispatcher d;
  d.event_type = "user_created";
  action task;
  task.function_name = "provision";
  task.data = std::string{R"({"plan":"free"})"};
  action mail;
  mail.kind = action_kind::mail;
  mail.recipients.to = {"ops@example.com"};
  mail.template_id = "5f0c9a1b2c3d4e5f60718293";
  d.actions = {task, mail};
  BOOST_REQUIRE(ask<dispatcher>(sys, *engine, create_atom::value, d));
  event ev;
  ev.type = "user_created";
  ev.content = R"({"userId":"u-7"})";
  auto stored = ask<event>(sys, *engine, publish_atom::value, ev);
  BOOST_REQUIRE(stored);
  caf::expected<json_page> tasks{caf::error{}};
  BOOST_REQUIRE(eventually([&] {
    tasks = ask<json_page>(sys, *engine, log_atom::value, action_kind::task, query{});
    return tasks && tasks->page.total == 1;
  }));
  rapidjson::Document doc;
  doc.Parse(tasks->data.front().c_str());
  BOOST_REQUIRE(doc.IsObject());
  BOOST_CHECK_EQUAL(std::string{doc["functionName"].GetString()}, "provision");
  BOOST_CHECK_EQUAL(std::string{doc["status"].GetString()}, "new");
  BOOST_CHECK_EQUAL(std::string{doc["data"]["plan"].GetString()}, "free");
  BOOST_CHECK_EQUAL(std::string{doc["data"]["event"]["id"].GetString()}, stored->id);
  caf::expected<json_page> mails{caf::error{}};
  BOOST_REQUIRE(eventually([&] {
    mails = ask<json_page>(sys, *engine, log_atom::value, action_kind::mail, query{});
    return mails && mails->page.total == 1;
  }));
  BOOST_CHECK_NE(mails->data.front().find("5f0c9a1b2c3d4e5f60718293"), std::string::npos);
  // Stopping the engine stops all of it, and only it.
  caf::anon_send_exit(*engine, caf::exit_reason::user_shutdown);
  BOOST_CHECK(eventually([&] { return !ask<engine_stats>(sys, *engine, stats_atom::value); }));
  auto pong = ask<std::string>(sys, mine, ping_atom::value);
  BOOST_REQUIRE(pong);
  BOOST_CHECK_EQUAL(*pong, "pong");
  caf::anon_send_exit(mine, caf::exit_reason::user_shutdown);
  // The system's destructor waits for every actor: a leftover engine part would hang here.
}

BOOST_AUTO_TEST_CASE(a_held_directory_or_another_shard_count_is_refused) {
  temp_dir dir;
  user_config cfg;
  caf::actor_system sys{cfg};
  engine_config config;
  config.data_dir = dir / "data";
  auto first = spawn_engine(sys, config);
  BOOST_REQUIRE(first);
  auto second = spawn_engine(sys, config);
  BOOST_REQUIRE(!second);
  BOOST_CHECK_NE(message_of(second.error()).find("in use"), std::string::npos);
  caf::anon_send_exit(*first, caf::exit_reason::user_shutdown);
  BOOST_CHECK(eventually([&] { return !ask<engine_stats>(sys, *first, stats_atom::value); }));
  // Once the first engine let go of it, the directory still refuses another shard count.
  auto other_shards = config;
  other_shards.shards = 8;
  std::string why;
  BOOST_CHECK(eventually([&] {
    auto e = spawn_engine(sys, other_shards);
    why = e ? "started" : message_of(e.error());
    return why.find("shards") != std::string::npos;
  }));
  BOOST_TEST_MESSAGE("refused: " << why);
}

BOOST_AUTO_TEST_SUITE_END()
