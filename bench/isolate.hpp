// Runs each scenario and limit in a child process of its own: its peak RSS is then its own
// (ru_maxrss of the child), what one run leaves behind cannot slow the next, and a crash fails
// one scenario instead of the whole benchmark. The parent never starts threads, so fork is safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

namespace dispatch::bench {

/// Forks; the child runs `body` and sends back the bytes it returns. Fills `bytes` and the child's
/// peak RSS; returns an empty string, or why the child gave no result.
std::string run_in_child(const std::function<std::vector<char>()>& body, std::vector<char>& bytes,
                         uint64_t& peak_rss_bytes);

/// `run_in_child` for a result type with an `inspect` overload.
template <class Result>
std::string run_isolated(const std::function<Result()>& body, Result& out,
                         uint64_t& peak_rss_bytes) {
  std::vector<char> bytes;
  auto failure = run_in_child(
    [&] {
      auto result = body();
      std::vector<char> buf;
      caf::binary_serializer sink{nullptr, buf};
      if (sink(result)) buf.clear();
      return buf;
    },
    bytes, peak_rss_bytes);
  if (!failure.empty()) return failure;
  caf::binary_deserializer source{nullptr, bytes};
  if (source(out)) return "the child's result does not deserialize";
  return {};
}

} // namespace dispatch::bench
