// SPDX-License-Identifier: Apache-2.0
/// \file
/// Data parallelism: the Communicator concept, LocalCommunicator (one process, the default) and
/// CommunicatorRef, the handle a learner keeps.
///
/// Every rank holds the whole model, its optimiser state and the whole data set, and takes its shard of each
/// global batch. The step context averages across ranks every gradient and Hessian-vector product a strategy
/// asks for, so the point a strategy adapts to and the gradient it applies are the global batch's on every
/// rank, and the ranks' parameters stay identical without a strategy writing any communication
/// (docs/distributed.md). The implementations over MPI and NCCL live in `mpi.hpp` and `nccl.hpp`, which this
/// header does not include, so that programs without them never see their headers.
#pragma once

#include <concepts>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <type_traits>

#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"

namespace metarm {

/// How an all-reduce combines the ranks' buffers.
enum class Reduction {
  sum,  ///< the element-wise sum over ranks
  mean  ///< the sum divided by the number of ranks
};

/// Where the buffers handed to a communicator may live.
enum class CommunicatorMemory {
  host,   ///< host memory: a device backend's buffers are staged through the host
  device  ///< the backend's device memory, on the context's stream (NCCL)
};

/// What a data-parallel group offers; see the file's description. `all_reduce` works in place on one flat
/// buffer of `count` values and leaves the same bits on every rank; `abort_all` ends every rank of the group
/// with the message and does not return.
template <class C>
concept Communicator = requires(C& c, const C& cc, float* f, double* d, index_t count, int root,
                                std::string_view message) {
  { cc.rank() } -> std::convertible_to<int>;
  { cc.size() } -> std::convertible_to<int>;
  { C::memory } -> std::convertible_to<CommunicatorMemory>;
  c.all_reduce(f, count, Reduction::sum);
  c.all_reduce(d, count, Reduction::sum);
  c.broadcast(f, count, root);
  c.broadcast(d, count, root);
  c.barrier();
  c.abort_all(message);
};

/// Checks a user communicator type, saying in a sentence what is missing.
template <class C>
constexpr bool check_communicator() {
  static_assert(requires(const C& c) {
    { c.rank() } -> std::convertible_to<int>;
    { c.size() } -> std::convertible_to<int>;
  }, "metarm: a communicator needs `int rank() const` and `int size() const`");
  static_assert(requires {
    { C::memory } -> std::convertible_to<CommunicatorMemory>;
  }, "metarm: a communicator needs `static constexpr CommunicatorMemory memory`, saying where its buffers live");
  static_assert(requires(C& c, float* f, double* d, index_t n) {
    c.all_reduce(f, n, Reduction::sum);
    c.all_reduce(d, n, Reduction::sum);
  }, "metarm: a communicator needs `all_reduce(T* data, index_t count, Reduction op)` for float and double, "
     "in place");
  static_assert(requires(C& c, float* f, double* d, index_t n) {
    c.broadcast(f, n, 0);
    c.broadcast(d, n, 0);
  }, "metarm: a communicator needs `broadcast(T* data, index_t count, int root)` for float and double");
  static_assert(requires(C& c, std::string_view m) {
    c.barrier();
    c.abort_all(m);
  }, "metarm: a communicator needs `barrier()` and `abort_all(std::string_view message)`");
  return true;
}

/// One process: rank 0 of 1. Its collectives leave buffers as they are.
class LocalCommunicator {
 public:
  /// Host memory; there is nothing to move.
  static constexpr CommunicatorMemory memory = CommunicatorMemory::host;
  /// Always 0.
  int rank() const { return 0; }
  /// Always 1.
  int size() const { return 1; }
  /// The sum and the mean over one rank are the buffer itself.
  template <class T>
  void all_reduce(T*, index_t, Reduction) {}
  /// Rank 0 already holds the values.
  template <class T>
  void broadcast(T*, index_t, int) {}
  /// Nothing to wait for.
  void barrier() {}
  /// Writes the message to standard error and ends the process with exit status 1.
  [[noreturn]] void abort_all(std::string_view message) {
    fmt::print(stderr, "metarm: {}\n", message);
    std::fflush(stderr);
    std::exit(EXIT_FAILURE);
  }
};

/// A non-owning handle to any Communicator, which the learner and the step context keep so that their types
/// do not depend on the communicator's. Empty, it behaves as LocalCommunicator. The communicator must outlive
/// every handle to it.
class CommunicatorRef {
 public:
  /// One process.
  CommunicatorRef() = default;

