// SPDX-License-Identifier: Apache-2.0
/// \file
/// A growing sparse matrix in host memory, one column (one response's features) appended at a time, stored by
/// columns (CSC) so that any run of columns is a SparseMatrixView without copying.
#pragma once

#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "metarm/backend/sparse_view.hpp"
#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"

namespace metarm {

/// A sparse matrix in host memory, grown one column at a time and stored by columns (CSC).
template <class T>
class SparseColumns {
 public:
  /// The value type.
  using scalar_type = T;

  /// A matrix without a row count, to be assigned one that has it.
  SparseColumns() = default;
  /// An empty matrix of `rows` rows.
  explicit SparseColumns(index_t rows) : rows_(rows) {
    METARM_REQUIRE(rows > 0, "SparseColumns", "argument 'rows' must be > 0, got {}", rows);
  }

  /// Appends one column. Rows must be strictly increasing and inside [0, rows()); values finite. `what` names
  /// the column in error messages ("pair 3 chosen", ...).
  void add(std::span<const index_t> rows, std::span<const T> values, const std::string& what = "column") {
    check(rows, values, what);
    indices_.insert(indices_.end(), rows.begin(), rows.end());
    values_.insert(values_.end(), values.begin(), values.end());
    offsets_.push_back(static_cast<index_t>(indices_.size()));
  }

  /// Throws the error add() would throw for this column, without adding it.
  void check(std::span<const index_t> rows, std::span<const T> values, const std::string& what = "column") const {
    METARM_REQUIRE(rows_ > 0, "SparseColumns::add", "the matrix was created without a row count");
    METARM_REQUIRE(rows.size() == values.size(), "SparseColumns::add",
                   "{}: {} row indices but {} values", what, rows.size(), values.size());
    for (std::size_t p = 0; p < rows.size(); ++p) {
      METARM_REQUIRE(rows[p] >= 0 && rows[p] < rows_, "SparseColumns::add",
                     "{}: row index {} is outside [0, {})", what, rows[p], rows_);
      METARM_REQUIRE(p == 0 || rows[p] > rows[p - 1], "SparseColumns::add",
                     "{}: row indices must be strictly increasing (entry {})", what, p);
      METARM_REQUIRE(std::isfinite(values[p]), "SparseColumns::add",
                     "{}: the value at row {} is not finite", what, rows[p]);
    }
  }

  /// Appends every column of `other`, which must have the same row count.
  void append(const SparseColumns& other) {
    METARM_REQUIRE(other.rows_ == rows_, "SparseColumns::append",
                   "row counts differ: {} vs {}", other.rows_, rows_);
    const index_t base = static_cast<index_t>(indices_.size());
    indices_.insert(indices_.end(), other.indices_.begin(), other.indices_.end());
    values_.insert(values_.end(), other.values_.begin(), other.values_.end());
    for (std::size_t j = 1; j < other.offsets_.size(); ++j) {
      offsets_.push_back(base + other.offsets_[j]);
    }
  }

  /// Reserves memory for `columns` columns holding `nonzeros` values in all.
  void reserve(index_t columns, index_t nonzeros) {
    offsets_.reserve(static_cast<std::size_t>(columns + 1));
    indices_.reserve(static_cast<std::size_t>(nonzeros));
    values_.reserve(static_cast<std::size_t>(nonzeros));
  }

  /// The number of rows.
  index_t rows() const { return rows_; }
  /// The number of columns.
  index_t cols() const { return static_cast<index_t>(offsets_.size()) - 1; }
  /// The number of stored values, all columns together.
  index_t nonzeros() const { return static_cast<index_t>(indices_.size()); }
  /// The number of stored values of column j.
  index_t nonzeros_of(index_t j) const { return offsets_[j + 1] - offsets_[j]; }

  /// Column j's row indices and values.
  std::span<const index_t> column_rows(index_t j) const {
    return {indices_.data() + offsets_[j], static_cast<std::size_t>(nonzeros_of(j))};
  }
  /// Column j's values, in the order of its row indices.
  std::span<const T> column_values(index_t j) const {
    return {values_.data() + offsets_[j], static_cast<std::size_t>(nonzeros_of(j))};
  }

  /// All columns as a sparse view of the stored arrays, without copying.
  SparseMatrixView<const T> view() const { return {rows_, cols(), offsets_.data(), indices_.data(), values_.data()}; }
  /// The `count` columns from column `first` on, as a sparse view without copying.
  SparseMatrixView<const T> columns(index_t first, index_t count) const { return view().columns(first, count); }

  /// Column j as a dense vector (for tests and small dimensions).
  std::vector<T> dense_column(index_t j) const {
    std::vector<T> out(static_cast<std::size_t>(rows_), T(0));
    for (index_t p = offsets_[j]; p < offsets_[j + 1]; ++p) {
      out[static_cast<std::size_t>(indices_[p])] = values_[p];
    }
    return out;
  }

 private:
  index_t rows_ = 0;
  std::vector<index_t> offsets_{0};
  std::vector<index_t> indices_;
  std::vector<T> values_;
};

}  // namespace metarm
