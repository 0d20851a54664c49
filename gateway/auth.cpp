// Bearer-token checks: a constant-time compare over every configured token, so neither an early
// mismatch nor which token matched shows in the answer time.
#include "gateway/auth.hpp"

#include <cctype>

namespace dispatch {

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Walk the longer length so a short guess takes as long as a long one; a length difference
  // alone already makes the result unequal.
  auto n = a.size() > b.size() ? a.size() : b.size();
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (size_t i = 0; i < n; ++i) {
    auto x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0u;
    auto y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0u;
    diff |= x ^ y;
  }
  return diff == 0;
}

bool bearer_accepted(std::string_view authorization, const std::vector<std::string>& tokens) {
  constexpr std::string_view scheme = "bearer ";
  if (authorization.size() <= scheme.size()) return false;
  for (size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != scheme[i]) return false;
  auto token = authorization.substr(scheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
  if (token.empty()) return false;
  bool accepted = false;
  for (auto& candidate : tokens) accepted |= constant_time_equal(token, candidate);
  return accepted;
}

} // namespace dispatch