  /// A handle to `communicator`.
  template <class C>
    requires(!std::is_same_v<std::remove_cvref_t<C>, CommunicatorRef>)
  CommunicatorRef(C& communicator)  // NOLINT(google-explicit-constructor): a handle stands for its communicator
      : object_(&communicator),
        operations_(&operations_of<C>),
        rank_(static_cast<int>(communicator.rank())),
        size_(static_cast<int>(communicator.size())),
        memory_(C::memory) {
    static_assert(check_communicator<C>());
    METARM_REQUIRE(size_ >= 1 && rank_ >= 0 && rank_ < size_, "CommunicatorRef",
                   "the communicator says it is rank {} of {}", rank_, size_);
  }

  /// This process's rank, 0 ... size() - 1.
  int rank() const { return rank_; }
  /// The number of ranks.
  int size() const { return size_; }
  /// Whether there is more than one rank, that is, whether collectives move anything.
  bool distributed() const { return size_ > 1; }
  /// Where the communicator's buffers may live.
  CommunicatorMemory memory() const { return memory_; }

  /// In-place all-reduce of `count` values at `data`.
  template <class T>
  void all_reduce(T* data, index_t count, Reduction op) const {
    if (distributed() && count > 0) {
      if constexpr (std::is_same_v<T, float>) {
        operations_->all_reduce_float(object_, data, count, op);
      } else {
        static_assert(std::is_same_v<T, double>, "metarm: communicators reduce float and double buffers");
        operations_->all_reduce_double(object_, data, count, op);
      }
    }
  }
  /// Copies `count` values at `data` on rank `root` to every rank.
  template <class T>
  void broadcast(T* data, index_t count, int root) const {
    if (distributed() && count > 0) {
      if constexpr (std::is_same_v<T, float>) {
        operations_->broadcast_float(object_, data, count, root);
      } else {
        static_assert(std::is_same_v<T, double>, "metarm: communicators broadcast float and double buffers");
        operations_->broadcast_double(object_, data, count, root);
      }
    }
  }
  /// Waits until every rank arrives.
  void barrier() const {
    if (distributed()) operations_->barrier(object_);
  }
  /// Ends every rank with the message.
  [[noreturn]] void abort_all(std::string_view message) const {
    if (operations_ != nullptr) operations_->abort_all(object_, message);
    LocalCommunicator().abort_all(message);
  }

 private:
  struct Operations {
    void (*all_reduce_float)(void*, float*, index_t, Reduction);
    void (*all_reduce_double)(void*, double*, index_t, Reduction);
    void (*broadcast_float)(void*, float*, index_t, int);
    void (*broadcast_double)(void*, double*, index_t, int);
    void (*barrier)(void*);
    void (*abort_all)(void*, std::string_view);
  };

  template <class C>
  static constexpr Operations operations_of{
      [](void* c, float* data, index_t n, Reduction op) { static_cast<C*>(c)->all_reduce(data, n, op); },
      [](void* c, double* data, index_t n, Reduction op) { static_cast<C*>(c)->all_reduce(data, n, op); },
      [](void* c, float* data, index_t n, int root) { static_cast<C*>(c)->broadcast(data, n, root); },
      [](void* c, double* data, index_t n, int root) { static_cast<C*>(c)->broadcast(data, n, root); },
      [](void* c) { static_cast<C*>(c)->barrier(); },
      [](void* c, std::string_view message) { static_cast<C*>(c)->abort_all(message); },
  };

  void* object_ = nullptr;
  const Operations* operations_ = nullptr;
  int rank_ = 0;
  int size_ = 1;
  CommunicatorMemory memory_ = CommunicatorMemory::host;
};

static_assert(Communicator<LocalCommunicator>);

}  // namespace metarm
