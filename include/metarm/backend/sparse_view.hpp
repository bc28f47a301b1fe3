// SPDX-License-Identifier: Apache-2.0
/// \file
/// A non-owning view of a sparse matrix stored by columns (compressed sparse columns, CSC). Text features are
/// this shape: a 2^18-row column holds a few hundred non-zeros, and a batch of them must never be densified.
///
/// Column j's entries are positions offsets[j] .. offsets[j+1] of `indices` (their rows) and `values`.
/// Offsets are absolute positions in those two arrays, so the view of columns first..first+count of a larger
/// matrix is the same arrays with `offsets` advanced by `first`.
#pragma once

#include <type_traits>

#include "metarm/core/config.hpp"

namespace metarm {

/// A non-owning view of a rows x cols sparse matrix in compressed sparse columns; see the file's description.
template <class T>
struct SparseMatrixView {
  /// The number of rows (the feature dimension, for text features).
  index_t rows = 0;
  /// The number of columns (one per response, for text features).
  index_t cols = 0;
  const index_t* offsets = nullptr;  ///< cols + 1 values, non-decreasing
  const index_t* indices = nullptr;  ///< row of each stored value, in [0, rows)
  /// The stored values, in the order of `indices`.
  T* values = nullptr;

  /// The number of stored values of the viewed columns.
  index_t nonzeros() const { return cols > 0 ? offsets[cols] - offsets[0] : 0; }
  /// Whether the matrix has no rows or no columns.
  bool empty() const { return rows == 0 || cols == 0; }

  /// The `count` columns from column `first` on, as a view of the same arrays.
  SparseMatrixView columns(index_t first, index_t count) const { return {rows, count, offsets + first, indices, values}; }

  /// The same view, read-only.
  ///
  /// Written as a template so that SparseMatrixView<const T> declares no conversion to itself.
  template <class U = T>
    requires(std::is_same_v<U, T> && !std::is_const_v<U>)
  operator SparseMatrixView<const U>() const {
    return {rows, cols, offsets, indices, values};
  }
};

}  // namespace metarm
