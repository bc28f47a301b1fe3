// SPDX-License-Identifier: Apache-2.0
// A user-written layer (examples/rms_norm.hpp) checked by the library's layer harness and trained with exact
// MetaRM inside a Sequential model, on the synthetic shift problem of the quickstart. The layer is one
// header; the library does not change.
#include <cstdio>

#include <metarm/metarm.hpp>
#include <metarm/testing/check_layer.hpp>

#include <fmt/core.h>

#include "rms_norm.hpp"
#include "synthetic_shift.hpp"

int main() {
  using namespace metarm;

  // The same checks every built-in layer passes: gradients and exact Hessian-vector products against
  // central differences in double, symmetry, and the gradients held between passes.
  const auto report = testing::check_layer<cpu>(example::RmsNorm<double>());
  fmt::print("check_layer: {}\n", report.describe());
  if (!report.passed()) {
    fmt::print("the layer failed its checks\n");
    return 1;
  }

  example::ShiftProblem problem(/*seed=*/7);
  const auto train = problem.pairs(3000, false);
  const auto shifted_test = problem.pairs(2000, true);
  const auto shifted_meta = problem.meta(600, 4);
  const index_t dim = example::ShiftProblem::dim;
  const Sequential model(dim, Dense<float>(32), example::RmsNorm<float>(), SiLU{}, ScalarHead<float>());
  fmt::print("model: {}, {} parameters\n", model.describe(), static_cast<long long>(model.parameter_count()));

  fmt::print("{:<22} {:>12} {:>12}\n", "strategy", "shifted acc", "shifted J");
  auto train_and_report = [&](const char* label, auto strategy) {
    MetaLearner learner(model, std::move(strategy), Adam{.learning_rate = 2e-3}, LearnerOptions{.seed = 1});
    learner.fit(train, &shifted_meta, FitOptions<float>{.epochs = 3, .batch_size = 32, .meta_batch_size = 16});
    const Metrics shifted = learner.evaluate(shifted_test, &shifted_meta);
    fmt::print("{:<22} {:12.4f} {:12.4f}\n", label, shifted.at("accuracy"), shifted.at("difference_objective"));
  };
  train_and_report("vanilla", Vanilla{});
  train_and_report("exact metarm eta 1", MetaRM({.eta = 1.0, .order = MetaGradient::exact}));
}
