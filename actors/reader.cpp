// The reader actor: listings of deliveries, of the built-in log and of the event archive, each
// filtered, sorted and paged, and the dead letters a replay by query acts on.
#include "actors/reader.hpp"

#include "actors/thread_priority.hpp"

#include "actors/event_archive.hpp"

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "messages/derive.hpp"
#include "messages/json.hpp"
#include "messages/query_eval.hpp"

namespace dispatch {

namespace {

/// A read's answer: the page, or why there is none. The read's CPU time is charged to the
/// readers' budget first (the reader waits here while it is overdrawn).
template <class Page>
caf::result<Page> answer(caf::expected<Page> page) {
  settle_read();
  if (!page) return page.error();
  return std::move(*page);
}

/// One page of records read one by one from the store. Only the records that can be on the page
/// are kept (with a sort order, the first offset + limit so far), so a read holds neither the
/// whole history nor its ids (the store visits each record once). The limit is clamped to
/// `max_limit`: a page of the API, or a window for a merge.
template <class T, class ForEach, class Id, class Render>
caf::expected<std::pair<page_info, std::vector<T>>>
read_page(const query& q, uint32_t max_limit, ForEach for_each, Id id_of, Render render) {
  if (auto err = validate(q)) return err;
  page_info info;
  info.offset = q.offset;
  info.limit = std::min(q.limit, max_limit);
  std::vector<T> window;
  // Sorted: only the records that can still be on the page are kept (a bounded heap).
  std::optional<sorted_window> sorted;
  if (!q.sort.empty()) sorted.emplace(q, max_limit);
  std::unordered_map<std::string, T> kept;
  uint64_t met = 0; // the key of a record in the sorted window: ids may repeat (the log's)
  auto err = for_each([&](const T& x) {
    pace_read();
    auto id = id_of(x) + "#" + std::to_string(met++);
    auto json = render(x);
    if (!matches(q.where, json)) return true;
    if (q.sort.empty()) {
      if (info.total >= q.offset && window.size() < info.limit) window.push_back(x);
      ++info.total;
    } else {
      ++info.total;
      auto dropped = sorted->offer(id, json);
      if (dropped != id) {
        kept.emplace(std::move(id), x);
        if (!dropped.empty()) kept.erase(dropped);
      }
    }
    return true;
  });
  if (err) return err;
  if (sorted)
    for (auto& key : sorted->page()) window.push_back(std::move(kept.at(key)));
  return std::make_pair(info, std::move(window));
}

/// A page of a walk newest first whose total is known without it (from the store's counts):
/// the walk skips `offset` records and stops once the page is full, whatever the store holds.
template <class T, class Walk>
caf::expected<std::pair<page_info, std::vector<T>>> counted_page(const query& q, uint32_t max_limit,
                                                                 uint64_t total, Walk walk) {
  if (auto err = validate(q)) return err;
  page_info info;
  info.offset = q.offset;
  info.limit = std::min(q.limit, max_limit);
  info.total = total;
  std::vector<T> window;
  uint64_t met = 0;
  auto err = walk([&](const T& x) {
    pace_read();
    if (met++ >= q.offset && window.size() < info.limit) window.push_back(x);
    return window.size() < info.limit;
  });
  if (err) return err;
  return std::make_pair(info, std::move(window));
}

/// Narrows `which` by one filter term it can read from keys: `eq(type,task|mail)`,
/// `eq(status,X)` or `in(status,X,...)`, or a comparison (`gt`, `ge`, `lt`, `le`) of
/// `creationTimestamp` with a number. False for any other term.
bool narrow(const filter& term, delivery_selection& which) {
  if (term.path == "status" && (term.op == filter_op::eq || term.op == filter_op::in)) {
    std::array<bool, 5> named{};
    for (auto& value : term.values) {
      if (value.kind != value_kind::string) return false;
      delivery_status status;
      if (from_string(value.text, status)) named[static_cast<size_t>(status)] = true;
    }
    for (size_t i = 0; i < named.size(); ++i) which.statuses[i] = which.statuses[i] && named[i];
    return true;
  }
  if (term.values.size() != 1) return false;
  auto& value = term.values[0];
  if (term.op == filter_op::eq && term.path == "type" && value.kind == value_kind::string) {
    which.task = which.task && value.text == "task";
    which.mail = which.mail && value.text == "mail";
    return value.text == "task" || value.text == "mail";
  }
  return narrow_times(term, "creationTimestamp", which.from, which.to);
}

/// Whether `which` selects only dead letters.
bool dead_only(const delivery_selection& which) {
  for (size_t i = 0; i < which.statuses.size(); ++i)
    if (which.statuses[i] != (i == static_cast<size_t>(delivery_status::dead))) return false;
  return true;
}

/// Whether a query lists every delivery, or those of one kind (`eq(type,task)`, `eq(type,mail)`),
/// of some statuses (`eq(status,...)`, `in(status,...)`), of a time range (`creationTimestamp`
/// compared), or an `and` of those, newest first (dead letters alone also by descending id, their
/// key order): then the page is read from keys and the total counted (see `store::delivery_count`).
bool keyed(const query& q, delivery_selection& which) {
  auto& w = q.where;
  auto narrowed = true;
  if (w.op == filter_op::and_) {
    for (auto& term : w.children) narrowed = narrowed && narrow(term, which);
  } else if (w.op != filter_op::all) {
    narrowed = narrow(w, which);
  }
  if (!narrowed) return false;
  return q.sort == newest_first(query{}).sort
         || (q.sort.size() == 1 && q.sort[0] == sort_key{"creationTimestamp", true})
         || (dead_only(which) && q.sort.size() == 1 && q.sort[0] == sort_key{"id", true});
}

} // namespace

/// Every delivery matching the query (waiting, dead and finished), as one page; newest first
/// unless the query sorts otherwise.
caf::expected<delivery_page> list_deliveries(const store_ptr& db, const query& asked,
                                             uint32_t max_limit) {
  auto q = newest_first(asked);
  delivery_selection which;
  if (keyed(q, which)) {
    auto total = db->delivery_count(which);
    if (!total) return total.error();
    auto depth = q.offset + uint64_t{std::min(q.limit, max_limit)};
    auto page = counted_page<delivery>(q, max_limit, *total, [&](auto visit) {
      return db->for_each_delivery_newest(which, visit, static_cast<size_t>(depth));
    });
    if (!page) return page.error();
    return delivery_page{page->first, std::move(page->second)};
  }
  auto page = read_page<delivery>(
    q, max_limit, [&](auto visit) { return db->for_each_delivery(visit, scope_of(q.where)); },
    [](const delivery& d) { return d.id; }, [](const delivery& d) { return to_json(d); });
  if (!page) return page.error();
  return delivery_page{page->first, std::move(page->second)};
}

namespace {

/// A page of records that carry their JSON (`json`), as the JSON texts.
template <class Record>
caf::expected<json_page>
json_page_of(caf::expected<std::pair<page_info, std::vector<Record>>> page) {
  if (!page) return page.error();
  json_page result{page->first, {}};
  for (auto& r : page->second) result.data.push_back(std::move(r.json));
  return result;
}

} // namespace

/// What the built-in log sink received, filtered, sorted and paged like any other read; newest
/// first by default. Unfiltered in that order, the page is read from the keys and the total is
/// the log's count; a filter is evaluated on every record to count its matches.
caf::expected<json_page> list_log(const store_ptr& db, action_kind kind, const query& q,
                                  uint32_t max_limit) {
  auto newest = [&](auto visit) { return db->for_each_log(kind, visit, true); };
  if (q.where.op == filter_op::all && q.sort.empty())
    return json_page_of(counted_page<log_record>(q, max_limit, db->log_size(kind), newest));
  return json_page_of(read_page<log_record>(
    q, max_limit, newest, [](const log_record& r) { return r.id; },
    [](const log_record& r) { return r.json; }));
}

namespace {

/// The deliveries a set-aside event gets when matched again now: one per action of the
/// dispatchers now in force for its type, with the ids of its log position (the same however
/// often this is asked), pending from now on (or held until their startTimestamp). Error 16 when
/// no event with this id waits set aside; error 1 saying why when deriving fails again.
caf::expected<delivery_list> rematch(const store_ptr& db, const std::string& event_id,
                                     bool task_sink_schedules, timestamp_ms when) {
  auto found = db->find_set_aside(event_id);
  if (!found) return found.error();
  if (!*found || (*found)->replayed_at != 0)
    return make_error(error_code::resource_unknown,
                      "event " + event_id
                        + " is not set aside (GET /events/v1/ lists those that are)");
  auto& e = **found;
  auto all = db->load_dispatchers();
  if (!all) return all.error();
  dispatcher_timeline now;
  for (auto& d : *all)
    if (d.event_type == e.event.type) now.apply(0, d.id, &d);
  delivery_list made;
  if (auto failed = derive_deliveries(now.at(e.event.type, e.sequence), e.shard, e.sequence,
                                      e.event, task_sink_schedules, &made, &made))
    return make_error(error_code::server,
                      "event " + event_id + " still cannot be matched: " + *failed);
  for (auto& d : made) {
    d.created = when;
    if (d.status != delivery_status::held || d.next_attempt < when) d.next_attempt = when;
  }
  return made;
}

/// Up to `max` dead letters matching `q`, in id order after `after`.
caf::expected<delivery_list> dead_letters(const store_ptr& db, const query& q,
                                          const std::string& after, uint32_t max) {
  if (auto err = validate(q)) return err;
  delivery_list dead;
  if (max == 0) return dead;
  auto err = db->for_each_dead_letter(after, [&](const delivery& d) {
    pace_read();
    if (matches(q.where, to_json(d))) dead.push_back(d);
    return dead.size() < max;
  });
  if (err) return err;
  return dead;
}

} // namespace

reader_actor::behavior_type reader(reader_actor::stateful_pointer<reader_state> self, store_ptr db,
                                   clock_ptr clock, reader_yield yield) {
  if (yield.budget) name_this_thread(reader_thread_name);
  lower_thread_priority(yield.priority);
  meter_reads(std::move(yield.budget));
  self->state.db = std::move(db);
  self->state.clock = std::move(clock);
  return {
    [self](deliveries_atom, const query& q) {
      return answer(list_deliveries(self->state.db, q, max_page_size));
    },
    [self](deliveries_atom, const query& q, uint32_t depth) {
      return answer(list_deliveries(self->state.db, window_of(q, depth), max_window_depth));
    },
    [self](log_atom, action_kind kind, const query& q) {
      return answer(list_log(self->state.db, kind, q, max_page_size));
    },
    [self](log_atom, action_kind kind, const query& q, uint32_t depth) {
      return answer(list_log(self->state.db, kind, window_of(q, depth), max_window_depth));
    },
    [self](events_atom, const query& q) {
      return answer(list_archive(self->state.db, q, max_page_size));
    },
    [self](events_atom, const query& q, uint32_t depth) {
      return answer(list_archive(self->state.db, window_of(q, depth), max_window_depth));
    },
    [self](rematch_atom, const std::string& event_id, bool task_sink_schedules) {
      auto& st = self->state;
      return answer(rematch(st.db, event_id, task_sink_schedules, st.clock->now()));
    },
    [self](dead_atom, const query& q, const std::string& after, uint32_t max) {
      return answer(dead_letters(self->state.db, q, after, max));
    },
  };
}

} // namespace dispatch
