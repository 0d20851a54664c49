// The engine through its typed handle, with recording sinks: dispatcher administration, matching,
// delivery contents, duplicates, retries, dead letters, replay and held tasks.
#include <boost/test/unit_test.hpp>

#include <set>

#include <rapidjson/document.h>

#include "fixtures/engine_fixture.hpp"
#include "messages/derive.hpp"
#include "messages/ids.hpp"
#include "messages/ids.hpp"
#include "messages/json.hpp"
#include "persistence/store.hpp"

using namespace dispatch;
using namespace dispatch::test;
using namespace std::chrono_literals;

namespace {

const std::string template_a = "5f0c9a1b2c3d4e5f60718293";

struct started_engine : engine_fixture {
  started_engine() { start(); }
};

rapidjson::Document parse(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.c_str(), json.size());
  BOOST_REQUIRE(!doc.HasParseError());
  return doc;
}

/// Timestamps have millisecond resolution: waits until the clock shows a later one, so that a
/// change made next gets a timestamp that differs from the one before.
void wait_for_the_next_millisecond() {
  auto before = now_ms();
  BOOST_REQUIRE(eventually([&] { return now_ms() > before; }, 1s, 1ms));
}

query where_eq(const std::string& path, query_value v) {
  query q;
  q.where.op = filter_op::eq;
  q.where.path = path;
  q.where.values.push_back(std::move(v));
  return q;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(engine, started_engine)

BOOST_AUTO_TEST_CASE(publish_right_after_create_is_matched_with_exact_task_data) {
  auto d = create(
    make_dispatcher("user_deleted", {task_action("erase-user", R"({"scope":"all","event":"x"})")}));
  BOOST_CHECK_EQUAL(d.id.size(), 24u);
  BOOST_REQUIRE_EQUAL(d.actions.size(), 1u);
  BOOST_CHECK_EQUAL(d.actions[0].id.size(), 24u);
  auto ev = publish("user_deleted", R"({"userId":"u1","ünï":"🎉"})");
  BOOST_REQUIRE(eventually([&] { return tasks->size() == 1; }));
  auto got = tasks->snapshot().front().value;
  BOOST_CHECK(got.kind == action_kind::task);
  BOOST_CHECK_EQUAL(got.task.function_name, "erase-user");
  // Its id is its position: the event's place in its shard's log, the first action.
  delivery_position pos;
  BOOST_REQUIRE(position_of(got.id, pos));
  BOOST_CHECK_EQUAL(pos.shard, shard_of("user_deleted", config.shards));
  BOOST_CHECK_EQUAL(pos.ordinal, 0u);
  BOOST_CHECK_EQUAL(accepted_at(pos.sequence) / 1000, ev.creation_timestamp / 1000);
  auto data = parse(got.task.data.str());
  BOOST_CHECK_EQUAL(std::string{data["scope"].GetString()}, "all");
  // The event overrides the action's own `event` key.
  BOOST_REQUIRE(data["event"].IsObject());
  BOOST_CHECK_EQUAL(std::string{data["event"]["id"].GetString()}, ev.id);
  BOOST_CHECK_EQUAL(std::string{data["event"]["type"].GetString()}, "user_deleted");
  BOOST_CHECK_EQUAL(std::string{data["event"]["content"]["userId"].GetString()}, "u1");
  BOOST_CHECK_EQUAL(std::string{data["event"]["content"]["ünï"].GetString()}, "🎉");
  BOOST_CHECK_EQUAL(data["event"]["creationTimestamp"].GetInt64(), ev.creation_timestamp);
  BOOST_CHECK_EQUAL(mails->size(), 0u);
}

BOOST_AUTO_TEST_CASE(one_event_with_300_actions_reaches_the_sinks_as_one_copy_of_its_text) {
  // Three dispatchers of 100 actions each (tasks and mails) on one type, one 32 KiB event.
  for (int d = 0; d < 3; ++d) {
    std::vector<action> actions;
    for (int i = 0; i < 100; ++i)
      actions.push_back(
        i % 2 == 0 ? task_action("f" + std::to_string(i), R"({"n":)" + std::to_string(i) + "}")
                   : mail_action("dpo@example.com", template_a));
    create(make_dispatcher("user_erased", std::move(actions)));
  }
  auto content = R"({"pad":")" + std::string(32 * 1024, 'x') + "\"}";
  auto ev = publish("user_erased", content);
  BOOST_REQUIRE(eventually([&] { return tasks->size() + mails->size() == 300; }));
  std::set<const char*> copies;
  std::set<std::string> ids;
  for (auto& got : tasks->snapshot()) {
    BOOST_REQUIRE(got.value.task.data.composed());
    copies.insert(got.value.task.data.event_part().data());
    ids.insert(got.value.id);
    auto data = parse(got.value.task.data.str());
    BOOST_CHECK_EQUAL(std::string{data["event"]["id"].GetString()}, ev.id);
  }
  for (auto& got : mails->snapshot()) {
    BOOST_REQUIRE(got.value.mail.content.composed());
    copies.insert(got.value.mail.content.event_part().data());
    ids.insert(got.value.id);
  }
  BOOST_CHECK_EQUAL(ids.size(), 300u);
  // Ingest, matcher, emitters and sinks passed the deliveries on without copying the event.
  BOOST_CHECK_EQUAL(copies.size(), 1u);
}

