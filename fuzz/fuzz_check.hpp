// What the fuzz targets share: libFuzzer's entry point and the check that turns a broken property
// into a crash, which libFuzzer records as a finding and the corpus replay in ctest as a failure.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace dispatch::fuzz {

/// Aborts, naming the property and showing (the start of) what broke it, unless `holds`.
inline void require(bool holds, const char* property, std::string_view detail = {}) {
  if (holds) return;
  std::fprintf(stderr, "fuzz: property broken: %s\n", property);
  std::fwrite(detail.data(), 1, std::min<size_t>(detail.size(), 2000), stderr);
  std::fputc('\n', stderr);
  std::abort();
}

inline std::string_view text_of(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

} // namespace dispatch::fuzz
