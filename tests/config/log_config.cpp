// Tests of the logger's configuration (`dispatch.log.*`): defaults, the global level and the
// components' own levels from the command line and INI, and refusals that name the key.
#include <boost/test/unit_test.hpp>

#include <fstream>

#include <caf/config_option_set.hpp>

#include "config/config_test.hpp"
#include "config/log_config.hpp"
#include "fixtures/why.hpp"

using namespace dispatch;
using dispatch::test::parse_and_read;
using dispatch::test::require_rejection;
using dispatch::test::why;

namespace dispatch {

// For Boost.Test's failure messages.
std::ostream& operator<<(std::ostream& out, log_level level) {
  return out << to_string(level);
}

} // namespace dispatch

namespace {

caf::expected<log_config> read(std::vector<std::string> args, const std::string& ini = "") {
  return parse_and_read(std::move(args), ini, read_log_config);
}

using component_levels = std::vector<std::pair<log_component, log_level>>;

} // namespace

BOOST_AUTO_TEST_SUITE(log_config_reader)

BOOST_AUTO_TEST_CASE(defaults_are_info_for_everyone) {
  auto result = read({});
  BOOST_REQUIRE_MESSAGE(result, why(result));
  BOOST_TEST(result->level == log_level::info);
  BOOST_TEST(result->components.empty());
  // prepare_config declares the options, with their defaults in help and settings.
  caf::config_option_set options;
  add_log_options(options);
  BOOST_TEST(options.size() == 2u);
  auto level = options.qualified_name_lookup("dispatch.log", "level");
  BOOST_REQUIRE(level != nullptr);
  auto help = level->description();
  BOOST_TEST(std::string(help.data(), help.size()).find("(default: \"info\")") != std::string::npos,
             std::string(help.data(), help.size()));
  dispatch::test::all_options_config cfg;
  BOOST_TEST(caf::get_or(cfg, "dispatch.log.level", std::string{}) == "info");
  BOOST_TEST(
    static_cast<bool>(caf::get_if<caf::config_value::list>(&cfg, "dispatch.log.components")));
  // A config without our options (an embedding user's) reads as the defaults too.
  caf::actor_system_config plain;
  auto from_plain = read_log_config(plain);
  BOOST_REQUIRE(from_plain);
  BOOST_TEST(from_plain->level == log_level::info);
}

BOOST_AUTO_TEST_CASE(levels_from_the_command_line) {
  auto result = read(
    {"--dispatch.log.level=warning", "--dispatch.log.components=matcher=debug,http=error"});
  BOOST_REQUIRE_MESSAGE(result, why(result));
  BOOST_TEST(result->level == log_level::warning);
  component_levels expected{{log_component::matcher, log_level::debug},
                            {log_component::http, log_level::error}};
  BOOST_TEST((result->components == expected));
  auto listed = read({R"(--dispatch.log.components=["cluster=info"])"});
  BOOST_REQUIRE_MESSAGE(listed, why(listed));
  BOOST_TEST((listed->components == component_levels{{log_component::cluster, log_level::info}}));
}

BOOST_AUTO_TEST_CASE(levels_from_an_ini_file) {
  auto result = read({},
                     "[dispatch.log]\nlevel = \"error\"\n"
                     "components = [\"supervisor=info\", \"webhook=debug\"]\n");
  BOOST_REQUIRE_MESSAGE(result, why(result));
  BOOST_TEST(result->level == log_level::error);
  component_levels expected{{log_component::supervisor, log_level::info},
                            {log_component::webhook, log_level::debug}};
  BOOST_TEST((result->components == expected));
}

BOOST_AUTO_TEST_CASE(bad_levels_and_components_are_refused_naming_the_key) {
  require_rejection(read({"--dispatch.log.level=loud"}),
                    "dispatch.log.level: expected error, warning, info or debug, got \"loud\"");
  require_rejection(read({"--dispatch.log.level=WARNING"}), "dispatch.log.level");
  require_rejection(read({"--dispatch.log.components=http=info,matchr=debug"}),
                    "dispatch.log.components[1]: unknown component \"matchr\" (components: "
                    "dispatchd, supervisor,");
  require_rejection(read({"--dispatch.log.components=http=loud"}),
                    "dispatch.log.components[0]: expected error, warning, info or debug after "
                    "http=, got \"loud\"");
  require_rejection(read({"--dispatch.log.components=http"}),
                    "dispatch.log.components[0]: expected COMPONENT=LEVEL");
  require_rejection(read({}, "[dispatch.log]\ncolour = \"yes\"\n"),
                    "unknown option dispatch.log.colour");
  require_rejection(read({}, "[dispatch.log]\nlevl = \"info\"\n"),
                    "unknown option dispatch.log.levl; did you mean dispatch.log.level?");
  require_rejection(read({}, "[dispatch.log]\nlevel = 3\n"),
                    "dispatch.log.level: expected a string");
}

BOOST_AUTO_TEST_CASE(example_ini_parses_to_the_defaults) {
  std::ifstream file{dispatch::test::example_ini_path()};
  BOOST_REQUIRE(file.good());
  dispatch::test::all_options_config cfg;
  auto err = cfg.parse({}, file);
  BOOST_REQUIRE_MESSAGE(!err, caf::to_string(err));
  auto result = read_log_config(cfg);
  BOOST_REQUIRE_MESSAGE(result, why(result));
  BOOST_TEST(result->level == log_level::info);
  BOOST_TEST(result->components.empty());
}

BOOST_AUTO_TEST_SUITE_END()
