// The engine facade: delegation to the actors that own each concern.
#include "actors/engine.hpp"

#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "messages/ids.hpp"
#include "messages/json.hpp"
#include "messages/query_eval.hpp"

namespace dispatch {

namespace {

using self_ptr = engine_internal_actor::stateful_pointer<engine_state>;

caf::error unknown_delivery(const std::string& id) {
  return make_error(error_code::resource_unknown, "delivery " + id + " does not exist");
}

/// The emitter that owns a delivery: its kind and the shard of its event type.
const emitter_actor& emitter_of(engine_state& st, const delivery& d) {
  auto shards = st.db->shards();
  return st.emitters[emitter_index(d.kind, shard_of(d.event_type, shards), shards)];
}

/// A read's answer: the page, or why there is none.
template <class Page>
caf::result<Page> answer(caf::expected<Page> page) {
  if (!page)
    return page.error();
  return std::move(*page);
}

/// One page of records read one by one from the store. Only matching records are kept, and
/// without a sort order only the requested window is, so a read does not hold the whole history.
/// The limit is clamped to `max_limit`: a page of the API, or a window for a merge.
template <class T, class ForEach, class Id, class Render>
caf::expected<std::pair<page_info, std::vector<T>>>
read_page(const query& q, uint32_t max_limit, ForEach for_each, Id id_of, Render render) {
  if (auto err = validate(q))
    return err;
  page_info info;
  info.offset = q.offset;
  info.limit = std::min(q.limit, max_limit);
  std::vector<T> window;
  record_set sortable;
  std::unordered_map<std::string, T> kept;
  std::unordered_set<std::string> visited; // a record met twice counts once
  auto err = for_each([&](const T& x) {
    auto id = id_of(x);
    if (!visited.insert(id).second)
      return true;
    auto json = render(x);
    if (!matches(q.where, json))
      return true;
    if (q.sort.empty()) {
      if (info.total >= q.offset && window.size() < info.limit)
        window.push_back(x);
      ++info.total;
    } else {
      sortable.put(id, json);
      kept.emplace(std::move(id), x);
    }
    return true;
  });
  if (err)
    return err;
  if (!q.sort.empty())
    for (auto& key : sortable.run(q, info.total, max_limit))
      window.push_back(std::move(kept.at(key)));
  return std::make_pair(info, std::move(window));
}

/// Every delivery matching the query (waiting, dead and finished), as one page.
caf::expected<delivery_page> list_deliveries(engine_state& st, const query& q,
                                             uint32_t max_limit) {
  auto page = read_page<delivery>(
    q, max_limit,
    [&](auto visit) { return st.db->for_each_delivery(visit, scope_of(q.where)); },
    [](const delivery& d) { return d.id; }, [](const delivery& d) { return to_json(d); });
  if (!page)
    return page.error();
  return delivery_page{page->first, std::move(page->second)};
}

/// What the built-in log sink received, filtered, sorted and paged like any other read.
caf::expected<json_page> list_log(engine_state& st, action_kind kind, const query& q,
                                  uint32_t max_limit) {
  auto page = read_page<log_record>(
    q, max_limit, [&](auto visit) { return st.db->for_each_log(kind, visit); },
    [](const log_record& r) { return r.id; }, [](const log_record& r) { return r.json; });
  if (!page)
    return page.error();
  json_page result{page->first, {}};
  for (auto& r : page->second)
    result.data.push_back(std::move(r.json));
  return result;
}

/// An event the engine still holds, in its JSON shape.
struct held_event {
  std::string id;
  std::string json;
};

/// Events some emitter has not passed yet (every shard) and events of waiting deliveries.
caf::expected<json_page> list_events(engine_state& st, const query& q, uint32_t max_limit) {
  auto for_each = [&](auto visit) -> caf::error {
    if (auto err = st.db->for_each_unfinished_event(
          [&](const event& ev) { return visit(held_event{ev.id, to_json(ev)}); }))
      return err;
    return st.db->for_each_waiting([&](const delivery& d) {
      auto& text = d.kind == action_kind::task ? d.task.data : d.mail.content;
      auto json = text.composed() ? std::string{text.event_part()} : embedded_event_json(text.str());
      return json.empty() || visit(held_event{d.event_id, std::move(json)});
    });
  };
  auto page = read_page<held_event>(
    q, max_limit, for_each, [](const held_event& e) { return e.id; },
    [](const held_event& e) { return e.json; });
  if (!page)
    return page.error();
  json_page result{page->first, {}};
  for (auto& e : page->second)
    result.data.push_back(std::move(e.json));
  return result;
}

/// Replays every dead letter matching `q`, one request at a time per emitter, then answers the count.
caf::typed_response_promise<uint64_t> replay_matching(self_ptr self, const query& q) {
  auto rp = self->make_response_promise<uint64_t>();
  auto& st = self->state;
  if (auto err = validate(q)) {
    rp.deliver(std::move(err));
    return rp;
  }
  std::vector<delivery> dead;
  auto err = st.db->for_each_delivery([&](const delivery& d) {
    if (d.status == delivery_status::dead && matches(q.where, to_json(d)))
      dead.push_back(d);
    return true;
  });
  if (err) {
    rp.deliver(std::move(err));
    return rp;
  }
  if (dead.empty()) {
    rp.deliver(uint64_t{0});
    return rp;
  }
  struct tally {
    size_t outstanding;
    uint64_t replayed = 0;
  };
  auto count = std::make_shared<tally>(tally{dead.size()});
  auto finish_one = [rp, count](bool ok) mutable {
    count->replayed += ok ? 1 : 0;
    if (--count->outstanding == 0)
      rp.deliver(count->replayed);
  };
  for (auto& d : dead)
    self->request(emitter_of(st, d), st.config.request_timeout, replay_atom::value, d.id)
      .then([finish_one](const delivery&) mutable { finish_one(true); },
            [finish_one](const caf::error&) mutable { finish_one(false); });
  return rp;
}

} // namespace

engine_internal_actor::behavior_type
engine(self_ptr self, engine_config config, store_ptr db, metrics_ptr metrics, ingest_actor ingest,
       directory_actor directory, emitter_list emitters) {
  auto& st = self->state;
  st.config = std::move(config);
  st.db = std::move(db);
  st.metrics = std::move(metrics);
  st.ingest = std::move(ingest);
  st.directory = std::move(directory);
  st.emitters = std::move(emitters);
  return {
    [self](publish_atom a, const event& x) {
      return self->delegate(self->state.ingest, a, x);
    },
    [self](publish_atom a, const event_list& x) {
      return self->delegate(self->state.ingest, a, x);
    },
    [self](create_atom a, const dispatcher& x) {
      return self->delegate(self->state.directory, a, x);
    },
    [self](update_atom a, const std::string& id, const dispatcher_patch& x) {
      return self->delegate(self->state.directory, a, id, x);
    },
    [self](remove_atom a, const std::string& id) {
      return self->delegate(self->state.directory, a, id);
    },
    [self](create_atom a, const std::string& id, const action& x) {
      return self->delegate(self->state.directory, a, id, x);
    },
    [self](update_atom a, const std::string& id, const std::string& action_id,
           const action_patch& x) {
      return self->delegate(self->state.directory, a, id, action_id, x);
    },
    [self](remove_atom a, const std::string& id, const std::string& action_id) {
      return self->delegate(self->state.directory, a, id, action_id);
    },
    [self](find_atom a, const query& q) { return self->delegate(self->state.directory, a, q); },
    [self](put_atom a, const dispatcher& x) { return self->delegate(self->state.directory, a, x); },
    [self](drop_atom a, const std::string& id) {
      return self->delegate(self->state.directory, a, id);
    },
    [self](get_atom a, const std::string& id) {
      return self->delegate(self->state.directory, a, id);
    },
    [self](deliveries_atom, const query& q) {
      return answer(list_deliveries(self->state, q, max_page_size));
    },
    [self](deliveries_atom, const query& q, uint32_t depth) {
      return answer(list_deliveries(self->state, window_of(q, depth), max_window_depth));
    },
    [self](replay_atom, const std::string& id) -> caf::result<delivery> {
      auto& st = self->state;
      auto dead = st.db->get_dead_letter(id);
      if (!dead)
        return dead.error();
      if (!*dead)
        return make_error(error_code::resource_unknown,
                          "delivery " + id + ": no dead letter with this id");
      return self->delegate(emitter_of(st, **dead), replay_atom::value, id);
    },
    [self](replay_atom, const query& q) { return replay_matching(self, q); },
    [self](purge_atom, const std::string& id) -> caf::result<uint32_t> {
      auto& st = self->state;
      auto waiting = st.db->get_waiting(id);
      if (!waiting)
        return waiting.error();
      if (*waiting) // its emitter owns it while it waits
        return self->delegate(emitter_of(st, **waiting), purge_atom::value, id);
      auto purged = st.db->purge(id);
      if (!purged)
        return purged.error();
      if (!*purged)
        return unknown_delivery(id);
      return uint32_t{1};
    },
    [self](log_atom, action_kind kind, const query& q) {
      return answer(list_log(self->state, kind, q, max_page_size));
    },
    [self](log_atom, action_kind kind, const query& q, uint32_t depth) {
      return answer(list_log(self->state, kind, window_of(q, depth), max_window_depth));
    },
    [self](events_atom, const query& q) {
      return answer(list_events(self->state, q, max_page_size));
    },
    [self](events_atom, const query& q, uint32_t depth) {
      return answer(list_events(self->state, window_of(q, depth), max_window_depth));
    },
    [self](stats_atom) -> engine_stats { return self->state.metrics->snapshot(); },
    [self](health_atom) -> bool {
      auto& st = self->state;
      auto ok = !st.db->probe_write();
      st.metrics->storage_ok = ok;
      return ok;
    },
    [self](handles_atom, const ingest_actor& ingest, const directory_actor& directory,
           const emitter_list& emitters) {
      auto& st = self->state;
      st.ingest = ingest;
      st.directory = directory;
      st.emitters = emitters;
    },
    [self](handles_atom, const caf::actor& supervisor) { self->state.supervisor = supervisor; },
  };
}

} // namespace dispatch
