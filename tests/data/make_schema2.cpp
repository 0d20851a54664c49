// Writes the schema-2 data directory checked in as tests/data/schema2.tar.gz, with the store API of
// the release that wrote schema 2 (commit eecf9dc). Kept as the record of what the directory holds;
// it does not build against later releases (their store API changed), and nothing builds it.
//
//   g++ -std=c++17 -O1 -I. tests/data/make_schema2.cpp -Lbuild -ldispatch -lcaf_core \
//       -lrocksdb -o /tmp/make_schema2 && /tmp/make_schema2 /tmp/schema2
//
// What it holds (4 shards), every id fixed:
// - dispatchers d1 (user_created: task "welcome", held until 2100), d2 (user_deleted: task
//   "erase"), d3 (user_deleted: mail to a@example.com);
// - events e01..e08 accepted and matched: user_created e01, e02 (tasks held until 2100); user_deleted
//   e03..e08 (tasks and mails) whose deliveries end as: e03 delivered (history), e04 retrying
//   (attempts 2, due in 2001), e05 dead (attempts 3), e06 pending, e07 delivered, e08 pending;
//   mails of e03..e08 all pending;
// - events e09..e12 accepted but not matched (still in the inbox): user_deleted;
// - the built-in log: two task records;
// - seen: every event above (all ids chosen by the publisher).
#include <cstdio>
#include <string>
#include <vector>

#include "actors/matcher.hpp"
#include "messages/ids.hpp"
#include "persistence/store.hpp"

using namespace dispatch;

namespace {

std::string hexid(int n) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%024x", n);
  return buf;
}

constexpr timestamp_ms t0 = 1764547200000;         // 2025-12-01T00:00:00Z
constexpr timestamp_ms far_future = 4102444800000; // 2100-01-01

void check(const caf::error& err, const char* what) {
  if (err) {
    std::fprintf(stderr, "%s failed: %s\n", what, caf::to_string(err).c_str());
    std::exit(1);
  }
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_schema2 DIR\n");
    return 2;
  }
  store_options opts;
  opts.data_dir = argv[1];
  opts.shards = 4;
  auto db = store::open(opts);
  if (!db) {
    std::fprintf(stderr, "open: %s\n", caf::to_string(db.error()).c_str());
    return 1;
  }
  auto& s = **db;
  dispatcher d1{hexid(0xd1), "user_created", std::string{"welcome"}, {}, {}, {}, t0, t0, 1};
  action a1;
  a1.id = hexid(0xa1);
  a1.kind = action_kind::task;
  a1.function_name = "welcome";
  a1.data = std::string{R"({"lang":"en"})"};
  a1.start_timestamp = far_future;
  d1.actions.push_back(a1);
  dispatcher d2{hexid(0xd2), "user_deleted", std::string{"erase"}, {}, {}, {}, t0, t0, 2};
  action a2;
  a2.id = hexid(0xa2);
  a2.kind = action_kind::task;
  a2.function_name = "erase";
  d2.actions.push_back(a2);
  dispatcher d3{hexid(0xd3), "user_deleted", std::string{"goodbye"}, {}, {}, {}, t0, t0, 3};
  action a3;
  a3.id = hexid(0xa3);
  a3.kind = action_kind::mail;
  a3.template_id = hexid(0x7e);
  a3.recipients.to = {"a@example.com"};
  d3.actions.push_back(a3);
  check(s.write_dispatchers({d1, d2, d3}, {}), "write dispatchers");

  std::vector<accepted_event> accepted;
  uint64_t seq = static_cast<uint64_t>(t0) * 1000;
  for (int i = 1; i <= 12; ++i) {
    event ev{hexid(0xe00 + i), i <= 2 ? "user_created" : "user_deleted",
             R"({"userId":)" + std::to_string(i) + "}", t0 + i};
    accepted.push_back(accepted_event{shard_of(ev.type, 4), ++seq, ev});
  }
  check(s.accept_events(accepted, t0 + 100), "accept events");

  // Match e01..e08, as the first release's matcher did (make_delivery of actors/matcher).
  std::vector<delivery> tasks;
  std::vector<delivery> all;
  for (int i = 0; i < 8; ++i) {
    auto& ev = accepted[i].event;
    std::vector<uint64_t> sequences{accepted[i].sequence};
    delivery_list made;
    for (auto* disp : {&d1, &d2, &d3}) {
      if (disp->event_type != ev.type) continue;
      for (auto& act : disp->actions)
        made.push_back(make_delivery(ev, *disp, act, false, t0 + 200));
    }
    check(s.commit_match(accepted[i].shard, sequences, made), "commit match");
    for (auto& d : made) all.push_back(d);
  }
  // Outcomes of the tasks of e03 (delivered), e04 (retrying), e05 (dead), e07 (delivered).
  std::vector<delivery_outcome> outcomes;
  for (auto& d : all) {
    if (d.kind != action_kind::task) continue;
    auto n = std::stoi(d.event_id, nullptr, 16) - 0xe00;
    delivery_outcome o{d.next_attempt, d};
    if (n == 3 || n == 7) {
      o.value.status = delivery_status::delivered;
      o.value.attempts = 1;
      o.value.finished = t0 + 300;
    } else if (n == 4) {
      o.value.status = delivery_status::retrying;
      o.value.attempts = 2;
      o.value.last_error = "sink: 503 Service Unavailable";
      o.value.next_attempt = 978307200000; // 2001-01-01: due at once
    } else if (n == 5) {
      o.value.status = delivery_status::dead;
      o.value.attempts = 3;
      o.value.last_error = "sink: 400 Bad Request";
      o.value.finished = t0 + 400;
    } else {
      continue;
    }
    outcomes.push_back(o);
  }
  check(s.write_outcomes(outcomes), "write outcomes");
  check(s.append_log(action_kind::task, all[2].id,
                     R"({"id":")" + all[2].id + R"(","functionName":"erase"})", t0 + 300),
        "append log");
  check(s.append_log(action_kind::task, all[6].id,
                     R"({"id":")" + all[6].id + R"(","functionName":"erase"})", t0 + 300),
        "append log");
  check(s.flush(), "flush");
  for (auto& d : all)
    std::printf("%s %s %s %s\n", d.id.c_str(), to_string(d.kind), d.event_id.c_str(),
                d.dispatcher_id.c_str());
  return 0;
}
