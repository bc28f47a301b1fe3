// SPDX-License-Identifier: Apache-2.0
/// \file
/// NcclCommunicator: the Communicator over NCCL for the CUDA backend. Its all-reduce runs on the device
/// buffers themselves, on the stream of the backend context it was made for, so it is ordered with the
/// step's kernels and the host does not wait for it. The ranks find each other over MPI: rank 0 draws the
/// `ncclUniqueId` and MPI broadcasts it. Host buffers (the learner's step statistics, a strategy's scalars) go
/// through that MPI communicator. One GPU per rank: NCCL refuses two ranks on one device, where ranks
/// that share a GPU use MpiCommunicator, which stages through the host. Included on its own (CMake target
/// `metarm::nccl`); metarm/metarm.hpp does not include it.
#pragma once

#include <cuda_runtime.h>
#include <nccl.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"
#include "metarm/distributed/communicator.hpp"
#include "metarm/distributed/mpi.hpp"

namespace metarm {

namespace detail {

inline void check_nccl(ncclResult_t result, const char* call) {
  if (result == ncclSuccess) return;
  throw Error("NcclCommunicator", fmt::format("{} failed: {}", call, ncclGetErrorString(result)));
}

template <class T>
ncclDataType_t nccl_type() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "metarm: NCCL buffers hold float or double");
  if constexpr (std::is_same_v<T, float>) {
    return ncclFloat32;
  } else {
    return ncclFloat64;
  }
}

}  // namespace detail

/// The Communicator over NCCL; see the file's description.
class NcclCommunicator {
 public:
  /// Device memory, on the context's stream.
  static constexpr CommunicatorMemory memory = CommunicatorMemory::device;

  /// The ranks of `bootstrap`, one per GPU, with collectives queued on `stream` (the backend context's,
  /// `cuda::context::stream()`). The device current on each rank is its GPU; a collective call, so every
  /// rank of `bootstrap` must make one.
  NcclCommunicator(MpiCommunicator& bootstrap, cudaStream_t stream) : bootstrap_(&bootstrap), stream_(stream) {
    ncclUniqueId id{};
    if (bootstrap.rank() == 0) detail::check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    bootstrap.broadcast_bytes(&id, static_cast<index_t>(sizeof(id)), 0);
    detail::check_nccl(ncclCommInitRank(&comm_, bootstrap.size(), id, bootstrap.rank()), "ncclCommInitRank");
    rank_ = bootstrap.rank();
    size_ = bootstrap.size();
  }
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;
  /// Moves the NCCL communicator.
  NcclCommunicator(NcclCommunicator&& other) noexcept
      : bootstrap_(other.bootstrap_),
        stream_(other.stream_),
        comm_(std::exchange(other.comm_, nullptr)),
        rank_(other.rank_),
        size_(other.size_) {}
  NcclCommunicator& operator=(NcclCommunicator&&) = delete;
  /// Releases the NCCL communicator.
  ~NcclCommunicator() {
    if (comm_ != nullptr) ncclCommDestroy(comm_);
  }

  /// This process's rank.
  int rank() const { return rank_; }
  /// The number of ranks.
  int size() const { return size_; }
  /// The NCCL communicator.
  ncclComm_t comm() const { return comm_; }

  /// In-place all-reduce of `count` values at `data` (device memory), queued on the stream. The mean is
  /// NCCL's own (ncclAvg).
  template <class T>
  void all_reduce(T* data, index_t count, Reduction op) {
    if (count <= 0) return;  // one rank still goes through NCCL, so that a one-GPU run checks the path
    if (!on_device(data)) {
      bootstrap_->all_reduce(data, count, op);
      return;
    }
    detail::check_nccl(ncclAllReduce(data, data, static_cast<std::size_t>(count), detail::nccl_type<T>(),
                                     op == Reduction::mean ? ncclAvg : ncclSum, comm_, stream_),
                       "ncclAllReduce");
  }

  /// Copies `count` values at `data` (device memory) on rank `root` to every rank, queued on the stream.
  template <class T>
  void broadcast(T* data, index_t count, int root) {
    if (!on_device(data)) {
      bootstrap_->broadcast(data, count, root);
      return;
    }
    detail::check_nccl(
        ncclBroadcast(data, data, static_cast<std::size_t>(count), detail::nccl_type<T>(), root, comm_, stream_),
        "ncclBroadcast");
  }

  /// Waits until every rank arrives, with the work queued on the stream done.
  void barrier() {
    if (cudaStreamSynchronize(stream_) != cudaSuccess) {
      throw Error("NcclCommunicator::barrier", "cudaStreamSynchronize failed");
    }
    bootstrap_->barrier();
  }

  /// Abandons NCCL's pending work and ends every rank through MPI with the message.
  [[noreturn]] void abort_all(std::string_view message) {
    if (comm_ != nullptr) ncclCommAbort(std::exchange(comm_, nullptr));
    bootstrap_->abort_all(message);
  }

 private:
  static bool on_device(const void* data) {
    cudaPointerAttributes attributes{};
    if (cudaPointerGetAttributes(&attributes, data) != cudaSuccess) {
      (void)cudaGetLastError();  // a plain host pointer on older runtimes; the error must not stay sticky
      return false;
    }
    return attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged;
  }

  MpiCommunicator* bootstrap_;
  cudaStream_t stream_;
  ncclComm_t comm_ = nullptr;
  int rank_ = 0;
  int size_ = 1;
};

static_assert(Communicator<NcclCommunicator>);

}  // namespace metarm
