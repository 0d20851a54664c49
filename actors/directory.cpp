// Directory: dispatcher administration. Persist first, then install in the owning matcher, then reply.
#include "actors/directory.hpp"

#include <algorithm>
#include <memory>

#include "messages/ids.hpp"
#include "messages/json.hpp"
#include "messages/validation.hpp"

namespace dispatch {

namespace {

using self_ptr = directory_actor::stateful_pointer<directory_state>;

/// One step of bringing the matchers up to date with a change.
struct matcher_step {
  uint32_t shard;
  bool remove;
  dispatcher value; // for install: the dispatcher; for remove: id and version
};

caf::error check_id(const std::string& id, const char* what) {
  if (!is_object_id(id))
    return make_error(error_code::id_format,
                      std::string{what} + ": '" + id + "' is not an id (24 hex characters)");
  return {};
}

caf::error unknown_dispatcher(const std::string& id) {
  return make_error(error_code::resource_unknown, "dispatcher " + id + " does not exist");
}

/// Finds a dispatcher by a raw id (validated and normalized), or says why not.
caf::expected<dispatcher*> lookup(directory_state& st, const std::string& raw_id) {
  if (auto err = check_id(raw_id, "id")) return err;
  auto i = st.dispatchers.find(normalize_id(raw_id));
  if (i == st.dispatchers.end()) return unknown_dispatcher(normalize_id(raw_id));
  return &i->second;
}

caf::error check_name_free(const directory_state& st, const caf::optional<std::string>& name,
                           const std::string& own_id) {
  if (!name || name->empty()) return {};
  auto i = st.names.find(*name);
  if (i != st.names.end() && i->second != own_id)
    return make_error(error_code::resource_already_exists,
                      "name: a dispatcher named '" + *name + "' already exists");
  return {};
}

caf::error check_action_name_free(const dispatcher& d, const caf::optional<std::string>& name,
                                  const std::string& own_id) {
  if (!name || name->empty()) return {};
  for (auto& a : d.actions)
    if (a.id != own_id && a.name && *a.name == *name)
      return make_error(error_code::resource_already_exists, "name: an action named '" + *name
                                                               + "' already exists in dispatcher "
                                                               + d.id);
  return {};
}

void forget(directory_state& st, const dispatcher& d) {
  if (d.name && !d.name->empty()) {
    auto i = st.names.find(*d.name);
    if (i != st.names.end() && i->second == d.id) st.names.erase(i);
  }
  st.records.erase(d.id);
  st.dispatchers.erase(d.id);
  auto type = st.per_type.find(d.event_type);
  if (type != st.per_type.end() && --type->second == 0) st.per_type.erase(type);
  if (st.fan_out) st.fan_out->add(d.event_type, -static_cast<int64_t>(d.actions.size()));
}

void remember(directory_state& st, const dispatcher& d) {
  if (d.name && !d.name->empty()) st.names[*d.name] = d.id;
  st.records.put(d.id, to_json(d));
  st.dispatchers[d.id] = d;
  ++st.per_type[d.event_type];
  if (st.fan_out) st.fan_out->add(d.event_type, static_cast<int64_t>(d.actions.size()));
}

/// The fan-out limits a change must keep: every action of a dispatcher and every dispatcher of an
/// event type is a delivery of each event of that type (and a copy of it at a webhook).
caf::error check_fan_out(const directory_state& st, const caf::optional<dispatcher>& before,
                         const dispatcher& after) {
  auto max_actions = st.config.max_actions_per_dispatcher;
  if (after.actions.size() > max_actions)
    return make_error(error_code::field_format,
                      "actions: at most " + std::to_string(max_actions)
                        + " actions per dispatcher (dispatch.limits.actions-per-dispatcher)");
  if (before && before->event_type == after.event_type) return {};
  auto found = st.per_type.find(after.event_type);
  auto count = found == st.per_type.end() ? 0u : found->second;
  auto max_dispatchers = st.config.max_dispatchers_per_type;
  if (count >= max_dispatchers)
    return make_error(error_code::field_format,
                      "eventType: '" + after.event_type + "' has " + std::to_string(count)
                        + " dispatchers already, the most allowed "
                          "(dispatch.limits.dispatchers-per-type)");
  return {};
}

/// Runs the matcher steps one after the other, then calls `done` with the first error (or none).
void run_steps(self_ptr self, std::shared_ptr<std::vector<matcher_step>> steps, size_t next,
               std::function<void(caf::error)> done) {
  auto& st = self->state;
  if (next == steps->size()) {
    done({});
    return;
  }
  auto& step = (*steps)[next];
  if (step.shard >= st.matchers.size()) {
    done(make_error(error_code::server, "no matcher for shard " + std::to_string(step.shard)));
    return;
  }
  auto on_ack = [self, steps, next, done](uint64_t) { run_steps(self, steps, next + 1, done); };
  auto on_error = [done](const caf::error& err) {
    done(make_error(error_code::server,
                    "the change is stored but a matcher did not acknowledge it (" + message_of(err)
                      + "); it applies when the matcher recovers"));
  };
  auto& matcher = st.matchers[step.shard];
  if (step.remove)
    self
      ->request(matcher, st.config.request_timeout, uninstall_atom::value, step.value.id,
                step.value.version)
      .then(on_ack, on_error);
  else
    self->request(matcher, st.config.request_timeout, install_atom::value, step.value)
      .then(on_ack, on_error);
}

/// Persists a change (`before` -> `after`; either may be absent), applies it to the copy, installs it
/// in the matchers and finally answers `reply` through `rp`.
template <class T>
void commit(self_ptr self, caf::optional<dispatcher> before, caf::optional<dispatcher> after,
            caf::typed_response_promise<T> rp, T reply) {
  auto& st = self->state;
  if (after)
    if (auto err = check_fan_out(st, before, *after)) {
      rp.deliver(std::move(err));
      return;
    }
  auto version = ++st.version;
  std::vector<dispatcher> put;
  std::vector<std::string> erase;
  if (after) {
    after->version = version;
    put.push_back(*after);
  } else if (before) {
    erase.push_back(before->id);
  }
  if (auto err = st.db->write_dispatchers(put, erase)) {
    rp.deliver(
      make_error(error_code::server, "the change could not be stored: " + message_of(err)));
    return;
  }
  auto shards = st.db->shards();
  auto steps = std::make_shared<std::vector<matcher_step>>();
  if (before) {
    forget(st, *before);
    auto old_shard = shard_of(before->event_type, shards);
    if (!after || shard_of(after->event_type, shards) != old_shard) {
      dispatcher gone;
      gone.id = before->id;
      gone.version = version;
      steps->push_back(matcher_step{old_shard, true, std::move(gone)});
    }
  }
  if (after) {
    remember(st, *after);
    steps->push_back(matcher_step{shard_of(after->event_type, shards), false, *after});
  }
  run_steps(self, steps, 0, [rp, reply](caf::error err) mutable {
    if (err)
      rp.deliver(std::move(err));
    else
      rp.deliver(std::move(reply));
  });
}

void assign_action_ids(dispatcher& d) {
  for (auto& a : d.actions) {
    a.id = default_id_generator().next();
    if (!a.template_id.empty()) a.template_id = normalize_id(a.template_id);
  }
}

caf::typed_response_promise<dispatcher> create_dispatcher(self_ptr self, dispatcher d) {
  auto& st = self->state;
  auto rp = self->make_response_promise<dispatcher>();
  drop_cleared_fields(d);
  if (auto err = validate(d)) {
    rp.deliver(std::move(err));
    return rp;
  }
  d.id = default_id_generator().next();
  if (auto err = check_name_free(st, d.name, d.id)) {
    rp.deliver(std::move(err));
    return rp;
  }
  for (size_t i = 0; i < d.actions.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (d.actions[i].name && d.actions[j].name && *d.actions[i].name == *d.actions[j].name
          && !d.actions[i].name->empty()) {
        rp.deliver(make_error(error_code::resource_already_exists,
                              "actions[" + std::to_string(i) + "].name: '" + *d.actions[i].name
                                + "' is already the name of actions[" + std::to_string(j) + "]"));
        return rp;
      }
  assign_action_ids(d);
  d.creation_timestamp = d.update_timestamp = st.config.now();
  auto stored = d;
  stored.version = st.version + 1;
  commit(self, caf::none, caf::optional<dispatcher>{d}, rp, stored);
  return rp;
}

void apply(dispatcher& d, const dispatcher_patch& p) {
  if (p.event_type) d.event_type = *p.event_type;
  if (p.name) d.name = p.name;
  if (p.description) d.description = p.description;
  if (p.tags) d.tags = p.tags;
  if (p.filter) d.filter = p.filter;
  if (p.ordering_key) d.ordering_key = p.ordering_key;
  if (p.rate_limit) d.rate_limit = p.rate_limit;
  drop_cleared_fields(d); // an empty filter or ordering key, or a rate of 0, clears it
}

void apply(action& a, const action_patch& p) {
  if (p.name) a.name = p.name;
  if (p.description) a.description = p.description;
  if (p.function_name) a.function_name = *p.function_name;
  if (p.data) a.data = p.data;
  if (p.tags) a.tags = p.tags;
  if (p.start_timestamp) a.start_timestamp = p.start_timestamp;
  if (p.priority) a.priority = p.priority;
  if (p.recipients) a.recipients = *p.recipients;
  if (p.template_id) a.template_id = normalize_id(*p.template_id);
  if (p.templated) a.templated = p.templated;
}

caf::expected<action*> find_action(dispatcher& d, const std::string& raw_id) {
  if (auto err = check_id(raw_id, "actionId")) return err;
  auto id = normalize_id(raw_id);
  for (auto& a : d.actions)
    if (a.id == id) return &a;
  return make_error(error_code::resource_unknown,
                    "action " + id + " does not exist in dispatcher " + d.id);
}

/// Edits a copy of dispatcher `id` with `edit(copy, reply)`, stamps its updateTimestamp and commits
/// it; answers `reply` (which the edit may fill in), or why not (unknown or malformed id, or the
/// edit's own error).
template <class T, class Edit>
caf::typed_response_promise<T> change_dispatcher(self_ptr self, const std::string& id, T reply,
                                                 Edit edit) {
  auto rp = self->make_response_promise<T>();
  auto found = lookup(self->state, id);
  if (!found) {
    rp.deliver(found.error());
    return rp;
  }
  auto before = **found;
  auto after = before;
  if (auto err = edit(after, reply)) {
    rp.deliver(std::move(err));
    return rp;
  }
  after.update_timestamp = std::max(self->state.config.now(), before.update_timestamp);
  commit(self, caf::optional<dispatcher>{before}, caf::optional<dispatcher>{after}, rp,
         std::move(reply));
  return rp;
}

/// Edits one action of a dispatcher with `edit(dispatcher, action)`; answers 1.
template <class Edit>
caf::typed_response_promise<uint32_t> change_action(self_ptr self, const std::string& id,
                                                    const std::string& action_id, Edit edit) {
  return change_dispatcher(self, id, uint32_t{1}, [&](dispatcher& d, uint32_t&) -> caf::error {
    auto act = find_action(d, action_id);
    if (!act) return act.error();
    return edit(d, **act);
  });
}

} // namespace

directory_actor::behavior_type directory(self_ptr self, engine_config config, store_ptr db,
                                         matcher_list matchers, fan_out_ptr fan_out) {
  auto& st = self->state;
  st.config = std::move(config);
  st.db = std::move(db);
  st.matchers = std::move(matchers);
  st.fan_out = std::move(fan_out);
  if (st.fan_out)
    st.fan_out->clear(); // counted again from the stored dispatchers (a restart counts anew)
  auto all = st.db->load_dispatchers();
  if (!all)
    throw std::runtime_error("directory: cannot load dispatchers: " + message_of(all.error()));
  std::sort(all->begin(), all->end(), [](const dispatcher& x, const dispatcher& y) {
    return x.creation_timestamp != y.creation_timestamp
             ? x.creation_timestamp < y.creation_timestamp
             : x.id < y.id;
  });
  for (auto& d : *all) {
    st.version = std::max(st.version, d.version);
    remember(st, d);
  }
  return {
    [self](create_atom, const dispatcher& d) { return create_dispatcher(self, d); },
    [self](update_atom, const std::string& id, const dispatcher_patch& patch) {
      return change_dispatcher(self, id, uint32_t{1}, [&](dispatcher& d, uint32_t&) -> caf::error {
        if (auto err = validate(patch)) return err;
        if (auto err = check_name_free(self->state, patch.name, d.id)) return err;
        apply(d, patch);
        return {};
      });
    },
    [self](remove_atom, const std::string& id) {
      auto rp = self->make_response_promise<uint32_t>();
      auto found = lookup(self->state, id);
      if (!found) {
        rp.deliver(found.error());
        return rp;
      }
      commit(self, caf::optional<dispatcher>{**found}, caf::none, rp, uint32_t{1});
      return rp;
    },
    [self](create_atom, const std::string& id, const action& added) {
      return change_dispatcher(self, id, added, [](dispatcher& d, action& a) -> caf::error {
        if (auto err = validate(a)) return err;
        if (auto err = check_action_name_free(d, a.name, "")) return err;
        a.id = default_id_generator().next();
        if (!a.template_id.empty()) a.template_id = normalize_id(a.template_id);
        d.actions.push_back(a);
        return {};
      });
    },
    [self](update_atom, const std::string& id, const std::string& action_id,
           const action_patch& patch) {
      return change_action(self, id, action_id, [&](dispatcher& d, action& a) -> caf::error {
        if (auto err = validate(patch, a.kind)) return err;
        if (auto err = check_action_name_free(d, patch.name, a.id)) return err;
        apply(a, patch);
        // Data and templated may come in different updates: the action as it ends up must parse.
        return validate_template(a);
      });
    },
    [self](remove_atom, const std::string& id, const std::string& action_id) {
      return change_action(self, id, action_id, [](dispatcher& d, action& a) -> caf::error {
        auto target = a.id; // `a` lives in `d.actions`: copy before erasing
        d.actions.erase(std::remove_if(d.actions.begin(), d.actions.end(),
                                       [&](const action& x) { return x.id == target; }),
                        d.actions.end());
        return {};
      });
    },
    [self](find_atom, const query& q) -> caf::result<dispatcher_page> {
      if (auto err = validate(q)) return err;
      auto& st = self->state;
      dispatcher_page result;
      auto keys = st.records.run(q, result.page.total);
      result.page.offset = q.offset;
      result.page.limit = std::min(q.limit, max_page_size);
      result.data.reserve(keys.size());
      for (auto& key : keys) result.data.push_back(st.dispatchers.at(key));
      return result;
    },
    [self](get_atom, const std::string& id) -> caf::result<dispatcher> {
      auto found = lookup(self->state, id);
      if (!found) return found.error();
      return **found;
    },
    [self](put_atom, const dispatcher& d) {
      // Replication: the coordinator's directory validated it; this copy follows it as it is.
      auto rp = self->make_response_promise<uint32_t>();
      auto& st = self->state;
      caf::optional<dispatcher> before;
      if (auto i = st.dispatchers.find(d.id); i != st.dispatchers.end()) before = i->second;
      commit(self, std::move(before), caf::optional<dispatcher>{d}, rp, uint32_t{1});
      return rp;
    },
    [self](drop_atom, const std::string& id) {
      auto rp = self->make_response_promise<uint32_t>();
      auto& st = self->state;
      auto i = st.dispatchers.find(id);
      if (i == st.dispatchers.end())
        rp.deliver(uint32_t{0});
      else
        commit(self, caf::optional<dispatcher>{i->second}, caf::none, rp, uint32_t{1});
      return rp;
    },
    [self](handles_atom, const matcher_list& matchers) { self->state.matchers = matchers; },
  };
}

} // namespace dispatch
