// Round trips of every registered value type through CAF's binary serializer, with every field set
// to a non-default value and optional fields both set and unset: what crosses the wire between nodes.
#include <boost/test/unit_test.hpp>

#include <typeindex>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "messages/flat_query.hpp"
#include "messages/interfaces.hpp"
#include "messages/type_registry.hpp"
#include "printing.hpp"

using namespace dispatch;

namespace {

template <class T>
std::vector<char> bytes_of(T x) {
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  auto err = sink(x);
  BOOST_REQUIRE(!err);
  return buf;
}

// Serializes, deserializes, and checks that the copy serializes to the same bytes (a field lost or
// swapped on the way would show) and that `x` is not a default value (which would prove nothing).
template <class T>
T round_trip(const T& x) {
  auto buf = bytes_of(x);
  BOOST_TEST(buf != bytes_of(T{}));
  T y;
  caf::binary_deserializer source{nullptr, buf};
  auto err = source(y);
  BOOST_REQUIRE(!err);
  BOOST_TEST(source.remaining() == 0u);
  BOOST_TEST(bytes_of(y) == buf);
  return y;
}

event sample_event() {
  return {"65f0a1b2c3d4e5f601234567", "ünïcødé 🎉", R"({"a":[1,2,{"b":null}]})", 1893553445678};
}

recipients sample_recipients(bool with_copies) {
  recipients x{{"a@example.com", "b@example.org"}, caf::none, caf::none};
  if (with_copies) {
    x.cc = string_list{"c@example.com"};
    x.bcc = string_list{};
  }
  return x;
}

action task_action(bool full) {
  action x;
  x.id = "65f0a1b2c3d4e5f601234568";
  x.kind = action_kind::task;
  x.function_name = "resize-image";
  if (full) {
    x.name = "resize";
    x.description = "";
    x.data = R"({"size":3})";
    x.tags = string_list{"t1", "t2"};
    x.start_timestamp = 1893553445000;
    x.priority = -7;
    x.templated = true;
  }
  return x;
}

action mail_action(bool full) {
  action x;
  x.id = "65f0a1b2c3d4e5f601234569";
  x.kind = action_kind::mail;
  x.recipients = sample_recipients(full);
  x.template_id = "65f0a1b2c3d4e5f60123456a";
  if (full) x.name = "welcome mail";
  return x;
}

dispatcher sample_dispatcher(bool full) {
  dispatcher x;
  x.id = "65f0a1b2c3d4e5f60123456b";
  x.event_type = "user.created";
  x.actions = {task_action(full), mail_action(full)};
  x.creation_timestamp = 1700000000001;
  x.update_timestamp = 1700000000002;
  x.version = 42;
  if (full) {
    x.name = "on signup";
    x.description = "welcome new users";
    x.tags = string_list{"onboarding"};
    x.filter = "gt(content.amount,100)";
    x.ordering_key = "content.userId";
    x.rate_limit = rate_limit{12.5};
  }
  return x;
}

delivery sample_delivery(action_kind kind) {
  delivery x;
  x.id = "3d907a529e9bb6faf78c8354";
  x.kind = kind;
  x.event_id = "65f000000000000000000001";
  x.event_type = "user.created";
  x.dispatcher_id = "65f000000000000000000002";
  x.action_id = "65f000000000000000000003";
  x.status = delivery_status::retrying;
  x.attempts = 3;
  x.created = 1700000000000;
  x.next_attempt = 1700000005000;
  x.finished = 1700000009000;
  x.last_error = "HTTP 503";
  x.replay_id = "65f000000000000000000009";
  x.task = {"resize-image", R"({"event":{}})", string_list{"x"}, 1700000001000, 5};
  x.mail = {"65f0a1b2c3d4e5f60123456a", sample_recipients(true), R"({"event":{}})"};
  return x;
}

filter sample_filter() {
  filter leaf{filter_op::in, "actions.type", {string_value("task"), number_value(2.5)}, {}};
  filter other{filter_op::eq, "enabled", {bool_value(true), null_value()}, {}};
  return {filter_op::or_, "", {}, {leaf, other}};
}

replay_status sample_replay_status() {
  replay_status x;
  x.id = "65f0a1b2c3d4e5f601234567";
  x.from = 1000;
  x.to = 2000;
  x.filter = "eq(type,t)";
  x.dispatcher_ids = {"65f0a1b2c3d4e5f601234568"};
  x.state = replay_state::cancelled;
  x.matched = 7;
  x.dispatched = 9;
  x.position = 1500000;
  x.created = 3000;
  x.finished = 4000;
  return x;
}

backup_status sample_backup_status() {
  backup_status x;
  x.state = backup_state::failed;
  x.to = "/backups/ünïcødé";
  x.phase = "cluster";
  x.started = 1893553445678;
  x.finished = 1893553446678;
  x.bytes_total = 1 << 30;
  x.bytes_copied = 12345;
  x.files = 27;
  x.bytes = 987654321;
  x.last_sequence = 1893553445678000;
  x.parts = {"cluster", "engine"};
  x.error = "backup: stopped while copying the engine database";
  return x;
}

} // namespace

