// Deriving deliveries: a delivery is a pure function of (logged event, the dispatchers in force at
// the event's sequence, the action). The matcher derives live; recovery and reads derive again and
// get the same deliveries with the same ids, so a happy delivery needs no record of its own.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "messages/delivery.hpp"
#include "messages/dispatcher.hpp"
#include "messages/event.hpp"
#include "messages/json_text.hpp"
#include "messages/query_eval.hpp"
#include "messages/task_template.hpp"

namespace dispatch {

/// Turns one event and one action of a dispatcher into its delivery with id `id`: pending since
/// `created`, or held until the action's startTimestamp when the task sink does not schedule tasks
/// itself and that time is later. The action's data goes verbatim (a templated action is filled only by
/// `derive_deliveries`, from its prepared dispatcher).
delivery make_delivery(std::string id, const event& ev, const dispatcher& disp, const action& act,
                       bool task_sink_schedules, timestamp_ms created);

/// A dispatcher as deriving uses it: shared by every span of a timeline it is in force in, with the
/// text each of its actions puts around the event prepared once (not per delivery), its filter
/// parsed and compiled and its templated actions' data compiled, once per dispatcher version.
struct prepared_dispatcher {
  dispatcher value;
  std::vector<std::pair<json_text::part, json_text::part>>
    frames;                           // per verbatim action: head, tail
  std::optional<record_filter> where; // the compiled filter; none: every event of the type
  std::vector<std::optional<task_template>> templates; // per action: its data when templated
  std::vector<std::string> ordering_path;              // the `orderingKey` path, split at its dots
  uint64_t ordering_seed = 0; // the hash of the dispatcher id: keys of two never mix
  /// Why a stored filter or template did not compile (validated input always does): deriving an
  /// event for this dispatcher then fails with it, and the event is set aside, visibly.
  std::string broken;
};

using prepared_dispatcher_ptr = std::shared_ptr<const prepared_dispatcher>;

/// Prepares `d` for deriving.
prepared_dispatcher_ptr prepare(dispatcher d);

/// When an event at `sequence` was accepted (sequences are accept time in ms × 1000 + a counter).
inline timestamp_ms accepted_at(uint64_t sequence) {
  return static_cast<timestamp_ms>(sequence / 1000);
}

/// The dispatchers of one shard over time: which were in force for an event type from which
/// sequence on. The matcher keeps one for matching and re-deriving; readers build one from the
/// store's `dispatcher_versions`.
class dispatcher_timeline {
public:
  using dispatcher_set = std::vector<prepared_dispatcher_ptr>; // one event type's, in id order

  /// From sequence `from` on, dispatcher `id` is `*d`, or is gone when `d` is null. Changes come
  /// in non-decreasing `from` order.
  void apply(uint64_t from, const std::string& id, const dispatcher* d);

  /// The dispatchers of `type` in force at `sequence`, in id order (empty when none).
  const dispatcher_set& at(const std::string& type, uint64_t sequence) const;

  /// The dispatcher `id` as now in force, or null.
  const dispatcher* current(const std::string& id) const;

  /// Every dispatcher now in force.
  std::vector<const dispatcher*> all_current() const;

private:
  struct span {
    uint64_t from;
    dispatcher_set set;
  };
  std::unordered_map<std::string, std::vector<span>> by_type_; // spans in `from` order
  std::unordered_map<std::string, std::string> type_of_;       // dispatcher id -> type now
};

/// The deliveries of one logged event: one per action of every dispatcher in `set`, ids by
/// position (ordinals count every action, so a kind derived alone gets the same ids). Task
/// deliveries are appended to `tasks`, mail deliveries to `mails`; a null list skips its kind.
/// Never throws: when making a delivery fails (an exception: a bug, or memory), the lists are
/// left as they were and the answer says why. Such an event is set aside by the matcher (see
/// `store::set_aside`) instead of taking the matcher down with it, again after every restart.
[[nodiscard]] std::optional<std::string>
derive_deliveries(const dispatcher_timeline::dispatcher_set& set, uint32_t shard, uint64_t sequence,
                  const event& ev, bool task_sink_schedules, delivery_list* tasks,
                  delivery_list* mails) noexcept;

/// How many deliveries of `kind` `derive_deliveries` makes of the event, without making them: for
/// counting what a listing holds past an emitter's cursor. 0 when deriving it fails (it is set
/// aside). Never throws.
size_t derived_count(const dispatcher_timeline::dispatcher_set& set, const event& ev,
                     action_kind kind) noexcept;

} // namespace dispatch
