// Tests of the engine configuration: defaults, command line and INI (nested sections) overrides,
// rejection of unknown keys, wrong types and out-of-range values, and message type registration.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <typeindex>

#include <caf/actor_system.hpp>
#include <caf/config_option_set.hpp>

#include "config/engine_config.hpp"
#include "messages/error_code.hpp"
#include "messages/flat_query.hpp"
#include "messages/event.hpp"
#include "messages/query.hpp"
#include "config/config_test.hpp"
#include "fixtures/why.hpp"

using namespace dispatch;
using dispatch::test::require_rejection;
using dispatch::test::why;
using namespace std::chrono_literals;

namespace {

// Parses command line arguments and INI text, then reads the engine configuration.
caf::expected<engine_config> read(std::vector<std::string> args, const std::string& ini = "") {
  engine_system_config cfg;
  std::istringstream in{ini};
  if (auto err = cfg.parse(std::move(args), in)) return err;
  return read_engine_config(cfg);
}

std::string text_of(caf::string_view text) {
  return std::string(text.data(), text.size());
}

std::string example_ini_path() {
  return dispatch::test::example_ini_path();
}

// A unique directory under /tmp, removed with the fixture.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path()
           / ("dispatch-config-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

void check_defaults(const engine_config& x) {
  engine_config d;
  BOOST_TEST(x.data_dir == d.data_dir);
  BOOST_TEST(x.shards == 4u);
  BOOST_TEST(x.sync);
  BOOST_TEST(!x.in_memory);
  BOOST_TEST(x.detached);
  BOOST_TEST(x.retry.initial.count() == 1000);
  BOOST_TEST(x.retry.multiplier == 2.0);
  BOOST_TEST(x.retry.cap.count() == d.retry.cap.count());
  BOOST_TEST(x.retry.max_attempts == d.retry.max_attempts);
  BOOST_TEST(x.retry.max_age.count() == d.retry.max_age.count());
  BOOST_TEST(x.max_unacknowledged == d.max_unacknowledged);
  BOOST_TEST(x.batch_max_events == d.batch_max_events);
  BOOST_TEST(x.batch_max_bytes == d.batch_max_bytes);
  BOOST_TEST(x.sink_in_flight == d.sink_in_flight);
  BOOST_TEST(x.sink_timeout.count() == d.sink_timeout.count());
  BOOST_TEST(x.request_timeout.count() == d.request_timeout.count());
  BOOST_TEST(x.emitter_memory_cap == d.emitter_memory_cap);
  BOOST_TEST(x.readers.count == 2u);
  BOOST_TEST(x.readers.nice == 10u);
  BOOST_TEST(x.readers.idle);
  BOOST_TEST(x.readers.cpu == 0.0); // left to the machine
  BOOST_TEST(x.seen_days == d.seen_days);
  BOOST_TEST(x.history_days == d.history_days);
  BOOST_TEST(x.log_days == d.log_days);
  BOOST_TEST(x.event_days == d.event_days);
  BOOST_TEST(x.replay_rate == d.replay_rate);
  BOOST_TEST(x.block_cache_bytes == d.block_cache_bytes);
  BOOST_TEST(x.write_buffer_bytes == d.write_buffer_bytes);
  BOOST_TEST(x.restart_limit == d.restart_limit);
  BOOST_TEST(x.restart_window.count() == d.restart_window.count());
  BOOST_TEST(x.max_event_bytes == d.max_event_bytes);
}

} // namespace

BOOST_AUTO_TEST_SUITE(engine_config)

BOOST_AUTO_TEST_CASE(defaults_without_any_input) {
  auto result = read({});
  BOOST_REQUIRE_MESSAGE(result, why(result));
  check_defaults(*result);
  BOOST_TEST(!validate(dispatch::engine_config{}));
  // A config without our options (an embedding user's) reads as the defaults too.
  caf::actor_system_config plain;
  auto from_plain = read_engine_config(plain);
  BOOST_REQUIRE(from_plain);
  check_defaults(*from_plain);
}

BOOST_AUTO_TEST_CASE(every_option_is_declared_with_its_default_in_the_help) {
  caf::config_option_set options;
  add_engine_options(options);
  for (auto name : {"data-dir",
                    "shards",
                    "sync",
                    "in-memory",
                    "detached",
                    "retry.initial",
                    "retry.multiplier",
                    "retry.cap",
                    "retry.max-attempts",
                    "retry.max-age",
                    "max-unacknowledged",
                    "batch.max-events",
                    "batch.max-bytes",
                    "sink.in-flight",
                    "sink.timeout",
                    "request-timeout",
                    "emitter-memory-cap",
                    "retention.seen-days",
                    "readers",
                    "readers-nice",
                    "readers-idle",
                    "readers-cpu",
                    "retention.history-days",
                    "retention.log-days",
                    "retention.event-days",
                    "replay.rate",
                    "cache-bytes",
                    "write-buffer-bytes",
                    "max-open-files",
                    "limits.actions-per-dispatcher",
                    "limits.dispatchers-per-type",
                    "limits.delivery-bytes-per-event",
                    "restart.limit",
                    "restart.window",
                    "max-event-bytes"}) {
    auto full = std::string{"dispatch."} + name;
    // The one-argument lookup splits at the first dot; nested categories need the split by hand.
    auto dot = full.rfind('.');
    auto option = options.qualified_name_lookup(full.substr(0, dot), full.substr(dot + 1));
    BOOST_TEST_CONTEXT(full) {
      BOOST_REQUIRE(option != nullptr);
      BOOST_TEST(text_of(option->description()).find("(default: ") != std::string::npos);
    }
  }
  BOOST_TEST(options.size() == 35u);
  auto shards = options.qualified_name_lookup("dispatch.shards");
  BOOST_TEST(text_of(shards->description()).find("(default: 4)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(command_line_overrides) {
  auto result = read({"--dispatch.shards=8", "--dispatch.retry.initial=250",
                      "--dispatch.retry.max-age=2s", "--dispatch.sync=false",
                      "--dispatch.in-memory=true", "--dispatch.data-dir=/tmp/with space",
                      "--dispatch.retry.multiplier=1.5", "--dispatch.cache-bytes=5000000000",
                      "--dispatch.restart.window=120"});
  BOOST_REQUIRE_MESSAGE(result, why(result));
  BOOST_TEST(result->shards == 8u);
  BOOST_TEST(result->retry.initial.count() == 250);
  BOOST_TEST(result->retry.max_age.count() == 2000);
  BOOST_TEST(!result->sync);
  BOOST_TEST(result->in_memory);
  BOOST_TEST(result->data_dir == "/tmp/with space");
  BOOST_TEST(result->retry.multiplier == 1.5);
  BOOST_TEST(result->block_cache_bytes == 5000000000ull);
  BOOST_TEST(result->restart_window.count() == 120);
  BOOST_TEST(result->batch_max_events == 4096u); // untouched options keep their defaults
}

BOOST_AUTO_TEST_CASE(command_line_rejects_typos_and_bad_values) {
  // CAF itself refuses these on the command line, naming the argument.
  engine_system_config cfg;
  std::istringstream empty;
  auto err = cfg.parse({"--dispatch.shard=8"}, empty);
  BOOST_REQUIRE(err);
  BOOST_TEST(caf::to_string(err).find("--dispatch.shard=8") != std::string::npos);
  engine_system_config cfg2;
  BOOST_TEST(static_cast<bool>(cfg2.parse({"--dispatch.shards=abc"}, empty)));
  engine_system_config cfg3;
  BOOST_TEST(static_cast<bool>(cfg3.parse({"--dispatch.shards=-3"}, empty)));
}

BOOST_AUTO_TEST_CASE(example_ini_parses_to_the_defaults) {
  std::ifstream file{example_ini_path()};
  BOOST_REQUIRE(file.good());
  std::stringstream text;
  text << file.rdbuf();
  auto result = read({}, text.str());
  BOOST_REQUIRE_MESSAGE(result, why(result));
  check_defaults(*result);
}

BOOST_AUTO_TEST_CASE(ini_nested_sections_reach_the_config) {
  auto ini
    = "[dispatch]\nshards = 16\ndata-dir = \"/srv/dispatch\"\ndetached = false\n"
      "[dispatch.retry]\ninitial = 500ms\nmultiplier = 3\ncap = 60000\n"
      "[dispatch.retention]\nhistory-days = 30\n"
      "[dispatch.restart]\nwindow = 2min\n";
  auto result = read({}, ini);
  BOOST_REQUIRE_MESSAGE(result, why(result));
  BOOST_TEST(result->shards == 16u);
  BOOST_TEST(result->data_dir == "/srv/dispatch");
  BOOST_TEST(!result->detached);
  BOOST_TEST(result->retry.initial.count() == 500);
  BOOST_TEST(result->retry.multiplier == 3.0); // an integer is fine for a real
  BOOST_TEST(result->retry.cap.count() == 60000);
  BOOST_TEST(result->history_days == 30u);
  BOOST_TEST(result->restart_window.count() == 120);
  // The command line wins over the file.
  auto overridden = read({"--dispatch.shards=2", "--dispatch.retry.cap=9000"}, ini);
  BOOST_REQUIRE_MESSAGE(overridden, why(overridden));
  BOOST_TEST(overridden->shards == 2u);
  BOOST_TEST(overridden->retry.cap.count() == 9000);
  BOOST_TEST(overridden->retry.initial.count() == 500);
}

BOOST_AUTO_TEST_CASE(config_file_option_reads_a_file) {
  temp_dir dir;
  auto path = dir.path / "dispatchd.ini";
  std::ofstream{path} << "[dispatch]\nshards = 32\n[dispatch.sink]\nin-flight = 7\n";
  engine_system_config cfg;
  auto err = cfg.parse({"--config-file=" + path.string()});
  BOOST_REQUIRE_MESSAGE(!err, caf::to_string(err));
  auto result = read_engine_config(cfg);
  BOOST_REQUIRE_MESSAGE(result, why(result));
  BOOST_TEST(result->shards == 32u);
  BOOST_TEST(result->sink_in_flight == 7u);
}

BOOST_AUTO_TEST_CASE(unknown_keys_are_rejected_by_name) {
  require_rejection(read({}, "[dispatch]\nshard = 3\n"),
                    "unknown option dispatch.shard; did you mean dispatch.shards?");
  require_rejection(read({}, "[dispatch.retry]\nbogus = 1\n"),
                    "unknown option dispatch.retry.bogus");
  require_rejection(read({}, "[dispatch.retry]\ninitail = 1\n"),
                    "did you mean dispatch.retry.initial?");
  require_rejection(read({}, "[dispatch.frobnicate]\nx = 1\n"),
                    "unknown option dispatch.frobnicate.x");
  require_rejection(read({}, "[dispatch]\nretry = 1\n"), "unknown option dispatch.retry");
  // The sections later issues fill are left alone; other programs' sections too.
  auto reserved = read({},
                       "[dispatch.http]\nhost = \"0.0.0.0\"\n[dispatch.sinks.task]\n"
                       "url = \"http://x\"\n[dispatch.cluster]\nnodes = 3\n"
                       "[dispatch.log]\nlevel = \"info\"\n[myapp]\nanything = 1\n");
  BOOST_TEST(reserved.engaged(), why(reserved));
}

BOOST_AUTO_TEST_CASE(wrong_types_are_rejected_naming_key_and_type) {
  require_rejection(read({}, "[dispatch]\nshards = \"abc\"\n"),
                    "dispatch.shards: expected an unsigned 32-bit integer, got \"abc\"");
  require_rejection(read({}, "[dispatch]\nshards = -1\n"),
                    "dispatch.shards: expected an unsigned 32-bit integer");
  require_rejection(read({}, "[dispatch]\nshards = 99999999999\n"),
                    "dispatch.shards: expected an unsigned 32-bit integer");
  require_rejection(read({}, "[dispatch]\nsync = 1\n"), "dispatch.sync: expected a boolean");
  require_rejection(read({}, "[dispatch]\ndata-dir = 5\n"), "dispatch.data-dir: expected a string");
  require_rejection(read({}, "[dispatch.retry]\nmultiplier = \"fast\"\n"),
                    "dispatch.retry.multiplier: expected a number");
  require_rejection(read({}, "[dispatch.retry]\ninitial = 1.5\n"),
                    "dispatch.retry.initial: expected an integer or a duration");
  require_rejection(read({}, "[dispatch]\ncache-bytes = [1, 2]\n"),
                    "dispatch.cache-bytes: expected an unsigned integer");
  require_rejection(read({}, "[dispatch.shards]\nx = 1\n"),
                    "dispatch.shards: expected a value, got a section");
}

BOOST_AUTO_TEST_CASE(out_of_range_values_are_rejected) {
  require_rejection(read({"--dispatch.shards=0"}), "dispatch.shards: must be between 1 and 256");
  require_rejection(read({"--dispatch.shards=257"}), "dispatch.shards: must be between 1 and 256");
  require_rejection(read({"--dispatch.readers=0"}), "dispatch.readers: must be between 1 and 64");
  require_rejection(read({"--dispatch.readers=65"}), "dispatch.readers: must be between 1 and 64");
  require_rejection(read({"--dispatch.readers-nice=20"}),
                    "dispatch.readers-nice: must be between 0 and 19");
  for (auto cpu : {"-1", "0.01", "2000"})
    require_rejection(read({std::string{"--dispatch.readers-cpu="} + cpu}),
                      "dispatch.readers-cpu: must be 0 (left to the machine) or "
                      "between 0.05 and 1024 cores");
  auto half = read({"--dispatch.readers-cpu=0.5"});
  BOOST_REQUIRE(half.engaged());
  BOOST_TEST(half->readers.cpu == 0.5);
  BOOST_TEST(read({"--dispatch.shards=256"}).engaged());
  require_rejection(read({"--dispatch.retry.initial=0"}), "dispatch.retry.initial: must be > 0");
  require_rejection(read({"--dispatch.retry.multiplier=0.5"}), "dispatch.retry.multiplier");
  require_rejection(read({"--dispatch.retry.cap=10"}),
                    "dispatch.retry.cap: must be at least dispatch.retry.initial");
  require_rejection(read({"--dispatch.retry.max-attempts=0"}), "dispatch.retry.max-attempts");
  require_rejection(read({"--dispatch.sink.timeout=0"}), "dispatch.sink.timeout: must be > 0");
  require_rejection(read({"--dispatch.request-timeout=0"}), "dispatch.request-timeout");
  require_rejection(read({"--dispatch.batch.max-events=0"}), "dispatch.batch.max-events");
  require_rejection(read({"--dispatch.sink.in-flight=0"}), "dispatch.sink.in-flight");
  require_rejection(read({"--dispatch.restart.window=0"}), "dispatch.restart.window");
  require_rejection(read({}, "[dispatch.restart]\nwindow = 10ms\n"), "dispatch.restart.window");
  require_rejection(read({}, "[dispatch]\ndata-dir = \"\"\n"),
                    "dispatch.data-dir: must not be empty");
  BOOST_TEST(read({"--dispatch.in-memory=true"}, "[dispatch]\ndata-dir = \"\"\n").engaged());
}

BOOST_AUTO_TEST_CASE(validate_checks_a_config_filled_in_code) {
  dispatch::engine_config cfg;
  cfg.retry.multiplier = 0.99;
  auto err = validate(cfg);
  BOOST_REQUIRE(err);
  BOOST_TEST(message_of(err).find("dispatch.retry.multiplier") != std::string::npos);
  cfg = {};
  cfg.retry.max_age = -1ms;
  BOOST_TEST(message_of(validate(cfg)).find("dispatch.retry.max-age") != std::string::npos);
  cfg = {};
  cfg.write_buffer_bytes = 0;
  BOOST_TEST(message_of(validate(cfg)).find("dispatch.write-buffer-bytes") != std::string::npos);
  cfg = {};
  cfg.task_sink_rate = dispatch::max_sink_rate + 1;
  BOOST_TEST(message_of(validate(cfg))
             == "dispatch.sinks.task.rate: must be at most 1000000 (0: unlimited)");
  cfg = {};
  cfg.mail_sink_rate = dispatch::max_sink_rate + 1;
  BOOST_TEST(message_of(validate(cfg))
             == "dispatch.sinks.mail.rate: must be at most 1000000 (0: unlimited)");
  cfg.mail_sink_rate = dispatch::max_sink_rate;
  BOOST_TEST(!validate(cfg));
  for (auto cpu : {std::nan(""), HUGE_VAL, -0.5}) {
    cfg = {};
    cfg.readers.cpu = cpu;
    BOOST_TEST(message_of(validate(cfg)).find("dispatch.readers-cpu") != std::string::npos);
  }
  cfg = {};
  cfg.restart_limit = 0; // no restarts at all is a legitimate choice
  BOOST_TEST(!validate(cfg));
}

BOOST_AUTO_TEST_CASE(engine_system_config_registers_message_types_and_defaults) {
  engine_system_config cfg;
  BOOST_TEST(cfg.value_factories_by_name.count("dispatch.event") == 1u);
  BOOST_TEST(cfg.value_factories_by_name.count("dispatch.flat_query") == 1u);
  // Recursive types are never announced: a peer could nest them deeper than the stack.
  BOOST_TEST(cfg.value_factories_by_name.count("dispatch.query") == 0u);
  BOOST_TEST(cfg.value_factories_by_name.count("dispatch.filter") == 0u);
  BOOST_TEST(cfg.type_names_by_rtti.at(std::type_index(typeid(dispatch::event)))
             == "dispatch.event");
  // The defaults sit in the settings, so --dump-config shows the effective configuration.
  BOOST_TEST(caf::get_or(cfg, "dispatch.shards", int64_t{0}) == 4);
  BOOST_TEST(caf::get_or(cfg, "dispatch.retry.initial", int64_t{0}) == 1000);
  caf::actor_system sys{cfg};
  BOOST_TEST(sys.types().portable_name(0, &typeid(dispatch::flat_query)) == "dispatch.flat_query");
}

BOOST_AUTO_TEST_CASE(prepare_config_equips_a_users_own_config) {
  struct user_config : caf::actor_system_config {
    int64_t answer = 0;
    user_config() {
      opt_group{custom_options_, "myapp"}.add<int64_t>("answer", "the answer");
      prepare_config(*this, custom_options_);
    }
  };
  user_config cfg;
  std::istringstream ini{"[myapp]\nanswer = 42\n[dispatch]\nshards = 12\n"};
  auto err = cfg.parse({"--dispatch.sink.in-flight=9"}, ini);
  BOOST_REQUIRE_MESSAGE(!err, caf::to_string(err));
  auto result = read_engine_config(cfg);
  BOOST_REQUIRE_MESSAGE(result, why(result));
  BOOST_TEST(result->shards == 12u);
  BOOST_TEST(result->sink_in_flight == 9u);
  BOOST_TEST(caf::get_or(cfg, "myapp.answer", int64_t{0}) == 42);
  BOOST_TEST(cfg.value_factories_by_name.count("dispatch.delivery") == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
