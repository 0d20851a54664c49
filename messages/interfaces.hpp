// The typed interfaces of every actor, in one place. Each handler's comment says what it promises.
// Interfaces are composed with `extend_with`; `*_api` is what users see, `*_actor` adds internals.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/replies_to.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "messages/atoms.hpp"
#include "messages/delivery.hpp"
#include "messages/dispatcher.hpp"
#include "messages/event.hpp"
#include "messages/query.hpp"
#include "messages/stats.hpp"

namespace dispatch {

/// An accepted event on its way from the inbox to its matcher; `sequence` is its inbox key.
/// `new_id`: ingest generated the event's id just now, so no delivery of it can exist yet (an
/// event read back from the inbox never claims this: it may have been matched before).
struct inbox_event {
  uint64_t sequence = 0;
  dispatch::event event;
  bool new_id = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, inbox_event& x) {
  return f(caf::meta::type_name("dispatch.inbox_event"), x.sequence, x.event, x.new_id);
}

using inbox_event_list = std::vector<inbox_event>;

/// Where deliveries go. A task sink and a mail sink share this interface; what a sink receives is
/// a `delivery` whose `kind` says which request it carries.
using sink_actor = caf::typed_actor<
  // Hands over one delivery; the reply says delivered, retry (optionally not before a delay) or
  // permanent failure. A sink must be idempotent on `delivery.id`: redeliveries carry the same id.
  caf::replies_to<deliver_atom, delivery>::with<delivery_result>>;

using task_sink_actor = sink_actor;
using mail_sink_actor = sink_actor;

/// What users publish to.
using ingest_api = caf::typed_actor<
  // Accepts one event once it is durable; answers the stored event (for a duplicate id: the event
  // as first stored, not dispatched again). Rejections are errors in the dispatch category.
  caf::replies_to<publish_atom, event>::with<event>,
  // Accepts a batch with one durable write; answers one outcome per event, in input order.
  caf::replies_to<publish_atom, event_list>::with<publish_outcome_list>>;

/// Emits deliveries of one kind to its sink, retrying with backoff, dead-lettering when spent.
using emitter_actor = caf::typed_actor<
  // New deliveries, already durable: emit them when due.
  caf::reacts_to<enqueue_atom, delivery_list>,
  // Re-queues a dead letter with a fresh budget; answers it as re-queued. Unknown id: error 16.
  caf::replies_to<replay_atom, std::string>::with<delivery>,
  // Forgets a delivery in any state; answers 1, or error 16 when unknown.
  caf::replies_to<purge_atom, std::string>::with<uint32_t>,
  // Internal timer: emit what is due.
  caf::reacts_to<tick_atom>,
  // Internal group commit: writes every outcome gathered since the last one in one batch.
  caf::reacts_to<flush_atom>>;

/// Holds the dispatchers of its event types and turns events into deliveries.
using matcher_actor = caf::typed_actor<
  // Matches a batch of accepted events, writes their deliveries and retires their inbox entries in
  // one atomic batch, hands the deliveries to the emitters; answers how many events it consumed.
  // Routes already queued are committed together (group commit), the answers after the write.
  caf::replies_to<route_atom, inbox_event_list>::with<uint64_t>,
  // Installs (or replaces) a dispatcher of this shard; answers the version now in force.
  caf::replies_to<install_atom, dispatcher>::with<uint64_t>,
  // Removes a dispatcher (id, version); answers the version.
  caf::replies_to<uninstall_atom, std::string, uint64_t>::with<uint64_t>,
  // The emitters to hand deliveries to (task, mail): sent at start and after a restart.
  caf::reacts_to<handles_atom, emitter_actor, emitter_actor>,
  // Internal group commit: matches and commits every routed event gathered since the last one.
  caf::reacts_to<flush_atom>>;

using matcher_list = std::vector<matcher_actor>;

/// The internal side of ingest.
using ingest_actor = ingest_api::extend<
  // Group commit: writes every buffered event in one batch.
  caf::reacts_to<flush_atom>,
  // The matchers to route to: sent at start and after a restart.
  caf::reacts_to<handles_atom, matcher_list>,
  // Routes events to the current matcher of a shard; an empty list asks it to rescan its inbox
  // shard (sent after the matcher routed to went down before consuming its events).
  caf::reacts_to<route_atom, uint32_t, inbox_event_list>>;

/// Dispatcher administration and reads.
using directory_api = caf::typed_actor<
  // Creates a dispatcher (ids assigned); answers it as stored.
  caf::replies_to<create_atom, dispatcher>::with<dispatcher>,
  // Partially updates a dispatcher; answers the number of affected records (1).
  caf::replies_to<update_atom, std::string, dispatcher_patch>::with<uint32_t>,
  // Removes a dispatcher; answers 1.
  caf::replies_to<remove_atom, std::string>::with<uint32_t>,
  // Adds an action to a dispatcher (dispatcher id, action); answers the action with its id.
  caf::replies_to<create_atom, std::string, action>::with<action>,
  // Partially updates an action (dispatcher id, action id, patch); answers 1.
  caf::replies_to<update_atom, std::string, std::string, action_patch>::with<uint32_t>,
  // Removes an action (dispatcher id, action id); answers 1.
  caf::replies_to<remove_atom, std::string, std::string>::with<uint32_t>,
  // Finds dispatchers: filter, sort and page (select is applied when rendering).
  caf::replies_to<find_atom, query>::with<dispatcher_page>,
  // Gets one dispatcher by id; error 16 when unknown.
  caf::replies_to<get_atom, std::string>::with<dispatcher>>;

/// Replication of dispatchers between cluster nodes: a follower stores what the coordinator's
/// directory decided, as it is. Not for users: it skips validation and name checks.
using replica_api = caf::typed_actor<
  // Stores (or replaces) a dispatcher exactly as given, ids and version included; answers 1.
  caf::replies_to<put_atom, dispatcher>::with<uint32_t>,
  // Removes a dispatcher if present; answers 1, or 0 when it was not there.
  caf::replies_to<drop_atom, std::string>::with<uint32_t>>;

using directory_actor = directory_api::extend_with<replica_api>::extend<
  // The matchers to install into: sent at start and after a restart.
  caf::reacts_to<handles_atom, matcher_list>>;

/// Reads and operations on deliveries.
using deliveries_api = caf::typed_actor<
  // Lists deliveries in every state (pending, held, retrying, delivered, dead).
  caf::replies_to<deliveries_atom, query>::with<delivery_page>,
  // The first `depth` deliveries in the query's order (its offset and limit ignored; at most
  // max_window_depth): one engine's share of a page merged from several, as a cluster does.
  // `page.total` counts every match. Likewise for the log and held events below.
  caf::replies_to<deliveries_atom, query, uint32_t>::with<delivery_page>,
  // Replays one dead letter with a fresh budget.
  caf::replies_to<replay_atom, std::string>::with<delivery>,
  // Replays every dead letter the query matches; answers how many.
  caf::replies_to<replay_atom, query>::with<uint64_t>,
  // Purges one delivery in any state.
  caf::replies_to<purge_atom, std::string>::with<uint32_t>,
  // What the built-in log sink received of one kind (tasks or mails), in ExH shapes.
  caf::replies_to<log_atom, action_kind, query>::with<json_page>,
  caf::replies_to<log_atom, action_kind, query, uint32_t>::with<json_page>,
  // Events the engine still holds (not yet matched, or referenced by a waiting delivery), as
  // `{id, type, content, creationTimestamp}` JSON, filtered, sorted and paged.
  caf::replies_to<events_atom, query>::with<json_page>,
  caf::replies_to<events_atom, query, uint32_t>::with<json_page>,
  // Counters and queue depths.
  caf::replies_to<stats_atom>::with<engine_stats>,
  // True while every component is up and storage is writable.
  caf::replies_to<health_atom>::with<bool>>;

/// The handle users hold: publish, administer dispatchers, inspect deliveries.
using engine_actor = ingest_api::extend_with<directory_api, deliveries_api, replica_api>;

/// The engine's internal side: the supervisor keeps it pointed at the current children.
using engine_internal_actor = engine_actor::extend<
  caf::reacts_to<handles_atom, ingest_actor, directory_actor, emitter_actor, emitter_actor>,
  // The supervisor: the facade keeps it alive (CAF stops actors nobody references).
  caf::reacts_to<handles_atom, caf::actor>>;

} // namespace dispatch
