#include "gateway/http_text.hpp"

namespace dispatch {

std::string_view trim_blanks(std::string_view text) {
  auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

std::string quoted(std::string_view text) {
  constexpr size_t shown = 64;
  auto cut = text.size() > shown;
  return "'" + std::string{text.substr(0, shown)} + (cut ? "...'" : "'");
}

} // namespace dispatch
