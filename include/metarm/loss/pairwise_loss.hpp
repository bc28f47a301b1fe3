// SPDX-License-Identifier: Apache-2.0
/// \file
/// A preference loss built from a scalar function of one pair's reward difference, written once for every
/// backend:
/// \verbatim
///   L = (1/n) sum_i l(delta_i) + c (1/n) sum_i (r_w,i + r_l,i)^2,    delta_i = r_w,i - r_l,i - m_i
/// \endverbatim
/// where l is the Term (its value, first and second derivative in delta), m_i the pair's margin (0 without
/// margins) and c the reward-centering coefficient. The gradient and the reward-space Hessian product follow
/// from l' and l'': per pair, d/dr_w = (l' + 2 c s) / n, d/dr_l = (-l' + 2 c s) / n, and the 2 x 2 Hessian is
/// (l'' [1 -1; -1 1] + 2 c [1 1; 1 1]) / n, with s = r_w + r_l.
///
/// A Term is a struct with METARM_HOST_DEVICE members `value(T)`, `derivative(T)` and
/// `second_derivative(T)`, optionally `static constexpr std::string_view name` and `validate()`. It is
/// copied into device kernels, so it holds plain values only.
#pragma once

#include <cmath>
#include <string>
#include <string_view>

#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/scalar_math.hpp"

namespace metarm {

namespace detail {

template <class Term, class T>
struct PairwiseLossTerms {
  Term term;
  const T* rewards;
  const T* margins;  // null without margins
  T* d_rewards;      // null for the value alone
  index_t n;
  T centering;
  T inv_n;

  METARM_HOST_DEVICE double operator()(index_t i) const {
    const T chosen = rewards[i];
    const T rejected = rewards[n + i];
    const T delta = chosen - rejected - (margins != nullptr ? margins[i] : T(0));
    const T sum = chosen + rejected;
    if (d_rewards != nullptr) {
      const T pull = term.derivative(delta) * inv_n;
      const T centre = T(2) * centering * sum * inv_n;
      d_rewards[i] = pull + centre;
      d_rewards[n + i] = -pull + centre;
    }
    if (!(is_finite(chosen) && is_finite(rejected))) {
      return quiet_nan();
    }
    return static_cast<double>(term.value(delta)) + static_cast<double>(centering) * static_cast<double>(sum * sum);
  }
};

template <class Term, class T>
struct PairwiseLossHessianProduct {
  Term term;
  const T* rewards;
  const T* margins;
  const T* tangent;
  T* out;
  index_t n;
  T centering;
  T inv_n;

  METARM_HOST_DEVICE void operator()(index_t i) const {
    const T delta = rewards[i] - rewards[n + i] - (margins != nullptr ? margins[i] : T(0));
    const T pull = term.second_derivative(delta) * (tangent[i] - tangent[n + i]) * inv_n;
    const T centre = T(2) * centering * (tangent[i] + tangent[n + i]) * inv_n;
    out[i] = pull + centre;
    out[n + i] = -pull + centre;
  }
};

}  // namespace detail

/// A preference loss made from a Term, a function of one pair's reward difference, plus optional reward centering.
template <class Term>
class PairwiseLoss {
 public:
  /// The Term the loss is made from.
  using term_type = Term;
  /// The Term's name, or "pairwise" when it declares none.
  static constexpr std::string_view name = [] {
    if constexpr (requires { Term::name; }) {
      return std::string_view(Term::name);
    } else {
      return std::string_view("pairwise");
    }
  }();

  /// The loss with a default Term and no centering.
  PairwiseLoss() { validate(); }
  /// `centering` is the reward-centering coefficient c; it must be finite and >= 0.
  explicit PairwiseLoss(Term term, double centering = 0.0) : term_(term), centering_(centering) { validate(); }

  /// The Term.
  const Term& term() const { return term_; }
  /// The reward-centering coefficient c.
  double centering() const { return centering_; }
  /// Sets c; throws when it is negative or not finite.
  void set_centering(double centering) {
    centering_ = centering;
    validate();
  }

  /// Returns L and, unless d_rewards is empty, overwrites it with dL/d(rewards).
  template <class Backend, class T>
  T value_and_gradient(typename Backend::context& ctx, VectorView<const T> rewards, VectorView<const T> margins,
                       VectorView<T> d_rewards) const {
    const index_t n = rewards.size / 2;
    const double total = Backend::reduce(ctx, n, terms_of(rewards, margins, d_rewards));
    METARM_REQUIRE(!std::isnan(total), where(""), "argument 'rewards' contains NaN or infinity");
    return static_cast<T>(total / static_cast<double>(n));
  }

