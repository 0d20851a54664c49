// Proving membership: the proofs of the two-step hello (HMAC-SHA256 of the cluster secret over a
// fresh nonce, a node id and a CAF node id) and the table of who proved which node id. The
// middleman authenticates nobody; the peer endpoint refuses every call not backed by this table.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <caf/node_id.hpp>

namespace dispatch {

/// Who computes a proof: the node that was called (over the caller's nonce) or the caller (over
/// the called node's nonce). Part of the MAC, so one side's proof never passes for the other's.
enum class hello_role : uint8_t { answer, caller };

/// A fresh nonce: 32 random bytes from OpenSSL, as 64 hex characters.
std::string fresh_nonce();

/// HMAC-SHA256(secret, role ‖ nonce ‖ member ‖ caf_node), hex. `member` is the node id the prover
/// claims and `caf_node` the CAF node it speaks from, so a proof is good for one connection only.
std::string member_proof(const std::string& secret, hello_role role, const std::string& nonce,
                         uint32_t member, const caf::node_id& caf_node);

/// Compares two proofs in constant time (for equal lengths).
bool same_proof(const std::string& expected, const std::string& given);

/// Which member each connected CAF node proved it is. Shared by the membership (which learns of
/// connections lost) and the endpoint (which checks every call); hence the lock.
class member_registry {
public:
  /// Records that `where` proved it is member `id`. Refused (false) while `id` is admitted from
  /// another CAF node: a member that is connected keeps its slot.
  bool admit(const caf::node_id& where, uint32_t id);

  /// Forgets member `id` if it is still admitted from `where` (its connection is gone).
  void forget(uint32_t id, const caf::node_id& where);

  /// The member `where` proved it is, if any.
  std::optional<uint32_t> member_at(const caf::node_id& where) const;

private:
  mutable std::mutex mutex_;
  std::map<uint32_t, caf::node_id> by_member_;
};

using member_registry_ptr = std::shared_ptr<member_registry>;

/// What the membership and the endpoint need to prove and check membership.
struct member_auth {
  std::string secret; // never logged
  member_registry_ptr registry = std::make_shared<member_registry>();
};

} // namespace dispatch
