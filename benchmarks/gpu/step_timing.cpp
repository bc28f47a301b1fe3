// SPDX-License-Identifier: Apache-2.0
// Two tables. First, seconds per Vanilla and MetaRM step on the CPU backend (all cores) and the CUDA backend,
// for (d, h) in {(768, 256), (4096, 1024), (4096, 4096)} and n = m in {32, 256} with k = 4, Adam, float32.
// Then, on the GPU, a fit's MetaRM steps with the statistics read at every step and read once.
// Without a GPU it says so and exits 77 (metarm/backend/cuda/device_probe.hpp).
#include <Eigen/Core>

#include <cstdio>

#include <metarm/backend/cpu.hpp>
#include <metarm/backend/cuda/probe_devices.hpp>

#include "step_timing.hpp"

namespace gpu_bench {
Timing cpu_timing(const Workload& w) { return time_workload<metarm::cpu>(w); }
}  // namespace gpu_bench

int main() try {
  using gpu_bench::Workload;
  using metarm::index_t;
  const metarm::DeviceProbe probe = metarm::probe_cuda_devices();
  if (probe.verdict != metarm::DeviceProbe::Verdict::run) {
    std::fprintf(probe.verdict == metarm::DeviceProbe::Verdict::skip ? stdout : stderr, "%s\n", probe.message.c_str());
    return probe.exit_status();
  }
  const Workload workloads[] = {{768, 256, 32},   {768, 256, 256},   {4096, 1024, 32},
                                {4096, 1024, 256}, {4096, 4096, 32}, {4096, 4096, 256}};
  std::printf("CPU: %s, %d thread(s); GPU: cuBLAS float32 (TF32 off). Milliseconds per step, Adam, k = 4.\n\n",
              metarm::cpu::product_kernels().c_str(), Eigen::nbThreads());
  std::printf("%6s %6s %6s | %12s %12s %8s | %12s %12s %8s\n", "d", "h", "n=m", "vanilla cpu", "vanilla gpu", "speedup",
              "metarm cpu", "metarm gpu", "speedup");
  for (const auto& w : workloads) {
    const auto cpu = gpu_bench::cpu_timing(w);
    const auto gpu = gpu_bench::cuda_timing(w);
    std::printf("%6lld %6lld %6lld | %12.3f %12.3f %7.1fx | %12.3f %12.3f %7.1fx\n", (long long)w.dim,
                (long long)w.hidden, (long long)w.batch, 1e3 * cpu.vanilla, 1e3 * gpu.vanilla, cpu.vanilla / gpu.vanilla,
                1e3 * cpu.metarm, 1e3 * gpu.metarm, cpu.metarm / gpu.metarm);
    std::fflush(stdout);
  }
  // What reading the step statistics costs on the GPU: a fit of 20 MetaRM steps (with their batch uploads)
  // read at every step, against the same fit read once at its end (FitOptions::statistics_every).
  constexpr index_t fit_steps = 20;
  std::printf("\nGPU MetaRM fit of %lld steps, milliseconds per step: statistics read every step vs once.\n\n",
              (long long)fit_steps);
  std::printf("%6s %6s %6s | %12s %12s %8s\n", "d", "h", "n=m", "every step", "once", "ratio");
  for (const auto& w : workloads) {
    const auto fit = gpu_bench::cuda_fit_timing(w, fit_steps);
    std::printf("%6lld %6lld %6lld | %12.3f %12.3f %7.2fx\n", (long long)w.dim, (long long)w.hidden,
                (long long)w.batch, 1e3 * fit.read_every_step, 1e3 * fit.read_once,
                fit.read_every_step / fit.read_once);
    std::fflush(stdout);
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "step_timing: %s\n", e.what());
  return 1;
}
