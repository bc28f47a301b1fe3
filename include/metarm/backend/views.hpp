// SPDX-License-Identifier: Apache-2.0
// Non-owning views over flat, column-major memory. A view does not know which backend's memory it points
// into; the backend op that receives it does. Element access is valid only for host-accessible memory.
#pragma once

#include <type_traits>

#include "metarm/core/config.hpp"

namespace metarm {

template <class T>
struct VectorView {
  T* data = nullptr;
  index_t size = 0;

  METARM_HOST_DEVICE T& operator[](index_t i) const { return data[i]; }
  bool empty() const { return size == 0; }
  VectorView segment(index_t offset, index_t count) const { return {data + offset, count}; }

  // Written as a template so that VectorView<const T> declares no conversion to itself.
  template <class U = T>
    requires(std::is_same_v<U, T> && !std::is_const_v<U>)
  operator VectorView<const U>() const {
    return {data, size};
  }
};

// Column j of a matrix view starts at data + j * ld; ld >= rows.
template <class T>
struct MatrixView {
  T* data = nullptr;
  index_t rows = 0;
  index_t cols = 0;
  index_t ld = 0;

  METARM_HOST_DEVICE T& operator()(index_t i, index_t j) const { return data[i + j * ld]; }
  index_t size() const { return rows * cols; }
  bool empty() const { return rows == 0 || cols == 0; }
  bool contiguous() const { return ld == rows || cols <= 1; }

  MatrixView columns(index_t first, index_t count) const { return {data + first * ld, rows, count, ld}; }
  MatrixView row_block(index_t first, index_t count) const { return {data + first, count, cols, ld}; }

  // The whole matrix as one vector; only meaningful when contiguous().
  VectorView<T> flat() const { return {data, rows * cols}; }

  template <class U = T>
    requires(std::is_same_v<U, T> && !std::is_const_v<U>)
  operator MatrixView<const U>() const {
    return {data, rows, cols, ld};
  }
};

template <class T>
MatrixView<T> matrix_view(T* data, index_t rows, index_t cols) {
  return {data, rows, cols, rows};
}

template <class T>
VectorView<T> vector_view(T* data, index_t size) {
  return {data, size};
}

template <class T>
MatrixView<const T> as_const(MatrixView<T> view) {
  return {view.data, view.rows, view.cols, view.ld};
}

template <class T>
VectorView<const T> as_const(VectorView<T> view) {
  return {view.data, view.size};
}

}  // namespace metarm
