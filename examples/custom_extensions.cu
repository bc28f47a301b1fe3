// SPDX-License-Identifier: Apache-2.0
// The user-written layer and loss of custom_layer.cpp and custom_loss.cpp on the GPU: the same headers,
// compiled by nvcc, checked by the same harnesses and trained with exact MetaRM on metarm::cuda. Without a
// GPU it says so and exits 77; with one it cannot use, it fails (metarm/backend/cuda/device_probe.hpp).
#include <cstdio>

#include <metarm/metarm.hpp>
#include <metarm/testing/check_layer.hpp>
#include <metarm/testing/check_loss.hpp>

#include <fmt/core.h>

#include "ipo_loss.hpp"
#include "rms_norm.hpp"
#include "synthetic_shift.hpp"

int main() {
  using namespace metarm;
  const DeviceProbe probe = probe_cuda_devices();
  if (probe.verdict != DeviceProbe::Verdict::run) {
    fmt::print(probe.verdict == DeviceProbe::Verdict::skip ? stdout : stderr, "{}\n", probe.message);
    return probe.exit_status();
  }
  const auto layer = testing::check_layer<cuda>(example::RmsNorm<double>());
  const auto loss = testing::check_preference_loss<cuda>(example::IpoLoss(0.25));
  fmt::print("check_layer on cuda: {}\ncheck_preference_loss on cuda: {}\n", layer.describe(), loss.describe());
  if (!layer.passed() || !loss.passed()) return 1;

  example::ShiftProblem problem(/*seed=*/7);
  const auto train = problem.pairs(3000, false);
  const auto shifted_test = problem.pairs(2000, true);
  const auto shifted_meta = problem.meta(600, 4);
  const Sequential model(example::ShiftProblem::dim, Dense<float>(32), example::RmsNorm<float>(), SiLU{},
                         ScalarHead<float>());
  MetaLearner learner(model, MetaRM({.eta = 1.0, .order = MetaGradient::exact}), Adam{.learning_rate = 2e-3},
                      LearnerOptions{.seed = 1}, example::IpoLoss(0.25));
  learner.fit(train, &shifted_meta, FitOptions<float>{.epochs = 3, .batch_size = 32, .meta_batch_size = 16});
  fmt::print("cuda, rms_norm + ipo, exact metarm: shifted accuracy {:.4f}\n",
             learner.evaluate(shifted_test, &shifted_meta).at("accuracy"));
}
