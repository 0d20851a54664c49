// Tests of the emitter on a real actor system and a real store: events go into the log as ingest
// writes them, a real matcher derives the deliveries, a scripted recording sink answers, and the
// tests read the store's outcomes (records, or deliveries derived with the emitter's cursor).
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "emitter_fixture.hpp"

using namespace dispatch;
using namespace emitter_test;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(emitter)

BOOST_FIXTURE_TEST_CASE(success_is_delivered_once_without_a_record_of_its_own, fixture) {
  auto rec = std::make_shared<recording>();
  auto em = spawn_emitter(spawn_sink(rec, always_deliver));
  auto d = make_task("once");
  put(em, {d});
  auto done = wait_for_status(d.id, delivery_status::delivered);
  BOOST_TEST(done.attempts == 1u);
  BOOST_TEST(done.finished >= d.created);
  BOOST_TEST(done.task.function_name == "once");
  advance(1min); // a second delivery would have come by now (test time: no wait)
  BOOST_TEST(rec->count(d.id) == 1u);
  BOOST_TEST(metrics->delivered.load() == 1u);
  // The happy path writes nothing for the delivery: the cursor passed it.
  auto recorded = db->has_record({d.id});
  BOOST_REQUIRE(recorded);
  BOOST_TEST(!recorded->front());
  auto p = db->read_progress(action_kind::task, 0);
  BOOST_REQUIRE(p);
  BOOST_TEST(p->cursor >= d.event.sequence);
  BOOST_TEST(p->delivered == 1u);
}

BOOST_FIXTURE_TEST_CASE(three_failures_then_success_takes_four_attempts, fixture) {
  auto rec = std::make_shared<recording>();
  auto em = spawn_emitter(spawn_sink(rec, [](const delivery&, size_t nth) {
    return nth <= 3 ? answer(retry_later("busy")) : answer(delivered());
  }));
  auto d = make_task("flaky");
  put(em, {d});
  auto done = wait_for_status(d.id, delivery_status::delivered);
  BOOST_TEST(done.attempts == 4u);
  advance(1min);
  BOOST_TEST(rec->count(d.id) == 4u);
  BOOST_TEST(metrics->retries.load() == 3u);
  BOOST_TEST(metrics->delivered.load() == 1u);
  BOOST_TEST(metrics->dead_letters.load() == 0u);
}

BOOST_FIXTURE_TEST_CASE(retry_after_is_a_floor_for_the_next_attempt, fixture) {
  auto rec = std::make_shared<recording>();
  auto em = spawn_emitter(spawn_sink(rec, [](const delivery&, size_t nth) {
    return nth == 1 ? answer(retry_later("slow down", 300)) : answer(delivered());
  }));
  auto d = make_task("throttled");
  put(em, {d});
  wait_for_status(d.id, delivery_status::delivered);
  auto times = rec->times_of(d.id);
  BOOST_REQUIRE(times.size() == 2u);
  // Its own backoff (at most 50 ms here) is shorter: the floor decides, to the millisecond.
  BOOST_TEST(times[1] - times[0] == 300);
}

