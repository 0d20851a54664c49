// The one place message types are registered. Names are part of the wire protocol between nodes.
#include "messages/type_registry.hpp"

#include "messages/flat_query.hpp"
#include "messages/interfaces.hpp"

namespace dispatch {

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<event>("dispatch.event");
  cfg.add_message_type<publish_outcome>("dispatch.publish_outcome");
  cfg.add_message_type<action_kind>("dispatch.action_kind");
  cfg.add_message_type<recipients>("dispatch.recipients");
  cfg.add_message_type<action>("dispatch.action");
  cfg.add_message_type<dispatcher>("dispatch.dispatcher");
  cfg.add_message_type<dispatcher_patch>("dispatch.dispatcher_patch");
  cfg.add_message_type<action_patch>("dispatch.action_patch");
  cfg.add_message_type<task_request>("dispatch.task_request");
  cfg.add_message_type<mail_request>("dispatch.mail_request");
  cfg.add_message_type<delivery>("dispatch.delivery");
  cfg.add_message_type<delivery_result>("dispatch.delivery_result");
  cfg.add_message_type<query_value>("dispatch.query_value");
  // Never `filter` or `query`: a node deserializes every registered type a connection sends,
  // whatever actor it is addressed to, and CAF 0.17 recurses with a filter's nesting unbounded.
  // Queries cross the wire as `flat_query`; locally, unregistered types travel as they are.
  cfg.add_message_type<filter_term>("dispatch.filter_term");
  cfg.add_message_type<sort_key>("dispatch.sort_key");
  cfg.add_message_type<flat_query>("dispatch.flat_query");
  cfg.add_message_type<page_info>("dispatch.page_info");
  cfg.add_message_type<dispatcher_page>("dispatch.dispatcher_page");
  cfg.add_message_type<delivery_page>("dispatch.delivery_page");
  cfg.add_message_type<json_page>("dispatch.json_page");
  cfg.add_message_type<latency_snapshot>("dispatch.latency_snapshot");
  cfg.add_message_type<engine_stats>("dispatch.engine_stats");
  cfg.add_message_type<backup_status>("dispatch.backup_status");
  cfg.add_message_type<replay_state>("dispatch.replay_state");
  cfg.add_message_type<replay_status>("dispatch.replay_status");
  cfg.add_message_type<replay_page>("dispatch.replay_page");
  cfg.add_message_type<member>("dispatch.member");
  cfg.add_message_type<member_info>("dispatch.member_info");
  cfg.add_message_type<log_entry>("dispatch.log_entry");
  cfg.add_message_type<admin_request>("dispatch.admin_request");
  cfg.add_message_type<admin_reply>("dispatch.admin_reply");
  cfg.add_message_type<peer_status>("dispatch.peer_status");
  cfg.add_message_type<cluster_stats>("dispatch.cluster_stats");
  cfg.add_message_type<logged_event>("dispatch.logged_event");
  cfg.add_message_type<delivery_batch>("dispatch.delivery_batch");
  cfg.add_message_type<log_reader_actor>("dispatch.log_reader_actor");
  cfg.add_message_type<sink_actor>("dispatch.sink_actor");
  cfg.add_message_type<emitter_actor>("dispatch.emitter_actor");
  cfg.add_message_type<matcher_actor>("dispatch.matcher_actor");
  cfg.add_message_type<ingest_actor>("dispatch.ingest_actor");
  cfg.add_message_type<directory_actor>("dispatch.directory_actor");
  cfg.add_message_type<engine_actor>("dispatch.engine_actor");
}

} // namespace dispatch
