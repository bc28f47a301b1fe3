// SPDX-License-Identifier: Apache-2.0
/// \file
/// The simulated iterative RLHF environment (docs/simulation.md): gold reward, prompts, Gaussian policy, label
/// sampling, reward-model arms, the policy trainer, the round loop and confidence intervals. It runs on the CPU
/// backend in double precision, so it is not part of metarm/metarm.hpp, which CUDA translation units include.
#pragma once

/// \namespace metarm::sim
/// The simulated iterative RLHF environment: a hidden gold reward labels pairs from a policy, reward models are
/// trained on the labels, and each drives its own policy for several rounds (docs/simulation.md).

#include "metarm/metarm.hpp"

#include "metarm/sim/arm_spec.hpp"
#include "metarm/sim/evaluation.hpp"
#include "metarm/sim/gaussian_policy.hpp"
#include "metarm/sim/gold_reward.hpp"
#include "metarm/sim/make_arm.hpp"
#include "metarm/sim/objective_choice.hpp"
#include "metarm/sim/options.hpp"
#include "metarm/sim/policy_trainer.hpp"
#include "metarm/sim/preference_labels.hpp"
#include "metarm/sim/prompts.hpp"
#include "metarm/sim/response_set.hpp"
#include "metarm/sim/reward_model_arm.hpp"
#include "metarm/sim/reward_scorer.hpp"
#include "metarm/sim/rlhf_loop.hpp"
#include "metarm/sim/statistics.hpp"
#include "metarm/sim/world.hpp"
