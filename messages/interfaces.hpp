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
#include "messages/backup.hpp"
#include "messages/delivery.hpp"
#include "messages/dispatcher.hpp"
#include "messages/event.hpp"
#include "messages/query.hpp"
#include "messages/replay.hpp"
#include "messages/stats.hpp"

namespace dispatch {

/// An accepted event as the log holds it: `sequence` is its place in its shard's log.
struct logged_event {
  uint64_t sequence = 0;
  dispatch::event event;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, logged_event& x) {
  return f(caf::meta::type_name("dispatch.logged_event"), x.sequence, x.event);
}

using logged_event_list = std::vector<logged_event>;

/// Deliveries of one kind derived from a stretch of one shard's log: every event with a sequence
/// in (after, last], in sequence order. A stretch without deliveries still tells the emitter how
/// far the log goes (its cursor may pass it).
struct delivery_batch {
  uint64_t after = 0;
  uint64_t last = 0;
  bool exhausted = true; // a re-derivation that reached the end of the log (live batches: true)
  delivery_list deliveries;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivery_batch& x) {
  return f(caf::meta::type_name("dispatch.delivery_batch"), x.after, x.last, x.exhausted,
           x.deliveries);
}

using delivery_result_list = std::vector<delivery_result>;

/// Where deliveries go. A task sink and a mail sink share this interface; each `delivery` says by
/// its `kind` which request it carries.
using sink_actor = caf::typed_actor<
  // Hands over a batch of deliveries; the reply has one result per delivery, in order: delivered,
  // retry (optionally not before a delay), permanent failure or deferred. A sink must be
  // idempotent on `delivery.id`: redeliveries carry the same id.
  caf::replies_to<deliver_atom, delivery_list>::with<delivery_result_list>>;

using task_sink_actor = sink_actor;
using mail_sink_actor = sink_actor;

/// What an emitter asks of its shard's matcher: the log re-derived.
using log_reader_actor = caf::typed_actor<
  // The deliveries of `kind` derived from at most `max_events` log entries after `after`
  // (the dispatchers in force at each entry's sequence, as when it was first matched).
  caf::replies_to<rederive_atom, action_kind, uint64_t, uint32_t>::with<delivery_batch>>;

/// What users publish to.
using ingest_api = caf::typed_actor<
  // Accepts one event once it is durable; answers the stored event (for a duplicate id: the event
  // as first stored, not dispatched again). Rejections are errors in the dispatch category.
  caf::replies_to<publish_atom, event>::with<event>,
  // Accepts a batch with one durable write; answers one outcome per event, in input order.
  caf::replies_to<publish_atom, event_list>::with<publish_outcome_list>>;

/// Emits the deliveries of one kind and one shard to its sink, retrying with backoff,
/// dead-lettering when spent, and advancing the shard's progress cursor for its kind.
using emitter_actor = caf::typed_actor<
  // Deliveries the matcher derived from durable log entries: emit them when due.
  caf::reacts_to<enqueue_atom, delivery_batch>,
  // Re-queues a dead letter with a fresh budget; answers it as re-queued. Unknown id: error 16.
  caf::replies_to<replay_atom, std::string>::with<delivery>,
  // Forgets a waiting delivery; answers 1, or error 16 when unknown.
  caf::replies_to<purge_atom, std::string>::with<uint32_t>,
  // Takes over deliveries made outside the log's order (a set-aside event matched again): each
  // is recorded, then emitted like a replayed dead letter; answers how many were of its kind.
  caf::replies_to<adopt_atom, delivery_list>::with<uint32_t>,
  // The shard's matcher to catch up from: sent at start and after a restart of the matcher.
  caf::reacts_to<handles_atom, log_reader_actor>,
  // Internal timer: emit what is due. Also sent by the matcher when a dispatcher's rate changed
  // (deliveries waiting for the old one may go now).
  caf::reacts_to<tick_atom>,
  // Internal group commit: writes outcomes and the cursor gathered since the last one.
  caf::reacts_to<flush_atom>>;

/// Holds the dispatchers of its event types and turns logged events into deliveries.
using matcher_actor = log_reader_actor::extend<
  // Derives the deliveries of durable log entries and hands them to the shard's emitters, one
  // batch per kind; answers how many events it consumed. Writes nothing.
  caf::replies_to<route_atom, logged_event_list>::with<uint64_t>,
  // Installs (or replaces) a dispatcher of this shard from the next sequence on (written to the
  // store's dispatcher versions first); answers the version now in force.
  caf::replies_to<install_atom, dispatcher>::with<uint64_t>,
  // Removes a dispatcher (id, version) from the next sequence on; answers the version.
  caf::replies_to<uninstall_atom, std::string, uint64_t>::with<uint64_t>,
  // The emitters to hand deliveries to (task, mail): sent at start and after a restart.
  caf::reacts_to<handles_atom, emitter_actor, emitter_actor>,
  // Its own timer: tells the emitters how far the events without deliveries of theirs reach.
  caf::reacts_to<flush_atom>>;

using matcher_list = std::vector<matcher_actor>;

/// The emitters of a node, task ones first: index `kind * shards + shard` (see `emitter_index`).
using emitter_list = std::vector<emitter_actor>;

inline size_t emitter_index(action_kind kind, uint32_t shard, uint32_t shards) {
  return static_cast<size_t>(kind) * shards + shard;
}

/// The internal side of ingest.
using ingest_actor = ingest_api::extend<
  // Group commit: writes every buffered event in one batch.
  caf::reacts_to<flush_atom>,
  // The matchers to route to: sent at start and after a restart.
  caf::reacts_to<handles_atom, matcher_list>>;

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
  // Matches a set-aside event (by event id) again, with the dispatchers now in force; answers
  // how many deliveries it made. Not set aside: error 16; deriving fails again: error 1.
  caf::replies_to<rematch_atom, std::string>::with<uint32_t>,
  // Lets a set-aside event go without deliveries (an operator decided it needs none); answers 1.
  // Not set aside: error 16.
  caf::replies_to<discard_atom, std::string>::with<uint32_t>,
  // What the built-in log sink received of one kind (tasks or mails), in ExH shapes.
  caf::replies_to<log_atom, action_kind, query>::with<json_page>,
  caf::replies_to<log_atom, action_kind, query, uint32_t>::with<json_page>,
  // The event archive (every accepted event still in retention), newest accepted first unless
  // sorted, as `{id, type, content, creationTimestamp}` JSON (a set-aside one with `setAside`),
  // filtered, sorted and paged.
  caf::replies_to<events_atom, query>::with<json_page>,
  caf::replies_to<events_atom, query, uint32_t>::with<json_page>,
  // Counters and queue depths.
  caf::replies_to<stats_atom>::with<engine_stats>,
  // True while every component is up and storage is writable.
  caf::replies_to<health_atom>::with<bool>>;

/// The engine's readers: listings answered on their own threads, off the path publishes take, so a
/// long read never holds a publish back. The facade delegates to them round robin.
using reader_actor = caf::typed_actor<
  caf::replies_to<deliveries_atom, query>::with<delivery_page>,
  caf::replies_to<deliveries_atom, query, uint32_t>::with<delivery_page>,
  caf::replies_to<log_atom, action_kind, query>::with<json_page>,
  caf::replies_to<log_atom, action_kind, query, uint32_t>::with<json_page>,
  caf::replies_to<events_atom, query>::with<json_page>,
  caf::replies_to<events_atom, query, uint32_t>::with<json_page>,
  // The deliveries of a set-aside event matched again now (see `deliveries_api`); the flag: the
  // task sink schedules tasks itself (else those with a later startTimestamp are held).
  caf::replies_to<rematch_atom, std::string, bool>::with<delivery_list>,
  // Up to `max` dead letters the query matches, in id order after the id `after` (empty: from
  // the first): one batch of a replay by query.
  caf::replies_to<dead_atom, query, std::string, uint32_t>::with<delivery_list>>;

/// The health probe: storage written and synced at most once a second, whoever asks how often.
using prober_actor = caf::typed_actor<caf::replies_to<health_atom>::with<bool>>;

/// Backups of the node's storage, made while it runs, one at a time, on a thread of their own.
using backup_api = caf::typed_actor<
  // Starts a consistent copy of every database of the node into `to` (absolute, outside the data
  // directory, absent or empty); answers the status as it started. Refused, naming `to`, for such
  // a target (error 15), and while another backup runs (error `conflict`).
  caf::replies_to<backup_atom, std::string>::with<backup_status>,
  // The backup running now, or the last one (state `none` before the first).
  caf::replies_to<backup_atom>::with<backup_status>>;

/// One backup, run on a thread of its own by an actor the engine spawns for it, which then stops.
using backup_runner_actor = caf::typed_actor<
  // Checks the target (refusals as `backup_api` says), answers the status as the copy starts,
  // then copies; how that ends shows in the engine's status.
  caf::replies_to<backup_atom, std::string>::with<backup_status>>;

/// How a database kept beside the engine's (a cluster node's own store) joins the engine's
/// backups: registered once, copied by every later backup, before the engine's own.
using backup_host_actor = caf::typed_actor<caf::reacts_to<backup_atom, backup_companion>>;

/// Replays from the event archive (API.md "Beyond ExH").
using replays_api = caf::typed_actor<
  // Starts a replay of the archived events accepted in [from, to) that match the filter, to the
  // dispatchers of now (or those named); answers it as started (status running). Refused, naming
  // the field, for a range that is empty or an unknown dispatcher id (error 15 / 16).
  caf::replies_to<replay_atom, replay_request>::with<replay_status>,
  // Lists replays with their progress, newest first unless sorted.
  caf::replies_to<replays_atom, query>::with<replay_page>,
  // Cancels a running replay (a finished one is answered as it is); error 16 when unknown.
  caf::replies_to<cancel_atom, std::string>::with<replay_status>>;

/// The replayer: runs the replays from the archive, paced, on a thread of its own.
using replayer_actor = replays_api::extend<
  // The emitters to hand replayed deliveries to: sent at start and after a restart of one.
  caf::reacts_to<handles_atom, emitter_list>,
  // Its own timer: the next step of the running replays.
  caf::reacts_to<tick_atom>>;

/// The handle users hold: publish, administer dispatchers, inspect deliveries, back up, replay.
using engine_actor
  = ingest_api::extend_with<directory_api, deliveries_api, backup_api, replays_api>;

/// The engine of a cluster member: the users' interface plus the replication a node applies to it
/// and the node's own store joining its backups (`spawn_cluster_engine`). Only the cluster holds
/// it, since replication skips validation.
using cluster_engine_actor = engine_actor::extend_with<replica_api, backup_host_actor>;

/// The engine's internal side: the supervisor keeps it pointed at the current children.
using engine_internal_actor = cluster_engine_actor::extend<
  caf::reacts_to<handles_atom, ingest_actor, directory_actor, emitter_list>,
  // The supervisor: the facade keeps it alive (CAF stops actors nobody references).
  caf::reacts_to<handles_atom, caf::actor>>;

} // namespace dispatch
