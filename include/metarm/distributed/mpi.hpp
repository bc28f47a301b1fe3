// SPDX-License-Identifier: Apache-2.0
/// \file
/// MpiCommunicator: the Communicator over an MPI communicator (OpenMPI, MPICH), and MpiSession, which starts
/// and ends MPI for a program. Included on its own (`#include <metarm/distributed/mpi.hpp>`, CMake target
/// `metarm::mpi`); metarm/metarm.hpp does not include it.
///
/// All-reduces run in place (`MPI_IN_PLACE`) on host memory; a device backend's buffers are staged through
/// the host by the step context. The deterministic mode sums the ranks' buffers in rank order on rank 0 and
/// broadcasts the result, so that a run repeats bit for bit on the same number of ranks whatever algorithm
/// the MPI library picks for its all-reduce; it moves about twice the data of a ring all-reduce and is meant
/// for checks, not for speed.
#pragma once

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"
#include "metarm/distributed/communicator.hpp"

namespace metarm {

namespace detail {

template <class T>
MPI_Datatype mpi_type() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "metarm: MPI buffers hold float or double");
  if constexpr (std::is_same_v<T, float>) {
    return MPI_FLOAT;
  } else {
    return MPI_DOUBLE;
  }
}

inline void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error("MpiCommunicator", fmt::format("{} failed: {}", call,
                                             std::string(text, static_cast<std::size_t>(length))));
}

// MPI counts are int: longer buffers go in pieces.
constexpr index_t mpi_piece = INT_MAX / 2;

}  // namespace detail

/// Starts MPI (with threads allowed to call it one at a time, MPI_THREAD_SERIALIZED) unless it already runs,
/// and ends it when destroyed if it started it. One per program, in main.
class MpiSession {
 public:
  /// Starts MPI with the program's arguments (which MPI may read and change).
  MpiSession(int* argc, char*** argv) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized == 0) {
      int provided = 0;
      detail::check_mpi(MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
      owns_ = true;
    }
  }
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  /// Ends MPI if this session started it.
  ~MpiSession() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owns_ && finalized == 0) MPI_Finalize();
  }

 private:
  bool owns_ = false;
};

/// The Communicator over an MPI communicator; see the file's description.
class MpiCommunicator {
 public:
  /// Host memory.
  static constexpr CommunicatorMemory memory = CommunicatorMemory::host;

  /// How the all-reduce sums.
  struct Options {
    /// Sum in rank order (0, 1, ..., N-1) on rank 0 and broadcast: bitwise repeatable on the same number of
    /// ranks, at about twice a ring all-reduce's traffic.
    bool deterministic = false;
  };