BOOST_AUTO_TEST_SUITE(serialization)

BOOST_AUTO_TEST_CASE(registered_types_cross_the_wire_inside_messages) {
  // A message is serialized with the registered type names and rebuilt from them: an unregistered
  // type fails here exactly as it would between two nodes. The names are the wire protocol, so they
  // are pinned. CAF 0.17's add_message_type<T>("x") also registers std::vector<T> as
  // "std::vector<x>", first, so a later add_message_type<std::vector<T>>("x_list") only adds an
  // alias for reading: lists travel as "std::vector<x>".
  caf::actor_system_config cfg;
  add_message_types(cfg);
  caf::actor_system sys{cfg};
  auto check = [&](auto x, const char* name) {
    using type = decltype(x);
    auto registered = cfg.type_names_by_rtti.find(std::type_index(typeid(type)));
    BOOST_REQUIRE(registered != cfg.type_names_by_rtti.end());
    BOOST_TEST(registered->second == name);
    auto msg = caf::make_message(x);
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    BOOST_REQUIRE(!sink(msg));
    caf::message back;
    caf::binary_deserializer source{sys, buf};
    BOOST_REQUIRE(!source(back));
    BOOST_REQUIRE(back.match_elements<type>());
    BOOST_TEST(bytes_of(back.get_as<type>(0)) == bytes_of(x));
  };
  check(sample_event(), "dispatch.event");
  check(event_list{sample_event()}, "std::vector<dispatch.event>");
  check(publish_outcome{sample_event(), true, error_code::none, "m"}, "dispatch.publish_outcome");
  check(publish_outcome_list{{}}, "std::vector<dispatch.publish_outcome>");
  check(action_kind::mail, "dispatch.action_kind");
  check(sample_recipients(true), "dispatch.recipients");
  check(task_action(true), "dispatch.action");
  check(sample_dispatcher(true), "dispatch.dispatcher");
  check(dispatcher_list{sample_dispatcher(false)}, "std::vector<dispatch.dispatcher>");
  dispatcher_patch patch;
  patch.event_type = "t";
  check(patch, "dispatch.dispatcher_patch");
  check(action_patch{}, "dispatch.action_patch");
  check(sample_delivery(action_kind::task).task, "dispatch.task_request");
  check(sample_delivery(action_kind::mail).mail, "dispatch.mail_request");
  check(sample_delivery(action_kind::task), "dispatch.delivery");
  check(delivery_list{sample_delivery(action_kind::mail)}, "std::vector<dispatch.delivery>");
  check(permanent_failure("HTTP 404"), "dispatch.delivery_result");
  check(string_value("x"), "dispatch.query_value");
  check(filter_term{filter_op::in, "type", {string_value("x")}, 0}, "dispatch.filter_term");
  check(sort_key{"name", true}, "dispatch.sort_key");
  check(flatten(query{}), "dispatch.flat_query");
  check(page_info{1, 2, 3}, "dispatch.page_info");
  check(dispatcher_page{}, "dispatch.dispatcher_page");
  check(delivery_page{}, "dispatch.delivery_page");
  check(json_page{{3, 0, 20}, {"{}"}}, "dispatch.json_page");
  check(engine_stats{}, "dispatch.engine_stats");
  check(sample_backup_status(), "dispatch.backup_status");
  check(sample_replay_status(), "dispatch.replay_status");
  check(replay_page{{1, 0, 20}, {sample_replay_status()}}, "dispatch.replay_page");
  check(logged_event{1, sample_event()}, "dispatch.logged_event");
  check(logged_event_list{{2, sample_event()}}, "std::vector<dispatch.logged_event>");
  check(delivery_batch{}, "dispatch.delivery_batch");
}

