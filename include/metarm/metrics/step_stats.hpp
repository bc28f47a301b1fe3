// What one training step reports. Quantities a strategy does not compute stay NaN.
#pragma once

#include <limits>

namespace metarm {

struct StepStats {
  static constexpr double not_measured = std::numeric_limits<double>::quiet_NaN();

  double loss = not_measured;             // preference loss where its gradient was taken
  double inner_loss = not_measured;       // MAML family: the inner (support) loss before adaptation
  double objective = not_measured;        // difference objective J at the parameters before the step
  double objective_after = not_measured;  // J at the adapted parameters, when the strategy measures it
  double grad_norm = not_measured;        // norm of the gradient handed to the optimiser, before clipping
  double ascent_norm = not_measured;      // norm of grad J used for the ascent step
  double learning_rate = not_measured;    // scheduled learning rate of the update (filled in by the learner)
  // How the preference batch's pairs were ordered where the preference loss was taken (filled in by the
  // learner; at the adapted point for MetaRM): share of pairs ranked right (ties one half), mean
  // r_chosen - r_rejected, and the mean reward of each side.
  double accuracy = not_measured;
  double margin = not_measured;
  double rewards_chosen = not_measured;
  double rewards_rejected = not_measured;
};

}  // namespace metarm