  /// The same with L left in backend memory, at `value` (one double), instead of returned, so that nothing
  /// waits for the device. Backends the host can read check the rewards at once; on others a NaN L is
  /// reported by whoever reads it (the learner, when it reads the step statistics).
  template <class Backend, class T>
  void value_and_gradient_into(typename Backend::context& ctx, VectorView<const T> rewards,
                               VectorView<const T> margins, VectorView<T> d_rewards, double* value) const {
    const index_t n = rewards.size / 2;
    Backend::reduce_into(ctx, n, terms_of(rewards, margins, d_rewards), value, static_cast<double>(n));
    if constexpr (Backend::host_accessible) {
      METARM_REQUIRE(!std::isnan(*value), where(""), "argument 'rewards' contains NaN or infinity");
    }
  }

  /// L, without the gradient.
  template <class Backend, class T>
  T value(typename Backend::context& ctx, VectorView<const T> rewards, VectorView<const T> margins) const {
    return value_and_gradient<Backend, T>(ctx, rewards, margins, VectorView<T>{});
  }

  /// Overwrites out with (d^2 L / d rewards^2) tangent, the reward-space part of an exact Hessian-vector
  /// product. The rewards are those value_and_gradient was called with (and checked finite there).
  template <class Backend, class T>
  void hessian_product(typename Backend::context& ctx, VectorView<const T> rewards, VectorView<const T> margins,
                       VectorView<const T> tangent, VectorView<T> out) const {
    check_arguments(rewards, margins, "::hessian_product");
    METARM_REQUIRE(tangent.size == rewards.size && out.size == rewards.size, where("::hessian_product"),
                   "arguments 'tangent' and 'out' must match 'rewards' ({} values), got {} and {}", rewards.size,
                   tangent.size, out.size);
    const index_t n = rewards.size / 2;
    Backend::for_each(ctx, n,
                      detail::PairwiseLossHessianProduct<Term, T>{term_, rewards.data,
                                                                  margins.size > 0 ? margins.data : nullptr,
                                                                  tangent.data, out.data, n,
                                                                  static_cast<T>(centering_), T(1) / static_cast<T>(n)});
  }

 private:
  static std::string where(const char* member) { return std::string(class_name()) + member; }
  static std::string_view class_name() {
    if constexpr (requires { Term::class_name; }) {
      return Term::class_name;
    } else {
      return "PairwiseLoss";
    }
  }

  void validate() const {
    METARM_REQUIRE(std::isfinite(centering_) && centering_ >= 0.0, where(""),
                   "argument 'centering' must be a finite value >= 0, got {:f}", centering_);
    if constexpr (requires { term_.validate(); }) {
      term_.validate();
    }
  }

  template <class T>
  detail::PairwiseLossTerms<Term, T> terms_of(VectorView<const T> rewards, VectorView<const T> margins,
                                             VectorView<T> d_rewards) const {
    check_arguments(rewards, margins, "");
    METARM_REQUIRE(d_rewards.size == 0 || d_rewards.size == rewards.size, where(""),
                   "argument 'd_rewards' must be empty or match 'rewards' ({} values), got {}", rewards.size,
                   d_rewards.size);
    const index_t n = rewards.size / 2;
    return {term_,
            rewards.data,
            margins.size > 0 ? margins.data : nullptr,
            d_rewards.size > 0 ? d_rewards.data : nullptr,
            n,
            static_cast<T>(centering_),
            T(1) / static_cast<T>(n)};
  }

  template <class T>
  static void check_arguments(VectorView<const T> rewards, VectorView<const T> margins, const char* member) {
    METARM_REQUIRE(rewards.size >= 2 && rewards.size % 2 == 0, where(member),
                   "argument 'rewards' must hold 2n values (chosen then rejected) for n >= 1 pairs, got {}",
                   rewards.size);
    METARM_REQUIRE(margins.size == 0 || margins.size == rewards.size / 2, where(member),
                   "argument 'margins' must be empty or hold one value per pair ({}), got {}", rewards.size / 2,
                   margins.size);
  }

  Term term_{};
  double centering_ = 0.0;
};

}  // namespace metarm
