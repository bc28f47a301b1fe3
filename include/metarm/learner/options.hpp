// SPDX-License-Identifier: Apache-2.0
/// \file
/// Settings of a MetaLearner and of one fit.
#pragma once

#include <cstdint>

#include "metarm/backend/views.hpp"
#include "metarm/core/config.hpp"
#include "metarm/data/input_kind.hpp"
#include "metarm/learner/fit_state.hpp"
#include "metarm/strategy/step_context.hpp"

namespace metarm {

/// Settings of a MetaLearner that hold for all its fits.
struct LearnerOptions {
  std::uint64_t seed = 0;  ///< parameter initialisation and data order
  StepOptions step{};      ///< centering, gradient clipping, learning-rate schedule
};

/// The settings of one MetaLearner::fit.
///
/// Input is the first layer's input type: dense (the default) or SparseInput<T>, which makes the sets
/// SparsePreferenceSet and SparseMetaSet.
template <class T, class Input = MatrixView<const T>>
struct FitOptions {
  /// The labelled-pairs set type that goes with Input.
  using preference_set = typename input_kind<Input>::preference_set;
  /// The meta set type that goes with Input.
  using meta_set = typename input_kind<Input>::meta_set;

  /// The number of passes over the training pairs.
  int epochs = 1;
  index_t batch_size = 16;       ///< preference pairs per step (n)
  index_t meta_batch_size = 16;  ///< meta prompts per step (m); the meta set is cycled, reshuffled each pass
  bool drop_last = false;        ///< drop the last, smaller batch of each epoch
  std::int64_t max_steps = 0;    ///< stop after this many steps; 0 = no limit
  /// Held-out pairs to evaluate on; none disables evaluation.
  ///
  /// Evaluation on held-out data: every `eval_every` steps, or at each epoch's end when 0.
  const preference_set* eval_pairs = nullptr;
  /// A held-out meta set, for J and the reward gap in evaluations; needs eval_pairs.
  const meta_set* eval_meta = nullptr;
  /// Evaluate every this many steps; 0 evaluates at each epoch's end.
  std::int64_t eval_every = 0;
  /// Read the step statistics, and call the callbacks' on_step, every this many steps (and at the last step of
  /// each epoch, before each evaluation and at max_steps). On a GPU each read waits for the device to finish
  /// the work queued so far; with a larger value the steps in between run without a wait. The epoch means
  /// still cover every step (the recorded values are summed in backend memory), and a NaN loss or objective
  /// is still reported, at the next read, naming the steps it may come from.
  std::int64_t statistics_every = 1;
  /// Continue a fit from this state (MetaLearner::fit_state() of the interrupted run, usually restored from a
  /// checkpoint together with the parameters and optimiser state) instead of starting a new one.
  const FitState* resume = nullptr;
};

}  // namespace metarm
