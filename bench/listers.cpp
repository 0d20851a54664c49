// Listing clients: the four listings of issue 14's targets that a running engine can answer,
// asked in turn with a page of 20, each answer awaited before the next request.
#include "bench/listers.hpp"

#include <chrono>

#include <caf/scoped_actor.hpp>

#include "messages/rql.hpp"
#include "messages/type_registry.hpp"

namespace dispatch::bench {

namespace {

enum class listing { deliveries, dead, tasks_newest, events };
constexpr uint32_t listing_kinds = 4;

query query_of(const char* rql) {
  auto q = parse_rql(rql);
  return q ? std::move(*q) : query{};
}

} // namespace

listing_clients::listing_clients(caf::actor_system& sys, const engine_actor& engine,
                                 uint32_t count) {
  for (uint32_t i = 0; i < count; ++i)
    threads_.emplace_back([this, &sys, engine, i] { run(sys, engine, i); });
}

listing_clients::~listing_clients() {
  stop();
}

latency_summary listing_clients::stop() {
  stop_.store(true);
  for (auto& t : threads_) t.join();
  threads_.clear();
  std::lock_guard<std::mutex> guard{samples_mutex_};
  return summarize(samples_us_);
}

void listing_clients::run(caf::actor_system& sys, engine_actor engine, uint32_t first) {
  // GET /deliveries/v1/, ?eq(status,dead), ?eq(type,task)&sort(-creationTimestamp) and
  // GET /events/v1/, each with the API's default page of 20.
  const query queries[listing_kinds] = {
    query_of("limit(20)"), query_of("eq(status,dead)&limit(20)"),
    query_of("eq(type,task)&sort(-creationTimestamp)&limit(20)"), query_of("limit(20)")};
  caf::scoped_actor self{sys};
  std::vector<uint32_t> samples;
  for (uint32_t n = first; !stop_.load(); ++n) {
    auto kind = static_cast<listing>(n % listing_kinds);
    auto& q = queries[n % listing_kinds];
    auto started = std::chrono::steady_clock::now();
    auto failed = false;
    auto on_error = [&](caf::error&) { failed = true; };
    if (kind == listing::events)
      self->request(engine, std::chrono::seconds(10), events_atom::value, q)
        .receive([](json_page&) {}, on_error);
    else
      self->request(engine, std::chrono::seconds(10), deliveries_atom::value, q)
        .receive([](delivery_page&) {}, on_error);
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now()
                                                                    - started)
                .count();
    if (failed) failures_.fetch_add(1);
    samples.push_back(static_cast<uint32_t>(std::min<int64_t>(us, UINT32_MAX)));
  }
  std::lock_guard<std::mutex> guard{samples_mutex_};
  samples_us_.insert(samples_us_.end(), samples.begin(), samples.end());
}

} // namespace dispatch::bench
