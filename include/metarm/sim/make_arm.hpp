// SPDX-License-Identifier: Apache-2.0
/// \file
/// The arm a parsed spec describes (sim/arm_spec.hpp): its strategy with its options, its preference loss, its
/// meta objective and its adaptation step, as one RewardModelArm. The loss and the meta objective are chosen at
/// run time (sim/objective_choice.hpp), so the arms of one strategy share one learner type.
#pragma once

#include <utility>

#include "metarm/loss/bradley_terry.hpp"
#include "metarm/loss/difference_objective.hpp"
#include "metarm/loss/label_smoothed_bradley_terry.hpp"
#include "metarm/loss/margin_ranking.hpp"
#include "metarm/loss/reward_variance.hpp"
#include "metarm/sim/arm_spec.hpp"
#include "metarm/sim/objective_choice.hpp"
#include "metarm/sim/reward_model_arm.hpp"
#include "metarm/strategy/dot_product_metarm.hpp"
#include "metarm/strategy/joint_objective.hpp"
#include "metarm/strategy/meta_gradient.hpp"
#include "metarm/strategy/metarm.hpp"
#include "metarm/strategy/vanilla.hpp"

namespace metarm::sim {

/// The preference losses an arm may name, in ArmSpec::Loss's order.
using ArmLoss = ObjectiveChoice<BradleyTerryLoss, MarginRankingLoss, LabelSmoothedBradleyTerryLoss>;
/// The meta objectives an arm may name, in ArmSpec::Objective's order.
using ArmMetaObjective = ObjectiveChoice<DifferenceObjective, RewardVarianceObjective>;

namespace detail {

inline ArmLoss arm_loss(ArmSpec::Loss loss) {
  switch (loss) {
    case ArmSpec::Loss::margin: return MarginRankingLoss{};
    case ArmSpec::Loss::smoothed: return LabelSmoothedBradleyTerryLoss{};
    case ArmSpec::Loss::bradley_terry: break;
  }
  return BradleyTerryLoss{};
}

inline ArmMetaObjective arm_meta_objective(ArmSpec::Objective objective) {
  if (objective == ArmSpec::Objective::variance) return RewardVarianceObjective{};
  return DifferenceObjective{};
}


template <class F>
decltype(auto) with_strategy(const ArmSpec& spec, F&& f) {
  switch (spec.kind) {
    case ArmSpec::Kind::metarm:
      return f(MetaRM(MetaRM::Options{.eta = spec.eta,
                                      .inner_steps = spec.inner_steps,
                                      .order = spec.exact ? MetaGradient::exact : MetaGradient::first_order}));
    case ArmSpec::Kind::dot: return f(DotProductMetaRM(spec.eta));
    case ArmSpec::Kind::joint: return f(JointObjective(spec.lambda));
    case ArmSpec::Kind::vanilla: break;
  }
  return f(Vanilla{});
}

}  // namespace detail

/// The arm `spec` describes, named spec.name.
template <class Activation>
RewardModelArm<Activation> make_arm(const ArmSpec& spec) {
  return detail::with_strategy(spec, [&](auto strategy) {
    return RewardModelArm<Activation>(spec.name, std::move(strategy), spec.adapt, detail::arm_loss(spec.loss),
                                      detail::arm_meta_objective(spec.objective));
  });
}

}  // namespace metarm::sim