BOOST_AUTO_TEST_CASE(events_and_publish_outcomes) {
  BOOST_TEST(round_trip(sample_event()) == sample_event());
  event_list events{sample_event(), {"65f0a1b2c3d4e5f601234599", "t", "{}", 1}};
  BOOST_TEST(round_trip(events) == events);
  publish_outcome rejected{sample_event(), true, error_code::field_format, "type: required"};
  auto y = round_trip(rejected);
  BOOST_TEST(y.stored == rejected.stored);
  BOOST_TEST(y.duplicate);
  BOOST_TEST(static_cast<int>(y.code) == 15);
  BOOST_TEST(y.message == "type: required");
  publish_outcome_list outcomes{rejected, {sample_event(), false, error_code::none, ""}};
  BOOST_TEST(round_trip(outcomes).size() == 2u);
}

BOOST_AUTO_TEST_CASE(recipients_with_and_without_copies) {
  for (bool full : {true, false})
    BOOST_TEST(round_trip(sample_recipients(full)) == sample_recipients(full));
  auto y = round_trip(sample_recipients(true));
  BOOST_REQUIRE(y.bcc);
  BOOST_TEST(y.bcc->empty()); // present but empty stays present
}

BOOST_AUTO_TEST_CASE(actions_and_dispatchers_with_optional_fields_set_and_unset) {
  for (bool full : {true, false}) {
    BOOST_TEST(round_trip(task_action(full)) == task_action(full));
    BOOST_TEST(round_trip(mail_action(full)) == mail_action(full));
    BOOST_TEST(round_trip(sample_dispatcher(full)) == sample_dispatcher(full));
  }
  auto y = round_trip(task_action(true));
  BOOST_TEST(static_cast<bool>(y.description)); // an empty description is not an absent one
  BOOST_TEST(!round_trip(task_action(false)).description);
  dispatcher_list list{sample_dispatcher(true), sample_dispatcher(false)};
  BOOST_TEST(round_trip(list) == list);
}

BOOST_AUTO_TEST_CASE(patches_with_every_field_set_and_none_set) {
  dispatcher_patch d{
    std::string{"order.paid"}, std::string{"n"},         std::string{""}, string_list{"a"},
    std::string{""},           std::string{"content.k"}, rate_limit{0}};
  auto dy = round_trip(d);
  BOOST_TEST((dy.filter == d.filter));
  BOOST_TEST((dy.ordering_key == d.ordering_key));
  BOOST_TEST((dy.rate_limit == d.rate_limit));
  BOOST_TEST((dy.event_type == d.event_type));
  BOOST_TEST((dy.name == d.name));
  BOOST_TEST((dy.description == d.description));
  BOOST_TEST((dy.tags == d.tags));
  action_patch a;
  a.name = "n";
  a.description = "d";
  a.function_name = "f";
  a.data = R"({"k":1})";
  a.tags = string_list{};
  a.start_timestamp = 1700000000000;
  a.priority = 9;
  a.recipients = sample_recipients(true);
  a.template_id = "65f0a1b2c3d4e5f60123456a";
  a.templated = false;
  auto ay = round_trip(a);
  BOOST_TEST((ay.templated == a.templated));
  BOOST_TEST((ay.name == a.name));
  BOOST_TEST((ay.description == a.description));
  BOOST_TEST((ay.function_name == a.function_name));
  BOOST_TEST((ay.data == a.data));
  BOOST_TEST((ay.tags == a.tags));
  BOOST_TEST((ay.start_timestamp == a.start_timestamp));
  BOOST_TEST((ay.priority == a.priority));
  BOOST_TEST((ay.recipients == a.recipients));
  BOOST_TEST((ay.template_id == a.template_id));
  // Unset fields stay unset; serialized bytes of an empty patch equal the default's.
  action_patch empty;
  std::vector<char> buf = bytes_of(empty);
  action_patch back;
  back.name = "stale";
  caf::binary_deserializer source{nullptr, buf};
  BOOST_REQUIRE(!source(back));
  BOOST_TEST(!back.name);
  BOOST_TEST(!back.recipients);
}

