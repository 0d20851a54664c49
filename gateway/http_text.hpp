// Small text helpers of the HTTP layer: header values and client input echoed in messages.
#pragma once

#include <string>
#include <string_view>

namespace dispatch {

/// `text` without the spaces and tabs around it (HTTP's optional whitespace, RFC 9110 5.6.3).
std::string_view trim_blanks(std::string_view text);

/// Client input for an error message: in single quotes, cut to its first 64 bytes (then "...").
std::string quoted(std::string_view text);

} // namespace dispatch
