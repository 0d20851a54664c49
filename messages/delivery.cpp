// Names of delivery states, as they appear in the API.
#include "messages/delivery.hpp"

namespace dispatch {

namespace {
constexpr const char* status_names[] = {"pending", "held", "retrying", "delivered", "dead"};
} // namespace

const char* to_string(delivery_status x) {
  auto i = static_cast<size_t>(x);
  return i < 5 ? status_names[i] : "unknown";
}

bool from_string(const std::string& text, delivery_status& out) {
  for (size_t i = 0; i < 5; ++i)
    if (text == status_names[i]) {
      out = static_cast<delivery_status>(i);
      return true;
    }
  return false;
}

} // namespace dispatch
