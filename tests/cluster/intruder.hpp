// A process that is not a member but speaks CAF to a node's cluster port: the test process itself,
// with an actor system of its own (the middleman, our message types, the cluster's application
// identifier), as anyone on the machine could build it. The cluster's security tests use it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/deserializer.hpp>
#include <caf/detail/stringification_inspector.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/serializer.hpp>

#include "cluster/interfaces.hpp"
#include "config/cluster_config.hpp"

namespace dispatch::test {

/// A query whose filter is `and(and(...(all)...))` nested `depth` deep, written to the wire in
/// exactly the bytes of the old recursive `dispatch.query` type, but without recursion (the test
/// process would overflow its own stack otherwise). Registered as "dispatch.query" on the
/// intruder only; it is never read back.
struct deep_query {
  uint32_t depth = 0;
};

inline caf::error inspect(caf::serializer& f, deep_query& x) {
  auto and_op = static_cast<uint8_t>(filter_op::and_);
  auto all_op = static_cast<uint8_t>(filter_op::all);
  std::string no_path;
  size_t none = 0;
  size_t one = 1;
  for (uint32_t i = 0; i < x.depth; ++i) {
    // op, path, values (none), children (one, the next level)
    if (auto err = f(and_op, no_path)) return err;
    if (auto err = f.begin_sequence(none)) return err;
    if (auto err = f.end_sequence()) return err;
    if (auto err = f.begin_sequence(one)) return err;
  }
  if (auto err = f(all_op, no_path)) return err;
  for (int leaf_lists = 0; leaf_lists < 2; ++leaf_lists) {
    if (auto err = f.begin_sequence(none)) return err;
    if (auto err = f.end_sequence()) return err;
  }
  for (uint32_t i = 0; i < x.depth; ++i)
    if (auto err = f.end_sequence()) return err;
  // select, sort (both empty), limit, offset
  for (int lists = 0; lists < 2; ++lists) {
    if (auto err = f.begin_sequence(none)) return err;
    if (auto err = f.end_sequence()) return err;
  }
  uint32_t limit = 20;
  uint32_t offset = 0;
  return f(limit, offset);
}

inline caf::error inspect(caf::deserializer&, deep_query&) {
  return caf::sec::invalid_argument; // the intruder only sends it
}

inline void inspect(caf::detail::stringification_inspector& f, deep_query& x) {
  f(caf::meta::type_name("deep_query"), x.depth);
}

class intruder {
public:
  /// Without TLS files in `tls` a plain CAF connection; with them, CAF's TLS (as a member's).
  explicit intruder(const cluster_config& tls = {});
  ~intruder();
  intruder(const intruder&) = delete;
  intruder& operator=(const intruder&) = delete;

  caf::actor_system& system() { return *sys_; }

  /// The peer endpoint published on 127.0.0.1:`port`; fails the test when there is none.
  peer_actor connect(uint16_t port);

private:
  bool tls_ = false;
  std::unique_ptr<caf::actor_system_config> cfg_;
  std::unique_ptr<caf::actor_system> sys_;
};

/// The port of an "host:port" address.
uint16_t port_of(const std::string& address);

/// Connects to 127.0.0.1:`port` with plain TCP, writes `bytes`, ends its side and waits for the
/// node to close the connection. True when it did within `wait`: it has judged the bytes, at the
/// first it refused or at their end.
bool send_raw_bytes(uint16_t port, const std::string& bytes,
                    std::chrono::milliseconds wait = std::chrono::seconds(30));

} // namespace dispatch::test
