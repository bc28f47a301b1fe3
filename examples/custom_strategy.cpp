// SPDX-License-Identifier: Apache-2.0
// A user-written strategy (examples/gradient_norm_penalty.hpp) trained next to Vanilla and MetaRM on the
// synthetic shift problem of the quickstart. The strategy is one header; the library does not change.
#include <cstdio>

#include <metarm/metarm.hpp>

#include <fmt/core.h>

#include "gradient_norm_penalty.hpp"
#include "synthetic_shift.hpp"

template <class Strategy>
void train_and_report(const char* label, Strategy strategy, const metarm::PreferenceSet<float>& train,
                      const metarm::MetaSet<float>& shifted_meta, const metarm::PreferenceSet<float>& source_test,
                      const metarm::PreferenceSet<float>& shifted_test) {
  using namespace metarm;
  MetaLearner learner(Mlp<ReLU>(example::ShiftProblem::dim, {32}), std::move(strategy), Adam{.learning_rate = 1e-3},
                      LearnerOptions{.seed = 1});
  learner.fit(train, &shifted_meta, FitOptions<float>{.epochs = 5});
  const Metrics source = learner.evaluate(source_test);
  const Metrics shifted = learner.evaluate(shifted_test, &shifted_meta);
  fmt::print("{:<28} {:10.4f} {:12.4f} {:12.4f}\n", label, source.at("accuracy"), shifted.at("accuracy"),
             shifted.at("difference_objective"));
}

int main() {
  using namespace metarm;
  example::ShiftProblem problem(/*seed=*/7);
  const auto train = problem.pairs(4000, false);
  const auto source_test = problem.pairs(2000, false);
  const auto shifted_test = problem.pairs(2000, true);
  const auto shifted_meta = problem.meta(1000, 4);

  fmt::print("{:<28} {:>10} {:>12} {:>12}\n", "strategy", "source acc", "shifted acc", "shifted J");
  train_and_report("vanilla", Vanilla{}, train, shifted_meta, source_test, shifted_test);
  train_and_report("metarm eta 1", MetaRM(1.0), train, shifted_meta, source_test, shifted_test);
  train_and_report("gradient-norm penalty 1", GradientNormPenalty{.lambda = 1.0}, train, shifted_meta, source_test,
                   shifted_test);
  train_and_report("gradient-norm penalty 3", GradientNormPenalty{.lambda = 3.0}, train, shifted_meta, source_test,
                   shifted_test);
}
