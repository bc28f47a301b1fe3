// SPDX-License-Identifier: Apache-2.0
// CPU versus CUDA in float32 on the same problem, parameters and batches: forward, both gradients and one
// MetaRM step agree to 1e-5 (relative, norm-wise), a 200-step MetaRM training run to 1e-3 on the final
// parameters and half a point of held-out accuracy. The measured values are printed with each check.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>

#include <metarm/backend/cpu.hpp>

#include "equivalence_runs.hpp"

namespace equivalence {
std::vector<metarm::testing::LayerPassResults> cpu_layer_passes() { return run_layer_passes<metarm::cpu>(); }
Passes cpu_passes(const Problem& problem) { return run_passes<metarm::cpu>(problem); }
Training cpu_training(const Problem& problem, int steps) { return run_training<metarm::cpu>(problem, steps); }
}  // namespace equivalence

namespace {

double relative_difference(const std::vector<float>& reference, const std::vector<float>& other) {
  REQUIRE(reference.size() == other.size());
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < reference.size(); ++i) {
    diff += (double(reference[i]) - other[i]) * (double(reference[i]) - other[i]);
    norm += double(reference[i]) * reference[i];
  }
  return std::sqrt(diff) / std::sqrt(norm);
}

}  // namespace

TEST_CASE("cuda: every built-in layer's four passes equal the CPU backend's in double", "[cuda][equivalence][layer]") {
  const auto cpu = equivalence::cpu_layer_passes();
  const auto gpu = equivalence::cuda_layer_passes();
  REQUIRE(cpu.size() == gpu.size());
  auto difference = [](const std::vector<double>& a, const std::vector<double>& b) {
    REQUIRE(a.size() == b.size());
    double worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      worst = std::max(worst, std::fabs(a[i] - b[i]) / std::max(1.0, std::fabs(a[i])));
    }
    return worst;
  };
  for (std::size_t l = 0; l < cpu.size(); ++l) {
    const double worst = std::max({difference(cpu[l].y, gpu[l].y), difference(cpu[l].grad, gpu[l].grad),
                                   difference(cpu[l].dx, gpu[l].dx), difference(cpu[l].y_t, gpu[l].y_t),
                                   difference(cpu[l].hv, gpu[l].hv), difference(cpu[l].dx_t, gpu[l].dx_t)});
    std::printf("%s: worst relative difference cpu vs cuda %.3g\n", cpu[l].layer.c_str(), worst);
    INFO(cpu[l].layer);
    CHECK(worst < 1e-12);
  }
}

TEST_CASE("cuda: forward, gradients and one MetaRM step equal the CPU backend's to 1e-5", "[cuda][equivalence]") {
  const equivalence::Problem problem(3);
  const auto cpu = equivalence::cpu_passes(problem);
  const auto gpu = equivalence::cuda_passes(problem);
  const double rewards = relative_difference(cpu.rewards, gpu.rewards);
  const double loss_gradient = relative_difference(cpu.loss_gradient, gpu.loss_gradient);
  const double objective_gradient = relative_difference(cpu.objective_gradient, gpu.objective_gradient);
  const double step = relative_difference(cpu.step_update, gpu.step_update);
  std::printf("relative difference cpu vs cuda: rewards %.3g, grad L %.3g, grad J %.3g, MetaRM step %.3g; "
              "L %.9g vs %.9g, J %.9g vs %.9g\n",
              rewards, loss_gradient, objective_gradient, step, cpu.loss, gpu.loss, cpu.objective, gpu.objective);
  CHECK(rewards < 1e-5);
  CHECK(loss_gradient < 1e-5);
  CHECK(objective_gradient < 1e-5);
  CHECK(step < 1e-5);
  CHECK(gpu.loss == Approx(cpu.loss).epsilon(1e-5));
  CHECK(gpu.objective == Approx(cpu.objective).epsilon(1e-5));
}

TEST_CASE("cuda: a 200-step MetaRM run ends within 1e-3 of the CPU backend's", "[cuda][equivalence]") {
  const equivalence::Problem problem(4);
  const auto cpu = equivalence::cpu_training(problem, 200);
  const auto gpu = equivalence::cuda_training(problem, 200);
  const double parameters = relative_difference(cpu.parameters, gpu.parameters);
  std::printf("200 steps: relative parameter difference %.3g; held-out accuracy cpu %.4f, cuda %.4f\n", parameters,
              cpu.held_out_accuracy, gpu.held_out_accuracy);
  CHECK(parameters < 1e-3);
  CHECK(std::fabs(cpu.held_out_accuracy - gpu.held_out_accuracy) <= 0.005);
}