BOOST_AUTO_TEST_CASE(mail_content_is_the_event) {
  create(make_dispatcher("user_created", {mail_action("new@example.com", template_a)}));
  auto ev = publish("user_created", R"({"email":"new@example.com"})");
  BOOST_REQUIRE(eventually([&] { return mails->size() == 1; }));
  auto got = mails->snapshot().front().value;
  BOOST_CHECK(got.kind == action_kind::mail);
  BOOST_CHECK_EQUAL(got.mail.template_id, template_a);
  BOOST_REQUIRE_EQUAL(got.mail.recipients.to.size(), 1u);
  BOOST_CHECK_EQUAL(got.mail.recipients.to[0], "new@example.com");
  auto content = parse(got.mail.content.str());
  BOOST_REQUIRE(content.IsObject());
  BOOST_CHECK_EQUAL(content.MemberCount(), 1u);
  BOOST_CHECK_EQUAL(std::string{content["event"]["id"].GetString()}, ev.id);
  BOOST_CHECK_EQUAL(std::string{content["event"]["content"]["email"].GetString()},
                    "new@example.com");
  BOOST_CHECK_EQUAL(tasks->size(), 0u);
}

BOOST_AUTO_TEST_CASE(several_dispatchers_of_one_type_and_none_for_others) {
  create(make_dispatcher("order_paid", {task_action("invoice")}));
  create(make_dispatcher("order_paid", {task_action("ship"), mail_action("a@b.io", template_a)}));
  create(make_dispatcher("order_cancelled", {task_action("refund")}));
  publish("order_paid");
  publish("something_else");
  BOOST_REQUIRE(eventually([&] { return tasks->size() == 2 && mails->size() == 1; }));
  wait_until_settled();
  std::set<std::string> functions;
  for (auto& r : tasks->snapshot()) functions.insert(r.value.task.function_name);
  BOOST_CHECK((functions == std::set<std::string>{"invoice", "ship"}));
  BOOST_CHECK_EQUAL(tasks->size(), 2u);
  BOOST_CHECK_EQUAL(mails->size(), 1u);
}