  /// The group of `comm` (MPI_COMM_WORLD by default); MPI must be running (MpiSession). Errors of MPI calls
  /// become metarm::Error exceptions instead of ending the program.
  explicit MpiCommunicator(MPI_Comm comm = MPI_COMM_WORLD) : MpiCommunicator(comm, Options()) {}
  /// The same with `options`.
  MpiCommunicator(MPI_Comm comm, Options options) : comm_(comm), options_(options) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    METARM_REQUIRE(initialized != 0, "MpiCommunicator", "MPI is not running; create an MpiSession in main first");
    detail::check_mpi(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    detail::check_mpi(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    detail::check_mpi(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  }

  /// This process's rank.
  int rank() const { return rank_; }
  /// The number of ranks.
  int size() const { return size_; }
  /// Whether the all-reduce sums in rank order.
  bool deterministic() const { return options_.deterministic; }
  /// The MPI communicator.
  MPI_Comm comm() const { return comm_; }

  /// In-place all-reduce of `count` values at `data` (host memory).
  template <class T>
  void all_reduce(T* data, index_t count, Reduction op) {
    if (size_ == 1 || count <= 0) return;
    if (options_.deterministic) {
      ordered_sum(data, count);
    } else {
      for (index_t first = 0; first < count; first += detail::mpi_piece) {
        const int n = static_cast<int>(std::min(detail::mpi_piece, count - first));
        detail::check_mpi(MPI_Allreduce(MPI_IN_PLACE, data + first, n, detail::mpi_type<T>(), MPI_SUM, comm_),
                          "MPI_Allreduce");
      }
    }
    if (op == Reduction::mean) {
      const T inverse = T(1) / static_cast<T>(size_);
      for (index_t i = 0; i < count; ++i) data[i] *= inverse;
    }
  }

  /// Copies `count` values at `data` on rank `root` to every rank.
  template <class T>
  void broadcast(T* data, index_t count, int root) {
    METARM_REQUIRE(root >= 0 && root < size_, "MpiCommunicator::broadcast",
                   "argument 'root' is {}, the group has {} ranks", root, size_);
    for (index_t first = 0; first < count; first += detail::mpi_piece) {
      const int n = static_cast<int>(std::min(detail::mpi_piece, count - first));
      detail::check_mpi(MPI_Bcast(data + first, n, detail::mpi_type<T>(), root, comm_), "MPI_Bcast");
    }
  }

  /// Copies `count` bytes at `data` on rank `root` to every rank (NCCL's identifier, for one).
  void broadcast_bytes(void* data, index_t count, int root) {
    detail::check_mpi(MPI_Bcast(data, static_cast<int>(count), MPI_BYTE, root, comm_), "MPI_Bcast");
  }

  /// Waits until every rank arrives.
  void barrier() { detail::check_mpi(MPI_Barrier(comm_), "MPI_Barrier"); }

  /// Writes "metarm: rank R of N: message" to standard error and ends every rank (MPI_Abort, exit status 1).
  [[noreturn]] void abort_all(std::string_view message) {
    fmt::print(stderr, "metarm: rank {} of {}: {}\n", rank_, size_, message);
    std::fflush(stderr);
    MPI_Abort(comm_, 1);
    std::_Exit(1);  // MPI_Abort does not return; this is for a library that lets it
  }

 private:
  // Rank 0 gathers the buffers piece by piece, adds them in rank order and broadcasts the sums.
  template <class T>
  void ordered_sum(T* data, index_t count) {
    constexpr index_t piece = index_t{1} << 20;
    const auto ranks = static_cast<std::size_t>(size_);
    for (index_t first = 0; first < count; first += piece) {
      const int n = static_cast<int>(std::min(piece, count - first));
      std::vector<T>& gathered = gather_buffer<T>();
      if (rank_ == 0) gathered.resize(ranks * static_cast<std::size_t>(n));
      T* all = rank_ == 0 ? gathered.data() : nullptr;
      detail::check_mpi(
          MPI_Gather(data + first, n, detail::mpi_type<T>(), all, n, detail::mpi_type<T>(), 0, comm_), "MPI_Gather");
      if (rank_ == 0) {
        for (int i = 0; i < n; ++i) {
          T sum = all[i];
          for (std::size_t r = 1; r < ranks; ++r) sum += all[r * static_cast<std::size_t>(n) + static_cast<std::size_t>(i)];
          data[first + i] = sum;
        }
      }
      detail::check_mpi(MPI_Bcast(data + first, n, detail::mpi_type<T>(), 0, comm_), "MPI_Bcast");
    }
  }

  template <class T>
  std::vector<T>& gather_buffer() {
    if constexpr (std::is_same_v<T, float>) {
      return gathered_float_;
    } else {
      return gathered_double_;
    }
  }

  MPI_Comm comm_;
  Options options_;
  int rank_ = 0;
  int size_ = 1;
  // Rank 0's gather buffers in deterministic mode, kept between calls.
  std::vector<float> gathered_float_;
  std::vector<double> gathered_double_;
};

static_assert(Communicator<MpiCommunicator>);

}  // namespace metarm
