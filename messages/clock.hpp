// Wall-clock time in epoch milliseconds: the unit of every persisted timestamp and due time.
#pragma once

#include <chrono>
#include <cstdint>

namespace dispatch {

using timestamp_ms = int64_t;

inline timestamp_ms now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace dispatch