BOOST_AUTO_TEST_CASE(duplicate_event_id_is_dispatched_once) {
  create(make_dispatcher("ping", {task_action("pong")}));
  const std::string id = "AAAAAAAAAAAAAAAAAAAAAAAA";
  auto first = publish("ping", R"({"n":1})", id);
  BOOST_CHECK_EQUAL(first.id, "aaaaaaaaaaaaaaaaaaaaaaaa");
  wait_for_the_next_millisecond();
  auto second = publish("ping", R"({"n":2})", id);
  // The duplicate is answered with the event as first stored.
  BOOST_CHECK_EQUAL(second.content, first.content);
  BOOST_CHECK_EQUAL(second.creation_timestamp, first.creation_timestamp);
  // Two copies inside one batch: one dispatch, both acknowledged.
  event a;
  a.type = "ping";
  a.id = "bbbbbbbbbbbbbbbbbbbbbbbb";
  auto outcomes = call<publish_outcome_list>(publish_atom::value, event_list{a, a});
  BOOST_REQUIRE(outcomes);
  BOOST_REQUIRE_EQUAL(outcomes->size(), 2u);
  BOOST_CHECK(accepted((*outcomes)[0]) && accepted((*outcomes)[1]));
  BOOST_CHECK(!(*outcomes)[0].duplicate);
  BOOST_CHECK((*outcomes)[1].duplicate);
  BOOST_REQUIRE(eventually([&] { return tasks->size() == 2; }));
  wait_until_settled();
  BOOST_CHECK_EQUAL(tasks->size(), 2u);
  // An id the engine generated is not looked up in `seen` (it is new by construction, and not
  // written there: it says where its event is in the log), yet publishing the stored event
  // again under it is a duplicate all the same.
  auto generated = publish("ping", R"({"n":3})");
  auto again = publish("ping", R"({"n":4})", generated.id);
  BOOST_CHECK_EQUAL(again.content, generated.content);
  BOOST_CHECK_EQUAL(again.creation_timestamp, generated.creation_timestamp);
  BOOST_REQUIRE(eventually([&] { return tasks->size() == 3; }));
  // A publisher's id that only looks like a generated one (another position) is a new event.
  auto lookalike = generated.id;
  lookalike.back() = lookalike.back() == '0' ? '1' : '0';
  auto other = publish("ping", R"({"n":5})", lookalike);
  BOOST_CHECK_EQUAL(other.content, R"({"n":5})");
  BOOST_REQUIRE(eventually([&] { return tasks->size() == 4; }));
  wait_until_settled();
  BOOST_CHECK_EQUAL(tasks->size(), 4u);
  auto stats = call<engine_stats>(stats_atom::value);
  BOOST_REQUIRE(stats);
  BOOST_CHECK_EQUAL(stats->accepted, 4u);
  BOOST_CHECK_EQUAL(stats->duplicates, 3u);
}

BOOST_AUTO_TEST_CASE(batch_reports_each_rejection_in_its_slot) {
  event good;
  good.type = "t";
  event bad; // no type
  event bad_id;
  bad_id.type = "t";
  bad_id.id = "not-an-id";
  auto outcomes = call<publish_outcome_list>(publish_atom::value, event_list{good, bad, bad_id});
  BOOST_REQUIRE(outcomes);
  BOOST_REQUIRE_EQUAL(outcomes->size(), 3u);
  BOOST_CHECK(accepted((*outcomes)[0]));
  BOOST_CHECK((*outcomes)[1].code == error_code::missing_required_fields);
  BOOST_CHECK_NE((*outcomes)[1].message.find("type"), std::string::npos);
  BOOST_CHECK((*outcomes)[2].code == error_code::id_format);
}

BOOST_AUTO_TEST_CASE(dispatcher_crud_semantics) {
  auto d = create(make_dispatcher("a", {task_action("f")}, "first"));
  // Names are unique.
  auto clash = call<dispatcher>(create_atom::value, make_dispatcher("b", {}, "first"));
  BOOST_REQUIRE(!clash);
  BOOST_CHECK(code_of(clash.error()) == error_code::resource_already_exists);
  // Partial update: only present fields change; updateTimestamp moves, creationTimestamp stays.
  wait_for_the_next_millisecond();
  dispatcher_patch patch;
  patch.description = std::string{"now described"};
  auto updated = call<uint32_t>(update_atom::value, d.id, patch);
  BOOST_REQUIRE(updated);
  BOOST_CHECK_EQUAL(*updated, 1u);
  auto got = call<dispatcher>(get_atom::value, d.id);
  BOOST_REQUIRE(got);
  BOOST_CHECK(got->name == std::string{"first"});
  BOOST_CHECK(got->description == std::string{"now described"});
  BOOST_CHECK_EQUAL(got->creation_timestamp, d.creation_timestamp);
  BOOST_CHECK_GT(got->update_timestamp, d.update_timestamp);
  BOOST_CHECK_EQUAL(got->event_type, "a");
  // Unknown and malformed ids.
  auto unknown = call<uint32_t>(remove_atom::value, std::string{"0123456789abcdef01234567"});
  BOOST_REQUIRE(!unknown);
  BOOST_CHECK(code_of(unknown.error()) == error_code::resource_unknown);
  auto malformed = call<dispatcher>(get_atom::value, std::string{"xyz"});
  BOOST_REQUIRE(!malformed);
  BOOST_CHECK(code_of(malformed.error()) == error_code::id_format);
  // Uppercase ids are accepted.
  std::string upper = d.id;
  for (auto& c : upper) c = static_cast<char>(std::toupper(c));
  BOOST_CHECK(call<dispatcher>(get_atom::value, upper));
  // Remove.
  auto removed = call<uint32_t>(remove_atom::value, d.id);
  BOOST_REQUIRE(removed);
  BOOST_CHECK_EQUAL(*removed, 1u);
  BOOST_CHECK(!call<dispatcher>(get_atom::value, d.id));
  // The name is free again.
  BOOST_CHECK(call<dispatcher>(create_atom::value, make_dispatcher("b", {}, "first")));
}

