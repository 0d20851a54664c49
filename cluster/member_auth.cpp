// Proving membership: HMAC proofs, certificates and signatures from OpenSSL's libcrypto, and the
// registry of proven members.
#include "cluster/member_auth.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <stdexcept>
#include <vector>

#include "messages/error_code.hpp"

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

// The bytes of a hex text; empty when it is not hex of even length.
std::vector<unsigned char> unhex(std::string_view text) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::vector<unsigned char> out;
  if (text.size() % 2 != 0) return out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    auto high = digit(text[i]);
    auto low = digit(text[i + 1]);
    if (high < 0 || low < 0) return {};
    out.push_back(static_cast<unsigned char>(high * 16 + low));
  }
  return out;
}

// What a proof is computed over. Fields separated by a byte none of them contains, so no two
// field lists give one text.
std::string proof_text(hello_role role, const std::string& nonce, uint32_t member,
                       const caf::node_id& caf_node) {
  std::string text = role == hello_role::answer ? "dispatch-hello-answer" : "dispatch-hello-caller";
  for (auto& field : {nonce, std::to_string(member), caf::to_string(caf_node)}) {
    text.push_back('\n');
    text += field;
  }
  return text;
}

// OpenSSL's last error as text (and its queue emptied), for refusals and logs.
std::string openssl_error() {
  auto code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no detail";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

struct x509_free {
  void operator()(X509* x) const { X509_free(x); }
};
struct pkey_free {
  void operator()(EVP_PKEY* x) const { EVP_PKEY_free(x); }
};
struct store_free {
  void operator()(X509_STORE* x) const { X509_STORE_free(x); }
};
struct md_ctx_free {
  void operator()(EVP_MD_CTX* x) const { EVP_MD_CTX_free(x); }
};
struct store_ctx_free {
  void operator()(X509_STORE_CTX* x) const { X509_STORE_CTX_free(x); }
};
using x509_ptr = std::unique_ptr<X509, x509_free>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using store_ptr = std::unique_ptr<X509_STORE, store_free>;

// True when the certificate has the subjectAltName URI naming `node`.
bool names_node(X509* cert, uint32_t node) {
  auto wanted = node_uri(node);
  auto* names = static_cast<GENERAL_NAMES*>(
    X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return false;
  bool found = false;
  for (int i = 0; i < sk_GENERAL_NAME_num(names) && !found; ++i) {
    auto* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_URI) continue;
    auto* uri = name->d.uniformResourceIdentifier;
    std::string_view text{reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                          static_cast<size_t>(ASN1_STRING_length(uri))};
    found = text == wanted;
  }
  GENERAL_NAMES_free(names);
  return found;
}

// Why `cert` does not chain to the CA store, or nothing when it does.
std::optional<std::string> chain_refusal(X509_STORE* store, X509* cert) {
  std::unique_ptr<X509_STORE_CTX, store_ctx_free> ctx{X509_STORE_CTX_new()};
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store, cert, nullptr) != 1)
    return "cannot check a certificate: " + openssl_error();
  if (X509_verify_cert(ctx.get()) == 1) return std::nullopt;
  return std::string{"its certificate does not chain to dispatch.cluster.ca-file: "}
         + X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

} // namespace

class tls_identity {
public:
  x509_ptr certificate;
  std::string certificate_hex; // DER, as sent in proofs
  pkey_ptr key;
  store_ptr authorities;

  std::string sign(const std::string& text) const {
    std::unique_ptr<EVP_MD_CTX, md_ctx_free> ctx{EVP_MD_CTX_new()};
    size_t size = 0;
    auto data = reinterpret_cast<const unsigned char*>(text.data());
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1
        || EVP_DigestSign(ctx.get(), nullptr, &size, data, text.size()) != 1)
      throw std::runtime_error("cluster: OpenSSL cannot sign a hello: " + openssl_error());
    std::vector<unsigned char> signature(size);
    if (EVP_DigestSign(ctx.get(), signature.data(), &size, data, text.size()) != 1)
      throw std::runtime_error("cluster: OpenSSL cannot sign a hello: " + openssl_error());
    return hex(signature.data(), size);
  }
};

std::string node_uri(uint32_t node) {
  return "urn:dispatch:node:" + std::to_string(node);
}

