// Lets Boost.Test print our message types in failure messages, through CAF's own stringification.
// Test-only: production code never streams these types.
#pragma once

#include <ostream>
#include <string>

#include <caf/deep_to_string.hpp>

#include "messages/delivery.hpp"
#include "messages/dispatcher.hpp"
#include "messages/event.hpp"
#include "messages/flat_query.hpp"
#include "messages/query.hpp"

namespace dispatch {

#define DISPATCH_TEST_PRINTABLE(type)                                         \
  inline std::ostream& operator<<(std::ostream& out, const type& x) {         \
    std::string text = caf::deep_to_string(x);                                \
    return out.write(text.data(), static_cast<std::streamsize>(text.size())); \
  }

DISPATCH_TEST_PRINTABLE(event)
DISPATCH_TEST_PRINTABLE(recipients)
DISPATCH_TEST_PRINTABLE(action)
DISPATCH_TEST_PRINTABLE(dispatcher)
DISPATCH_TEST_PRINTABLE(task_request)
DISPATCH_TEST_PRINTABLE(mail_request)
DISPATCH_TEST_PRINTABLE(delivery)
DISPATCH_TEST_PRINTABLE(query_value)
DISPATCH_TEST_PRINTABLE(filter)
DISPATCH_TEST_PRINTABLE(sort_key)
DISPATCH_TEST_PRINTABLE(query)
DISPATCH_TEST_PRINTABLE(filter_term)
DISPATCH_TEST_PRINTABLE(flat_query)

#undef DISPATCH_TEST_PRINTABLE

} // namespace dispatch
