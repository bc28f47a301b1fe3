// Elementwise activations. Each is a stateless policy with the value, the first derivative and the second
// derivative (for exact Hessian-vector products), written once for host and device code.
// Derivatives receive both the pre-activation z and the output a = f(z) and use whichever is cheaper.
#pragma once

#include <cmath>
#include <string_view>

#include "metarm/core/config.hpp"

namespace metarm {

struct Identity {
  static constexpr std::string_view name = "identity";
  static constexpr bool is_identity = true;
  template <class T>
  METARM_HOST_DEVICE static T value(T z) {
    return z;
  }
  template <class T>
  METARM_HOST_DEVICE static T derivative(T, T) {
    return T(1);
  }
  template <class T>
  METARM_HOST_DEVICE static T second_derivative(T, T) {
    return T(0);
  }
};

struct ReLU {
  static constexpr std::string_view name = "relu";
  static constexpr bool is_identity = false;
  template <class T>
  METARM_HOST_DEVICE static T value(T z) {
    return z > T(0) ? z : T(0);
  }
  // The derivative at the kink is taken as 0, as in PyTorch.
  template <class T>
  METARM_HOST_DEVICE static T derivative(T z, T) {
    return z > T(0) ? T(1) : T(0);
  }
  template <class T>
  METARM_HOST_DEVICE static T second_derivative(T, T) {
    return T(0);
  }
};

struct Tanh {
  static constexpr std::string_view name = "tanh";
  static constexpr bool is_identity = false;
  template <class T>
  METARM_HOST_DEVICE static T value(T z) {
    using std::tanh;
    return tanh(z);
  }
  template <class T>
  METARM_HOST_DEVICE static T derivative(T, T a) {
    return T(1) - a * a;
  }
  template <class T>
  METARM_HOST_DEVICE static T second_derivative(T, T a) {
    return T(-2) * a * (T(1) - a * a);
  }
};

// The exact GELU, z * Phi(z), as PyTorch's default (not the tanh approximation).
struct GELU {
  static constexpr std::string_view name = "gelu";
  static constexpr bool is_identity = false;
  template <class T>
  METARM_HOST_DEVICE static T value(T z) {
    using std::erf;
    return T(0.5) * z * (T(1) + erf(z * T(0.70710678118654752440)));
  }
  // Phi(z) + z * phi(z)
  template <class T>
  METARM_HOST_DEVICE static T derivative(T z, T) {
    using std::erf;
    using std::exp;
    const T cdf = T(0.5) * (T(1) + erf(z * T(0.70710678118654752440)));
    const T pdf = T(0.39894228040143267794) * exp(T(-0.5) * z * z);
    return cdf + z * pdf;
  }
  // phi(z) * (2 - z^2)
  template <class T>
  METARM_HOST_DEVICE static T second_derivative(T z, T) {
    using std::exp;
    const T pdf = T(0.39894228040143267794) * exp(T(-0.5) * z * z);
    return pdf * (T(2) - z * z);
  }
};

}  // namespace metarm
