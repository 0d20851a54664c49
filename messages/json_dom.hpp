// How every DOM of ours is built from JSON text, in one place.
#pragma once

#include <rapidjson/reader.h>

namespace dispatch {

/// Iterative: hostile nesting never deepens our stack. Full precision: a number is read to the
/// double nearest its text, so a value written back (RapidJSON writes the shortest text that reads
/// back to the same double) is the value that came in; the default fast path is off by up to a few
/// units in the last place (`0.47203854259185996` came back as `0.47203854259186`).
inline constexpr unsigned dom_parse_flags = rapidjson::kParseIterativeFlag
                                            | rapidjson::kParseFullPrecisionFlag;

} // namespace dispatch
