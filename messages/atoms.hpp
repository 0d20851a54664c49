// Every atom of the engine's messages, in one place. An atom is at most 10 characters.
#pragma once

#include <caf/atom.hpp>

namespace dispatch {

using publish_atom = caf::atom_constant<caf::atom("publish")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using route_atom = caf::atom_constant<caf::atom("route")>;
using matched_atom = caf::atom_constant<caf::atom("matched")>;
using create_atom = caf::atom_constant<caf::atom("create")>;
using update_atom = caf::atom_constant<caf::atom("update")>;
using remove_atom = caf::atom_constant<caf::atom("remove")>;
using find_atom = caf::atom_constant<caf::atom("find")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using install_atom = caf::atom_constant<caf::atom("install")>;
using uninstall_atom = caf::atom_constant<caf::atom("uninstall")>;
// An emitter asks its matcher for the log past its position (catching up).
using rederive_atom = caf::atom_constant<caf::atom("rederive")>;
using enqueue_atom = caf::atom_constant<caf::atom("enqueue")>;
using deliver_atom = caf::atom_constant<caf::atom("deliver")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using replay_atom = caf::atom_constant<caf::atom("replay")>;
using purge_atom = caf::atom_constant<caf::atom("purge")>;
using rematch_atom = caf::atom_constant<caf::atom("rematch")>;
using adopt_atom = caf::atom_constant<caf::atom("adopt")>;
using discard_atom = caf::atom_constant<caf::atom("discard")>;
using deliveries_atom = caf::atom_constant<caf::atom("deliveries")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using handles_atom = caf::atom_constant<caf::atom("handles")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using events_atom = caf::atom_constant<caf::atom("events")>;
using log_atom = caf::atom_constant<caf::atom("log")>;
using health_atom = caf::atom_constant<caf::atom("health")>;
using dead_atom = caf::atom_constant<caf::atom("dead")>;
using answered_atom = caf::atom_constant<caf::atom("answered")>;
// Replication: store a dispatcher as given, drop one by id.
using put_atom = caf::atom_constant<caf::atom("put")>;
using drop_atom = caf::atom_constant<caf::atom("drop")>;
// Between cluster nodes.
using hello_atom = caf::atom_constant<caf::atom("hello")>;
using forward_atom = caf::atom_constant<caf::atom("forward")>;
using admin_atom = caf::atom_constant<caf::atom("admin")>;
using replicate_atom = caf::atom_constant<caf::atom("replicate")>;
using catch_up_atom = caf::atom_constant<caf::atom("catch_up")>;
using peer_atom = caf::atom_constant<caf::atom("peer")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
// Replays from the event archive: the listing, and cancelling one.
using replays_atom = caf::atom_constant<caf::atom("replays")>;
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
// Backups of a node's storage.
using backup_atom = caf::atom_constant<caf::atom("backup")>;

} // namespace dispatch
