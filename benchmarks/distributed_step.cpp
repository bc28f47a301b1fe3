// SPDX-License-Identifier: Apache-2.0
// Data-parallel step time over MPI, run by benchmarks/distributed.sh under mpirun on 1 and 2 ranks.
//
// For the step benchmark's models (Mlp<ReLU, float>(d, {h, h}), 32 pairs and 32 prompts of 4 responses per
// rank and step unless stated) it reports, on rank 0:
//   strong   the global batch of 64 pairs and 32 prompts split among the ranks
//   weak     32 pairs and 16 prompts on each rank, the global batch growing with the ranks
// the median step time, the part of it spent in all-reduces (measured inside the step by a communicator that
// times its calls), and the all-reduce of one parameter-sized buffer alone. Then the all-reduce's latency (one
// float) and bandwidth (64 MiB), the inputs of the scaling model in docs/distributed.md.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include <metarm/distributed/mpi.hpp>
#include <metarm/metarm.hpp>

namespace {

using namespace metarm;
using Clock = std::chrono::steady_clock;

// The MPI communicator, with the time spent in its all-reduces added up.
class TimedCommunicator {
 public:
  static constexpr CommunicatorMemory memory = CommunicatorMemory::host;
  explicit TimedCommunicator(MpiCommunicator& inner) : inner_(&inner) {}
  int rank() const { return inner_->rank(); }
  int size() const { return inner_->size(); }
  template <class T>
  void all_reduce(T* data, index_t count, Reduction op) {
    const auto start = Clock::now();
    inner_->all_reduce(data, count, op);
    seconds += std::chrono::duration<double>(Clock::now() - start).count();
    ++calls;
  }
  template <class T>
  void broadcast(T* data, index_t count, int root) { inner_->broadcast(data, count, root); }
  void barrier() { inner_->barrier(); }
  [[noreturn]] void abort_all(std::string_view message) { inner_->abort_all(message); }

  double seconds = 0.0;
  std::int64_t calls = 0;

