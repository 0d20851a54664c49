// Proving membership: HMAC proofs from OpenSSL's libcrypto, and the registry of proven members.
#include "cluster/member_auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace dispatch {

namespace {

std::string hex(const unsigned char* bytes, size_t size) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(digits[bytes[i] >> 4]);
    out.push_back(digits[bytes[i] & 0x0f]);
  }
  return out;
}

} // namespace

std::string fresh_nonce() {
  unsigned char bytes[32];
  // A nonce that could repeat or be guessed would let a recorded proof be replayed: no fallback.
  if (RAND_bytes(bytes, sizeof(bytes)) != 1)
    throw std::runtime_error("cluster: OpenSSL has no random bytes for a hello nonce");
  return hex(bytes, sizeof(bytes));
}

std::string member_proof(const std::string& secret, hello_role role, const std::string& nonce,
                         uint32_t member, const caf::node_id& caf_node) {
  // Fields separated by a byte none of them contains, so no two field lists give one text.
  std::string text = role == hello_role::answer ? "dispatch-hello-answer" : "dispatch-hello-caller";
  for (auto& field : {nonce, std::to_string(member), caf::to_string(caf_node)}) {
    text.push_back('\n');
    text += field;
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac, &size)
      == nullptr)
    throw std::runtime_error("cluster: OpenSSL cannot compute HMAC-SHA256");
  return hex(mac, size);
}

bool same_proof(const std::string& expected, const std::string& given) {
  if (expected.size() != given.size()) return false; // the length of a proof is no secret
  return CRYPTO_memcmp(expected.data(), given.data(), expected.size()) == 0;
}

bool member_registry::admit(const caf::node_id& where, uint32_t id) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto i = by_member_.find(id);
  if (i != by_member_.end() && i->second != where) return false;
  by_member_[id] = where;
  return true;
}

void member_registry::forget(uint32_t id, const caf::node_id& where) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto i = by_member_.find(id);
  if (i != by_member_.end() && i->second == where) by_member_.erase(i);
}

std::optional<uint32_t> member_registry::member_at(const caf::node_id& where) const {
  std::lock_guard<std::mutex> guard{mutex_};
  for (auto& [id, node] : by_member_)
    if (node == where) return id;
  return std::nullopt;
}

} // namespace dispatch