BOOST_FIXTURE_TEST_CASE(a_retrying_delivery_is_stored_with_its_error_and_next_attempt, fixture) {
  auto rec = std::make_shared<recording>();
  auto em = spawn_emitter(spawn_sink(rec, [](const delivery&, size_t nth) {
    return nth == 1 ? answer(retry_later("later", 60'000)) : answer(delivered());
  }));
  auto d = make_task("later");
  put(em, {d});
  auto waiting = wait_for_status(d.id, delivery_status::retrying);
  BOOST_TEST(waiting.attempts == 1u);
  BOOST_TEST(waiting.last_error == "later");
  BOOST_TEST(waiting.next_attempt >= rec->times_of(d.id).at(0) + 60'000);
}

BOOST_FIXTURE_TEST_CASE(permanent_failure_is_dead_at_once, fixture) {
  auto rec = std::make_shared<recording>();
  auto em = spawn_emitter(spawn_sink(
    rec, [](const delivery&, size_t) { return answer(permanent_failure("unknown template")); }));
  auto d = make_task("doomed");
  put(em, {d});
  auto dead = wait_for_status(d.id, delivery_status::dead);
  BOOST_TEST(dead.attempts == 1u);
  BOOST_TEST(dead.last_error == "unknown template");
  advance(1min);
  BOOST_TEST(rec->count(d.id) == 1u);
  auto letter = db->get_dead_letter(d.id);
  BOOST_REQUIRE(letter);
  BOOST_TEST(static_cast<bool>(*letter));
  BOOST_TEST(metrics->dead_letters.load() == 1u);
}

BOOST_FIXTURE_TEST_CASE(spent_budget_is_dead_after_max_attempts, fixture) {
  config.retry.max_attempts = 3;
  auto rec = std::make_shared<recording>();
  auto em = spawn_emitter(
    spawn_sink(rec, [](const delivery&, size_t) { return answer(retry_later("down")); }));
  auto d = make_task("exhausted");
  put(em, {d});
  auto dead = wait_for_status(d.id, delivery_status::dead);
  BOOST_TEST(dead.attempts == 3u);
  BOOST_TEST(dead.last_error == "down");
  advance(1min); // far beyond the 200 ms cap: no fourth attempt comes
  BOOST_TEST(rec->count(d.id) == 3u);
}

BOOST_FIXTURE_TEST_CASE(a_silent_sink_times_out_and_is_retried, fixture) {
  config.sink_timeout = 200ms;
  auto rec = std::make_shared<recording>();
  auto em = spawn_emitter(spawn_sink(
    rec, [](const delivery&, size_t nth) { return nth == 1 ? hold() : answer(delivered()); }));
  auto d = make_task("silent");
  put(em, {d});
  auto done = wait_for_status(d.id, delivery_status::delivered);
  BOOST_TEST(done.attempts == 2u);
  auto times = rec->times_of(d.id);
  BOOST_REQUIRE(times.size() == 2u);
  BOOST_TEST(times[1] - times[0] >= 200);      // not before the timeout
  BOOST_TEST(times[1] - times[0] <= 200 + 50); // then within its backoff (at most 50 ms here)
}

BOOST_FIXTURE_TEST_CASE(a_late_answer_to_a_timed_out_send_is_ignored, fixture) {
  config.sink_timeout = 200ms;
  auto rec = std::make_shared<recording>();
  // The first send is held past its timeout; the second is answered "retry" at once; the third
  // is delivered. Releasing the first one afterwards must change nothing.
  auto em = spawn_emitter(spawn_sink(rec, [](const delivery&, size_t nth) {
    return nth == 1 ? hold() : nth == 2 ? answer(retry_later("busy", 300)) : answer(delivered());
  }));
  auto d = make_task("late");
  put(em, {d});
  BOOST_REQUIRE(run_until([&] { return rec->count(d.id) == 2; }));
  auto releaser = caf::actor_cast<test_sink_actor>(spawned.front());
  caf::anon_send(releaser, release_atom::value); // the stale "delivered" of send 1
  run();
  BOOST_TEST(!has_status(d.id, delivery_status::delivered)); // still waiting for its retry
  auto done = wait_for_status(d.id, delivery_status::delivered);
  BOOST_TEST(done.attempts == 3u);
  BOOST_TEST(done.last_error == "busy");
  BOOST_TEST(metrics->delivered.load() == 1u);
  BOOST_TEST(metrics->in_flight.load() == 0);
}

BOOST_FIXTURE_TEST_CASE(replay_of_a_dead_letter_delivers_it, fixture) {
  auto rec = std::make_shared<recording>();
  auto em = spawn_emitter(spawn_sink(rec, [](const delivery&, size_t nth) {
    return nth == 1 ? answer(permanent_failure("not yet")) : answer(delivered());
  }));
  auto d = make_task("phoenix");
  put(em, {d});
  wait_for_status(d.id, delivery_status::dead);
  auto revived = replay(em, d.id);
  BOOST_REQUIRE_MESSAGE(revived, "replay failed: " << why(revived));
  BOOST_TEST(revived->id == d.id);
  BOOST_TEST(revived->attempts == 0u);
  BOOST_TEST(revived->last_error.empty());
  BOOST_TEST(revived->status == delivery_status::pending);
  auto done = wait_for_status(d.id, delivery_status::delivered);
  BOOST_TEST(done.attempts == 1u); // the budget was reset
  BOOST_TEST(rec->count(d.id) == 2u);
  BOOST_TEST(metrics->replayed.load() == 1u);
  auto letter = db->get_dead_letter(d.id);
  BOOST_REQUIRE(letter);
  BOOST_TEST(!*letter);
  // Not a dead letter any more: a second replay is refused.
  auto again = replay(em, d.id);
  BOOST_REQUIRE(!again);
  BOOST_TEST(code_of(again.error()) == error_code::resource_unknown);
}

BOOST_FIXTURE_TEST_CASE(replay_of_an_unknown_id_is_error_16, fixture) {
  auto rec = std::make_shared<recording>();
  auto em = spawn_emitter(spawn_sink(rec, always_deliver));
  auto unknown = std::string(24, 'a');
  auto result = replay(em, unknown);
  BOOST_REQUIRE(!result);
  BOOST_TEST(code_of(result.error()) == error_code::resource_unknown);
  BOOST_TEST(message_of(result.error()).find(unknown) != std::string::npos);
  BOOST_TEST(rec->total() == 0u);
}

BOOST_FIXTURE_TEST_CASE(purge_forgets_waiting_in_flight_and_dead_deliveries, fixture) {
  auto rec = std::make_shared<recording>();
  auto em = spawn_emitter(spawn_sink(rec, [](const delivery& d, size_t) {
    if (d.task.function_name == "stuck") return hold();
    if (d.task.function_name == "doomed") return answer(permanent_failure("no"));
    return answer(delivered());
  }));
  auto waiting = make_task("future", config.now() + 60'000);
  auto stuck = make_task("stuck");
  auto doomed = make_task("doomed");
  put(em, {waiting, stuck, doomed});
  BOOST_REQUIRE(run_until([&] { return rec->count(stuck.id) == 1; }));
  wait_for_status(doomed.id, delivery_status::dead);
  for (auto& id : {waiting.id, stuck.id, doomed.id}) {
    auto purged = purge(em, id);
    BOOST_REQUIRE_MESSAGE(purged, "purge " << id << ": " << why(purged));
    BOOST_TEST(*purged == 1u);
    BOOST_TEST(!find(id));
  }
  // Nothing waits any more; the dead one stopped counting when it died, not again when purged.
  BOOST_TEST(metrics->pending_depth.load() == 0);
  // The stuck one's late answer changes nothing: it does not come back as delivered.
  caf::anon_send(caf::actor_cast<test_sink_actor>(spawned.front()), release_atom::value);
  advance(1min);
  BOOST_TEST(!find(stuck.id));
  BOOST_TEST(metrics->delivered.load() == 0u);
  auto again = purge(em, waiting.id);
  BOOST_REQUIRE(!again);
  BOOST_TEST(code_of(again.error()) == error_code::resource_unknown);
  BOOST_TEST(rec->count(waiting.id) == 0u);
}

BOOST_FIXTURE_TEST_CASE(held_delivery_is_not_sent_before_its_time, fixture) {
  auto rec = std::make_shared<recording>();
  auto em = spawn_emitter(spawn_sink(rec, always_deliver));
  auto due = config.now() + 500;
  auto d = make_task("scheduled", due);
  put(em, {d});
  auto done = wait_for_status(d.id, delivery_status::delivered);
  auto times = rec->times_of(d.id);
  BOOST_REQUIRE(times.size() == 1u);
  BOOST_TEST(times[0] == due); // not before its time, and not later either
  BOOST_TEST(done.attempts == 1u);
}

BOOST_FIXTURE_TEST_CASE(in_flight_cap_is_respected, fixture) {
  config.sink_in_flight = 3;
  config.sink_timeout = 60s; // held answers must not time out and be resent during the test
  auto rec = std::make_shared<recording>();
  auto sink = spawn_sink(rec, [](const delivery&, size_t) { return hold(); });
  auto em = spawn_emitter(sink);
  std::vector<planned_task> ds;
  for (int i = 0; i < 10; ++i) ds.push_back(make_task("capped" + std::to_string(i)));
  put(em, ds);
  BOOST_REQUIRE(run_until([&] { return rec->total() == 3; }));
  advance(30s); // a fourth request would have come by now (held ones time out only at 60 s)
  BOOST_TEST(rec->total() == 3u);
  auto all_delivered = [&] {
    for (auto& d : ds)
      if (!has_status(d.id, delivery_status::delivered)) return false;
    return true;
  };
  auto releaser = caf::actor_cast<test_sink_actor>(spawned.front());
  for (int round = 0; round < 10 && !all_delivered(); ++round) {
    caf::anon_send(releaser, release_atom::value); // what is held now; then the next three come
    run();
  }
  BOOST_TEST(all_delivered());
  BOOST_TEST(rec->total() == 10u);
  std::lock_guard<std::mutex> guard{rec->mtx};
  BOOST_TEST(rec->max_holding <= 3u);
}

BOOST_FIXTURE_TEST_CASE(a_small_memory_cap_reads_the_rest_from_the_log, fixture) {
  config.emitter_memory_cap = 4;
  auto rec = std::make_shared<recording>();
  auto em = spawn_emitter(spawn_sink(rec, always_deliver));
  std::vector<planned_task> ds;
  for (int i = 0; i < 25; ++i) ds.push_back(make_task("paged" + std::to_string(i)));
  put(em, ds);
  for (auto& d : ds) wait_for_status(d.id, delivery_status::delivered);
  advance(1min);
  for (auto& d : ds) BOOST_TEST(rec->count(d.id) == 1u);
}

BOOST_FIXTURE_TEST_CASE(while_outcomes_cannot_be_written_the_sink_gets_no_more, fixture) {
  // The store fails every outcome write while `failing` exists, and the sink fails each first
  // attempt, so every answer is a retry record to write: the emitter holds those it could not
  // write (at most its memory cap) and stops sending until it can write again.
  auto failing = dir / "fail-outcomes";
  std::ofstream{failing};
  ::setenv("DISPATCH_FAULT_FAIL_OUTCOMES", failing.c_str(), 1);
  db.reset();
  store_options opts;
  opts.data_dir = dir.path();
  opts.sync = false;
  opts.shards = 1;
  auto reopened = store::open(opts);
  ::unsetenv("DISPATCH_FAULT_FAIL_OUTCOMES");
  BOOST_REQUIRE(reopened);
  db = std::move(*reopened);
  config.emitter_memory_cap = 20;
  config.sink_in_flight = 4;
  auto rec = std::make_shared<recording>();
  auto em = spawn_emitter(spawn_sink(rec, [](const delivery&, size_t nth) {
    return nth == 1 ? answer(retry_later("busy")) : answer(delivered());
  }));
  std::vector<planned_task> ds;
  for (int i = 0; i < 300; ++i) ds.push_back(make_task("unwritten" + std::to_string(i)));
  put(em, ds);
  BOOST_REQUIRE(run_until([&] { return rec->total() >= 20; }));
  advance(1min);                   // more sends would have come by now
  BOOST_TEST(rec->total() <= 24u); // the memory cap, plus what was at the sink
  std::filesystem::remove(failing);
  for (auto& d : ds) wait_for_status(d.id, delivery_status::delivered);
}

BOOST_FIXTURE_TEST_CASE(a_short_answer_from_the_sink_retries_what_it_left_out, fixture) {
  // A sink that answers its first batch with no result at all, then delivers.
  auto batches = std::make_shared<std::atomic<int>>(0);
  auto sink = sys.spawn([batches]() -> sink_actor::behavior_type {
    return {[batches](deliver_atom, const delivery_list& batch) {
      return ++*batches == 1 ? delivery_result_list{}
                             : delivery_result_list(batch.size(), delivered());
    }};
  });
  spawned.push_back(caf::actor_cast<caf::actor>(sink));
  auto em = spawn_emitter(sink);
  auto d = make_task("short");
  put(em, {d});
  auto done = wait_for_status(d.id, delivery_status::delivered);
  BOOST_TEST(done.attempts == 2u); // the first, unanswered, counts as a failed attempt
  BOOST_TEST(batches->load() == 2);
  BOOST_TEST(metrics->retries.load() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_restarted_emitter_delivers_what_was_waiting, fixture) {
  config.sink_timeout = 60s;
  auto first_rec = std::make_shared<recording>();
  auto silent = spawn_sink(first_rec, [](const delivery&, size_t) { return hold(); });
  auto b = make_task("stored_before_start");
  store_only({b});
  auto first = spawn_emitter(silent);
  auto a = make_task("in_flight_at_crash");
  put(first, {a});
  BOOST_REQUIRE(run_until([&] { return first_rec->total() == 2; }));
  kill(first);
  auto c = make_task("stored_after_crash");
  store_only({c});
  auto rec = std::make_shared<recording>();
  spawn_emitter(spawn_sink(rec, always_deliver));
  for (auto& d : {a, b, c}) {
    auto done = wait_for_status(d.id, delivery_status::delivered);
    BOOST_TEST(rec->count(d.id) == 1u);
    BOOST_TEST(done.attempts == 1u);
  }
}

BOOST_FIXTURE_TEST_CASE(a_restarted_emitter_drives_a_recorded_delivery_from_its_record, fixture) {
  auto first_rec = std::make_shared<recording>();
  auto first = spawn_emitter(spawn_sink(
    first_rec, [](const delivery&, size_t) { return answer(retry_later("down", 60'000)); }));
  auto d = make_task("recorded");
  put(first, {d});
  wait_for_status(d.id, delivery_status::retrying);
  kill(first);
  // The new emitter catches up from the cursor, which passed the delivery with its record: it is
  // not sent again as a fresh one, only when its record is due.
  auto rec = std::make_shared<recording>();
  spawn_emitter(spawn_sink(rec, always_deliver));
  auto due = first_rec->times_of(d.id).at(0) + 60'000;
  advance(std::chrono::milliseconds{due - config.now() - 1}); // up to 1 ms before it is due
  BOOST_TEST(rec->count(d.id) == 0u);
  auto waiting = find(d.id);
  BOOST_REQUIRE(waiting);
  BOOST_TEST(waiting->status == delivery_status::retrying);
  BOOST_TEST(waiting->attempts == 1u);
  // Then it goes, at its time, with the attempt count the record kept.
  auto done = wait_for_status(d.id, delivery_status::delivered);
  BOOST_TEST(rec->times_of(d.id).at(0) >= due);
  BOOST_TEST(done.attempts == 2u);
}

BOOST_FIXTURE_TEST_CASE(events_a_matcher_never_routed_are_read_from_the_log, fixture) {
  auto rec = std::make_shared<recording>();
  auto em = spawn_emitter_past_a_first_delivery(rec);
  // Written but never routed (ingest stopped in between): the emitter reads the log past its
  // frontier when it is told its matcher again, as the supervisor does after such a restart.
  auto orphan = make_task("orphan");
  store_only({orphan});
  advance(200ms); // within the 5 s sweep, which would find it (the case below)
  BOOST_TEST(rec->count(orphan.id) == 0u);
  caf::anon_send(em, handles_atom::value, log_reader_actor{matcher});
  wait_for_status(orphan.id, delivery_status::delivered);
  BOOST_TEST(rec->count(orphan.id) == 1u);
}

BOOST_FIXTURE_TEST_CASE(events_routed_to_a_stopped_matcher_are_found_by_its_successor, fixture) {
  auto rec = std::make_shared<recording>();
  auto em = spawn_emitter_past_a_first_delivery(rec);
  // The supervisor replaces the matcher and tells the emitter, which catches up (nothing new).
  auto orphan = make_task("orphan");
  auto later = make_task("later");
  auto successor = sys.spawn(dispatch::matcher, uint32_t{0}, config, db, metrics, em, mail_emitter,
                             false, rates);
  spawned.push_back(caf::actor_cast<caf::actor>(successor));
  // Answered once it runs: it knows the log's end from before.
  ask<delivery_batch>(successor, rederive_atom::value, action_kind::task, uint64_t{0}, 1u);
  caf::anon_send(em, handles_atom::value, log_reader_actor{successor});
  caf::anon_send(mail_emitter, handles_atom::value, log_reader_actor{successor});
  advance(200ms);
  // Ingest, not told yet, accepted one more and routed it to the stopped matcher: it is in the
  // log, and no matcher derived it. The next event goes to the successor.
  store_only({orphan});
  logged_event_list events{later.event};
  store_only({later});
  caf::anon_send(successor, route_atom::value, std::move(events));
  wait_for_status(later.id, delivery_status::delivered);
  wait_for_status(orphan.id, delivery_status::delivered);
  BOOST_TEST(rec->count(orphan.id) == 1u);
  BOOST_TEST(rec->count(later.id) == 1u);
}

BOOST_FIXTURE_TEST_CASE(an_event_no_matcher_routed_with_nothing_after_it_is_found_by_the_sweep,
                        fixture) {
  auto rec = std::make_shared<recording>();
  auto em = spawn_emitter_past_a_first_delivery(rec);
  // Written, routed nowhere, and nothing follows it; nobody tells the emitter anything either.
  auto orphan = make_task("orphan");
  store_only({orphan});
  wait_for_status(orphan.id, delivery_status::delivered); // within two sweeps (5 s each)
  BOOST_TEST(rec->count(orphan.id) == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_sink_rate_spaces_deliveries_and_they_wait_as_pending, fixture) {
  // 10 a second: the bucket holds one token, so after the first delivery each next one goes
  // exactly 100 ms after the one before, on the test's clock.
  task_rate = make_rate_limiter(10, clock);
  auto rec = std::make_shared<recording>();
  auto em = spawn_emitter(spawn_sink(rec, always_deliver));
  std::vector<planned_task> tasks;
  for (int i = 0; i < 12; ++i) tasks.push_back(make_task("rated" + std::to_string(i)));
  auto start = config.now();
  put(em, tasks);
  // Over the rate the rest wait: pending, due since they were accepted, no attempt spent.
  BOOST_TEST(rec->total() == 1u);
  auto last = find(tasks.back().id);
  BOOST_REQUIRE(last);
  BOOST_TEST(last->status == delivery_status::pending);
  BOOST_TEST(last->attempts == 0u);
  BOOST_TEST(last->next_attempt == tasks.back().created);
  // Still so just before its turn (1.1 s after the first): waiting for the rate, not retried.
  advance(std::chrono::milliseconds{1099});
  BOOST_TEST(rec->count(tasks.back().id) == 0u);
  last = find(tasks.back().id);
  BOOST_REQUIRE(last);
  BOOST_TEST(last->status == delivery_status::pending);
  BOOST_TEST(last->attempts == 0u);
  BOOST_TEST(last->next_attempt == tasks.back().created);
  BOOST_TEST(metrics->retries.load() == 0u);
  BOOST_REQUIRE(run_until([&] { return rec->total() == tasks.size(); }));
  for (size_t i = 0; i < tasks.size(); ++i) {
    auto times = rec->times_of(tasks[i].id);
    BOOST_REQUIRE_EQUAL(times.size(), 1u);
    BOOST_TEST(times[0] == start + static_cast<timestamp_ms>(100 * i), "delivery " << i);
  }
  for (auto& t : tasks) wait_for_status(t.id, delivery_status::delivered);
  BOOST_TEST(metrics->dead_letters.load() == 0);
}

BOOST_FIXTURE_TEST_CASE(a_sink_rate_is_shared_by_the_emitters_that_hold_its_bucket, fixture) {
  // Two emitters (as two shards' would) share one bucket of 10 a second: together they get 10
  // a second, not 10 each. The second emitter's deliveries come from recorded ones (replays).
  task_rate = make_rate_limiter(10, clock);
  auto rec = std::make_shared<recording>();
  auto sink = spawn_sink(rec, always_deliver);
  auto em = spawn_emitter(sink);
  auto other = sys.spawn(dispatch::emitter, action_kind::mail, uint32_t{0}, config, db, metrics,
                         sink_binding{sink, true, task_rate}, rates);
  spawned.push_back(caf::actor_cast<caf::actor>(other));
  caf::anon_send(other, handles_atom::value, log_reader_actor{matcher});
  run();
  std::vector<planned_task> tasks;
  for (int i = 0; i < 10; ++i) tasks.push_back(make_task("shared" + std::to_string(i)));
  delivery_list mails;
  for (int i = 0; i < 10; ++i) {
    auto d = make_delivery(delivery_id_at({next_sequence + 1000 + static_cast<uint64_t>(i), 0, 0}),
                           tasks[0].event.event, dispatcher{}, action{}, false, config.now());
    d.kind = action_kind::mail;
    mails.push_back(std::move(d));
  }
  auto start = config.now();
  put(em, tasks);
  auto adopted = ask<uint32_t>(other, adopt_atom::value, mails);
  BOOST_REQUIRE_MESSAGE(adopted, why(adopted));
  BOOST_REQUIRE(run_until([&] { return rec->total() == 20u; }));
  std::vector<timestamp_ms> times;
  {
    std::lock_guard<std::mutex> guard{rec->mtx};
    for (auto& r : rec->received) times.push_back(r.second);
  }
  std::sort(times.begin(), times.end());
  // One token every 100 ms for both together: the 20th goes 1.9 s after the first.
  for (size_t i = 0; i < times.size(); ++i)
    BOOST_TEST(times[i] == start + static_cast<timestamp_ms>(100 * i), "delivery " << i);
}

BOOST_FIXTURE_TEST_CASE(a_retrying_delivery_holds_back_its_key_only, fixture) {
  // Key A's first delivery fails twice (not before 1 s each time); key B flows meanwhile. At the
  // sink: A one at a time in accepted order after its retries, B in order and not held back.
  auto rec = std::make_shared<recording>();
  std::string a1;
  auto em = spawn_emitter(spawn_sink(rec, [&](const delivery& d, size_t nth) {
    return answer(d.id == a1 && nth <= 2 ? retry_later("down", 1000) : delivered());
  }));
  std::vector<planned_task> ts;
  for (auto tag : {"a1", "b1", "a2", "b2", "a3", "b3"}) ts.push_back(make_task(tag));
  a1 = ts[0].id;
  enqueue_keyed(em, ts, {1, 2, 1, 2, 1, 2});
  BOOST_REQUIRE(run_until([&] { return rec->total() == 8u; }));
  auto a = received_of(*rec, {ts[0].id, ts[2].id, ts[4].id});
  auto b = received_of(*rec, {ts[1].id, ts[3].id, ts[5].id});
  BOOST_TEST((a == std::vector<std::string>{ts[0].id, ts[0].id, ts[0].id, ts[2].id, ts[4].id}));
  BOOST_TEST((b == std::vector<std::string>{ts[1].id, ts[3].id, ts[5].id}));
  // B was done before A's first retry: its key never waited for A's.
  BOOST_TEST(rec->times_of(ts[5].id).front() < rec->times_of(ts[0].id).at(1));
  BOOST_TEST(rec->times_of(ts[0].id).at(1) - rec->times_of(ts[0].id).at(0) >= 1000);
  advance(5s); // nothing more comes
  BOOST_TEST(rec->total() == 8u);
  BOOST_TEST(metrics->dead_letters.load() == 0);
}

BOOST_FIXTURE_TEST_CASE(one_delivery_of_a_key_at_the_sink_and_a_dead_letter_releases_it, fixture) {
  auto rec = std::make_shared<recording>();
  std::string first;
  auto sink = spawn_sink(rec, [&](const delivery& d, size_t) {
    if (d.id == first) return sink_step{true, permanent_failure("refused")}; // held, then dead
    return answer(delivered());
  });
  auto em = spawn_emitter(sink);
  std::vector<planned_task> ts;
  for (auto tag : {"k1", "k2", "k3", "other"}) ts.push_back(make_task(tag));
  first = ts[0].id;
  enqueue_keyed(em, ts, {7, 7, 7, 8});
  // The first of key 7 is at the sink: the others of its key wait; key 8 went.
  BOOST_TEST(rec->count(ts[0].id) == 1u);
  BOOST_TEST(rec->count(ts[1].id) == 0u);
  BOOST_TEST(rec->count(ts[2].id) == 0u);
  BOOST_TEST(rec->count(ts[3].id) == 1u);
  advance(1s);
  BOOST_TEST(rec->count(ts[1].id) == 0u);
  // Answered: a permanent failure makes a dead letter, which releases the key.
  caf::anon_send(caf::actor_cast<caf::actor>(sink), release_atom::value);
  run();
  BOOST_REQUIRE(run_until([&] { return rec->total() == 4u; }));
  auto seven = received_of(*rec, {ts[0].id, ts[1].id, ts[2].id});
  BOOST_TEST((seven == std::vector<std::string>{ts[0].id, ts[1].id, ts[2].id}));
  BOOST_TEST(wait_for_status(ts[0].id, delivery_status::dead).attempts == 1u);
}

BOOST_FIXTURE_TEST_CASE(deliveries_waiting_behind_their_key_cost_other_keys_no_rate, fixture) {
  // 10 a second (the bucket holds two tokens). Key 1's first delivery stays at the sink, so the
  // rest of key 1 waits behind it. The tokens a batch takes for those waiting ones go back: the
  // other keys get the whole rate, two at once from the full bucket and then one every 100 ms.
  config.sink_timeout = 60s;
  task_rate = make_rate_limiter(10, clock);
  auto rec = std::make_shared<recording>();
  std::string stuck;
  auto em = spawn_emitter(spawn_sink(
    rec, [&](const delivery& d, size_t) { return d.id == stuck ? hold() : answer(delivered()); }));
  std::vector<planned_task> ts;
  for (auto tag : {"a1", "a2", "a3", "a4", "b", "c", "d", "e"}) ts.push_back(make_task(tag));
  stuck = ts[0].id;
  enqueue_keyed(em, {ts[0]}, {1});
  BOOST_TEST(rec->count(stuck) == 1u);
  advance(1s); // the bucket fills: two tokens
  auto start = config.now();
  enqueue_keyed(em, {ts[1], ts[2], ts[3], ts[4]}, {1, 1, 1, 2});
  enqueue_keyed(em, {ts[5], ts[6], ts[7]}, {3, 4, 5});
  BOOST_REQUIRE(run_until([&] { return rec->total() == 5u; }));
  for (auto [i, at] : {std::pair<size_t, timestamp_ms>{4, 0}, {5, 0}, {6, 100}, {7, 200}}) {
    auto times = rec->times_of(ts[i].id);
    BOOST_REQUIRE_EQUAL(times.size(), 1u);
    BOOST_TEST(times[0] == start + at, ts[i].function_name);
  }
  advance(5s); // key 1 still waits for its holder
  BOOST_TEST(rec->total() == 5u);
}

BOOST_FIXTURE_TEST_CASE(purging_the_next_holder_before_it_is_sent_hands_the_key_on, fixture) {
  // Key 7's first delivery fails for good; the key goes to the second, which waits for the
  // sink's rate and is purged meanwhile: the third of the key still arrives.
  task_rate = make_rate_limiter(10, clock);
  auto rec = std::make_shared<recording>();
  std::string first;
  auto sink = spawn_sink(rec, [&](const delivery& d, size_t) {
    if (d.id == first) return sink_step{true, permanent_failure("refused")}; // held, then dead
    return answer(delivered());
  });
  auto em = spawn_emitter(sink);
  std::vector<planned_task> ts;
  for (auto tag : {"k1", "k2", "k3"}) ts.push_back(make_task(tag));
  first = ts[0].id;
  enqueue_keyed(em, ts, {7, 7, 7});
  BOOST_TEST(rec->count(ts[0].id) == 1u);
  // Dead at once, at the same instant: the second holds the key now and waits for a token.
  caf::anon_send(caf::actor_cast<caf::actor>(sink), release_atom::value);
  run();
  BOOST_TEST(rec->count(ts[1].id) == 0u);
  auto purged = purge(em, ts[1].id);
  BOOST_REQUIRE_MESSAGE(purged, why(purged));
  BOOST_TEST(*purged == 1u);
  BOOST_REQUIRE(run_until([&] { return rec->count(ts[2].id) == 1u; }, 1min));
  BOOST_TEST(rec->count(ts[1].id) == 0u);
  BOOST_TEST(wait_for_status(ts[0].id, delivery_status::dead).attempts == 1u);
}

BOOST_FIXTURE_TEST_CASE(an_ordering_key_path_orders_the_matchers_deliveries_per_value, fixture) {
  // A dispatcher with orderingKey content.user, through the real matcher: user "a"'s first
  // delivery fails twice; "b" and the events without the path (one null key) flow meanwhile.
  auto rec = std::make_shared<recording>();
  std::string failing;
  auto em = spawn_emitter(spawn_sink(rec, [&](const delivery& d, size_t nth) {
    return answer(d.id == failing && nth <= 2 ? retry_later("down", 1000) : delivered());
  }));
  auto& ids = default_id_generator();
  dispatcher disp;
  disp.id = ids.next();
  disp.event_type = "keyed";
  disp.version = 1;
  disp.ordering_key = std::string{"content.user"};
  action act;
  act.id = ids.next();
  act.function_name = "f";
  act.data = "{}";
  disp.actions.push_back(act);
  BOOST_REQUIRE(!db->write_dispatchers({disp}, {}));
  auto installed = ask<uint64_t>(matcher, install_atom::value, disp);
  BOOST_REQUIRE_MESSAGE(installed, "install: " << why(installed));
  std::vector<planned_task> ts;
  for (auto content : {R"({"user":"a"})", R"({"user":"b"})", R"({"user":"a"})", R"({"user":"b"})",
                       R"({"other":1})", R"({"other":2})"}) {
    planned_task t;
    t.event.sequence = ++next_sequence;
    t.event.event = event{ids.next(), "keyed", content, config.now()};
    t.id = delivery_id_at({t.event.sequence, 0, 0});
    ts.push_back(t);
  }
  failing = ts[0].id;
  put(em, ts);
  BOOST_REQUIRE(run_until([&] { return rec->total() == 8u; }));
  auto a = received_of(*rec, {ts[0].id, ts[2].id});
  BOOST_TEST((a == std::vector<std::string>{ts[0].id, ts[0].id, ts[0].id, ts[2].id}));
  BOOST_TEST(
    (received_of(*rec, {ts[1].id, ts[3].id}) == std::vector<std::string>{ts[1].id, ts[3].id}));
  BOOST_TEST(
    (received_of(*rec, {ts[4].id, ts[5].id}) == std::vector<std::string>{ts[4].id, ts[5].id}));
  auto first_retry = rec->times_of(ts[0].id).at(1);
  BOOST_TEST(rec->times_of(ts[3].id).front() < first_retry); // "b" was not held back
  BOOST_TEST(rec->times_of(ts[5].id).front() < first_retry); // nor the null key
  BOOST_TEST(rec->times_of(ts[2].id).front() >= rec->times_of(ts[0].id).back());
  wait_for_status(ts[2].id, delivery_status::delivered);
}

BOOST_AUTO_TEST_SUITE_END()
