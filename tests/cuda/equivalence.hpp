// SPDX-License-Identifier: Apache-2.0
// CPU-versus-CUDA equivalence: the same problem run on each backend through the same templates. The
// problem and the runs use no backend headers, so the CPU runs compile in a C++ translation unit and the
// CUDA runs in a CUDA one (equivalence_cuda.cu), and the test compares their results.
#pragma once

#include <cmath>
#include <vector>

#include <metarm/data/meta_set.hpp>
#include <metarm/data/preference_set.hpp>
#include <metarm/model/mlp.hpp>
#include <metarm/testing/check_layer.hpp>

namespace equivalence {

using metarm::index_t;
using Model = metarm::Mlp<metarm::GELU, float>;

struct Problem {
  index_t dim = 64;
  std::vector<index_t> hidden{48, 32};
  metarm::PreferenceSet<float> train, held_out;
  metarm::MetaSet<float> meta;

  explicit Problem(std::uint64_t seed) : train(dim), held_out(dim), meta(dim) {
    metarm::Rng rng(seed);
    std::vector<float> w(static_cast<std::size_t>(dim));
    for (auto& x : w) x = static_cast<float>(rng.normal());
    auto response = [&] {
      std::vector<float> x(static_cast<std::size_t>(dim));
      for (auto& v : x) v = static_cast<float>(rng.normal());
      return x;
    };
    auto score = [&](const std::vector<float>& x) {
      double s = 0;
      for (index_t i = 0; i < dim; ++i) s += w[i] * x[i] + 0.3 * std::sin(2.0 * x[i]);
      return s;
    };
    for (auto* set : {&train, &held_out}) {
      for (int i = 0; i < 2000; ++i) {
        auto a = response(), b = response();
        // noisy labels: Bradley-Terry on the score
        if (rng.uniform() < 1.0 / (1.0 + std::exp(-(score(a) - score(b))))) set->add(a, b); else set->add(b, a);
      }
    }
    for (int p = 0; p < 300; ++p) {
      std::vector<float> block;
      for (int k = 0; k < 4; ++k) {
        const auto x = response();
        block.insert(block.end(), x.begin(), x.end());
      }
      meta.add_prompt(block);
    }
  }
};

// One forward and backward of each objective on a fixed batch, and one MetaRM step with SGD.
struct Passes {
  std::vector<float> rewards;          // forward on the preference batch
  std::vector<float> loss_gradient;    // grad L at the initial parameters
  std::vector<float> objective_gradient;  // grad J at the initial parameters
  std::vector<float> step_update;      // theta after one MetaRM step minus theta before
  double loss = 0, objective = 0;
};

struct Training {
  std::vector<float> parameters;  // after the run
  double held_out_accuracy = 0;
};

// The four passes of every built-in layer (check_layer's random point and direction), in double.
std::vector<metarm::testing::LayerPassResults> cpu_layer_passes();
std::vector<metarm::testing::LayerPassResults> cuda_layer_passes();

Passes cpu_passes(const Problem&);
Passes cuda_passes(const Problem&);
Training cpu_training(const Problem&, int steps);
Training cuda_training(const Problem&, int steps);

}  // namespace equivalence
