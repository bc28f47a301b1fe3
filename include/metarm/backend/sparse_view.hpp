// SPDX-License-Identifier: Apache-2.0
// A non-owning view of a sparse matrix stored by columns (compressed sparse columns, CSC). Text features are
// this shape: a 2^18-row column holds a few hundred non-zeros, and a batch of them must never be densified.
//
// Column j's entries are positions offsets[j] .. offsets[j+1] of `indices` (their rows) and `values`.
// Offsets are absolute positions in those two arrays, so the view of columns first..first+count of a larger
// matrix is the same arrays with `offsets` advanced by `first`.
#pragma once

#include <type_traits>

#include "metarm/core/config.hpp"

namespace metarm {

template <class T>
struct SparseMatrixView {
  index_t rows = 0;
  index_t cols = 0;
  const index_t* offsets = nullptr;  // cols + 1 values, non-decreasing
  const index_t* indices = nullptr;  // row of each stored value, in [0, rows)
  T* values = nullptr;

  index_t nonzeros() const { return cols > 0 ? offsets[cols] - offsets[0] : 0; }
  bool empty() const { return rows == 0 || cols == 0; }

  SparseMatrixView columns(index_t first, index_t count) const { return {rows, count, offsets + first, indices, values}; }

  // Written as a template so that SparseMatrixView<const T> declares no conversion to itself.
  template <class U = T>
    requires(std::is_same_v<U, T> && !std::is_const_v<U>)
  operator SparseMatrixView<const U>() const {
    return {rows, cols, offsets, indices, values};
  }
};

}  // namespace metarm
