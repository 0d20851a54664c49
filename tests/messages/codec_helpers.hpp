// Shared helpers of the codec tests: asserting on the code and message of a rejection.
// Test-only.
#pragma once

#include <string>

#include <boost/test/unit_test.hpp>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "messages/error_code.hpp"

namespace dispatch::test {

template <class T>
caf::error error_of(const caf::expected<T>& x) {
  return x ? caf::error{} : x.error();
}

inline caf::error error_of(const caf::error& x) {
  return x;
}

/// Checks that `result` failed with `code` and a message containing `message_part`.
template <class Result>
void check_rejected(const Result& result, error_code code, const std::string& message_part) {
  auto err = error_of(result);
  BOOST_TEST_REQUIRE(static_cast<bool>(err), "expected a rejection with: " << message_part);
  BOOST_TEST(static_cast<int>(code_of(err)) == static_cast<int>(code), message_of(err));
  BOOST_TEST(message_of(err).find(message_part) != std::string::npos,
             "message `" << message_of(err) << "` lacks `" << message_part << "`");
}

/// Checks that `result` succeeded, printing the rejection otherwise.
template <class Result>
void check_accepted(const Result& result) {
  auto err = error_of(result);
  BOOST_TEST_REQUIRE(!err, "unexpected rejection: " << message_of(err));
}

} // namespace dispatch::test
