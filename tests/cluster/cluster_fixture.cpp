// The test cluster (cluster_fixture.hpp): node command lines, start, restart and freeze, the
// /cluster/v1/ readers, TLS files made with the openssl CLI, and the round-robin publisher.
#include "cluster_fixture.hpp"

#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <random>
#include <thread>

#include <boost/asio/ip/tcp.hpp>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "cluster/shard_map.hpp"
#include "fixtures/http_test_server.hpp"
#include "messages/ids.hpp"

namespace dispatch::test {

using namespace std::chrono_literals;

namespace {

// "--dispatch.shards=8" -> "--dispatch.shards".
std::string key_of(const std::string& arg) {
  return arg.substr(0, arg.find('='));
}

// Appends `more`, an option already present being replaced where it stands.
void merge_options(std::vector<std::string>& args, const std::vector<std::string>& more) {
  for (auto& arg : more) {
    auto same = std::find_if(args.begin(), args.end(),
                             [&](const std::string& old) { return key_of(old) == key_of(arg); });
    if (same != args.end())
      *same = arg;
    else
      args.push_back(arg);
  }
}

std::string last_lines(const std::string& text, size_t lines) {
  size_t pos = text.size();
  for (size_t n = 0; n <= lines && pos > 0; ++n) {
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) return text;
  }
  return text.substr(pos + 1);
}

void run_openssl(const std::string& dir, const std::string& command) {
  auto line = "cd '" + dir + "' && openssl " + command + " >> openssl.log 2>&1";
  BOOST_REQUIRE_MESSAGE(std::system(line.c_str()) == 0,
                        "openssl failed: " << command << "\n"
                                           << read_text_file(dir + "/openssl.log"));
}

} // namespace

tls_files make_tls_files(const std::string& dir, uint32_t nodes) {
  std::filesystem::create_directories(dir);
  run_openssl(dir,
              "req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
              "-subj '/CN=dispatch test CA' -addext 'basicConstraints=critical,CA:TRUE' "
              "-addext 'keyUsage=critical,keyCertSign,cRLSign'");
  tls_files files;
  files.ca_file = dir + "/ca.pem";
  for (uint32_t id = 1; id <= nodes; ++id) {
    auto name = "node" + std::to_string(id);
    // Each certificate names its member: the hello checks it against the node id claimed.
    std::ofstream{dir + "/" + name + ".ext"}
      << "subjectAltName=IP:127.0.0.1,URI:urn:dispatch:node:" << id << "\n"
      << "basicConstraints=CA:FALSE\n"
      << "keyUsage=critical,digitalSignature,keyEncipherment\n"
      << "extendedKeyUsage=serverAuth,clientAuth\n";
    run_openssl(dir, "req -newkey rsa:2048 -nodes -keyout " + name + ".key -out " + name
                       + ".csr -subj '/CN=127.0.0.1'");
    run_openssl(dir, "x509 -req -in " + name + ".csr -CA ca.pem -CAkey ca.key -CAcreateserial "
                       + "-out " + name + ".pem -days 2 -extfile " + name + ".ext");
    files.certificate[id] = dir + "/" + name + ".pem";
    files.key[id] = dir + "/" + name + ".key";
  }
  return files;
}

