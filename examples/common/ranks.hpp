// SPDX-License-Identifier: Apache-2.0
// The programs under mpirun: each process is one rank of MPI_COMM_WORLD. `metarm train` trains one model data
// parallel; `metarm bench-shift` and `metarm-simulate` hand their independent runs (seeds) out over the ranks
// and gather the results on rank 0, which alone prints and writes files. Started without a launcher, a
// program is one process and never starts MPI.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <metarm/metarm.hpp>

#if defined(METARM_WITH_MPI)
#include <metarm/distributed/mpi.hpp>

#include <fmt/core.h>

#endif

namespace options {

// The number of ranks the launcher says it started (OpenMPI, MPICH and PMIx launchers), or 0 without one.
inline int launched_ranks() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    if (const char* value = std::getenv(name)) return std::atoi(value);
  }
  return std::getenv("PMIX_RANK") != nullptr ? 1 : 0;  // launched, the count unknown
}

// This process's place among the ranks.
class ProgramRanks {
 public:
  ProgramRanks(int* argc, char*** argv, std::string_view program) {
    // (The group refers to the communicator inside this object, which therefore stays where it is.)
    const int launched = launched_ranks();
#if defined(METARM_WITH_MPI)
    if (launched > 0) {
      session_.emplace(argc, argv);
      mpi_.emplace();
      group_ = metarm::CommunicatorRef(*mpi_);
    }
#else
    (void)argc;
    (void)argv;
    if (launched > 1) {
      // Each copy would run alone and all would write the same files.
      fmt::print(stderr, "{}: started as one of {} ranks, but built without MPI (apt-get install libopenmpi-dev)\n",
                 program, launched);
      std::exit(2);
    }
#endif
    (void)program;
    // Only rank 0 reports: the others' standard output would repeat it.
    if (group_.rank() != 0 && std::freopen("/dev/null", "w", stdout) == nullptr) std::exit(1);
  }

  ProgramRanks(const ProgramRanks&) = delete;
  ProgramRanks& operator=(const ProgramRanks&) = delete;

  // The data-parallel group: one process without a launcher.
  const metarm::CommunicatorRef& group() const { return group_; }
  // Whether this process prints and writes the program's files.
  bool root() const { return group_.rank() == 0; }
  // Whether this rank runs job `job` of a list handed out over the ranks.
  bool owns(std::size_t job) const { return job % static_cast<std::size_t>(group_.size()) == static_cast<std::size_t>(group_.rank()); }

  // Threads for one rank's products when the user asked for all cores (0): the cores shared among the ranks
  // that the launcher placed on this machine.
  int threads_for(int requested) const {
    if (requested != 0 || !group_.distributed()) return requested;
    int local = group_.size();
    if (const char* value = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE")) local = std::max(1, std::atoi(value));
    return std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / local);
  }

  // Gives every rank the jobs' results, each filled in on the rank that owns the job (empty elsewhere): the
  // lengths, then the values, each in one all-reduce of a flat buffer. Adding zeros changes no value.
  void gather(std::vector<std::vector<double>>& jobs) const {
    if (!group_.distributed()) return;
    std::vector<double> lengths(jobs.size());
    for (std::size_t j = 0; j < jobs.size(); ++j) lengths[j] = owns(j) ? static_cast<double>(jobs[j].size()) : 0.0;
    group_.all_reduce(lengths.data(), static_cast<metarm::index_t>(lengths.size()), metarm::Reduction::sum);
    std::vector<std::size_t> offsets(jobs.size() + 1, 0);
    for (std::size_t j = 0; j < jobs.size(); ++j) offsets[j + 1] = offsets[j] + static_cast<std::size_t>(lengths[j]);
    std::vector<double> flat(offsets.back(), 0.0);
    for (std::size_t j = 0; j < jobs.size(); ++j) {
      if (owns(j)) std::copy(jobs[j].begin(), jobs[j].end(), flat.begin() + static_cast<std::ptrdiff_t>(offsets[j]));
    }
    group_.all_reduce(flat.data(), static_cast<metarm::index_t>(flat.size()), metarm::Reduction::sum);
    for (std::size_t j = 0; j < jobs.size(); ++j) {
      jobs[j].assign(flat.begin() + static_cast<std::ptrdiff_t>(offsets[j]),
                     flat.begin() + static_cast<std::ptrdiff_t>(offsets[j + 1]));
    }
  }

  // Ends every rank with the message when there are several; returns when there is one, so that the program
  // reports the error as it always does.
  void abort_if_distributed(const std::string& message) const {
    if (group_.distributed()) group_.abort_all(message);
  }

 private:
#if defined(METARM_WITH_MPI)
  std::optional<metarm::MpiSession> session_;
  std::optional<metarm::MpiCommunicator> mpi_;
#endif
  metarm::CommunicatorRef group_;
};

}  // namespace options