caf::expected<tls_identity_ptr> load_tls_identity(const std::string& certificate,
                                                  const std::string& key,
                                                  const std::string& passphrase,
                                                  const std::string& ca_file, uint32_t node) {
  auto refuse = [](const std::string& option, const std::string& why) {
    return make_error(error_code::field_format, "dispatch.cluster." + option + ": " + why);
  };
  auto identity = std::make_shared<tls_identity>();
  if (auto* file = std::fopen(certificate.c_str(), "r")) {
    identity->certificate.reset(PEM_read_X509(file, nullptr, nullptr, nullptr));
    std::fclose(file);
  }
  if (!identity->certificate)
    return refuse("certificate", "cannot read a PEM certificate from " + certificate + " ("
                                   + openssl_error() + ")");
  if (auto* file = std::fopen(key.c_str(), "r")) {
    identity->key.reset(
      PEM_read_PrivateKey(file, nullptr, nullptr, const_cast<char*>(passphrase.c_str())));
    std::fclose(file);
  }
  if (!identity->key)
    return refuse("key", "cannot read a PEM private key from " + key + " (" + openssl_error()
                           + "; is dispatch.cluster.passphrase right?)");
  if (X509_check_private_key(identity->certificate.get(), identity->key.get()) != 1)
    return refuse("key", key + " is not the key of " + certificate);
  identity->authorities.reset(X509_STORE_new());
  if (!identity->authorities
      || X509_STORE_load_locations(identity->authorities.get(), ca_file.c_str(), nullptr) != 1)
    return refuse("ca-file",
                  "cannot read CA certificates from " + ca_file + " (" + openssl_error() + ")");
  if (auto why = chain_refusal(identity->authorities.get(), identity->certificate.get()))
    return refuse("certificate", certificate + ": " + *why);
  if (!names_node(identity->certificate.get(), node))
    return refuse("certificate",
                  certificate + " does not name this node: with TLS each member's certificate "
                                "needs the subjectAltName URI:" + node_uri(node));
  unsigned char* der = nullptr;
  auto size = i2d_X509(identity->certificate.get(), &der);
  if (size <= 0) return refuse("certificate", "cannot encode " + certificate);
  identity->certificate_hex = hex(der, static_cast<size_t>(size));
  OPENSSL_free(der);
  return tls_identity_ptr{std::move(identity)};
}

std::string prove(const member_auth& auth, hello_role role, const std::string& nonce,
                  uint32_t member, const caf::node_id& caf_node) {
  auto proof = member_proof(auth.secret, role, nonce, member, caf_node);
  if (auth.identity) {
    proof += '.';
    proof += auth.identity->certificate_hex;
    proof += '.';
    proof += auth.identity->sign(proof_text(role, nonce, member, caf_node));
  }
  return proof;
}

std::optional<std::string> refusal_of_proof(const member_auth& auth, hello_role role,
                                            const std::string& nonce, uint32_t member,
                                            const caf::node_id& caf_node,
                                            const std::string& given) {
  // A certificate chain fits in a few KiB; a longer proof is refused before any parsing.
  constexpr size_t max_proof_size = 32 * 1024;
  if (given.size() > max_proof_size) return std::string{"its proof is too long"};
  auto expected = member_proof(auth.secret, role, nonce, member, caf_node);
  std::string_view rest{given};
  auto mac = rest.substr(0, rest.find('.'));
  if (!same_proof(expected, std::string{mac}))
    return std::string{
      "it did not prove it is a member (is dispatch.cluster.secret the same on "
      "every node?)"};
  if (!auth.identity)
    return mac.size() == rest.size() ? std::nullopt
                                     : std::optional<std::string>{"its proof has extra fields"};
  rest.remove_prefix(std::min(rest.size(), mac.size() + 1));
  auto dot = rest.find('.');
  if (dot == std::string_view::npos)
    return "it presented no certificate (with TLS each member proves which member it is)";
  auto der = unhex(rest.substr(0, dot));
  auto signature = unhex(rest.substr(dot + 1));
  const unsigned char* cursor = der.data();
  x509_ptr cert{der.empty() ? nullptr : d2i_X509(nullptr, &cursor, static_cast<long>(der.size()))};
  if (!cert || cursor != der.data() + der.size()) {
    ERR_clear_error();
    return std::string{"its certificate does not parse"};
  }
  if (auto why = chain_refusal(auth.identity->authorities.get(), cert.get())) return why;
  if (!names_node(cert.get(), member))
    return "its certificate does not name node " + std::to_string(member)
           + " (no URI:" + node_uri(member) + ")";
  auto text = proof_text(role, nonce, member, caf_node);
  std::unique_ptr<EVP_MD_CTX, md_ctx_free> ctx{EVP_MD_CTX_new()};
  if (!ctx || signature.empty()
      || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                              X509_get0_pubkey(cert.get()))
           != 1
      || EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                          reinterpret_cast<const unsigned char*>(text.data()), text.size())
           != 1) {
    ERR_clear_error();
    return std::string{"its signature does not verify with its certificate"};
  }
  return std::nullopt;
}

std::string fresh_nonce() {
  unsigned char bytes[32];
  // A nonce that could repeat or be guessed would let a recorded proof be replayed: no fallback.
  if (RAND_bytes(bytes, sizeof(bytes)) != 1)
    throw std::runtime_error("cluster: OpenSSL has no random bytes for a hello nonce");
  return hex(bytes, sizeof(bytes));
}

std::string member_proof(const std::string& secret, hello_role role, const std::string& nonce,
                         uint32_t member, const caf::node_id& caf_node) {
  auto text = proof_text(role, nonce, member, caf_node);
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
