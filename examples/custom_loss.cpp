// SPDX-License-Identifier: Apache-2.0
// A user-written preference loss (examples/ipo_loss.hpp) checked by the library's loss harness and trained
// with exact MetaRM, next to Bradley-Terry, on the synthetic shift problem of the quickstart. The loss is one
// header; the library does not change.
#include <cstdio>

#include <metarm/metarm.hpp>
#include <metarm/testing/check_loss.hpp>

#include <fmt/core.h>

#include "ipo_loss.hpp"
#include "synthetic_shift.hpp"

int main() {
  using namespace metarm;

  // The reward gradient and the reward Hessian product (which exact MetaRM needs) against central
  // differences in double.
  const auto report = testing::check_preference_loss<cpu>(example::IpoLoss(0.25));
  fmt::print("check_preference_loss: {}\n", report.describe());
  if (!report.passed()) {
    fmt::print("the loss failed its checks\n");
    return 1;
  }

  example::ShiftProblem problem(/*seed=*/7);
  const auto train = problem.pairs(3000, false);
  const auto shifted_test = problem.pairs(2000, true);
  const auto shifted_meta = problem.meta(600, 4);
  const Mlp<ReLU> model(example::ShiftProblem::dim, {32});

  fmt::print("{:<34} {:>12} {:>12} {:>12}\n", "loss, strategy", "shifted acc", "shifted J", "reward std");
  auto train_and_report = [&](const char* label, auto strategy, auto loss) {
    MetaLearner learner(model, std::move(strategy), Adam{.learning_rate = 2e-3}, LearnerOptions{.seed = 1},
                        std::move(loss));
    learner.fit(train, &shifted_meta, FitOptions<float>{.epochs = 3, .batch_size = 32, .meta_batch_size = 16});
    const Metrics shifted = learner.evaluate(shifted_test, &shifted_meta);
    fmt::print("{:<34} {:12.4f} {:12.4f} {:12.4f}\n", label, shifted.at("accuracy"), shifted.at("difference_objective"),
               shifted.at("rewards/std"));
  };
  const MetaRM exact({.eta = 1.0, .order = MetaGradient::exact});
  train_and_report("bradley-terry, vanilla", Vanilla{}, BradleyTerryLoss());
  train_and_report("bradley-terry, exact metarm eta 1", exact, BradleyTerryLoss());
  train_and_report("ipo tau 0.25, vanilla", Vanilla{}, example::IpoLoss(0.25));
  train_and_report("ipo tau 0.25, exact metarm eta 1", exact, example::IpoLoss(0.25));
}