BOOST_AUTO_TEST_CASE(requests_deliveries_and_results) {
  task_request t{"f", R"({"event":{"id":"x"}})", string_list{"a"}, 1700000000000, 3};
  BOOST_TEST(round_trip(t) == t);
  task_request bare{"f", "{}", caf::none, caf::none, caf::none};
  BOOST_TEST(round_trip(bare) == bare);
  mail_request m{"65f0a1b2c3d4e5f60123456a", sample_recipients(true), R"({"event":{}})"};
  BOOST_TEST(round_trip(m) == m);
  for (auto kind : {action_kind::task, action_kind::mail})
    BOOST_TEST(round_trip(sample_delivery(kind)) == sample_delivery(kind));
  delivery_list list{sample_delivery(action_kind::task), sample_delivery(action_kind::mail)};
  BOOST_TEST(round_trip(list) == list);
  auto r = round_trip(retry_later("HTTP 429", 1500));
  BOOST_TEST(static_cast<int>(r.verdict) == static_cast<int>(sink_verdict::retry));
  BOOST_TEST(r.retry_after_ms == 1500);
  BOOST_TEST(r.reason == "HTTP 429");
}

BOOST_AUTO_TEST_CASE(queries_and_pages) {
  BOOST_TEST(round_trip(string_value("ünïcødé")) == string_value("ünïcødé"));
  BOOST_TEST(round_trip(sample_filter()) == sample_filter());
  sort_key s{"creationTimestamp", true};
  BOOST_TEST(round_trip(s) == s);
  query q{sample_filter(), {"id", "name"}, {s, {"name", false}}, 37, 11};
  BOOST_TEST(round_trip(q) == q);
  // The wire form (sample_filter has an eq with two values: not valid, but every field set).
  BOOST_TEST(round_trip(flatten(q)) == flatten(q));
  page_info p{123, 40, 20};
  auto py = round_trip(p);
  BOOST_TEST(py.total == 123u);
  BOOST_TEST(py.offset == 40u);
  BOOST_TEST(py.limit == 20u);
  dispatcher_page dp{p, {sample_dispatcher(true)}};
  auto dpy = round_trip(dp);
  BOOST_TEST(dpy.page.total == 123u);
  BOOST_TEST(dpy.data == dp.data);
  delivery_page lp{p, {sample_delivery(action_kind::mail)}};
  BOOST_TEST(round_trip(lp).data == lp.data);
}

BOOST_AUTO_TEST_CASE(stats_logged_events_and_delivery_batches) {
  latency_snapshot latency{std::vector<uint64_t>(latency_bounds.size() + 1, 0), 3, 0.25};
  latency.counts[4] = 3;
  cluster_stats c;
  c.node = 2;
  c.coordinator = 1;
  c.log_version = 42;
  c.peers.push_back(peer_status{3, "127.0.0.1:7403", peer_state::down, 1234, 17, 2, "silent"});
  engine_stats s{1, 2, 3, 4, 15, 5, 6, 7, 8, 9, 10, 14, 11, 12, 13, latency, c};
  auto sy = round_trip(s);
  BOOST_TEST(sy.accepted == 1u);
  BOOST_TEST(sy.replayed == 9u);
  BOOST_TEST(sy.in_flight == 13u);
  BOOST_TEST(sy.storage_probes == 14u);
  BOOST_TEST(sy.set_aside == 15u);
  BOOST_TEST(sy.delivery_latency.counts == latency.counts);
  BOOST_TEST(sy.delivery_latency.count == 3u);
  BOOST_TEST(sy.delivery_latency.sum_seconds == 0.25);
  BOOST_TEST(sy.cluster.node == 2u);
  BOOST_TEST(sy.cluster.log_version == 42u);
  BOOST_REQUIRE(sy.cluster.peers.size() == 1u);
  BOOST_TEST(sy.cluster.peers[0].address == "127.0.0.1:7403");
  BOOST_TEST((sy.cluster.peers[0].state == peer_state::down));
  BOOST_TEST(sy.cluster.peers[0].forward_depth == 17u);
  BOOST_TEST(sy.cluster.peers[0].reason == "silent");
  auto replay = round_trip(sample_replay_status());
  BOOST_TEST(to_json(replay) == to_json(sample_replay_status()));
  BOOST_TEST(replay.position == 1500000u);
  auto backup = round_trip(sample_backup_status());
  BOOST_TEST((backup.state == backup_state::failed));
  BOOST_TEST(backup.to == sample_backup_status().to);
  BOOST_TEST(backup.phase == "cluster");
  BOOST_TEST(backup.finished == 1893553446678);
  BOOST_TEST(backup.bytes_copied == 12345u);
  BOOST_TEST(backup.last_sequence == 1893553445678000u);
  BOOST_TEST((backup.parts == std::vector<std::string>{"cluster", "engine"}));
  BOOST_TEST(backup.error == sample_backup_status().error);
  logged_event i{77, sample_event()};
  auto iy = round_trip(i);
  BOOST_TEST(iy.sequence == 77u);
  BOOST_TEST(iy.event == sample_event());
  logged_event_list list{i, {78, sample_event()}};
  auto ly = round_trip(list);
  BOOST_REQUIRE(ly.size() == 2u);
  BOOST_TEST(ly[1].sequence == 78u);
  delivery_batch b{5, 9, false, {}};
  b.deliveries.emplace_back();
  b.deliveries.back().id = "x";
  auto by = round_trip(b);
  BOOST_TEST(by.after == 5u);
  BOOST_TEST(by.last == 9u);
  BOOST_TEST(!by.exhausted);
  BOOST_REQUIRE(by.deliveries.size() == 1u);
  BOOST_TEST(by.deliveries[0].id == "x");
}

