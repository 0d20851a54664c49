// Deriving deliveries from the log, and the dispatchers of a shard over time.
#include "messages/derive.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include "messages/event_record.hpp"
#include "messages/ids.hpp"
#include "messages/json.hpp"
#include "messages/json_dom.hpp"
#include "messages/query_eval.hpp"
#include "messages/rql.hpp"

namespace dispatch {

namespace {

const dispatcher_timeline::dispatcher_set no_dispatchers;

json_text::part shared(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

// A mail's content is `{"event": ...}` whatever the action: one frame for every mail delivery.
const std::pair<json_text::part, json_text::part>& mail_frame() {
  static const std::pair<json_text::part, json_text::part> frame{shared("{\"event\":"),
                                                                 shared("}")};
  return frame;
}

std::pair<json_text::part, json_text::part> frame_of(const action& act) {
  if (act.kind != action_kind::task) return mail_frame();
  auto [head, tail] = task_data_frame(act.data);
  return {shared(std::move(head)), shared(std::move(tail))};
}

// The delivery of `act` for an event whose JSON text is `event_text`, with `frame` around it.
delivery derive_one(std::string id, const event& ev, const dispatcher& disp, const action& act,
                    const std::pair<json_text::part, json_text::part>& frame,
                    const json_text::part& event_text, bool task_sink_schedules,
                    timestamp_ms created) {
  delivery d;
  d.id = std::move(id);
  d.kind = act.kind;
  d.event_id = ev.id;
  d.event_type = ev.type;
  d.dispatcher_id = disp.id;
  d.action_id = act.id;
  d.created = created;
  d.next_attempt = created;
  d.status = delivery_status::pending;
  if (act.kind == action_kind::task) {
    d.task.function_name = act.function_name;
    d.task.data = json_text{frame.first, event_text, frame.second};
    d.task.tags = act.tags;
    d.task.start_timestamp = act.start_timestamp;
    d.task.priority = act.priority;
    if (!task_sink_schedules && act.start_timestamp && *act.start_timestamp > created) {
      d.status = delivery_status::held;
      d.next_attempt = *act.start_timestamp;
    }
  } else {
    d.mail.template_id = act.template_id;
    d.mail.recipients = act.recipients;
    d.mail.content = json_text{frame.first, event_text, frame.second};
  }
  return d;
}

// The template of a templated task action with data, or none.
caf::expected<std::optional<task_template>> template_of(const action& act,
                                                        const std::string& path) {
  if (act.kind != action_kind::task || !act.templated || !*act.templated || !act.data)
    return std::optional<task_template>{};
  auto compiled = task_template::compile(*act.data, path);
  if (!compiled) return compiled.error();
  return std::optional<task_template>{std::move(*compiled)};
}

// The frame of a templated action for one event: its data filled from the event.
std::pair<json_text::part, json_text::part> filled_frame(const task_template& t,
                                                         event_record& record) {
  auto [head, tail] = t.render_frame(record);
  return {shared(std::move(head)), shared(std::move(tail))};
}

} // namespace

delivery make_delivery(std::string id, const event& ev, const dispatcher& disp, const action& act,
                       bool task_sink_schedules, timestamp_ms created) {
  return derive_one(std::move(id), ev, disp, act, frame_of(act), shared(event_json(ev)),
                    task_sink_schedules, created);
}

prepared_dispatcher_ptr prepare(dispatcher d) {
  auto result = std::make_shared<prepared_dispatcher>();
  if (d.ordering_key) {
    result->ordering_path = split_path(*d.ordering_key);
    result->ordering_seed = fnv1a_64(d.id);
  }
  if (d.filter) {
    if (auto parsed = parse_rql_filter(*d.filter))
      result->where.emplace(*parsed);
    else
      result->broken = "dispatcher " + d.id + ": filter: " + message_of(parsed.error());
  }
  result->frames.resize(d.actions.size());
  result->templates.resize(d.actions.size());
  for (size_t i = 0; i < d.actions.size(); ++i) {
    auto compiled = template_of(d.actions[i], "actions[" + std::to_string(i) + "].data");
    if (!compiled) {
      if (result->broken.empty())
        result->broken = "dispatcher " + d.id + ": " + message_of(compiled.error());
    } else if (*compiled) {
      result->templates[i] = std::move(*compiled); // its frame is filled per event
      continue;
    }
    result->frames[i] = frame_of(d.actions[i]);
  }
  result->value = std::move(d);
  return result;
}

void dispatcher_timeline::apply(uint64_t from, const std::string& id, const dispatcher* d) {
  // The set of `type` from `from` on, starting as the latest one (edited in place when it starts
  // at `from` already).
  auto set_from = [this, from](const std::string& type) -> dispatcher_set& {
    auto& spans = by_type_[type];
    if (spans.empty() || spans.back().from < from) {
      auto copy = spans.empty() ? dispatcher_set{} : spans.back().set;
      spans.push_back(span{from, std::move(copy)});
    }
    return spans.back().set;
  };
  auto by_id = [](const prepared_dispatcher_ptr& x, const std::string& key) {
    return x->value.id < key;
  };
  if (auto old = type_of_.find(id); old != type_of_.end()) {
    auto& set = set_from(old->second);
    auto i = std::lower_bound(set.begin(), set.end(), id, by_id);
    if (i != set.end() && (*i)->value.id == id) set.erase(i);
    type_of_.erase(old);
  }
  if (d == nullptr) return;
  auto& set = set_from(d->event_type);
  auto i = std::lower_bound(set.begin(), set.end(), id, by_id);
  set.insert(i, prepare(*d));
  type_of_.emplace(id, d->event_type);
}

const dispatcher_timeline::dispatcher_set& dispatcher_timeline::at(const std::string& type,
                                                                   uint64_t sequence) const {
  auto i = by_type_.find(type);
  if (i == by_type_.end()) return no_dispatchers;
  auto& spans = i->second;
  // The last span starting at or before `sequence`; live matching asks for the newest one.
  if (spans.back().from <= sequence) return spans.back().set;
  auto after = std::upper_bound(spans.begin(), spans.end(), sequence,
                                [](uint64_t seq, const span& s) { return seq < s.from; });
  if (after == spans.begin()) return no_dispatchers;
  return std::prev(after)->set;
}

const dispatcher* dispatcher_timeline::current(const std::string& id) const {
  auto type = type_of_.find(id);
  if (type == type_of_.end()) return nullptr;
  auto& set = by_type_.at(type->second).back().set;
  auto i = std::lower_bound(
    set.begin(), set.end(), id,
    [](const prepared_dispatcher_ptr& x, const std::string& key) { return x->value.id < key; });
  return i != set.end() && (*i)->value.id == id ? &(*i)->value : nullptr;
}

std::vector<const dispatcher*> dispatcher_timeline::all_current() const {
  std::vector<const dispatcher*> result;
  for (auto& [type, spans] : by_type_)
    for (auto& d : spans.back().set) result.push_back(&d->value);
  return result;
}

namespace {

// Fault injection for the tests of set-aside events (`DISPATCH_FAULT_FAIL_DERIVE=<path>`): while
// `<path>` exists, deriving an event whose type is the file's first line throws, as a bug in
// making a delivery would. Unset (the default): one branch on a cached null pointer.
void maybe_fail_on_purpose(const event& ev) {
  static const std::string path = [] {
    auto* set = std::getenv("DISPATCH_FAULT_FAIL_DERIVE");
    return set != nullptr ? std::string{set} : std::string{};
  }();
  if (path.empty()) return;
  std::ifstream file{path};
  std::string type;
  if (file && std::getline(file, type) && type == ev.type)
    throw std::runtime_error("fault injected: deriving events of type '" + type + "' fails");
}

// The ordering key of `p`'s deliveries for the event `record`: a hash, seeded with the
// dispatcher id, of the JSON text of the value at its `orderingKey` path; an event without the
// path has the null key (the text `null`), shared by all such events of the dispatcher.
uint64_t ordering_key_of(const prepared_dispatcher& p, event_record& record) {
  auto* value = record.find(p.ordering_path);
  return fnv1a_64(value ? compact_json(*value) : std::string{"null"}, p.ordering_seed);
}

void derive_all(const dispatcher_timeline::dispatcher_set& set, uint32_t shard, uint64_t sequence,
                const event& ev, bool task_sink_schedules, delivery_list* tasks,
                delivery_list* mails) {
  maybe_fail_on_purpose(ev);
  delivery_position pos{sequence, shard, 0};
  auto created = accepted_at(sequence);
  json_text::part event_text;         // written at the first delivery, shared by all of them
  std::optional<event_record> record; // built for the first filter, template or key, then shared
  auto record_of_event = [&]() -> event_record& {
    if (!record) record.emplace(ev);
    return *record;
  };
  for (auto& prepared : set) {
    auto& disp = prepared->value;
    if (!prepared->broken.empty()) throw std::runtime_error(prepared->broken);
    if (prepared->where && !prepared->where->matches(record_of_event().value())) {
      // Filtered out: no deliveries. Its actions still count, so that the ids of the other
      // dispatchers' deliveries do not depend on what a filter said.
      pos.ordinal += static_cast<uint32_t>(disp.actions.size());
      continue;
    }
    uint64_t key = 0; // plain values: GCC cannot see through caf::optional's copy here
    if (disp.ordering_key) key = ordering_key_of(*prepared, record_of_event());
    for (size_t i = 0; i < disp.actions.size(); ++i, ++pos.ordinal) {
      if (pos.ordinal > max_delivery_ordinal)
        return; // bounded where dispatchers are stored; never wraps onto another id
      auto& act = disp.actions[i];
      auto* out = act.kind == action_kind::task ? tasks : mails;
      if (out == nullptr) continue;
      if (!event_text) event_text = shared(event_json(ev));
      auto& templ = prepared->templates[i];
      out->push_back(
        derive_one(delivery_id_at(pos), ev, disp, act,
                   templ ? filled_frame(*templ, record_of_event()) : prepared->frames[i],
                   event_text, task_sink_schedules, created));
      if (disp.ordering_key) out->back().ordering_key = key;
    }
  }
}

// Why deriving failed, as text; empty when even that cannot be allocated.
std::string failure_text(const char* what) noexcept {
  try {
    return std::string{what};
  } catch (...) {
    return std::string{};
  }
}

} // namespace

std::optional<std::string> derive_deliveries(const dispatcher_timeline::dispatcher_set& set,
                                             uint32_t shard, uint64_t sequence, const event& ev,
                                             bool task_sink_schedules, delivery_list* tasks,
                                             delivery_list* mails) noexcept {
  auto tasks_before = tasks != nullptr ? tasks->size() : 0;
  auto mails_before = mails != nullptr ? mails->size() : 0;
  auto take_back = [&] {
    // Shrinking never allocates: the lists are as they were before this event.
    if (tasks != nullptr && tasks->size() > tasks_before)
      tasks->erase(tasks->begin() + static_cast<ptrdiff_t>(tasks_before), tasks->end());
    if (mails != nullptr && mails->size() > mails_before)
      mails->erase(mails->begin() + static_cast<ptrdiff_t>(mails_before), mails->end());
  };
  try {
    derive_all(set, shard, sequence, ev, task_sink_schedules, tasks, mails);
    return std::nullopt;
  } catch (const std::exception& e) {
    take_back();
    return failure_text(e.what());
  } catch (...) {
    take_back();
    return failure_text("an exception that is not a std::exception");
  }
}

size_t derived_count(const dispatcher_timeline::dispatcher_set& set, const event& ev,
                     action_kind kind) noexcept {
  if (set.empty()) return 0;
  try {
    maybe_fail_on_purpose(ev);
    std::optional<event_record> record; // built for the first filter, then shared
    size_t ordinal = 0;
    size_t count = 0;
    for (auto& prepared : set) {
      auto& disp = prepared->value;
      if (!prepared->broken.empty()) return 0; // deriving fails: set aside
      auto first = ordinal;
      ordinal += disp.actions.size();
      if (prepared->where) {
        if (!record) record.emplace(ev);
        if (!prepared->where->matches(record->value())) continue;
      }
      for (size_t i = 0; i < disp.actions.size() && first + i <= max_delivery_ordinal; ++i)
        if (disp.actions[i].kind == kind) ++count;
    }
    return count;
  } catch (...) {
    return 0;
  }
}

} // namespace dispatch
