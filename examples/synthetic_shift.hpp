// SPDX-License-Identifier: Apache-2.0
// A small synthetic distribution-shift problem shared by the examples: a hidden "gold" reward over response
// features, labelled pairs from a broad source policy, and responses from a shifted policy that has moved
// toward high gold reward and narrowed, so its responses differ less and are harder to tell apart.
#pragma once

#include <cmath>
#include <vector>

#include <metarm/metarm.hpp>

namespace example {

struct ShiftProblem {
  static constexpr metarm::index_t dim = 16;
  static constexpr metarm::index_t hidden = 8;

  explicit ShiftProblem(std::uint64_t seed) : rng_(seed), gold_w_(hidden * dim), gold_v_(hidden), shift_(dim) {
    for (auto& w : gold_w_) w = rng_.normal() / std::sqrt(double(dim));
    for (auto& v : gold_v_) v = rng_.normal();
    // The shifted policy moved along the gold reward's gradient at the origin.
    double norm = 0.0;
    for (metarm::index_t i = 0; i < dim; ++i) {
      double g = 0.0;
      for (metarm::index_t h = 0; h < hidden; ++h) g += gold_v_[h] * gold_w_[h * dim + i];
      shift_[i] = g;
      norm += g * g;
    }
    for (auto& s : shift_) s *= 1.5 / std::sqrt(norm);
  }

  double gold(const std::vector<float>& x) const {
    double r = 0.0;
    for (metarm::index_t h = 0; h < hidden; ++h) {
      double z = 0.0;
      for (metarm::index_t i = 0; i < dim; ++i) z += gold_w_[h * dim + i] * x[i];
      r += gold_v_[h] * std::tanh(z);
    }
    return r;
  }

  std::vector<float> response(bool shifted) {
    std::vector<float> x(dim);
    for (metarm::index_t i = 0; i < dim; ++i) {
      x[i] = shifted ? float(shift_[i] + 0.5 * rng_.normal()) : float(rng_.normal());
    }
    return x;
  }

  // Pairs labelled by Bradley-Terry on the gold reward (beta = 4), so labels are noisy like annotators'.
  metarm::PreferenceSet<float> pairs(metarm::index_t count, bool shifted) {
    metarm::PreferenceSet<float> set(dim);
    for (metarm::index_t i = 0; i < count; ++i) {
      auto a = response(shifted), b = response(shifted);
      const double p_a = metarm::sigmoid(4.0 * (gold(a) - gold(b)));
      if (rng_.uniform() < p_a) set.add(a, b); else set.add(b, a);
    }
    return set;
  }

  // Unlabelled responses from the shifted policy, k per prompt.
  metarm::MetaSet<float> meta(metarm::index_t prompts, metarm::index_t k) {
    metarm::MetaSet<float> set(dim);
    std::vector<float> block(dim * k);
    for (metarm::index_t p = 0; p < prompts; ++p) {
      for (metarm::index_t j = 0; j < k; ++j) {
        const auto x = response(true);
        std::copy(x.begin(), x.end(), block.begin() + j * dim);
      }
      set.add_prompt(block);
    }
    return set;
  }

 private:
  metarm::Rng rng_;
  std::vector<double> gold_w_, gold_v_, shift_;
};

}  // namespace example
