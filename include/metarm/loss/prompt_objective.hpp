// A meta objective built from a function of one prompt's k responses, averaged over the prompts, written
// once for every backend:
//   J = (1/m) sum_p f(r_offsets[p], ..., r_offsets[p+1]-1)
//
// A Term is a struct with two METARM_HOST_DEVICE members, each given one prompt's k rewards r[0..k):
//   double value_and_gradient(const T* r, index_t k, T scale, T* out)
//       returns f (NaN when a reward is not finite) and, unless out is null, overwrites out[0..k) with
//       scale * df/dr;
//   void hessian_product(const T* r, const T* t, index_t k, T scale, T* out)
//       overwrites out[0..k) with scale * (d^2 f / dr^2) t.
// and a static `min_responses` (the smallest k it accepts), optionally `name`. Each prompt is one call, so
// on a GPU one thread owns one prompt's slice and needs no atomics.
#pragma once

#include <cmath>
#include <string>
#include <string_view>

#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"

namespace metarm {

namespace detail {

template <class Term, class T>
struct PromptObjectiveTerms {
  Term term;
  const T* rewards;
  T* d_rewards;  // null for the value alone
  T scale;

  METARM_HOST_DEVICE double operator()(index_t, index_t begin, index_t end) const {
    return term.value_and_gradient(rewards + begin, end - begin, scale,
                                   d_rewards != nullptr ? d_rewards + begin : static_cast<T*>(nullptr));
  }
};

template <class Term, class T>
struct PromptObjectiveHessianProduct {
  Term term;
  const T* rewards;
  const T* tangent;
  T* out;
  T scale;

  METARM_HOST_DEVICE void operator()(index_t, index_t begin, index_t end) const {
    term.hessian_product(rewards + begin, tangent + begin, end - begin, scale, out + begin);
  }
};

}  // namespace detail

template <class Term>
class PromptObjective {
 public:
  using term_type = Term;
  static constexpr std::string_view name = [] {
    if constexpr (requires { Term::name; }) {
      return std::string_view(Term::name);
    } else {
      return std::string_view("prompt_objective");
    }
  }();

  PromptObjective() = default;
  explicit PromptObjective(Term term) : term_(term) {
    if constexpr (requires { term_.validate(); }) {
      term_.validate();
    }
  }

  const Term& term() const { return term_; }

  // Returns J and, unless d_rewards is empty, overwrites it with dJ/d(rewards).
  template <class Backend, class T>
  T value_and_gradient(typename Backend::context& ctx, VectorView<const T> rewards, VectorView<const index_t> offsets,
                       VectorView<T> d_rewards) const {
    check_arguments<Backend>(rewards, offsets, "");
    METARM_REQUIRE(d_rewards.size == 0 || d_rewards.size == rewards.size, where(""),
                   "argument 'd_rewards' must be empty or match 'rewards' (" + std::to_string(rewards.size) +
                       " values), got " + std::to_string(d_rewards.size));
    const index_t m = offsets.size - 1;
    const double total = Backend::reduce_segments(
        ctx, offsets,
        detail::PromptObjectiveTerms<Term, T>{term_, rewards.data, d_rewards.size > 0 ? d_rewards.data : nullptr,
                                              T(1) / static_cast<T>(m)});
    METARM_REQUIRE(!std::isnan(total), where(""), "argument 'rewards' contains NaN or infinity");
    return static_cast<T>(total / static_cast<double>(m));
  }

  template <class Backend, class T>
  T value(typename Backend::context& ctx, VectorView<const T> rewards, VectorView<const index_t> offsets) const {
    return value_and_gradient<Backend, T>(ctx, rewards, offsets, VectorView<T>{});
  }

  // Overwrites out with (d^2 J / d rewards^2) tangent, the reward-space part of an exact Hessian-vector
  // product. The rewards and offsets are those value_and_gradient was called with (and checked there).
  template <class Backend, class T>
  void hessian_product(typename Backend::context& ctx, VectorView<const T> rewards, VectorView<const index_t> offsets,
                       VectorView<const T> tangent, VectorView<T> out) const {
    check_arguments<Backend>(rewards, offsets, "::hessian_product");
    METARM_REQUIRE(tangent.size == rewards.size && out.size == rewards.size, where("::hessian_product"),
                   "arguments 'tangent' and 'out' must match 'rewards' (" + std::to_string(rewards.size) +
                       " values), got " + std::to_string(tangent.size) + " and " + std::to_string(out.size));
    const index_t m = offsets.size - 1;
    Backend::for_each_segment(ctx, offsets,
                              detail::PromptObjectiveHessianProduct<Term, T>{term_, rewards.data, tangent.data, out.data,
                                                                             T(1) / static_cast<T>(m)});
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
  static void check_arguments(VectorView<const T> rewards, VectorView<const index_t> offsets, const char* member) {
    METARM_REQUIRE(offsets.size >= 2, where(member),
                   "argument 'offsets' must describe at least one prompt (m + 1 >= 2 offsets), got " +
                       std::to_string(offsets.size));
    if constexpr (Backend::host_accessible) {
      // Device-side offsets were checked on the host when their batch was built.
      METARM_REQUIRE(offsets[0] == 0 && offsets[offsets.size - 1] == rewards.size, where(member),
                     "argument 'offsets' must run from 0 to the number of rewards (" + std::to_string(rewards.size) +
                         "), got " + std::to_string(offsets[0]) + " .. " + std::to_string(offsets[offsets.size - 1]));
      for (index_t p = 0; p + 1 < offsets.size; ++p) {
        METARM_REQUIRE(offsets[p + 1] - offsets[p] >= Term::min_responses, where(member),
                       "argument 'offsets': prompt " + std::to_string(p) + " has k = " +
                           std::to_string(offsets[p + 1] - offsets[p]) + " responses; " + std::string(name) +
                           " needs k >= " + std::to_string(Term::min_responses));
      }
    }
  }

  Term term_{};
};

}  // namespace metarm
