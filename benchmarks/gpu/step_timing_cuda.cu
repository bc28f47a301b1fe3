#include <metarm/backend/cuda.hpp>

#include "step_timing.hpp"

namespace gpu_bench {
Timing cuda_timing(const Workload& w) { return time_workload<metarm::cuda>(w); }
}  // namespace gpu_bench
