// SPDX-License-Identifier: Apache-2.0
// Train a reward model with plain Bradley-Terry (Vanilla) and with MetaRM on the same data and seed, then
// compare them on the source distribution and on a shifted one.
#include <cstdio>

#include <metarm/metarm.hpp>

#include <fmt/core.h>

#include "synthetic_shift.hpp"

int main() try {
  using namespace metarm;
  example::ShiftProblem problem(/*seed=*/7);
  const auto train = problem.pairs(4000, /*shifted=*/false);
  const auto source_test = problem.pairs(2000, false);
  const auto shifted_test = problem.pairs(2000, true);
  const auto shifted_meta = problem.meta(/*prompts=*/1000, /*k=*/4);  // unlabelled

  const Mlp<ReLU> model(example::ShiftProblem::dim, {32});
  FitOptions<float> fit;
  fit.epochs = 5;
  fit.batch_size = 16;
  fit.meta_batch_size = 16;
  const LearnerOptions options{.seed = 1};

  fmt::print("metarm {} quickstart on the {} backend: {} source pairs, {} shifted prompts x 4 responses, model {}\n\n",
             std::string(metarm::version), std::string(default_backend::name), (long long)train.size(),
             (long long)shifted_meta.prompts(), model.describe());
  fmt::print("{:<18} {:>12} {:>12} {:>12}\n", "strategy", "source acc", "shifted acc", "shifted J");

  auto report = [&](const char* name, auto& learner) {
    learner.fit(train, &shifted_meta, fit);
    const Metrics source = learner.evaluate(source_test);
    const Metrics shifted = learner.evaluate(shifted_test, &shifted_meta);
    fmt::print("{:<18} {:12.4f} {:12.4f} {:12.4f}\n", name, source.at("accuracy"), shifted.at("accuracy"),
               shifted.at("difference_objective"));
  };

  MetaLearner vanilla(model, Vanilla{}, Adam{.learning_rate = 1e-3}, options);
  report("vanilla", vanilla);
  // The ascent step size eta is MetaRM's one knob (docs/math.md, "Choosing eta").
  for (double eta : {1.0, 10.0, 30.0}) {
    MetaLearner metarm(model, MetaRM(eta), Adam{.learning_rate = 1e-3}, options);
    report(("metarm eta " + std::to_string(int(eta))).c_str(), metarm);
  }
} catch (const metarm::Error& e) {
  fmt::print(stderr, "quickstart: {}\n", e.what());
  return 1;
}