 private:
  MpiCommunicator* inner_;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct StepTiming {
  double step = 0.0;        // seconds per step, median over ranks' mean
  double all_reduce = 0.0;  // seconds per step in all-reduces
  double alone = 0.0;       // one parameter-sized all-reduce on its own
  index_t parameters = 0;
  std::int64_t calls = 0;   // all-reduces per step
};

template <class Strategy>
StepTiming time_steps(MpiCommunicator& mpi, index_t d, index_t h, index_t pairs, index_t prompts, int steps) {
  constexpr index_t k = 4;
  cpu::context ctx(1);
  Rng rng(1 + static_cast<std::uint64_t>(mpi.rank()));
  PreferenceSet<float> pair_set(d);
  std::vector<float> a(static_cast<std::size_t>(d)), b(static_cast<std::size_t>(d));
  for (index_t i = 0; i < pairs; ++i) {
    for (auto& x : a) x = float(rng.normal());
    for (auto& x : b) x = float(rng.normal());
    pair_set.add(a, b);
  }
  MetaSet<float> meta(d);
  std::vector<float> block(static_cast<std::size_t>(d * k));
  for (index_t p = 0; p < prompts; ++p) {
    for (auto& x : block) x = float(rng.normal());
    meta.add_prompt(block);
  }
  PreferenceBatchBuffer<float, cpu> pb;
  MetaBatchBuffer<float, cpu> mb;
  std::vector<index_t> pair_index(static_cast<std::size_t>(pairs)), prompt_index(static_cast<std::size_t>(prompts));
  std::iota(pair_index.begin(), pair_index.end(), 0);
  std::iota(prompt_index.begin(), prompt_index.end(), 0);
  const auto pair_batch = pb.gather(ctx, pair_set, pair_index);
  const auto meta_batch = mb.gather(ctx, meta, prompt_index);
  MetaLearner learner(Mlp<ReLU, float>(d, {h, h}), Strategy{}, Adam{.learning_rate = 1e-5}, LearnerOptions{},
                      std::move(ctx));
  TimedCommunicator timed(mpi);
  learner.set_communicator(timed);
  learner.step(pair_batch, meta_batch);  // sizes every workspace
  timed.seconds = 0.0;
  timed.calls = 0;
  mpi.barrier();
  const auto start = Clock::now();
  for (int s = 0; s < steps; ++s) learner.step(pair_batch, meta_batch);
  const double mine = std::chrono::duration<double>(Clock::now() - start).count() / steps;

  StepTiming t;
  t.parameters = learner.model().layout().size();
  t.calls = timed.calls / steps;
  double shares[2] = {mine, timed.seconds / steps};
  MPI_Allreduce(MPI_IN_PLACE, shares, 2, MPI_DOUBLE, MPI_MAX, mpi.comm());  // the slowest rank sets the pace
  t.step = shares[0];
  t.all_reduce = shares[1];

  std::vector<float> buffer(static_cast<std::size_t>(t.parameters), 1.0f);
  std::vector<double> alone;
  for (int r = 0; r < 15; ++r) {
    mpi.barrier();
    const auto s = Clock::now();
    mpi.all_reduce(buffer.data(), t.parameters, Reduction::mean);
    alone.push_back(std::chrono::duration<double>(Clock::now() - s).count());
  }
  t.alone = median(alone);
  return t;
}

double all_reduce_seconds(MpiCommunicator& mpi, index_t count, int repeats) {
  std::vector<float> buffer(static_cast<std::size_t>(count), 1.0f);
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    mpi.barrier();
    const auto s = Clock::now();
    mpi.all_reduce(buffer.data(), count, Reduction::sum);
    times.push_back(std::chrono::duration<double>(Clock::now() - s).count());
  }
  double t = median(times);
  MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, mpi.comm());
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  MpiSession session(&argc, &argv);
  MpiCommunicator mpi;
  const int n = mpi.size();
  const bool root = mpi.rank() == 0;
  if (root) {
    std::printf("ranks %d, one thread each\n", n);
    std::printf("%-10s %-8s %-7s %10s %8s %12s %14s %10s %14s\n", "shape", "strategy", "scaling", "parameters",
                "pairs", "step ms", "all-reduce ms", "calls", "1 reduce ms");
  }
  struct Shape {
    index_t d, h;
    int steps;
  };
  for (const Shape& shape : {Shape{768, 256, 40}, Shape{4096, 1024, 6}}) {
    for (const char* scaling : {"strong", "weak"}) {
      const bool strong = std::string(scaling) == "strong";
      // Strong: 64 pairs and 32 prompts in all; weak: 32 pairs and 16 prompts per rank.
      const index_t pairs = strong ? 64 / n : 32, prompts = strong ? 32 / n : 16;
      for (int strategy = 0; strategy < 2; ++strategy) {
        const StepTiming t = strategy == 0
                                 ? time_steps<Vanilla>(mpi, shape.d, shape.h, pairs, prompts, shape.steps)
                                 : time_steps<MetaRM>(mpi, shape.d, shape.h, pairs, prompts, shape.steps);
        if (root) {
          const std::string name = "(" + std::to_string(shape.d) + "," + std::to_string(shape.h) + ")";
          std::printf("%-10s %-8s %-7s %10lld %8lld %12.2f %14.3f %10lld %14.3f\n", name.c_str(),
                      strategy == 0 ? "vanilla" : "metarm", scaling, static_cast<long long>(t.parameters),
                      static_cast<long long>(pairs * n), 1e3 * t.step, 1e3 * t.all_reduce,
                      static_cast<long long>(t.calls), 1e3 * t.alone);
        }
      }
    }
  }
  const double latency = all_reduce_seconds(mpi, 1, 201);
  const index_t big = index_t{16} << 20;  // 64 MiB of floats
  const double big_time = all_reduce_seconds(mpi, big, 7);
  if (root && n > 1) {
    // A ring all-reduce moves 2 (N - 1) / N of the buffer through each rank's link.
    const double bus = 2.0 * (n - 1) / n * static_cast<double>(big) * sizeof(float) / big_time;
    std::printf("all-reduce of 1 float: %.1f us; of 64 MiB: %.1f ms, bus bandwidth %.2f GB/s\n", 1e6 * latency,
                1e3 * big_time, bus / 1e9);
  }
  return 0;
}