// What cluster nodes send each other must cross the network unchanged.
BOOST_AUTO_TEST_CASE(cluster_messages) {
  {
    // The introduction carries the node's endpoint: actor handles need an actor system.
    caf::actor_system_config cfg;
    caf::actor_system sys{cfg};
    auto endpoint = sys.spawn([]() -> caf::behavior { return {[](int) {}}; });
    member_info info{3,
                     8,
                     {{1, "127.0.0.1:7401"}, {3, "[::1]:7403"}},
                     "0.1.0",
                     caf::actor_cast<caf::strong_actor_ptr>(endpoint),
                     4096};
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    BOOST_REQUIRE(!sink(info));
    member_info iy;
    caf::binary_deserializer source{sys, buf};
    BOOST_REQUIRE(!source(iy));
    BOOST_TEST(iy.node == 3u);
    BOOST_TEST(iy.shards == 8u);
    BOOST_TEST((iy.members == info.members));
    BOOST_TEST(iy.version == "0.1.0");
    BOOST_TEST((iy.endpoint == info.endpoint));
    BOOST_TEST(iy.max_event_bytes == 4096u);
    caf::anon_send_exit(endpoint, caf::exit_reason::user_shutdown);
  }
  log_entry put{7, log_op::put, sample_dispatcher(true), sample_dispatcher(true).id};
  log_entry drop{8, log_op::drop, {}, "0123456789abcdef01234567"};
  auto entries = round_trip(log_entry_list{put, drop});
  BOOST_REQUIRE(entries.size() == 2u);
  BOOST_TEST(entries[0].version == 7u);
  BOOST_TEST((entries[0].value == put.value));
  BOOST_TEST((entries[1].op == log_op::drop));
  BOOST_TEST(entries[1].id == drop.id);
  admin_request req;
  req.kind = admin_kind::update_action;
  req.dispatcher_id = "0123456789abcdef01234567";
  req.action_id = "89abcdef0123456789abcdef";
  req.action_changes.function_name = std::string{"renamed"};
  auto ry = round_trip(req);
  BOOST_TEST((ry.kind == admin_kind::update_action));
  BOOST_TEST(ry.action_id == req.action_id);
  BOOST_TEST((ry.action_changes.function_name == req.action_changes.function_name));
  admin_reply reply;
  reply.stored = sample_dispatcher(true);
  reply.affected = 1;
  reply.entries = {put};
  auto py = round_trip(reply);
  BOOST_TEST((py.stored == reply.stored));
  BOOST_TEST(py.affected == 1u);
  BOOST_REQUIRE(py.entries.size() == 1u);
  BOOST_TEST(py.entries[0].version == 7u);
}

BOOST_AUTO_TEST_SUITE_END()
