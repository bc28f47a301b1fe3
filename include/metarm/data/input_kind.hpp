// SPDX-License-Identifier: Apache-2.0
/// \file
/// Which host sets and batch buffers go with an input representation. The learner is written once against
/// these names; `Input` is the type the first layer receives (MatrixView<const T> for dense features,
/// SparseMatrixView<const T> for sparse ones).
#pragma once

#include <type_traits>

#include "metarm/backend/sparse_view.hpp"
#include "metarm/backend/views.hpp"
#include "metarm/data/batch_buffer.hpp"
#include "metarm/data/meta_set.hpp"
#include "metarm/data/preference_set.hpp"
#include "metarm/data/sparse_batch_buffer.hpp"
#include "metarm/data/sparse_meta_set.hpp"
#include "metarm/data/sparse_preference_set.hpp"

namespace metarm {

/// Names the host sets and batch buffers that go with the input type Input; only the dense and sparse views have them.
template <class Input>
struct input_kind {
  static_assert(!std::is_same_v<Input, Input>,
                "metarm: unknown input type; use MatrixView<const T> (dense) or SparseMatrixView<const T> (sparse)");
};

/// Dense features: PreferenceSet, MetaSet and their batch buffers.
template <class T>
struct input_kind<MatrixView<const T>> {
  /// False: the features are dense.
  static constexpr bool sparse = false;
  /// The labelled pairs' host set.
  using preference_set = PreferenceSet<T>;
  /// The unlabelled responses' host set.
  using meta_set = MetaSet<T>;
  /// The buffer that gathers preference batches into Backend's memory.
  template <class Backend>
  using preference_buffer = PreferenceBatchBuffer<T, Backend>;
  /// The buffer that gathers meta batches into Backend's memory.
  template <class Backend>
  using meta_buffer = MetaBatchBuffer<T, Backend>;
};

/// Sparse features: SparsePreferenceSet, SparseMetaSet and their batch buffers.
template <class T>
struct input_kind<SparseMatrixView<const T>> {
  /// True: the features are sparse columns.
  static constexpr bool sparse = true;
  /// The labelled pairs' host set.
  using preference_set = SparsePreferenceSet<T>;
  /// The unlabelled responses' host set.
  using meta_set = SparseMetaSet<T>;
  /// The buffer that gathers preference batches into Backend's memory.
  template <class Backend>
  using preference_buffer = SparsePreferenceBatchBuffer<T, Backend>;
  /// The buffer that gathers meta batches into Backend's memory.
  template <class Backend>
  using meta_buffer = SparseMetaBatchBuffer<T, Backend>;
};

/// The input type of dense features, for FitOptions and the learner.
template <class T>
using DenseInput = MatrixView<const T>;
/// The input type of sparse features, for FitOptions and the learner.
template <class T>
using SparseInput = SparseMatrixView<const T>;

}  // namespace metarm
