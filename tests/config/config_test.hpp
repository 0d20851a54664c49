// What the config suites share: a config with every dispatch.* option (engine, http, sinks,
// cluster), parsing command-line arguments and INI text into it, and the check that a reading was
// refused by name.
#pragma once

#include <boost/test/unit_test.hpp>

#include <sstream>
#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>

#include "config/cluster_config.hpp"
#include "config/engine_config.hpp"
#include "config/http_config.hpp"
#include "config/sink_config.hpp"
#include "messages/error_code.hpp"

namespace dispatch::test {

/// An actor system config that knows every option dispatchd knows.
struct all_options_config : caf::actor_system_config {
  all_options_config() {
    prepare_config(*this, custom_options_);
    add_http_options(custom_options_);
    put_http_defaults(*this);
    add_sink_options(custom_options_);
    put_sink_defaults(*this);
    add_cluster_options(custom_options_);
    put_cluster_defaults(*this);
  }
};

/// Parses `args` and the INI text `ini`, then applies `reader` (e.g. read_http_config). A parse
/// failure comes back as an error too.
template <class Reader>
auto parse_and_read(std::vector<std::string> args, const std::string& ini, Reader reader)
  -> decltype(reader(std::declval<const caf::actor_system_config&>())) {
  all_options_config cfg;
  std::istringstream in{ini};
  if (auto err = cfg.parse(std::move(args), in))
    return make_error(error_code::server, "parse: " + caf::to_string(err));
  return reader(cfg);
}

/// The example configuration shipped in the source tree.
inline std::string example_ini_path() {
  return std::string{DISPATCH_SOURCE_DIR} + "/config/dispatchd.ini";
}

/// Requires `result` to be a field_format error whose message contains `fragment`.
template <class T>
void require_rejection(const caf::expected<T>& result, const std::string& fragment) {
  BOOST_TEST_CONTEXT(fragment) {
    BOOST_REQUIRE(!result);
    BOOST_TEST(static_cast<int>(code_of(result.error()))
               == static_cast<int>(error_code::field_format));
    auto message = message_of(result.error());
    BOOST_TEST(message.find(fragment) != std::string::npos, message);
  }
}

} // namespace dispatch::test
