// Listing the event archive: a walk of the log newest first, the total from counts or from the walk.
#include "actors/event_archive.hpp"

#include <limits>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "actors/cpu_budget.hpp"
#include "messages/event_record.hpp"
#include "messages/ids.hpp"
#include "messages/json.hpp"
#include "messages/json_dom.hpp"
#include "messages/query_eval.hpp"

namespace dispatch {

namespace {

/// The events still set aside, rendered with their `setAside` member, by log position.
using set_aside_index = std::map<std::pair<uint32_t, uint64_t>, std::string>;

caf::expected<set_aside_index> set_aside_now(const store_ptr& db) {
  set_aside_index index;
  // Setting aside is rare (a bug or a bad dispatcher): they are all read for each walk.
  auto err = db->for_each_set_aside([&](const set_aside_event& e) {
    if (e.replayed_at != 0) return true; // matched again or discarded: an event like the others
    index[{e.shard, e.sequence}] = set_aside_json(e);
    return true;
  });
  if (err) return err;
  return index;
}

/// The set-aside rendering of an archived event, or null when it is not set aside.
const std::string* set_aside_of(const set_aside_index& aside, const archived_event& x) {
  if (aside.empty()) return nullptr;
  auto found = aside.find({x.shard, x.sequence});
  return found != aside.end() ? &found->second : nullptr;
}

std::string render(const set_aside_index& aside, const archived_event& x) {
  auto json = set_aside_of(aside, x);
  return json ? *json : to_json(x.event);
}

/// Whether an archived event matches the listing's filter, read as it is listed: the event's
/// record, or (set aside, rare) its rendering with `setAside`.
bool passes(const record_filter& where, const set_aside_index& aside, const archived_event& x) {
  if (auto json = set_aside_of(aside, x)) {
    rapidjson::Document doc;
    doc.Parse<dom_parse_flags>(json->data(), json->size());
    return !doc.HasParseError() && doc.IsObject() && where.matches(doc);
  }
  event_record record{x.event};
  return where.matches(record.value());
}

/// One event, looked up by its id (and, only for it, whether it is set aside).
caf::expected<json_page> one_by_id(const store_ptr& db, const query& q, const std::string& id,
                                   page_info info) {
  json_page page{info, {}};
  auto found = db->find_archived(normalize_id(id));
  if (!found) return found.error();
  if (!*found) return page;
  auto aside = db->find_set_aside((*found)->event.id);
  if (!aside) return aside.error();
  auto json = *aside && (*aside)->replayed_at == 0 ? set_aside_json(**aside)
                                                   : to_json((*found)->event);
  // Alone, `eq(id,X)` is the lookup itself (X in either case); inside an `and` the rest must hold.
  if (q.where.op != filter_op::eq && !matches(q.where, json)) return page;
  page.page.total = 1;
  if (info.offset == 0 && info.limit > 0) page.data.push_back(std::move(json));
  return page;
}

/// A sorted page: the whole range walked, only the page's records kept (a bounded window).
caf::expected<json_page> sorted_page(const store_ptr& db, const query& q, uint32_t max_limit,
                                     const archive_range& range, const std::string* type,
                                     const set_aside_index& aside, page_info info) {
  json_page page{info, {}};
  sorted_window window{q, max_limit};
  std::unordered_map<std::string, std::string> kept; // by log position: ids may repeat
  record_filter where{q.where};
  auto err = db->for_each_archived(range, [&](const archived_event& x) {
    pace_read();
    if (type && x.event.type != *type) return true;
    if (!passes(where, aside, x)) return true;
    auto json = render(aside, x);
    ++page.page.total;
    auto key = std::to_string(x.shard) + ":" + std::to_string(x.sequence);
    auto dropped = window.offer(key, json);
    if (dropped != key) {
      kept.emplace(std::move(key), std::move(json));
      if (!dropped.empty()) kept.erase(dropped);
    }
    return true;
  });
  if (err) return err;
  for (auto& key : window.page()) page.data.push_back(std::move(kept.at(key)));
  return page;
}

} // namespace

const std::string* named_value(const filter& f, const char* path) {
  if (f.op == filter_op::eq && f.path == path && f.values.size() == 1
      && f.values[0].kind == value_kind::string)
    return &f.values[0].text;
  if (f.op == filter_op::and_)
    for (auto& child : f.children)
      if (auto found = named_value(child, path)) return found;
  return nullptr;
}

caf::expected<json_page> list_archive(const store_ptr& db, const query& q, uint32_t max_limit) {
  if (auto err = validate(q)) return err;
  page_info info;
  info.offset = q.offset;
  info.limit = std::min(q.limit, max_limit);
  if (auto id = named_value(q.where, "id"); id && is_object_id(*id))
    return one_by_id(db, q, *id, info);
  auto aside = set_aside_now(db);
  if (!aside) return aside.error();
  archive_range range;
  auto type = named_value(q.where, "type");
  if (type) range.shards.push_back(shard_of(*type, db->shards()));
  // Compared creation times (alone or in an `and`) read only the minutes that can hold them.
  auto from = std::numeric_limits<timestamp_ms>::min();
  auto to = std::numeric_limits<timestamp_ms>::max();
  auto timed = narrow_times(q.where, "creationTimestamp", from, to);
  if (q.where.op == filter_op::and_)
    for (auto& term : q.where.children)
      timed = narrow_times(term, "creationTimestamp", from, to) || timed;
  if (timed)
    if (auto err = db->bound_by_creation(range, from, to)) return err;
  if (!q.sort.empty()) return sorted_page(db, q, max_limit, range, type, *aside, info);
  // Newest first. The total comes from the counts when the filter is none or exactly one type;
  // then the walk stops at the end of the page. Otherwise every match is counted on the way.
  json_page page{info, {}};
  // (A type named at the top is the whole filter; one inside an `and` is not.)
  auto counted = q.where.op == filter_op::all || (type && q.where.op == filter_op::eq);
  if (counted) {
    auto total = db->count_archived(type);
    if (!total) return total.error();
    page.page.total = *total;
  }
  // Counted, the filter holds of every event walked (its one type is checked exactly below).
  std::optional<record_filter> where;
  if (!counted) where.emplace(q.where);
  uint64_t seen = 0;
  auto err = db->for_each_archived(range, [&](const archived_event& x) {
    pace_read();
    if (type && x.event.type != *type) return true;
    auto created = x.event.creation_timestamp;
    if (timed && (created < from || created >= to)) return true; // before the filter is read
    if (where && !passes(*where, *aside, x)) return true;
    if (seen++ < info.offset) return true; // skipped without rendering
    if (page.data.size() < info.limit) page.data.push_back(render(*aside, x));
    return !counted || page.data.size() < info.limit;
  });
  if (err) return err;
  if (!counted) page.page.total = seen;
  return page;
}

std::string set_aside_json(const set_aside_event& e) {
  auto json = to_json(e.event);
  rapidjson::StringBuffer extra;
  rapidjson::Writer<rapidjson::StringBuffer> out{extra};
  out.StartObject();
  out.Key("timestamp");
  out.Int64(e.at);
  out.Key("reason");
  out.String(e.reason);
  out.EndObject();
  json.pop_back(); // the event's closing brace
  json += R"(,"setAside":)";
  json.append(extra.GetString(), extra.GetSize());
  json += '}';
  return json;
}

} // namespace dispatch
