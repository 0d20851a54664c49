// Bearer-token checks of the HTTP API: which requests need a token, and whether the one sent
// matches a configured token (compared in constant time, so timing does not reveal a prefix).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dispatch {

/// True when `a` and `b` are equal; the time taken depends on their lengths only.
bool constant_time_equal(std::string_view a, std::string_view b);

/// True when `authorization` is `Bearer <t>` (scheme case-insensitive) with `t` one of `tokens`.
/// Every token is compared, whether or not an earlier one matched.
bool bearer_accepted(std::string_view authorization, const std::vector<std::string>& tokens);

} // namespace dispatch
