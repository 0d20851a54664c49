// CAF 0.17.6's binary serializer never returns on an infinite float or double (its pack754 halves
// infinity until it drops below 2). The deserializer fuzz target encodes through this wrapper,
// which refuses non-finite numbers instead and says so, so that finding is recorded once
// (fuzz/README.md) rather than stopping every run as a timeout.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/sec.hpp>
#include <caf/serializer.hpp>

namespace dispatch::fuzz {

class finite_serializer final : public caf::serializer {
public:
  finite_serializer(caf::actor_system& sys, std::vector<char>& buf)
      : serializer(sys), inner_(sys, buf) {}

  /// True when an encoding stopped at a non-finite number.
  bool saw_non_finite = false;

  caf::error begin_object(uint16_t& typenr, std::string& name) override {
    return inner_.begin_object(typenr, name);
  }
  caf::error end_object() override { return inner_.end_object(); }
  caf::error begin_sequence(size_t& num) override { return inner_.begin_sequence(num); }
  caf::error end_sequence() override { return inner_.end_sequence(); }
  caf::error apply_raw(size_t num_bytes, void* data) override {
    return inner_.apply_raw(num_bytes, data);
  }

protected:
  caf::error apply_impl(int8_t& x) override { return inner_(x); }
  caf::error apply_impl(uint8_t& x) override { return inner_(x); }
  caf::error apply_impl(int16_t& x) override { return inner_(x); }
  caf::error apply_impl(uint16_t& x) override { return inner_(x); }
  caf::error apply_impl(int32_t& x) override { return inner_(x); }
  caf::error apply_impl(uint32_t& x) override { return inner_(x); }
  caf::error apply_impl(int64_t& x) override { return inner_(x); }
  caf::error apply_impl(uint64_t& x) override { return inner_(x); }
  caf::error apply_impl(float& x) override { return finite(x); }
  caf::error apply_impl(double& x) override { return finite(x); }
  caf::error apply_impl(long double& x) override { return finite(x); }
  caf::error apply_impl(std::string& x) override { return inner_(x); }
  caf::error apply_impl(std::u16string& x) override { return inner_(x); }
  caf::error apply_impl(std::u32string& x) override { return inner_(x); }

private:
  template <class Float>
  caf::error finite(Float& x) {
    if (std::isfinite(x)) return inner_(x);
    saw_non_finite = true;
    return caf::sec::invalid_argument;
  }

  caf::binary_serializer inner_;
};

} // namespace dispatch::fuzz
