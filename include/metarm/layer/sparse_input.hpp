// SPDX-License-Identifier: Apache-2.0
/// \file
/// Sparse inputs for the first Dense layer: the two products that touch the input (see dense.hpp) for a
/// SparseMatrixView. Both cost outputs x nnz, so a layer over 2^18 hashed text features never builds the
/// d x n dense batch. The layer, the MLP and the learner are unchanged; they reach these by overload.
#pragma once

#include "metarm/backend/sparse_view.hpp"
#include "metarm/backend/views.hpp"

namespace metarm {

/// Whether Backend has the two sparse products a Dense layer needs on sparse input (metarm::cpu has them).
template <class Backend, class T>
concept BackendWithSparseProducts =
    requires(typename Backend::context& ctx, MatrixView<const T> a, SparseMatrixView<const T> s, MatrixView<T> c) {
      Backend::sparse_product(ctx, a, s, c);
      Backend::accumulate_sparse_outer(ctx, a, s, c);
    };

/// z = W x for a sparse input x.
template <class Backend, class T>
void input_product(typename Backend::context& ctx, MatrixView<const T> weight, const SparseMatrixView<const T>& x,
                   MatrixView<T> z) {
  static_assert(BackendWithSparseProducts<Backend, T>,
                "metarm: this backend has no sparse products (`sparse_product`, `accumulate_sparse_outer`); "
                "train on sparse features with metarm::cpu, or densify each batch for this backend");
  Backend::sparse_product(ctx, weight, x, z);
}

/// dW += dz x^T for a sparse input x.
template <class Backend, class T>
void accumulate_weight_gradient(typename Backend::context& ctx, MatrixView<const T> dz,
                                const SparseMatrixView<const T>& x, MatrixView<T> d_weight) {
  static_assert(BackendWithSparseProducts<Backend, T>,
                "metarm: this backend has no sparse products (`sparse_product`, `accumulate_sparse_outer`); "
                "train on sparse features with metarm::cpu, or densify each batch for this backend");
  Backend::accumulate_sparse_outer(ctx, dz, x, d_weight);
}

}  // namespace metarm
