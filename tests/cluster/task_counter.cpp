// The counting Task Service of the cluster tests (task_counter.hpp). Counting happens in the
// server's answer rule, on its I/O thread, so a tally never walks the whole request log.
#include "task_counter.hpp"

#include <sstream>

#include <rapidjson/document.h>

#include "fixtures/poll.hpp"

namespace dispatch::test {

namespace {

// "/node3/tasks/v1/" -> 3; 0 when the path does not name a node.
uint32_t node_of_target(const std::string& target) {
  const std::string prefix = "/node";
  if (target.compare(0, prefix.size(), prefix) != 0) return 0;
  auto end = target.find('/', prefix.size());
  if (end == std::string::npos || end == prefix.size()) return 0;
  try {
    return static_cast<uint32_t>(std::stoul(target.substr(prefix.size(), end - prefix.size())));
  } catch (const std::exception&) {
    return 0;
  }
}

// data.event.id of a task body; empty when the body lacks it.
std::string event_id_of(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.c_str(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) return {};
  auto data = doc.FindMember("data");
  if (data == doc.MemberEnd() || !data->value.IsObject()) return {};
  auto event = data->value.FindMember("event");
  if (event == data->value.MemberEnd() || !event->value.IsObject()) return {};
  auto id = event->value.FindMember("id");
  if (id == event->value.MemberEnd() || !id->value.IsString()) return {};
  return id->value.GetString();
}

} // namespace

std::string describe(const delivery_tally& tally) {
  std::ostringstream out;
  out << tally.requests << " tasks, " << tally.delivered << " events delivered, "
      << tally.missing.size() << " missing, " << tally.duplicates << " duplicate tasks, "
      << tally.split << " events under several delivery ids, " << tally.unexpected
      << " unexpected, " << tally.malformed << " malformed; by node:";
  for (auto& [node, n] : tally.by_node) out << " " << node << "=" << n;
  if (!tally.missing.empty()) out << "; first missing: " << tally.missing.front();
  return out.str();
}

task_counter::task_counter() {
  server_.set_default([this](const recorded_request& request) {
    count(request);
    return respond(200, R"({"id":"5f0000000000000000000001"})");
  });
}

std::string task_counter::url_for(uint32_t node) const {
  return server_.url() + "/node" + std::to_string(node);
}

void task_counter::count(const recorded_request& request) {
  auto node = node_of_target(request.target);
  auto key = request.header("Idempotency-Key");
  auto event = event_id_of(request.body);
  std::lock_guard<std::mutex> guard{mtx_};
  ++requests_;
  ++by_node_[node];
  if (node == 0 || key.empty() || event.empty() || request.method != "POST") {
    ++malformed_;
    return;
  }
  ++sends_[key];
  deliveries_[event].insert(key);
  senders_[event].insert(node);
}

delivery_tally task_counter::tally(const std::vector<published_event>& expected) const {
  delivery_tally result;
  std::set<std::string> wanted;
  for (auto& event : expected) wanted.insert(event.id);
  std::lock_guard<std::mutex> guard{mtx_};
  result.requests = requests_;
  result.malformed = malformed_;
  result.by_node = by_node_;
  for (auto& id : wanted) {
    auto found = deliveries_.find(id);
    if (found == deliveries_.end()) {
      result.missing.push_back(id);
      continue;
    }
    ++result.delivered;
    if (found->second.size() > 1) ++result.split;
  }
  for (auto& [event, keys] : deliveries_) {
    if (wanted.count(event) == 0) result.unexpected += keys.size();
  }
  for (auto& [key, n] : sends_) result.duplicates += n - 1;
  return result;
}

size_t task_counter::delivered_of(const std::vector<published_event>& expected) const {
  std::lock_guard<std::mutex> guard{mtx_};
  size_t n = 0;
  for (auto& event : expected) n += deliveries_.count(event.id);
  return n;
}

bool task_counter::wait_all_delivered(const std::vector<published_event>& expected,
                                      std::chrono::milliseconds limit) {
  // Every 100 ms, not 10: each look walks all of `expected` under the lock the server counts under.
  return eventually([&] { return delivered_of(expected) >= expected.size(); }, limit,
                    std::chrono::milliseconds{100});
}

std::set<uint32_t> task_counter::nodes_of(const std::string& event_id) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto found = senders_.find(event_id);
  return found == senders_.end() ? std::set<uint32_t>{} : found->second;
}

size_t task_counter::request_count() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return requests_;
}

} // namespace dispatch::test
