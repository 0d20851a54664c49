// Listing the event archive for `GET /events/v1/`: the log newest first across the shards, a page
// at a time, its total from the running counts where the filter allows. Run by the readers.
#pragma once

#include <cstdint>

#include <caf/expected.hpp>

#include "messages/query.hpp"
#include "persistence/store.hpp"

namespace dispatch {

/// The archived events matching `q` as `{id, type, content, creationTimestamp}` JSON (a set-aside
/// one with `setAside: {timestamp, reason}`), newest accepted first unless sorted. Without a sort,
/// the walk stops once the page is full when the total comes from the counts (no filter, or
/// exactly `eq(type,T)`); `eq(id,X)` is a lookup by key; a type named anywhere in an `and` limits
/// the walk to its shard. Any other filter, and any sort, reads the whole archive (a sort keeps
/// only the page, a bounded window).
caf::expected<json_page> list_archive(const store_ptr& db, const query& q, uint32_t max_limit);

/// The string value of `eq(<path>,<text>)` in `f`, at the top or inside an `and` (the first one
/// found); null when there is none. A walk of the archive narrows itself with it.
const std::string* named_value(const filter& f, const char* path);

/// A set-aside event as listed: the event with `setAside: {timestamp, reason}` added.
std::string set_aside_json(const set_aside_event& e);

} // namespace dispatch