BOOST_AUTO_TEST_CASE(action_crud_semantics) {
  auto d = create(make_dispatcher("a", {}));
  auto first = task_action("f");
  first.name = std::string{"one"};
  auto added = call<action>(create_atom::value, d.id, first);
  BOOST_REQUIRE(added);
  BOOST_CHECK_EQUAL(added->id.size(), 24u);
  // Action names are unique within a dispatcher.
  auto clash = call<action>(create_atom::value, d.id, first);
  BOOST_REQUIRE(!clash);
  BOOST_CHECK(code_of(clash.error()) == error_code::resource_already_exists);
  // Partial update of an action.
  action_patch patch;
  patch.function_name = std::string{"g"};
  patch.priority = int64_t{7};
  BOOST_REQUIRE(call<uint32_t>(update_atom::value, d.id, added->id, patch));
  publish("a");
  BOOST_REQUIRE(eventually([&] { return tasks->size() == 1; }));
  auto got = tasks->snapshot().front().value;
  BOOST_CHECK_EQUAL(got.task.function_name, "g");
  BOOST_CHECK(got.task.priority == int64_t{7});
  // A mail field on a task action is refused.
  action_patch wrong;
  wrong.template_id = template_a;
  auto refused = call<uint32_t>(update_atom::value, d.id, added->id, wrong);
  BOOST_REQUIRE(!refused);
  BOOST_CHECK(code_of(refused.error()) == error_code::field_format);
  // Unknown action.
  auto unknown = call<uint32_t>(remove_atom::value, d.id, std::string{"0123456789abcdef01234567"});
  BOOST_REQUIRE(!unknown);
  BOOST_CHECK(code_of(unknown.error()) == error_code::resource_unknown);
  // Remove: the next event creates nothing.
  BOOST_REQUIRE(call<uint32_t>(remove_atom::value, d.id, added->id));
  publish("a");
  wait_until_settled();
  BOOST_CHECK_EQUAL(tasks->size(), 1u);
}

BOOST_AUTO_TEST_CASE(moving_a_dispatcher_to_another_event_type) {
  auto d = create(make_dispatcher("old_type", {task_action("f")}));
  dispatcher_patch patch;
  patch.event_type = std::string{"new_type"};
  BOOST_REQUIRE(call<uint32_t>(update_atom::value, d.id, patch));
  publish("old_type");
  publish("new_type");
  BOOST_REQUIRE(eventually([&] { return tasks->size() >= 1; }));
  wait_until_settled();
  BOOST_REQUIRE_EQUAL(tasks->size(), 1u);
  BOOST_CHECK_EQUAL(tasks->snapshot().front().value.event_type, "new_type");
}

BOOST_AUTO_TEST_CASE(find_filters_sorts_and_pages) {
  for (int i = 0; i < 55; ++i)
    create(make_dispatcher(i % 2 == 0 ? "even" : "odd", {task_action("f")},
                           "d" + std::to_string(100 + i)));
  query all;
  all.limit = 50;
  auto page = call<dispatcher_page>(find_atom::value, all);
  BOOST_REQUIRE(page);
  BOOST_CHECK_EQUAL(page->page.total, 55u);
  BOOST_CHECK_EQUAL(page->data.size(), 50u);
  all.offset = 50;
  page = call<dispatcher_page>(find_atom::value, all);
  BOOST_REQUIRE(page);
  BOOST_CHECK_EQUAL(page->data.size(), 5u);
  auto evens = where_eq("eventType", string_value("even"));
  evens.sort.push_back(sort_key{"name", true});
  evens.limit = 3;
  page = call<dispatcher_page>(find_atom::value, evens);
  BOOST_REQUIRE(page);
  BOOST_CHECK_EQUAL(page->page.total, 28u);
  BOOST_REQUIRE_EQUAL(page->data.size(), 3u);
  BOOST_CHECK(page->data[0].name == std::string{"d154"});
  BOOST_CHECK(page->data[1].name == std::string{"d152"});
  // An unknown id is an empty page, not an error.
  page = call<dispatcher_page>(find_atom::value,
                               where_eq("id", string_value("0123456789abcdef01234567")));
  BOOST_REQUIRE(page);
  BOOST_CHECK_EQUAL(page->page.total, 0u);
}

