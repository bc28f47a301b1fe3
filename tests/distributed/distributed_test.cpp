// SPDX-License-Identifier: Apache-2.0
// Data-parallel training over MPI, run under mpirun by ctest (tests/CMakeLists.txt). Each case is named by the
// first argument; every rank runs it, rank 0 prints what it checked, and the program exits 1 on any failed
// check on any rank.
//
// Each rank also trains the single-process reference on the same global batches itself, so no file passes
// between the runs being compared.
#include <mpi.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "../test_support.hpp"
#include "rank_checks.hpp"
#include "metarm/distributed/mpi.hpp"
#include "metarm/io.hpp"

using namespace metarm;
using test::index_t;
using rank_checks::max_difference;
using rank_checks::same_on_every_rank;

namespace {

constexpr index_t dim = 6;
constexpr index_t global_batch = 12;  // divides among 1, 2, 3 and 4 ranks, with even shards for MAML's halves
constexpr index_t global_meta_batch = 6;
constexpr std::int64_t steps = 20;

struct Problem {
  PreferenceSet<double> train;
  MetaSet<double> meta;
};

Problem make_problem() {
  Rng rng(2405);
  const auto w = test::random_vector<double>(rng, dim);
  return {test::separable_pairs<double>(rng, dim, 60, w), test::random_meta<double>(rng, dim, 18, {2, 3, 4})};
}

FitOptions<double> fit_options(std::int64_t max_steps) {
  return {.epochs = 100,
          .batch_size = global_batch,
          .meta_batch_size = global_meta_batch,
          .drop_last = true,
          .max_steps = max_steps,
          .statistics_every = 1};
}

int failures = 0;

void check(bool ok, const std::string& what, int rank) {
  if (!ok) {
    ++failures;
    std::fprintf(stderr, "rank %d: FAILED: %s\n", rank, what.c_str());
  }
}

// The block that holds the largest difference, for the failure message.
std::string worst_block(const Layout& layout, const std::vector<double>& a, const std::vector<double>& b) {
  std::string name;
  double worst = -1.0;
  for (const ParamBlock& block : layout.blocks()) {
    for (index_t i = block.offset; i < block.offset + block.size(); ++i) {
      const double d = std::abs(a[static_cast<std::size_t>(i)] - b[static_cast<std::size_t>(i)]);
      if (d > worst) {
        worst = d;
        name = block.name;
      }
    }
  }
  return name;
}

std::string number(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", x);
  return text;
}

// After every step: do all ranks hold the same parameters?
template <class Learner>
struct CompareRanks {
  Learner* learner;
  MPI_Comm comm;
  std::int64_t steps_differing = 0;
  std::int64_t steps_seen = 0;
  void on_step(const StepEvent&) {
    ++steps_seen;
    if (!same_on_every_rank(learner->parameters(), comm)) ++steps_differing;
  }
};

struct StopAfter {
  std::int64_t at;
  std::string_view name() const { return "StopAfter"; }
  bool on_step(const StepEvent& e) { return e.step >= at; }
};

// Reward centering (TRL's center_rewards_coefficient) gives the head's bias a gradient. Without it every
// objective here depends on reward differences only, the bias's gradient is zero but for rounding, and Adam
// scales that rounding up to steps of up to its learning rate: the bias then drifts differently under any two
// summation orders (one process or several, or two BLAS libraries), while no reward difference moves.
constexpr double centering = 1e-2;

template <class Strategy, class Optimizer>
auto make_learner(const Strategy& strategy, const Optimizer& optimizer, double centering_weight = centering) {
  return MetaLearner(Mlp<Tanh, double>(dim, {8}), strategy, optimizer,
                     LearnerOptions{.seed = 7, .step = {.centering = centering_weight}});
}

// The largest difference outside the block named `skip`.
double max_difference_outside(const Layout& layout, const std::vector<double>& a, const std::vector<double>& b,
                              const std::string& skip) {
  double worst = 0.0;
  for (const ParamBlock& block : layout.blocks()) {
    if (block.name == skip) continue;
    for (index_t i = block.offset; i < block.offset + block.size(); ++i) {
      worst = std::max(worst, std::abs(a[static_cast<std::size_t>(i)] - b[static_cast<std::size_t>(i)]));
    }
  }
  return worst;
}

// The distributed fit against the single-process fit on the same global batches.
template <class Strategy, class Optimizer>
void equivalence(const std::string& name, const Strategy& strategy, const Optimizer& optimizer,
                 MpiCommunicator& comm, const Problem& problem) {
  auto reference = make_learner(strategy, optimizer);
  reference.fit(problem.train, &problem.meta, fit_options(steps));

  auto learner = make_learner(strategy, optimizer);
  learner.set_communicator(comm);
  CompareRanks<decltype(learner)> ranks{&learner, comm.comm()};
  const FitResult result = learner.fit(problem.train, &problem.meta, fit_options(steps), ranks);

  const double difference = max_difference(learner.parameters(), reference.parameters());
  const double moved = max_difference(learner.parameters(), make_learner(strategy, optimizer).parameters());
  check(result.steps == steps, name + ": ran " + std::to_string(result.steps) + " steps", comm.rank());
  check(moved > 1e-3, name + ": training moved the parameters by " + std::to_string(moved), comm.rank());
  check(difference <= 1e-12,
        name + ": differs from one process by " + number(difference) + " in block " +
            worst_block(learner.model().layout(), learner.parameters(), reference.parameters()),
        comm.rank());
  check(ranks.steps_seen == steps && ranks.steps_differing == 0,
        name + ": ranks differed after " + std::to_string(ranks.steps_differing) + " of " +
            std::to_string(ranks.steps_seen) + " steps",
        comm.rank());
  if (comm.rank() == 0) {
    std::printf("%-34s %d ranks: max |theta - theta_1 process| = %.3g after %lld steps, ranks identical\n",
                name.c_str(), comm.size(), difference, static_cast<long long>(result.steps));
  }
}

template <class Optimizer>
void every_strategy(const std::string& optimizer_name, const Optimizer& optimizer, MpiCommunicator& comm,
                    const Problem& problem) {
  equivalence("Vanilla/" + optimizer_name, Vanilla(), optimizer, comm, problem);
  equivalence("MetaRM first order/" + optimizer_name, MetaRM(0.5), optimizer, comm, problem);
  equivalence("MetaRM exact/" + optimizer_name,
              MetaRM(MetaRM::Options{.eta = 0.5, .inner_steps = 2, .order = MetaGradient::exact}), optimizer, comm,
              problem);
  equivalence("MAML/" + optimizer_name, Maml(Maml::Options{.inner_steps = 2, .inner_learning_rate = 0.2}), optimizer,
              comm, problem);
  equivalence("Reptile/" + optimizer_name, Reptile(Reptile::Options{.inner_steps = 3, .inner_learning_rate = 0.2}),
              optimizer, comm, problem);
}

// Adam without centering: everything but the head's bias (see `centering`) still agrees.
void uncentred_adam(MpiCommunicator& comm, const Problem& problem) {
  const MetaRM strategy(0.5);
  auto reference = make_learner(strategy, Adam{.learning_rate = 2e-2}, 0.0);
  reference.fit(problem.train, &problem.meta, fit_options(steps));
  auto learner = make_learner(strategy, Adam{.learning_rate = 2e-2}, 0.0);
  learner.set_communicator(comm);
  learner.fit(problem.train, &problem.meta, fit_options(steps));
  const Layout& layout = learner.model().layout();
  const double rest = max_difference_outside(layout, learner.parameters(), reference.parameters(), "head.bias");
  const double all = max_difference(learner.parameters(), reference.parameters());
  check(rest <= 1e-12, "uncentred Adam: differs outside head.bias by " + number(rest), comm.rank());
  check(same_on_every_rank(learner.parameters(), comm.comm()), "uncentred Adam: ranks differ", comm.rank());
  if (comm.rank() == 0) {
    std::printf("%-34s %d ranks: max difference %.3g outside head.bias, %.3g in it (its gradient is rounding)\n",
                "MetaRM first order/Adam, uncentred", comm.size(), rest, all);
  }
}

void case_equivalence(MpiCommunicator& comm) {
  const Problem problem = make_problem();
  every_strategy("SGD", Sgd{.learning_rate = 0.2}, comm, problem);
  every_strategy("Adam", Adam{.learning_rate = 2e-2}, comm, problem);
  uncentred_adam(comm, problem);
}

void case_deterministic(MpiCommunicator& world) {
  const Problem problem = make_problem();
  MpiCommunicator comm(MPI_COMM_WORLD, {.deterministic = true});
  const MetaRM strategy(MetaRM::Options{.eta = 0.5, .order = MetaGradient::exact});
  auto run = [&] {
    auto learner = make_learner(strategy, Adam{.learning_rate = 2e-2});
    learner.set_communicator(comm);
    learner.fit(problem.train, &problem.meta, fit_options(steps));
    return learner.parameters();
  };
  const auto first = run(), second = run();
  auto reference = make_learner(strategy, Adam{.learning_rate = 2e-2});
  reference.fit(problem.train, &problem.meta, fit_options(steps));
  check(std::memcmp(first.data(), second.data(), first.size() * sizeof(double)) == 0,
        "the deterministic mode did not repeat bit for bit", world.rank());
  check(same_on_every_rank(first, world.comm()), "ranks differ in the deterministic mode", world.rank());
  const double difference = max_difference(first, reference.parameters());
  check(difference <= 1e-12, "the deterministic mode differs from one process by " + number(difference),
        world.rank());
  if (world.rank() == 0) {
    std::printf("deterministic mode, %d ranks: two runs bitwise equal; max |theta - theta_1 process| = %.3g\n",
                world.size(), difference);
  }
}

using ResumeLearner = decltype(make_learner(MetaRM(0.5), Adam{}));
ResumeLearner make_resume_learner() { return make_learner(MetaRM(0.5), Adam{.learning_rate = 2e-2}); }
constexpr std::int64_t resume_cut = 7;  // not a multiple of the 5 batches of an epoch: the cut is mid-epoch

void case_resume_write(MpiCommunicator& comm, const std::string& path) {
  const Problem problem = make_problem();
  auto learner = make_resume_learner();
  learner.set_communicator(comm);
  SaveCheckpoints<ResumeLearner> saver(learner, path, 1);
  learner.fit(problem.train, &problem.meta, fit_options(steps), saver, StopAfter{resume_cut});
  comm.barrier();  // rank 0 has written the file before any rank reports
  check(learner.fit_state().steps == resume_cut, "stopped after " + std::to_string(learner.fit_state().steps),
        comm.rank());
  if (comm.rank() == 0) std::printf("%d ranks wrote %s after %lld steps\n", comm.size(), path.c_str(), static_cast<long long>(resume_cut));
}

void case_resume_check(MpiCommunicator& comm, const std::string& path) {
  const Problem problem = make_problem();
  auto whole = make_resume_learner();
  whole.fit(problem.train, &problem.meta, fit_options(steps));

  auto learner = make_resume_learner();
  learner.set_communicator(comm);
  const Checkpoint checkpoint = Checkpoint::read(path);
  checkpoint.restore_training_state(learner);
  const FitState state = checkpoint.fit_state();
  check(state.steps == resume_cut, "the checkpoint holds step " + std::to_string(state.steps), comm.rank());
  FitOptions<double> rest = fit_options(steps);
  rest.resume = &state;
  learner.fit(problem.train, &problem.meta, rest);
  const double difference = max_difference(learner.parameters(), whole.parameters());
  check(learner.updates() == whole.updates(), "resumed run made " + std::to_string(learner.updates()) + " updates",
        comm.rank());
  check(difference <= 1e-12, "the resumed run differs from the uninterrupted one by " + number(difference),
        comm.rank());
  check(same_on_every_rank(learner.parameters(), comm.comm()), "ranks differ after resuming", comm.rank());
  if (comm.rank() == 0) {
    std::printf("resumed on %d ranks from %s: max |theta - theta_uninterrupted| = %.3g after %lld steps\n",
                comm.size(), path.c_str(), difference, static_cast<long long>(learner.updates()));
  }
}

void case_indivisible(MpiCommunicator& comm) {
  const Problem problem = make_problem();
  auto learner = make_learner(Vanilla(), Sgd{.learning_rate = 0.1});
  learner.set_communicator(comm);
  FitOptions<double> options = fit_options(steps);
  options.batch_size = comm.size() * 4 + 1;
  std::string message;
  try {
    learner.fit(problem.train, &problem.meta, options);
  } catch (const Error& e) {
    message = e.what();
  }
  const bool named = message.find("does not divide among " + std::to_string(comm.size()) + " ranks") !=
                         std::string::npos &&
                     message.find("batch_size") != std::string::npos;
  check(named, "expected an error naming batch_size and the ranks, got: '" + message + "'", comm.rank());
  if (comm.rank() == 0) std::printf("batch %lld on %d ranks: %s\n", static_cast<long long>(options.batch_size), comm.size(), message.c_str());
}

// Rank 1 fails in the middle of training while the others wait in an all-reduce; main's handler must end all.
struct FailOnRankOne {
  int rank;
  void on_step(const StepEvent& e) {
    if (rank == 1 && e.step == 3) throw Error("rank one's step 3", "the shard's features hold a NaN (injected)");
  }
};

void case_fail_on_rank_one(MpiCommunicator& comm) {
  const Problem problem = make_problem();
  auto learner = make_learner(MetaRM(0.5), Sgd{.learning_rate = 0.1});
  learner.set_communicator(comm);
  learner.fit(problem.train, &problem.meta, fit_options(steps), FailOnRankOne{comm.rank()});
  check(false, "training finished although rank 1 threw", comm.rank());
}

}  // namespace

