// SPDX-License-Identifier: Apache-2.0
/// \file
/// A meta objective built from a function of one prompt's k responses, averaged over the prompts, written
/// once for every backend:
///   J = (1/m) sum_p f(r_offsets[p], ..., r_offsets[p+1]-1)
///
/// A Term is a struct with two METARM_HOST_DEVICE members, each given one prompt's k rewards r[0..k):
/// \verbatim
///   double value_and_gradient(const T* r, index_t k, T scale, T* out)
///       returns f (NaN when a reward is not finite) and, unless out is null, overwrites out[0..k) with
///       scale * df/dr;
///   void hessian_product(const T* r, const T* t, index_t k, T scale, T* out)
///       overwrites out[0..k) with scale * (d^2 f / dr^2) t.
/// \endverbatim
/// and a static `min_responses` (the smallest k it accepts), optionally `name`. Each prompt is one call, so
/// on a GPU one thread owns one prompt's slice and needs no atomics.
///
/// The offsets are checked on every backend. Where host code may read them, before any work; in device
/// memory, by the same kernels that do the work, at no extra cost: each prompt checks its own two offsets
/// (see detail::prompt_in_range) and, when they are wrong, touches nothing and reports it through the sum the
/// kernel returns anyway; only then are the offsets copied to the host to say what is wrong.
#pragma once

#include <cmath>
#include <string>
#include <string_view>

#include <vector>

#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/scalar_math.hpp"

namespace metarm {

namespace detail {

// Whether prompt p of m, [begin, end), is one that m + 1 valid offsets over n rewards give: the first
// starts at 0, the last ends at n, and each holds at least min_responses rewards (so the offsets never
// decrease). Prompts that pass touch only rewards in [0, n).
METARM_HOST_DEVICE inline bool prompt_in_range(index_t p, index_t begin, index_t end, index_t m, index_t n,
                                               index_t min_responses) {
  return begin >= 0 && end <= n && end - begin >= (min_responses > 0 ? min_responses : 0) && (p != 0 || begin == 0) &&
         (p != m - 1 || end == n);
}

// Each prompt's term. A prompt whose offsets are wrong adds +infinity and touches nothing.
template <class Term, class T>
struct PromptObjectiveTerms {
  Term term;
  const T* rewards;
  T* d_rewards;  // null for the value alone
  T scale;
  index_t prompts, values;

  METARM_HOST_DEVICE double operator()(index_t p, index_t begin, index_t end) const {
    if (!prompt_in_range(p, begin, end, prompts, values, Term::min_responses)) {
      return positive_infinity();
    }
    return term.value_and_gradient(rewards + begin, end - begin, scale,
                                   d_rewards != nullptr ? d_rewards + begin : static_cast<T*>(nullptr));
  }
};

// Each prompt's Hessian product; returns 1 for a prompt whose offsets are wrong (and touches nothing).
template <class Term, class T>
struct PromptObjectiveHessianProduct {
  Term term;
  const T* rewards;
  const T* tangent;
  T* out;
  T scale;
  index_t prompts, values;

  METARM_HOST_DEVICE double operator()(index_t p, index_t begin, index_t end) const {
    if (!prompt_in_range(p, begin, end, prompts, values, Term::min_responses)) {
      return 1.0;
    }
    term.hessian_product(rewards + begin, tangent + begin, end - begin, scale, out + begin);
    return 0.0;
  }
};

}  // namespace detail

/// A meta objective made from a Term, a function of one prompt's responses, averaged over the prompts.
template <class Term>
class PromptObjective {
 public:
  /// The Term the objective is made from.
  using term_type = Term;
  /// The Term's name, or "prompt_objective" when it declares none.
  static constexpr std::string_view name = [] {
    if constexpr (requires { Term::name; }) {
      return std::string_view(Term::name);
    } else {
      return std::string_view("prompt_objective");
    }
  }();

  /// The objective with a default Term.
  PromptObjective() = default;
  /// The objective of `term`, which is validated when it has validate().
  explicit PromptObjective(Term term) : term_(term) {
    if constexpr (requires { term_.validate(); }) {
      term_.validate();
    }
  }

  /// The Term.
  const Term& term() const { return term_; }

  /// Returns J and, unless d_rewards is empty, overwrites it with dJ/d(rewards).
  template <class Backend, class T>
  T value_and_gradient(typename Backend::context& ctx, VectorView<const T> rewards, VectorView<const index_t> offsets,
                       VectorView<T> d_rewards) const {
    const double total = Backend::reduce_segments(ctx, offsets, terms_of<Backend>(rewards, offsets, d_rewards));
    if (!std::isfinite(total)) {
      // A prompt with wrong offsets adds +infinity: the device offsets are read back only then.
      check_device_offsets<Backend>(ctx, rewards, offsets, "");
    }
    METARM_REQUIRE(!std::isnan(total), where(""), "argument 'rewards' contains NaN or infinity");
    return static_cast<T>(total / static_cast<double>(offsets.size - 1));
  }