BOOST_AUTO_TEST_CASE(dispatchers_survive_a_restart) {
  auto d = create(make_dispatcher("persisted", {task_action("f")}, "keeper"));
  restart();
  auto got = call<dispatcher>(get_atom::value, d.id);
  BOOST_REQUIRE(got);
  BOOST_CHECK(got->name == std::string{"keeper"});
  publish("persisted");
  BOOST_REQUIRE(eventually([&] { return tasks->size() == 1; }));
}

BOOST_AUTO_TEST_CASE(rejected_input_leaves_the_store_unchanged) {
  auto bad = make_dispatcher("", {task_action("f")});
  auto refused = call<dispatcher>(create_atom::value, bad);
  BOOST_REQUIRE(!refused);
  BOOST_CHECK(code_of(refused.error()) == error_code::missing_required_fields);
  auto bad_mail = make_dispatcher("t", {mail_action("not-an-email", template_a)});
  refused = call<dispatcher>(create_atom::value, bad_mail);
  BOOST_REQUIRE(!refused);
  BOOST_CHECK(code_of(refused.error()) == error_code::field_format);
  BOOST_CHECK_NE(message_of(refused.error()).find("actions[0].recipients.to[0]"),
                 std::string::npos);
  event no_type;
  BOOST_CHECK(!call<event>(publish_atom::value, no_type));
  event bad_content;
  bad_content.type = "t";
  bad_content.content = "[1,2]";
  BOOST_CHECK(!call<event>(publish_atom::value, bad_content));
  stop();
  auto db = open_store();
  auto stored = db->load_dispatchers();
  BOOST_REQUIRE(stored);
  BOOST_CHECK(stored->empty());
  BOOST_CHECK_EQUAL(db->last_log_sequence(), 0u);
  size_t deliveries = 0;
  BOOST_CHECK(!db->for_each_delivery([&](const delivery&) { return ++deliveries, true; }));
  BOOST_CHECK_EQUAL(deliveries, 0u);
}

BOOST_AUTO_TEST_CASE(overload_is_an_error_not_unbounded_memory) {
  stop();
  config.max_unacknowledged = 10;
  start();
  create(make_dispatcher("t", {task_action("f")}));
  event_list burst(50);
  for (auto& ev : burst) ev.type = "t";
  auto outcomes = call<publish_outcome_list>(publish_atom::value, burst);
  BOOST_REQUIRE(outcomes);
  size_t ok = 0;
  size_t overloaded = 0;
  for (auto& o : *outcomes) {
    if (accepted(o))
      ++ok;
    else if (o.code == error_code::unavailable && o.message.find("overloaded") != std::string::npos)
      ++overloaded;
  }
  BOOST_CHECK_EQUAL(ok, 10u);
  BOOST_CHECK_EQUAL(overloaded, 40u);
  // Once the matchers caught up, publishes are accepted again; nothing accepted was lost.
  BOOST_REQUIRE(eventually([&] { return tasks->size() == 10; }));
  BOOST_REQUIRE(eventually([&] {
    auto stats = call<engine_stats>(stats_atom::value);
    return stats && stats->inbox_depth == 0;
  }));
  publish("t");
  BOOST_REQUIRE(eventually([&] { return tasks->size() == 11; }));
  auto stats = call<engine_stats>(stats_atom::value);
  BOOST_REQUIRE(stats);
  BOOST_CHECK_EQUAL(stats->accepted, 11u);
  BOOST_CHECK_EQUAL(stats->rejected, 40u);
  BOOST_CHECK_EQUAL(stats->matched, 11u);
  BOOST_CHECK_EQUAL(stats->deliveries_created, 11u);
  BOOST_REQUIRE(eventually([&] {
    auto s = call<engine_stats>(stats_atom::value);
    return s && s->delivered == 11 && s->pending_depth == 0 && s->in_flight == 0;
  }));
}

BOOST_AUTO_TEST_CASE(health_is_green_while_storage_is_writable) {
  auto healthy = call<bool>(health_atom::value);
  BOOST_REQUIRE(healthy);
  BOOST_CHECK(*healthy);
}

BOOST_AUTO_TEST_SUITE_END()