int main(int argc, char** argv) {
  MpiSession session(&argc, &argv);
  MpiCommunicator comm;
  const std::string which = argc > 1 ? argv[1] : "";
  const std::string path = argc > 2 ? argv[2] : "";
  try {
    if (which == "equivalence") {
      case_equivalence(comm);
    } else if (which == "deterministic") {
      case_deterministic(comm);
    } else if (which == "resume-write" && !path.empty()) {
      case_resume_write(comm, path);
    } else if (which == "resume-check" && !path.empty()) {
      case_resume_check(comm, path);
    } else if (which == "indivisible") {
      case_indivisible(comm);
    } else if (which == "fail-on-rank-1") {
      case_fail_on_rank_one(comm);
    } else {
      if (comm.rank() == 0) {
        std::fprintf(stderr, "usage: %s equivalence | deterministic | resume-write PATH | resume-check PATH | "
                             "indivisible | fail-on-rank-1\n", argv[0]);
      }
      return 2;
    }
  } catch (const std::exception& e) {
    comm.abort_all(e.what());
  }
  int all_failures = failures;
  MPI_Allreduce(MPI_IN_PLACE, &all_failures, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (comm.rank() == 0 && all_failures > 0) std::fprintf(stderr, "%d failed checks\n", all_failures);
  return all_failures == 0 ? 0 : 1;
}
