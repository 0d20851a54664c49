// Errors of the store's value encoding: they name the family and the (readable) key so that an
// operator can find the broken record.
#include "persistence/codec.hpp"

#include "messages/error_code.hpp"
#include "persistence/keys.hpp"

namespace dispatch::codec {

caf::error corrupt_value(const char* family, const char* key, size_t key_size,
                         const std::string& reason) {
  return make_error(error_code::server, std::string{"store: family "} + family + ", key '"
                                          + keys::printable(key, key_size)
                                          + "': value does not decode (" + reason + ")");
}

caf::error encode_failed(const char* what, const caf::error& cause) {
  return make_error(error_code::server,
                    std::string{"store: cannot encode "} + what + ": " + caf::to_string(cause));
}

} // namespace dispatch::codec