  /// The same with J left in backend memory, at `value` (one double), instead of returned, so that nothing
  /// waits for the device. Backends the host can read check at once; on others whoever reads the value
  /// reports one that is not finite (a NaN or infinite reward, or offsets in device memory that are wrong:
  /// their prompts add +infinity).
  template <class Backend, class T>
  void value_and_gradient_into(typename Backend::context& ctx, VectorView<const T> rewards,
                               VectorView<const index_t> offsets, VectorView<T> d_rewards, double* value) const {
    Backend::reduce_segments_into(ctx, offsets, terms_of<Backend>(rewards, offsets, d_rewards), value,
                                  static_cast<double>(offsets.size - 1));
    if constexpr (Backend::host_accessible) {
      METARM_REQUIRE(!std::isnan(*value), where(""), "argument 'rewards' contains NaN or infinity");
    }
  }

  /// J, without the gradient.
  template <class Backend, class T>
  T value(typename Backend::context& ctx, VectorView<const T> rewards, VectorView<const index_t> offsets) const {
    return value_and_gradient<Backend, T>(ctx, rewards, offsets, VectorView<T>{});
  }

  /// Overwrites out with (d^2 J / d rewards^2) tangent, the reward-space part of an exact Hessian-vector
  /// product. The rewards and offsets are those value_and_gradient was called with (and checked there).
  template <class Backend, class T>
  void hessian_product(typename Backend::context& ctx, VectorView<const T> rewards, VectorView<const index_t> offsets,
                       VectorView<const T> tangent, VectorView<T> out) const {
    check_arguments<Backend>(rewards, offsets, "::hessian_product");
    METARM_REQUIRE(tangent.size == rewards.size && out.size == rewards.size, where("::hessian_product"),
                   "arguments 'tangent' and 'out' must match 'rewards' ({} values), got {} and {}", rewards.size,
                   tangent.size, out.size);
    const index_t m = offsets.size - 1;
    const detail::PromptObjectiveHessianProduct<Term, T> product{
        term_, rewards.data, tangent.data, out.data, T(1) / static_cast<T>(m), m, rewards.size};
    if constexpr (Backend::host_accessible) {
      Backend::for_each_segment(ctx, offsets, product);  // offsets checked above
    } else {
      // The product's kernel counts the prompts with wrong offsets: one synchronising read, which the
      // check of device offsets costs here (value_and_gradient has the sum it returns anyway).
      if (Backend::reduce_segments(ctx, offsets, product) != 0.0) {
        check_device_offsets<Backend>(ctx, rewards, offsets, "::hessian_product");
      }
    }
  }

 private:
  static std::string where(const char* member) {
    if constexpr (requires { Term::class_name; }) {
      return std::string(Term::class_name) + member;
    } else {
      return std::string("PromptObjective") + member;
    }
  }

  template <class Backend, class T>
  detail::PromptObjectiveTerms<Term, T> terms_of(VectorView<const T> rewards, VectorView<const index_t> offsets,
                                                 VectorView<T> d_rewards) const {
    check_arguments<Backend>(rewards, offsets, "");
    METARM_REQUIRE(d_rewards.size == 0 || d_rewards.size == rewards.size, where(""),
                   "argument 'd_rewards' must be empty or match 'rewards' ({} values), got {}", rewards.size,
                   d_rewards.size);
    const index_t m = offsets.size - 1;
    return {term_, rewards.data, d_rewards.size > 0 ? d_rewards.data : nullptr, T(1) / static_cast<T>(m), m,
            rewards.size};
  }

  template <class Backend, class T>
  static void check_arguments(VectorView<const T> rewards, VectorView<const index_t> offsets, const char* member) {
    METARM_REQUIRE(offsets.size >= 2, where(member),
                   "argument 'offsets' must describe at least one prompt (m + 1 >= 2 offsets), got {}", offsets.size);
    if constexpr (Backend::host_accessible) {
      check_host_offsets(rewards.size, offsets, member);
    }
    // Offsets in device memory are checked by the kernels that read them (see the top of this file).
  }

  static void check_host_offsets(index_t values, VectorView<const index_t> offsets, const char* member) {
    METARM_REQUIRE(offsets[0] == 0 && offsets[offsets.size - 1] == values, where(member),
                   "argument 'offsets' must run from 0 to the number of rewards ({}), got {} .. {}", values, offsets[0],
                   offsets[offsets.size - 1]);
    constexpr index_t least = Term::min_responses > 0 ? Term::min_responses : 0;
    for (index_t p = 0; p + 1 < offsets.size; ++p) {
      METARM_REQUIRE(offsets[p + 1] - offsets[p] >= least, where(member),
                     "argument 'offsets': prompt {} has k = {} responses; {} needs k >= {}", p,
                     offsets[p + 1] - offsets[p], name, least);
    }
  }

  // Reads offsets held in device memory back to the host and throws what check_host_offsets says about
  // them; the kernels found a prompt with wrong offsets, or a sum that is not finite.
  template <class Backend, class T>
  static void check_device_offsets(typename Backend::context& ctx, VectorView<const T> rewards,
                                   VectorView<const index_t> offsets, const char* member) {
    if constexpr (!Backend::host_accessible) {
      std::vector<index_t> host(static_cast<std::size_t>(offsets.size));
      Backend::copy_to_host(ctx, offsets, host.data());
      check_host_offsets(rewards.size, VectorView<const index_t>{host.data(), offsets.size}, member);
    }
  }

  Term term_{};
};

}  // namespace metarm
