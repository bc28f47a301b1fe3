// SPDX-License-Identifier: Apache-2.0
// Data parallelism on GPUs, run under mpirun by ctest (tests/CMakeLists.txt) and by benchmarks/gpu/run.sh:
//   nccl    one GPU per rank (rank r on device r % device count): NcclCommunicator's all-reduce and broadcast
//           on device buffers, then MetaRM trained with it equals one process on the global batch
//   staged  ranks that may share a GPU: MpiCommunicator, the device vectors staged through the host
// Without a usable GPU every rank exits 77 (skipped), saying why.
#include <mpi.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <metarm/backend/cuda.hpp>
#include <metarm/backend/cuda/probe_devices.hpp>
#include <metarm/distributed/mpi.hpp>
#include <metarm/distributed/nccl.hpp>

#include "../test_support.hpp"
#include "rank_checks.hpp"

using namespace metarm;
using test::index_t;
using rank_checks::max_difference;
using rank_checks::same_on_every_rank;

namespace {

constexpr index_t dim = 6;
constexpr std::int64_t steps = 20;
int failures = 0;

void check(bool ok, const std::string& what, int rank) {
  if (!ok) {
    ++failures;
    std::fprintf(stderr, "rank %d: FAILED: %s\n", rank, what.c_str());
  }
}

struct Problem {
  PreferenceSet<double> train;
  MetaSet<double> meta;
};

Problem make_problem() {
  Rng rng(2405);
  const auto w = test::random_vector<double>(rng, dim);
  return {test::separable_pairs<double>(rng, dim, 60, w), test::random_meta<double>(rng, dim, 18, {2, 3, 4})};
}

FitOptions<double> fit_options() {
  return {.epochs = 100, .batch_size = 12, .meta_batch_size = 6, .drop_last = true, .max_steps = steps};
}

auto make_learner(int device) {
  // Centering gives the head's bias a gradient (see tests/distributed/distributed_test.cpp).
  return MetaLearner<Mlp<Tanh, double>, MetaRM, Adam, cuda>(
      Mlp<Tanh, double>(dim, {8}), MetaRM(0.5), Adam{.learning_rate = 2e-2},
      LearnerOptions{.seed = 7, .step = {.centering = 1e-2}}, cuda::context({.device = device}));
}

template <class Communicator>
void compare_training(const char* name, Communicator& communicator, MpiCommunicator& mpi, int device,
                      const Problem& problem) {
  auto reference = make_learner(device);
  reference.fit(problem.train, &problem.meta, fit_options());
  auto learner = make_learner(device);
  learner.set_communicator(communicator);
  learner.fit(problem.train, &problem.meta, fit_options());
  const double difference = max_difference(learner.parameters(), reference.parameters());
  check(difference <= 1e-12, std::string(name) + ": differs from one process by " + std::to_string(difference),
        mpi.rank());
  check(same_on_every_rank(learner.parameters(), mpi.comm()), std::string(name) + ": ranks differ", mpi.rank());
  if (mpi.rank() == 0) {
    std::printf("%s, %d ranks: MetaRM/Adam max |theta - theta_1 process| = %.3g after %lld steps\n", name,
                mpi.size(), difference, static_cast<long long>(steps));
  }
}

void case_nccl(MpiCommunicator& mpi, int device, const Problem& problem) {
  cuda::context ctx({.device = device});
  NcclCommunicator nccl(mpi, ctx.stream());
  // Each rank holds rank + 1 in every element.
  const index_t count = 1000;
  cuda::buffer<double> values(count);
  std::vector<double> host(count, static_cast<double>(mpi.rank() + 1));
  cuda::copy_from_host(ctx, host.data(), values.view());
  nccl.all_reduce(values.data(), count, Reduction::sum);
  cuda::copy_to_host(ctx, as_const(values.view()), host.data());
  const double n = mpi.size();
  check(host.front() == n * (n + 1) / 2 && host.back() == n * (n + 1) / 2, "NCCL sum", mpi.rank());
  nccl.all_reduce(values.data(), count, Reduction::mean);
  cuda::copy_to_host(ctx, as_const(values.view()), host.data());
  check(host[count / 2] == (n + 1) / 2, "NCCL mean", mpi.rank());
  if (mpi.rank() == 0) std::printf("nccl, %d ranks: all-reduce sum and mean of device buffers\n", mpi.size());

  // The learner's collectives run on its own context's stream.
  auto probe = make_learner(device);
  NcclCommunicator on_stream(mpi, probe.backend_context().stream());
  compare_training("nccl", on_stream, mpi, device, problem);
}

}  // namespace

int main(int argc, char** argv) {
  MpiSession session(&argc, &argv);
  MpiCommunicator mpi;
  const DeviceProbe probe = probe_cuda_devices();
  if (probe.verdict != DeviceProbe::Verdict::run) {
    if (mpi.rank() == 0) std::printf("%s\n", probe.message.c_str());
    return probe.exit_status();
  }
  int devices = 0;
  cudaGetDeviceCount(&devices);
  const int device = mpi.rank() % std::max(1, devices);
  const std::string which = argc > 1 ? argv[1] : "";
  const Problem problem = make_problem();
  try {
    if (which == "nccl") {
      if (mpi.size() > devices) {
        if (mpi.rank() == 0) std::printf("nccl needs a GPU per rank: %d ranks, %d GPUs\n", mpi.size(), devices);
        return 77;
      }
      case_nccl(mpi, device, problem);
    } else if (which == "staged") {
      compare_training("staged through the host (MPI)", mpi, mpi, device, problem);
    } else {
      if (mpi.rank() == 0) std::fprintf(stderr, "usage: %s nccl | staged\n", argv[0]);
      return 2;
    }
  } catch (const std::exception& e) {
    mpi.abort_all(e.what());
  }
  int all_failures = failures;
  MPI_Allreduce(MPI_IN_PLACE, &all_failures, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  return all_failures == 0 ? 0 : 1;
}
