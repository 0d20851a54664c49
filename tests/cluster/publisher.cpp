// The round-robin publisher of the cluster tests (cluster_fixture.hpp): batches through
// POST /events/v1/batch on keep-alive connections. It runs on threads of its own, so it reports
// problems as values and never calls Boost.Test.
#include <rapidjson/document.h>

#include <map>
#include <memory>
#include <thread>

#include "cluster_fixture.hpp"

namespace dispatch::test {

using namespace std::chrono_literals;

namespace {

constexpr int max_tries = 100;      // per batch: overload answers and reconnects
constexpr size_t max_problems = 10; // reasons kept for the failure message

struct batch_sender {
  uint32_t node;
  uint16_t port;
  std::unique_ptr<http_client> client;
  publish_outcome& outcome;

  void note(const std::string& problem) {
    if (outcome.problems.size() < max_problems)
      outcome.problems.push_back("node " + std::to_string(node) + ": " + problem);
  }

  http_answer post(const std::string& body) {
    if (!client) client = std::make_unique<http_client>("127.0.0.1", port, 30s);
    return client->request("POST", "/events/v1/batch", body);
  }

  /// Sends `pending` until each is acknowledged or refused for good; returns the acknowledged.
  std::vector<published_event> send(std::vector<published_event> pending) {
    std::vector<published_event> done;
    for (int tries = 0; !pending.empty(); ++tries) {
      if (tries == max_tries) {
        note("gave up after " + std::to_string(max_tries) + " tries");
        outcome.rejected += pending.size();
        break;
      }
      if (tries > 0) std::this_thread::sleep_for(100ms);
      std::string body = "[";
      for (size_t i = 0; i < pending.size(); ++i) {
        body += (i ? "," : "")
                + (R"({"type":")" + pending[i].type + R"(","id":")" + pending[i].id
                   + R"(","content":{"n":)" + std::to_string(i) + "}}");
      }
      body += "]";
      http_answer answer;
      try {
        answer = post(body);
      } catch (const std::exception& e) {
        // The same ids again: an id the node already stored is answered, not dispatched twice.
        note(std::string{"request failed: "} + e.what());
        client.reset();
        continue;
      }
      if (answer.status == 503) continue;
      if (answer.status != 200) {
        note("answered " + std::to_string(answer.status) + " " + answer.body);
        outcome.rejected += pending.size();
        break;
      }
      pending = sort_answer(answer, std::move(pending), done);
    }
    return done;
  }

  /// Moves the acknowledged into `done`; returns the ones to try again (overloaded, code 1).
  std::vector<published_event> sort_answer(const http_answer& answer,
                                           std::vector<published_event> pending,
                                           std::vector<published_event>& done) {
    rapidjson::Document doc;
    doc.Parse(answer.body.c_str(), answer.body.size());
    if (doc.HasParseError() || !doc.IsArray() || doc.Size() != pending.size()) {
      note("unreadable batch answer: " + answer.body.substr(0, 200));
      outcome.rejected += pending.size();
      return {};
    }
    std::vector<published_event> again;
    for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
      auto& entry = doc[i];
      bool stored = entry.IsObject() && !entry.HasMember("code") && entry.HasMember("id")
                    && entry["id"].IsString() && pending[i].id == entry["id"].GetString();
      if (stored) {
        done.push_back(std::move(pending[i]));
      } else if (entry.IsObject() && entry.HasMember("code") && entry["code"].IsUint()
                 && entry["code"].GetUint() == 1) {
        again.push_back(std::move(pending[i]));
      } else {
        note("refused: " + answer.body.substr(0, 200));
        ++outcome.rejected;
      }
    }
    return again;
  }
};

} // namespace

publish_outcome publish_round_robin(const node_ports& targets,
                                    const std::vector<std::string>& types, size_t count,
                                    size_t batch, std::atomic<size_t>* progress,
                                    const std::atomic<bool>* stop) {
  publish_outcome outcome;
  if (targets.empty() || types.empty() || batch == 0) return outcome;
  std::vector<batch_sender> senders;
  for (auto [node, port] : targets) senders.push_back(batch_sender{node, port, {}, outcome});
  size_t made = 0;
  for (size_t round = 0; made < count; ++round) {
    if (stop && stop->load()) break;
    auto& sender = senders[round % senders.size()];
    std::vector<published_event> events;
    for (; events.size() < batch && made < count; ++made)
      events.push_back(published_event{fresh_object_id(), types[made % types.size()], sender.node});
    auto done = sender.send(std::move(events));
    if (progress) progress->fetch_add(done.size());
    outcome.acknowledged.insert(outcome.acknowledged.end(), std::make_move_iterator(done.begin()),
                                std::make_move_iterator(done.end()));
  }
  return outcome;
}

} // namespace dispatch::test