uint16_t peer_port(const std::vector<uint16_t>& taken) {
  // Below the kernel's ephemeral range: a port picked there (as binding port 0 does) can be
  // taken by any outgoing connection before the node binds it, or while a killed node is down.
  unsigned low = 32768, high = 60999;
  std::ifstream range{"/proc/sys/net/ipv4/ip_local_port_range"};
  range >> low >> high;
  auto floor = 10000u, ceiling = std::max(floor + 1000u, std::min(low, 65536u));
  static std::mt19937 random{std::random_device{}()};
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto port = static_cast<uint16_t>(floor + random() % (ceiling - floor));
    if (std::find(taken.begin(), taken.end(), port) != taken.end()) continue;
    boost::asio::io_context io;
    boost::system::error_code ec;
    boost::asio::ip::tcp::acceptor probe{io};
    probe.open(boost::asio::ip::tcp::v4(), ec);
    if (!ec) probe.bind({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
    if (!ec) return port;
  }
  BOOST_FAIL("no free port for a cluster node below the ephemeral range");
  return 0;
}

test_cluster::test_cluster(cluster_options options) : options_(std::move(options)) {
  BOOST_REQUIRE(options_.nodes >= 1);
  if (options_.tls) tls_ = make_tls_files(dir / "tls", options_.nodes);
  // Each test cluster its own secret: a node left over from another test cannot join this one.
  std::random_device entropy;
  for (int i = 0; i < 32; ++i) secret_.push_back("0123456789abcdef"[entropy() % 16]);
  secret_file_ = dir / "cluster.secret";
  {
    std::ofstream file{secret_file_};
    file << secret_ << "\n";
    BOOST_REQUIRE_MESSAGE(file.good(), "cannot write " << secret_file_);
  }
  std::vector<uint16_t> taken;
  for (uint32_t id = 1; id <= options_.nodes; ++id) {
    node n;
    n.id = id;
    n.cluster_port = peer_port(taken);
    taken.push_back(n.cluster_port);
    nodes_.push_back(std::move(n));
  }
}

test_cluster::~test_cluster() = default; // every process is SIGKILLed with its handle

std::vector<uint32_t> test_cluster::ids() const {
  std::vector<uint32_t> result;
  for (auto& n : nodes_) result.push_back(n.id);
  return result;
}

test_cluster::node& test_cluster::at(uint32_t id) {
  BOOST_REQUIRE(id >= 1 && id <= nodes_.size());
  return nodes_[id - 1];
}

const test_cluster::node& test_cluster::at(uint32_t id) const {
  BOOST_REQUIRE(id >= 1 && id <= nodes_.size());
  return nodes_[id - 1];
}

std::vector<std::string> test_cluster::args_of(uint32_t id,
                                               const std::vector<std::string>& more) const {
  auto address = [&](uint32_t n) { return cluster_address(n); };
  std::string peers;
  for (auto& n : nodes_) {
    if (n.id == id) continue;
    if (!peers.empty()) peers += ",";
    peers += "\"" + std::to_string(n.id) + "@" + address(n.id) + "\"";
  }
  auto prefix = "--dispatch.cluster.";
  std::vector<std::string> args{
    "--dispatch.data-dir=" + dir / ("node" + std::to_string(id)),
    "--dispatch.http.port=0",
    "--dispatch.http.host=127.0.0.1",
    "--dispatch.shards=" + std::to_string(options_.shards),
    "--dispatch.retry.initial=100",
    "--dispatch.sinks.breaker-failures=1000000",
    "--dispatch.sinks.task.url=" + tasks.url_for(id),
    prefix + std::string{"node="} + std::to_string(id),
    prefix + std::string{"listen="} + address(id),
    prefix + std::string{"peers=["} + peers + "]",
    prefix + std::string{"heartbeat-interval="} + std::to_string(options_.heartbeat.count()),
    prefix + std::string{"peer-timeout="} + std::to_string(options_.peer_timeout.count()),
    prefix + std::string{"reconnect-initial=100"},
    prefix + std::string{"reconnect-max=1000"},
    prefix + std::string{"secret-file="} + secret_file_,
  };
  if (options_.tls) {
    args.push_back(prefix + std::string{"certificate="} + tls_.certificate.at(id));
    args.push_back(prefix + std::string{"key="} + tls_.key.at(id));
    args.push_back(prefix + std::string{"ca-file="} + tls_.ca_file);
  }
  merge_options(args, options_.more);
  merge_options(args, more);
  return args;
}

void test_cluster::start(uint32_t id) {
  start(id, args_of(id));
}

void test_cluster::start(uint32_t id, std::vector<std::string> args) {
  auto& n = at(id);
  n.client.reset();
  n.http_port = 0;
  n.process = std::make_unique<dispatchd_process>(std::move(args),
                                                  dir / ("node" + std::to_string(id) + ".log"));
}

void test_cluster::start_all() {
  for (auto& n : nodes_) start(n.id);
  for (auto& n : nodes_) wait_ready(n.id);
  wait_peers_up();
}

void test_cluster::wait_ready(uint32_t id) {
  auto& n = at(id);
  BOOST_REQUIRE_MESSAGE(n.process, "node " << id << " was never started");
  auto ready = n.process->wait_for("\\bready\\n", cluster_deadline);
  BOOST_REQUIRE_MESSAGE(!ready.empty(), "node " << id << " did not get ready:\n"
                                                << last_lines(n.process->all_logs(), 60));
  n.http_port = n.process->port_of("127.0.0.1");
  n.client = std::make_unique<http_client>("127.0.0.1", n.http_port, 30s);
}

void test_cluster::wait_peers_up() {
  std::vector<uint32_t> running;
  for (auto& n : nodes_)
    if (n.process && n.process->running()) running.push_back(n.id);
  bool up = eventually(
    [&] {
      for (auto at_id : running)
        for (auto peer : running)
          if (peer != at_id && peer_state(at_id, peer) != "up") return false;
      return true;
    },
    cluster_deadline);
  BOOST_REQUIRE_MESSAGE(up, "peers not all up:\n" << log_tails());
}

void test_cluster::kill(uint32_t id) {
  auto& n = at(id);
  n.client.reset();
  n.process->signal(SIGKILL);
  BOOST_TEST(n.process->exit_status() == -1);
}

void test_cluster::restart(uint32_t id) {
  auto& n = at(id);
  n.client.reset();
  n.process->restart();
  wait_ready(id);
}

void test_cluster::pause(uint32_t id) {
  at(id).process->pause();
}

void test_cluster::resume(uint32_t id) {
  at(id).process->resume();
}

dispatchd_process& test_cluster::process(uint32_t id) {
  auto& n = at(id);
  BOOST_REQUIRE_MESSAGE(n.process, "node " << id << " was never started");
  return *n.process;
}

std::string test_cluster::cluster_address(uint32_t id) const {
  return "127.0.0.1:" + std::to_string(at(id).cluster_port);
}

uint16_t test_cluster::http_port(uint32_t id) {
  return at(id).http_port;
}

node_ports test_cluster::http_ports(const std::vector<uint32_t>& ids) {
  node_ports ports;
  for (auto id : ids) {
    BOOST_REQUIRE_MESSAGE(at(id).http_port != 0, "node " << id << " is not ready");
    ports.emplace_back(id, at(id).http_port);
  }
  return ports;
}

http_client& test_cluster::client(uint32_t id) {
  auto& n = at(id);
  BOOST_REQUIRE_MESSAGE(n.http_port != 0, "node " << id << " is not ready");
  if (!n.client) n.client = std::make_unique<http_client>("127.0.0.1", n.http_port, 30s);
  return *n.client;
}

http_answer test_cluster::request(uint32_t id, const std::string& method, const std::string& target,
                                  const std::string& body) {
  try {
    return client(id).request(method, target, body);
  } catch (const connection_closed&) {
    at(id).client.reset();
    return client(id).request(method, target, body);
  }
}

rapidjson::Document test_cluster::state(uint32_t at_id) {
  auto answer = request(at_id, "GET", "/cluster/v1/");
  BOOST_REQUIRE_MESSAGE(answer.status == 200u, "GET /cluster/v1/ on node " << at_id << ": "
                                                                           << answer.status << " "
                                                                           << answer.body);
  auto doc = json_of(answer);
  BOOST_REQUIRE_MESSAGE(!doc.HasParseError() && doc.IsObject() && doc.HasMember("peers")
                          && doc["peers"].IsArray(),
                        "GET /cluster/v1/ on node " << at_id << ": " << answer.body);
  return doc;
}

std::string test_cluster::peer_state(uint32_t at_id, uint32_t peer) {
  auto doc = state(at_id);
  for (auto& p : doc["peers"].GetArray())
    if (number_at(p, "id") == peer) return text_at(p, "state");
  return "";
}

uint64_t test_cluster::forward_depth(uint32_t at_id, uint32_t peer) {
  auto doc = state(at_id);
  for (auto& p : doc["peers"].GetArray()) {
    if (number_at(p, "id") != peer) continue;
    auto depth = number_at(p, "forwardDepth");
    BOOST_REQUIRE_MESSAGE(depth != UINT64_MAX, "node " << at_id << ": no forwardDepth for peer "
                                                       << peer << " in " << text_of_json(doc));
    return depth;
  }
  BOOST_FAIL("node " << at_id << " does not list peer " << peer);
  return 0;
}

std::string test_cluster::log_tails(size_t lines) const {
  std::string text;
  for (auto& n : nodes_) {
    if (!n.process) continue;
    text += "---- node " + std::to_string(n.id) + "\n" + last_lines(n.process->all_logs(), lines);
  }
  return text;
}

uint32_t test_cluster::owner_of(const std::string& event_type) const {
  auto owners = assign_shards(options_.shards, ids());
  return owners.at(shard_of(event_type, options_.shards));
}

uint64_t test_cluster::shards_of(uint32_t id) const {
  auto owners = assign_shards(options_.shards, ids());
  return static_cast<uint64_t>(std::count(owners.begin(), owners.end(), id));
}

std::vector<std::string> test_cluster::types_per_shard(const std::string& prefix) const {
  std::vector<std::string> by_shard(options_.shards);
  size_t found = 0;
  for (uint32_t i = 0; found < by_shard.size(); ++i) {
    auto type = prefix + "." + std::to_string(i);
    auto& slot = by_shard[shard_of(type, options_.shards)];
    if (slot.empty()) {
      slot = type;
      ++found;
    }
  }
  return by_shard;
}

rapidjson::Document create_dispatcher(http_client& client, const std::string& event_type,
                                      const std::string& function) {
  auto answer = client.request("POST", "/dispatchers/v1/",
                               R"({"eventType":")" + event_type
                                 + R"(","actions":[{"type":"task","functionName":")" + function
                                 + R"("}]})");
  BOOST_REQUIRE_MESSAGE(answer.status == 200u,
                        "create " << event_type << ": " << answer.status << " " << answer.body);
  auto doc = json_of(answer);
  BOOST_REQUIRE_MESSAGE(!doc.HasParseError() && doc.IsObject() && doc.HasMember("id"), answer.body);
  return doc;
}

http_answer get_dispatcher(http_client& client, const std::string& id) {
  return client.request("GET", "/dispatchers/v1/" + id);
}

std::string text_of_json(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer{buffer};
  value.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

uint64_t number_at(const rapidjson::Value& object, const char* key) {
  if (!object.IsObject()) return UINT64_MAX;
  auto found = object.FindMember(key);
  return found != object.MemberEnd() && found->value.IsUint64() ? found->value.GetUint64()
                                                                : UINT64_MAX;
}

std::string text_at(const rapidjson::Value& object, const char* key) {
  if (!object.IsObject()) return "(absent)";
  auto found = object.FindMember(key);
  return found != object.MemberEnd() && found->value.IsString() ? found->value.GetString()
                                                                : "(absent)";
}

double metric_value(const std::string& text, const std::string& sample) {
  std::istringstream lines{text};
  std::string line;
  while (std::getline(lines, line)) {
    if (line.compare(0, sample.size() + 1, sample + " ") == 0) {
      try {
        return std::stod(line.substr(sample.size() + 1));
      } catch (const std::exception&) {
        return -1;
      }
    }
  }
  return -1;
}

} // namespace dispatch::test
