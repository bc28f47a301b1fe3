// SPDX-License-Identifier: Apache-2.0
/// \file
/// Non-owning views over flat, column-major memory. A view does not know which backend's memory it points
/// into; the backend op that receives it does. Element access is valid only for host-accessible memory.
#pragma once

#include <type_traits>

#include "metarm/core/config.hpp"

namespace metarm {

/// A non-owning view of `size` consecutive elements; copies are cheap and share the memory.
template <class T>
struct VectorView {
  /// The first element, in whichever backend's memory the view was taken from.
  T* data = nullptr;
  /// The number of elements.
  index_t size = 0;

  /// Element i; host-accessible memory only (or device code, for device memory).
  METARM_HOST_DEVICE T& operator[](index_t i) const { return data[i]; }
  /// Whether the view has no elements.
  bool empty() const { return size == 0; }
  /// The `count` elements from `offset` on, as a view of the same memory.
  VectorView segment(index_t offset, index_t count) const { return {data + offset, count}; }

  /// The same view, read-only.
  ///
  /// Written as a template so that VectorView<const T> declares no conversion to itself.
  template <class U = T>
    requires(std::is_same_v<U, T> && !std::is_const_v<U>)
  operator VectorView<const U>() const {
    return {data, size};
  }
};

/// A non-owning view of a rows x cols column-major matrix with leading dimension ld.
///
/// Column j of a matrix view starts at data + j * ld; ld >= rows.
template <class T>
struct MatrixView {
  /// The first element (row 0, column 0).
  T* data = nullptr;
  /// The number of rows.
  index_t rows = 0;
  /// The number of columns.
  index_t cols = 0;
  /// The distance between the starts of two adjacent columns, in elements.
  index_t ld = 0;

  /// Element (i, j); host-accessible memory only (or device code, for device memory).
  METARM_HOST_DEVICE T& operator()(index_t i, index_t j) const { return data[i + j * ld]; }
  /// The number of elements, rows * cols.
  index_t size() const { return rows * cols; }
  /// Whether the matrix has no elements.
  bool empty() const { return rows == 0 || cols == 0; }
  /// Whether the columns follow each other without gaps, so that flat() covers the matrix.
  bool contiguous() const { return ld == rows || cols <= 1; }

  /// The `count` columns from column `first` on, as a view of the same memory.
  MatrixView columns(index_t first, index_t count) const { return {data + first * ld, rows, count, ld}; }
  /// The `count` rows from row `first` on, as a view of the same memory (same ld).
  MatrixView row_block(index_t first, index_t count) const { return {data + first, count, cols, ld}; }

  /// The whole matrix as one vector; only meaningful when contiguous().
  VectorView<T> flat() const { return {data, rows * cols}; }

  /// The same view, read-only.
  template <class U = T>
    requires(std::is_same_v<U, T> && !std::is_const_v<U>)
  operator MatrixView<const U>() const {
    return {data, rows, cols, ld};
  }
};

/// A contiguous rows x cols matrix view (ld = rows) over `data`.
template <class T>
MatrixView<T> matrix_view(T* data, index_t rows, index_t cols) {
  return {data, rows, cols, rows};
}

/// A vector view of `size` elements at `data`.
template <class T>
VectorView<T> vector_view(T* data, index_t size) {
  return {data, size};
}

/// A read-only view of the same matrix.
template <class T>
MatrixView<const T> as_const(MatrixView<T> view) {
  return {view.data, view.rows, view.cols, view.ld};
}

/// A read-only view of the same vector.
template <class T>
VectorView<const T> as_const(VectorView<T> view) {
  return {view.data, view.size};
}

}  // namespace metarm
