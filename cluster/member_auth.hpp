// Proving membership: the proofs of the two-step hello (HMAC-SHA256 of the cluster secret over a
// fresh nonce, a node id and a CAF node id; with TLS also the prover's certificate, which must name
// that node id, and its signature over the same text) and the table of who proved which node id.
// The middleman authenticates nobody; the peer endpoint refuses every call not backed by this
// table.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <caf/expected.hpp>
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

/// With TLS, who this node is: its certificate and private key, and the CA that signed every
/// member's certificate. CAF 0.17's TLS layer checks a peer's certificate against the CA but does
/// not tell which member it belongs to; the hello does: each proof also carries the prover's
/// certificate (DER) and its signature (SHA-256) over the proof's text, and a certificate must name
/// the node id its bearer claims as a subjectAltName URI `urn:dispatch:node:<id>`. The secret
/// proves membership; the certificate, which member. Thread-safe (shared by the membership and
/// the endpoint).
class tls_identity;
using tls_identity_ptr = std::shared_ptr<const tls_identity>;

/// The subjectAltName URI that names member `node` in its certificate.
std::string node_uri(uint32_t node);

/// Loads this node's identity. Refused, naming the option, when a file does not load, the
/// certificate does not chain to the CA, the key is not the certificate's, or the certificate does
/// not name `node`.
caf::expected<tls_identity_ptr> load_tls_identity(const std::string& certificate,
                                                  const std::string& key,
                                                  const std::string& passphrase,
                                                  const std::string& ca_file, uint32_t node);

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
  std::string secret;        // never logged
  tls_identity_ptr identity; // with TLS; null without
  member_registry_ptr registry = std::make_shared<member_registry>();
};

/// This node's proof that it is `member` (see `member_proof`); with an identity, followed by
/// `.` certificate `.` signature (both hex).
std::string prove(const member_auth& auth, hello_role role, const std::string& nonce,
                  uint32_t member, const caf::node_id& caf_node);

/// Checks a peer's proof that it is `member`: the HMAC, and with an identity its certificate
/// (chains to the CA, names `member`) and signature. Why it was refused, or nothing when valid.
std::optional<std::string> refusal_of_proof(const member_auth& auth, hello_role role,
                                            const std::string& nonce, uint32_t member,
                                            const caf::node_id& caf_node, const std::string& given);

} // namespace dispatch
