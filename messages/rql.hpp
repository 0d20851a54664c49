// The RQL parser: the raw query text of a `find` call (everything after the first '?', still
// percent-encoded) into a typed `query`, and a dispatcher's `filter` into a filter tree. Its
// semantics are in docs/api.md, section RQL. In messages/ so that the engine compiles filters too.
#pragma once

#include <string>
#include <string_view>

#include <caf/expected.hpp>

#include "messages/query.hpp"

namespace dispatch {

/// Parses RQL. The whole text is percent-decoded once, then split into terms joined by '&'; each
/// value is percent-decoded again (clients double-encode). An empty text is the default query.
/// Errors: error_code::invalid_rql, the message naming the term and the reason.
caf::expected<query> parse_rql(std::string_view raw);

/// Parses the filter terms of RQL text that is not a URL's (a dispatcher's `filter`): terms joined
/// by '&' (AND), no select, sort or limit; the whole text is not percent-decoded, each value is
/// once. An empty text matches everything (`filter_op::all`). Errors: error_code::invalid_rql.
caf::expected<filter> parse_rql_filter(std::string_view text);

/// Percent-decodes `text` ("%41" -> "A"; '+' is kept). Fails on a malformed escape ("%4", "%zz")
/// or when the result is not valid UTF-8.
caf::expected<std::string> percent_decode(std::string_view text);

} // namespace dispatch
