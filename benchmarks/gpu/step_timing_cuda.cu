// SPDX-License-Identifier: Apache-2.0
#include <metarm/backend/cuda.hpp>

#include "step_timing.hpp"

namespace gpu_bench {
Timing cuda_timing(const Workload& w) { return time_workload<metarm::cuda>(w); }
FitTiming cuda_fit_timing(const Workload& w, index_t steps) {
  return {seconds_per_fit_step<metarm::cuda>(w, steps, 1), seconds_per_fit_step<metarm::cuda>(w, steps, steps)};
}
}  // namespace gpu_bench
