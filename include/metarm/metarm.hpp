// SPDX-License-Identifier: Apache-2.0
/// \file
/// metarm: reward models that stay sharp when the policy's output distribution shifts.
/// This umbrella header brings in the whole library on the default backend.
#pragma once

/// \namespace metarm
/// Reward models that stay sharp when the policy's output distribution shifts: the backends, layers, models,
/// losses, optimisers, strategies and callbacks, and the learner that trains a reward model with them.

#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/rng.hpp"
#include "metarm/core/scalar_math.hpp"
#include "metarm/core/version.hpp"

#include "metarm/backend/cuda.hpp"
#include "metarm/backend/default.hpp"
#include "metarm/backend/host.hpp"
#include "metarm/backend/sparse_view.hpp"
#include "metarm/backend/transpose.hpp"
#include "metarm/backend/views.hpp"

#include "metarm/distributed/communicator.hpp"
#include "metarm/params/flat_params.hpp"
#include "metarm/params/layout.hpp"

#include "metarm/layer/activation.hpp"
#include "metarm/layer/chain.hpp"
#include "metarm/layer/dense.hpp"
#include "metarm/layer/layer.hpp"
#include "metarm/layer/layer_norm.hpp"
#include "metarm/layer/repeat.hpp"
#include "metarm/layer/residual.hpp"
#include "metarm/layer/scalar_head.hpp"
#include "metarm/layer/sparse_input.hpp"

#include "metarm/model/mlp.hpp"
#include "metarm/model/reward_model.hpp"
#include "metarm/model/reward_network.hpp"
#include "metarm/model/sequential.hpp"

#include "metarm/loss/bradley_terry.hpp"
#include "metarm/loss/difference_objective.hpp"
#include "metarm/loss/label_smoothed_bradley_terry.hpp"
#include "metarm/loss/margin_ranking.hpp"
#include "metarm/loss/meta_objective.hpp"
#include "metarm/loss/pairwise_loss.hpp"
#include "metarm/loss/preference_loss.hpp"
#include "metarm/loss/prompt_objective.hpp"
#include "metarm/loss/reward_variance.hpp"

#include "metarm/grad/gradient_check.hpp"
#include "metarm/grad/hessian_vector.hpp"
#include "metarm/grad/objective_gradient.hpp"

#include "metarm/optim/adam.hpp"
#include "metarm/optim/clip.hpp"
#include "metarm/optim/elementwise_update.hpp"
#include "metarm/optim/momentum.hpp"
#include "metarm/optim/optimizer.hpp"
#include "metarm/optim/schedule.hpp"
#include "metarm/optim/sgd.hpp"

#include "metarm/data/batch.hpp"
#include "metarm/data/batch_buffer.hpp"
#include "metarm/data/input_kind.hpp"
#include "metarm/data/meta_set.hpp"
#include "metarm/data/preference_set.hpp"
#include "metarm/data/sparse_batch_buffer.hpp"
#include "metarm/data/sparse_columns.hpp"
#include "metarm/data/sparse_meta_set.hpp"
#include "metarm/data/sparse_preference_set.hpp"

#include "metarm/metrics/confidence_interval.hpp"
#include "metarm/metrics/difference_metrics.hpp"
#include "metarm/metrics/metric_map.hpp"
#include "metarm/metrics/preference_metrics.hpp"

#include "metarm/strategy/batch_objectives.hpp"
#include "metarm/strategy/dot_product_metarm.hpp"
#include "metarm/strategy/joint_objective.hpp"
#include "metarm/strategy/maml.hpp"
#include "metarm/strategy/meta_gradient.hpp"
#include "metarm/strategy/metarm.hpp"
#include "metarm/strategy/reptile.hpp"
#include "metarm/strategy/objective_evaluator.hpp"
#include "metarm/strategy/scratch_vectors.hpp"
#include "metarm/strategy/step_context.hpp"
#include "metarm/metrics/step_stats.hpp"
#include "metarm/strategy/strategy.hpp"
#include "metarm/strategy/training_state.hpp"
#include "metarm/strategy/vanilla.hpp"

#include "metarm/callback/dispatch.hpp"
#include "metarm/callback/early_stopping.hpp"
#include "metarm/callback/events.hpp"
#include "metarm/callback/history.hpp"
#include "metarm/callback/metrics_log.hpp"
#include "metarm/callback/progress_bar.hpp"
#include "metarm/callback/progress_line.hpp"

#include "metarm/learner/meta_learner.hpp"
#include "metarm/learner/fit_state.hpp"
#include "metarm/learner/options.hpp"
#include "metarm/learner/precompiled.hpp"
