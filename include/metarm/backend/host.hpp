// SPDX-License-Identifier: Apache-2.0
/// \file
/// The host loops: the generic loops of a backend (for_each, reduce, and their segmented forms) on one host
/// thread, with no other dependency. Losses and layers evaluated on host memory outside a training step
/// (metrics, checks) run through it, in CUDA translation units as well, where the Eigen backend is absent.
#pragma once

#include <string_view>

#include "metarm/backend/views.hpp"
#include "metarm/core/config.hpp"

namespace metarm {

/// A backend of the four generic loops only, on one host thread: for host memory outside a training step.
struct host {
  /// The backend's name, as programs print it.
  static constexpr std::string_view name = "host";
  /// Host code may read and write what its loops touch.
  static constexpr bool host_accessible = true;

  /// Nothing to configure: the loops run on the calling thread.
  struct context {
    /// Nothing to wait for: the work is done when a loop returns.
    void synchronize() const {}
  };

  /// f(i) for every i in [0, n), in index order.
  template <class F>
  static void for_each(context&, index_t n, const F& f) {
    for (index_t i = 0; i < n; ++i) {
      f(i);
    }
  }

  /// The sum of f(i) over i in [0, n).
  /// Terms added in double, in index order.
  template <class F>
  static double reduce(context&, index_t n, const F& f) {
    double total = 0.0;
    for (index_t i = 0; i < n; ++i) {
      total += static_cast<double>(f(i));
    }
    return total;
  }

  /// f(p, begin, end) for every segment p of `offsets` (m + 1 ascending positions), in segment order.
  template <class F>
  static void for_each_segment(context&, VectorView<const index_t> offsets, const F& f) {
    for (index_t p = 0; p + 1 < offsets.size; ++p) {
      f(p, offsets.data[p], offsets.data[p + 1]);
    }
  }

  /// The sum of f(p, begin, end) over the segments of `offsets`, in double, in segment order.
  template <class F>
  static double reduce_segments(context&, VectorView<const index_t> offsets, const F& f) {
    double total = 0.0;
    for (index_t p = 0; p + 1 < offsets.size; ++p) {
      total += static_cast<double>(f(p, offsets.data[p], offsets.data[p + 1]));
    }
    return total;
  }

  /// reduce() divided by `divisor`, written to `out`.
  ///
  /// See cpu::reduce_into.
  template <class F>
  static void reduce_into(context& ctx, index_t n, const F& f, double* out, double divisor = 1.0) {
    *out = reduce(ctx, n, f) / divisor;
  }
  /// reduce_segments() divided by `divisor`, written to `out`; see cpu::reduce_into.
  template <class F>
  static void reduce_segments_into(context& ctx, VectorView<const index_t> offsets, const F& f, double* out,
                                   double divisor = 1.0) {
    *out = reduce_segments(ctx, offsets, f) / divisor;
  }
};

}  // namespace metarm
