// Gatherer: fans a read out to every member (one window each) and merges the answers; an
// operation on one delivery goes to the members in turn until one of them holds it.
#include "cluster/gatherer.hpp"

#include <algorithm>
#include <memory>
#include <unordered_set>

#include "messages/error_code.hpp"
#include "messages/json.hpp"
#include "messages/query_eval.hpp"

namespace dispatch {

uint32_t gather_depth(const query& q) {
  auto limit = std::min(q.limit, max_page_size);
  if (limit == 0) return 0;
  return q.offset > UINT32_MAX - limit ? UINT32_MAX : q.offset + limit;
}

namespace {

/// Merges the members' windows: in node order, then by the query's sort (a stable sort keeps the
/// node order among equals), then the window. `key` names a record for the merge (unique).
template <class Record, class Page, class Key, class Render>
Page merge(const query& q, std::vector<member_page<Record>> parts, uint32_t max_limit, Key key,
           Render render) {
  std::sort(parts.begin(), parts.end(),
            [](const auto& x, const auto& y) { return x.node < y.node; });
  Page out;
  out.page.offset = q.offset;
  out.page.limit = std::min(q.limit, max_limit);
  std::vector<Record> all;
  std::unordered_set<std::string> seen;
  for (auto& part : parts) {
    out.page.total += part.total;
    for (size_t i = 0; i < part.data.size(); ++i)
      if (seen.insert(key(part, i)).second) all.push_back(std::move(part.data[i]));
  }
  if (q.sort.empty()) {
    for (size_t i = q.offset; i < all.size() && out.data.size() < out.page.limit; ++i)
      out.data.push_back(std::move(all[i]));
    return out;
  }
  // record_set sorts by the query's keys, then by insertion order; the members already filtered.
  record_set sortable;
  for (size_t i = 0; i < all.size(); ++i) sortable.put(std::to_string(i), render(all[i]));
  query window = q;
  window.where = filter{};
  uint64_t ignored = 0;
  for (auto& k : sortable.run(window, ignored, max_limit))
    out.data.push_back(std::move(all[std::stoul(k)]));
  return out;
}

} // namespace

delivery_page merge_pages(const query& q, std::vector<member_page<delivery>> parts,
                          uint32_t max_limit) {
  // The members answered newest first unless sorted otherwise: merged in the same order.
  return merge<delivery, delivery_page>(
    newest_first(q), std::move(parts), max_limit,
    [](auto& part, size_t i) { return part.data[i].id; },
    [](const delivery& d) { return to_json(d); });
}

json_page merge_pages(const query& q, std::vector<member_page<std::string>> parts,
                      uint32_t max_limit) {
  return merge<std::string, json_page>(
    q, std::move(parts), max_limit,
    [](auto& part, size_t i) { return std::to_string(part.node) + ":" + std::to_string(i); },
    [](const std::string& json) { return json; });
}

namespace {

using self_ptr = gatherer_actor::stateful_pointer<gatherer_state>;

using member_list = std::vector<std::pair<uint32_t, peer_actor>>;

/// Why member `id` cannot answer now.
caf::error not_up(const gatherer_state& st, uint32_t id) {
  auto i = st.states.find(id);
  auto state = i == st.states.end() ? peer_state::connecting : i->second;
  return make_error(error_code::unavailable,
                    "unavailable: node " + std::to_string(id) + " is " + to_string(state)
                      + ", and the answer would miss the work of its shards; try again when "
                        "it is up");
}

/// Every member with its endpoint, or why one of them cannot answer.
caf::expected<member_list> all_members(const gatherer_state& st) {
  member_list out;
  for (auto& [id, handle] : st.members) {
    if (!handle) return not_up(st, id);
    out.emplace_back(id, handle);
  }
  return out;
}

/// True for this node's own endpoint, which answers within the request timeout.
bool is_own(const gatherer_state& st, uint32_t id) {
  return id == st.node;
}

/// How long to wait for member `id`: a peer at most `peer_wait`, so that a frozen member costs
/// a listing no more than that.
std::chrono::milliseconds wait_for(const gatherer_state& st, uint32_t id) {
  return is_own(st, id) ? st.timeout : st.peer_wait;
}

/// A member's failure, naming the member.
caf::error from_member(const gatherer_state& st, uint32_t id, const caf::error& err) {
  if (err == caf::sec::request_timeout && !is_own(st, id))
    return make_error(error_code::unavailable,
                      "unavailable: node " + std::to_string(id) + " did not answer within "
                        + std::to_string(st.peer_wait.count())
                        + " ms (dispatch.cluster.peer-timeout); it may be frozen or overloaded, "
                          "try again");
  return make_error(is_dispatch_error(err) ? code_of(err) : error_code::unavailable,
                    "node " + std::to_string(id) + ": " + message_of(err));
}

/// One listing in progress: every member's window, merged once the last one answered.
template <class Page>
struct listing {
  using record = typename decltype(Page::data)::value_type;
  query window; // what the merged answer shows (offset and limit)
  uint32_t max_limit = max_page_size;
  std::vector<member_page<record>> parts;
  size_t outstanding = 0;
  bool failed = false;
  caf::typed_response_promise<Page> rp;
};

/// Asks every member for the first `depth` records of `q` in its order and answers `window` of
/// their merge. `ask(id, member, query, depth)` sends member `id`'s read and returns its response
/// handle.
template <class Page, class Ask>
caf::result<Page> gather(self_ptr self, const query& q, uint32_t depth, query window,
                         uint32_t max_limit, Ask ask) {
  if (auto err = validate(q)) return err;
  auto members = all_members(self->state);
  if (!members) return members.error();
  auto flat = flatten(q);
  auto run = std::make_shared<listing<Page>>();
  run->window = std::move(window);
  run->max_limit = max_limit;
  run->parts.resize(members->size());
  run->outstanding = members->size();
  run->rp = self->make_response_promise<Page>();
  for (size_t i = 0; i < members->size(); ++i) {
    auto id = (*members)[i].first;
    run->parts[i].node = id;
    ask(id, (*members)[i].second, flat, depth)
      .then(
        [run, i](Page& page) {
          if (run->failed) return;
          run->parts[i].total = page.page.total;
          run->parts[i].data = std::move(page.data);
          if (--run->outstanding == 0)
            run->rp.deliver(merge_pages(run->window, std::move(run->parts), run->max_limit));
        },
        [self, run, id](caf::error& err) {
          if (run->failed) return;
          run->failed = true;
          run->rp.deliver(from_member(self->state, id, err));
        });
  }
  return run->rp;
}

/// A page of the API: each member's window reaches as deep as the page.
template <class Page, class Ask>
caf::result<Page> gather_page(self_ptr self, const query& q, Ask ask) {
  auto depth = gather_depth(q);
  if (depth > max_window_depth)
    return make_error(error_code::invalid_rql,
                      "limit: a page of the whole cluster reaches at most "
                        + std::to_string(max_window_depth)
                        + " records deep (offset + limit); narrow the query instead");
  return gather<Page>(self, q, depth, q, max_page_size, ask);
}

/// A window of the whole cluster: the first `depth` records of the merge.
template <class Page, class Ask>
caf::result<Page> gather_window(self_ptr self, const query& q, uint32_t depth, Ask ask) {
  auto window = window_of(q, depth);
  return gather<Page>(self, q, window.limit, window, max_window_depth, ask);
}

/// An operation on one delivery (or one set-aside event) in progress: the members are asked in
/// turn (this node first), until one holds it.
template <class T>
struct one_delivery {
  std::string id;
  std::vector<uint32_t> order;
  size_t next = 0;
  caf::error unknown; // the first member's "no such delivery"
  caf::error missing; // a member that could not be asked
  caf::typed_response_promise<T> rp;
};

template <class T, class Ask>
void ask_next(self_ptr self, std::shared_ptr<one_delivery<T>> run, Ask ask) {
  auto& st = self->state;
  while (run->next < run->order.size()) {
    auto id = run->order[run->next++];
    auto& handle = st.members[id];
    if (!handle) {
      if (!run->missing) run->missing = not_up(st, id);
      continue;
    }
    ask(id, handle, run->id)
      .then([run](T& answer) { run->rp.deliver(std::move(answer)); },
            [self, run, ask, id](caf::error& err) {
              if (is_dispatch_error(err) && code_of(err) == error_code::resource_unknown) {
                if (!run->unknown) run->unknown = std::move(err);
                ask_next(self, run, ask);
                return;
              }
              run->rp.deliver(from_member(self->state, id, err));
            });
    return;
  }
  // Nobody holds it: unknown, unless a member could not be asked.
  run->rp.deliver(run->missing ? run->missing : run->unknown);
}

template <class T, class Ask>
caf::result<T> on_holder(self_ptr self, const std::string& delivery_id, Ask ask) {
  auto& st = self->state;
  auto run = std::make_shared<one_delivery<T>>();
  run->id = delivery_id;
  run->order.push_back(st.node);
  for (auto& kv : st.members)
    if (kv.first != st.node) run->order.push_back(kv.first);
  run->rp = self->make_response_promise<T>();
  ask_next(self, run, ask);
  return run->rp;
}

/// Replays the dead letters a query matches on every member; answers how many in all.
caf::result<uint64_t> replay_everywhere(self_ptr self, const query& q) {
  if (auto err = validate(q)) return err;
  auto members = all_members(self->state);
  if (!members) return members.error();
  struct tally {
    size_t outstanding = 0;
    uint64_t replayed = 0;
    bool failed = false;
    caf::typed_response_promise<uint64_t> rp;
  };
  auto run = std::make_shared<tally>();
  run->outstanding = members->size();
  run->rp = self->make_response_promise<uint64_t>();
  auto flat = flatten(q);
  for (auto& [id, handle] : *members)
    self->request(handle, wait_for(self->state, id), replay_atom::value, flat)
      .then(
        [run](uint64_t n) {
          run->replayed += n;
          if (--run->outstanding == 0 && !run->failed) run->rp.deliver(run->replayed);
        },
        [self, run, id = id](caf::error& err) {
          if (run->failed) return;
          run->failed = true;
          run->rp.deliver(from_member(self->state, id, err));
        });
  return run->rp;
}

// How each listing asks a member for its window.

auto ask_deliveries(self_ptr self) {
  return [self](uint32_t id, const peer_actor& member, const flat_query& q, uint32_t depth) {
    return self->request(member, wait_for(self->state, id), deliveries_atom::value, q, depth);
  };
}

auto ask_log(self_ptr self, action_kind kind) {
  return [self, kind](uint32_t id, const peer_actor& member, const flat_query& q, uint32_t depth) {
    return self->request(member, wait_for(self->state, id), log_atom::value, kind, q, depth);
  };
}

auto ask_events(self_ptr self) {
  return [self](uint32_t id, const peer_actor& member, const flat_query& q, uint32_t depth) {
    return self->request(member, wait_for(self->state, id), events_atom::value, q, depth);
  };
}

} // namespace

gatherer_actor::behavior_type gatherer(self_ptr self, uint32_t node,
                                       std::chrono::milliseconds timeout,
                                       std::chrono::milliseconds peer_timeout,
                                       peer_actor own_endpoint, std::vector<uint32_t> peers) {
  auto& st = self->state;
  st.node = node;
  st.timeout = timeout;
  st.peer_wait = std::min(timeout, peer_timeout);
  st.members[node] = std::move(own_endpoint);
  for (auto id : peers) {
    st.members[id] = peer_actor{};
    st.states[id] = peer_state::connecting;
  }
  return {
    [self](deliveries_atom, const query& q) {
      return gather_page<delivery_page>(self, q, ask_deliveries(self));
    },
    [self](deliveries_atom, const query& q, uint32_t depth) {
      return gather_window<delivery_page>(self, q, depth, ask_deliveries(self));
    },
    [self](log_atom, action_kind kind, const query& q) {
      return gather_page<json_page>(self, q, ask_log(self, kind));
    },
    [self](log_atom, action_kind kind, const query& q, uint32_t depth) {
      return gather_window<json_page>(self, q, depth, ask_log(self, kind));
    },
    [self](events_atom, const query& q) {
      return gather_page<json_page>(self, q, ask_events(self));
    },
    [self](events_atom, const query& q, uint32_t depth) {
      return gather_window<json_page>(self, q, depth, ask_events(self));
    },
    [self](replay_atom, const std::string& id) {
      return on_holder<delivery>(
        self, id, [self](uint32_t id, const peer_actor& member, const std::string& x) {
          return self->request(member, wait_for(self->state, id), replay_atom::value, x);
        });
    },
    [self](purge_atom, const std::string& id) {
      return on_holder<uint32_t>(
        self, id, [self](uint32_t id, const peer_actor& member, const std::string& x) {
          return self->request(member, wait_for(self->state, id), purge_atom::value, x);
        });
    },
    [self](rematch_atom, const std::string& id) {
      // Only the member that set the event aside holds it: the others answer 16.
      return on_holder<uint32_t>(
        self, id, [self](uint32_t id, const peer_actor& member, const std::string& x) {
          return self->request(member, wait_for(self->state, id), rematch_atom::value, x);
        });
    },
    [self](discard_atom, const std::string& id) {
      return on_holder<uint32_t>(
        self, id, [self](uint32_t id, const peer_actor& member, const std::string& x) {
          return self->request(member, wait_for(self->state, id), discard_atom::value, x);
        });
    },
    [self](replay_atom, const query& q) { return replay_everywhere(self, q); },
    [self](peer_atom, uint32_t id, const peer_actor& handle, peer_state state) {
      auto& st = self->state;
      if (id == st.node || st.members.count(id) == 0) return;
      st.states[id] = state;
      st.members[id] = state == peer_state::up ? handle : peer_actor{};
    },
  };
}

} // namespace dispatch
