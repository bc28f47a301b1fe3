// SPDX-License-Identifier: Apache-2.0
/// \file
/// What the learner needs from a strategy: one member that performs one update through a StepContext and
/// returns its statistics. Checked with a message that says what is missing.
#pragma once

#include <concepts>
#include <string_view>

#include "metarm/metrics/step_stats.hpp"

namespace metarm {

/// What a strategy type provides: a member step(s) that performs one update through the StepContext s and
/// returns its statistics.
template <class S, class Step>
concept StrategyFor = requires(S& strategy, Step& step) {
  { strategy.step(step) } -> std::same_as<StepStats>;
};

/// Strategies that never read the meta batch say so with `static constexpr bool uses_meta_batch = false`;
/// without the declaration a strategy is assumed to need one.
template <class S>
constexpr bool strategy_uses_meta_batch() {
  if constexpr (requires { S::uses_meta_batch; }) {
    return S::uses_meta_batch;
  } else {
    return true;
  }
}

/// The strategy's `name`, as callbacks and checkpoints give it, or "custom" when S declares none.
template <class S>
constexpr std::string_view strategy_name() {
  if constexpr (requires { S::name; }) {
    return std::string_view(S::name);
  } else {
    return "custom";
  }
}

/// Fails to compile, with a message naming the member a strategy needs, unless S satisfies StrategyFor; true otherwise.
template <class S, class Step>
constexpr bool check_strategy() {
  static_assert(StrategyFor<S, Step>,
                "metarm: the Strategy type needs a member `template <class Step> StepStats step(Step& s)` that "
                "performs one update through the StepContext and returns its StepStats (see "
                "metarm/strategy/vanilla.hpp, and docs/architecture.md, 'Writing a strategy').");
  return true;
}

}  // namespace metarm
