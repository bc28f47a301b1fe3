// SPDX-License-Identifier: Apache-2.0
#include <metarm/backend/cuda.hpp>

#include "equivalence_runs.hpp"

namespace equivalence {
std::vector<metarm::testing::LayerPassResults> cuda_layer_passes() { return run_layer_passes<metarm::cuda>(); }
Passes cuda_passes(const Problem& problem) { return run_passes<metarm::cuda>(problem); }
Training cuda_training(const Problem& problem, int steps) { return run_training<metarm::cuda>(problem, steps); }
}  // namespace equivalence
