// SPDX-License-Identifier: Apache-2.0
// Which host sets and batch buffers go with an input representation. The learner is written once against
// these names; `Input` is the type the first layer receives (MatrixView<const T> for dense features,
// SparseMatrixView<const T> for sparse ones).
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

template <class Input>
struct input_kind {
  static_assert(!std::is_same_v<Input, Input>,
                "metarm: unknown input type; use MatrixView<const T> (dense) or SparseMatrixView<const T> (sparse)");
};

template <class T>
struct input_kind<MatrixView<const T>> {
  static constexpr bool sparse = false;
  using preference_set = PreferenceSet<T>;
  using meta_set = MetaSet<T>;
  template <class Backend>
  using preference_buffer = PreferenceBatchBuffer<T, Backend>;
  template <class Backend>
  using meta_buffer = MetaBatchBuffer<T, Backend>;
};

template <class T>
struct input_kind<SparseMatrixView<const T>> {
  static constexpr bool sparse = true;
  using preference_set = SparsePreferenceSet<T>;
  using meta_set = SparseMetaSet<T>;
  template <class Backend>
  using preference_buffer = SparsePreferenceBatchBuffer<T, Backend>;
  template <class Backend>
  using meta_buffer = SparseMetaBatchBuffer<T, Backend>;
};

template <class T>
using DenseInput = MatrixView<const T>;
template <class T>
using SparseInput = SparseMatrixView<const T>;

}  // namespace metarm
