// Names of the cluster's value types, as logs, metrics and `GET /cluster/v1/` show them.
#include "messages/cluster.hpp"

namespace dispatch {

const char* to_string(peer_state x) {
  switch (x) {
    case peer_state::connecting:
      return "connecting";
    case peer_state::up:
      return "up";
    case peer_state::down:
      return "down";
    case peer_state::refused:
      return "refused";
  }
  return "unknown";
}

} // namespace dispatch
