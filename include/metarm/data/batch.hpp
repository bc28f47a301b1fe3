// SPDX-License-Identifier: Apache-2.0
/// \file
/// The two kinds of batch a training step consumes, as views into backend memory. Features are columns.
///  - PreferenceBatch: [X_chosen | X_rejected], d x 2n, so one forward pass scores both sides.
///  - MetaBatch: unlabelled responses from the shifted distribution, d x sum_p k_p, with m + 1 offsets
///    that delimit each prompt's k_p >= 2 responses.
#pragma once

#include <string>

#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"

namespace metarm {

/// Labelled pairs in backend memory: the chosen and rejected columns side by side, and optional margins.
template <class T, class Input = MatrixView<const T>>
struct PreferenceBatch {
  Input features;                 ///< d x 2n, chosen columns first
  VectorView<const T> margins{};  ///< empty, or one margin per pair

  /// The number of pairs n, half the columns.
  index_t pairs() const { return features.cols / 2; }
};

/// Unlabelled responses in backend memory, grouped by prompt through offsets.
template <class T, class Input = MatrixView<const T>>
struct MetaBatch {
  Input features;                     ///< d x sum_p k_p
  VectorView<const index_t> offsets;  ///< m + 1 values in backend memory, offsets[0] = 0

  /// The number of prompts m.
  index_t prompts() const { return offsets.size > 0 ? offsets.size - 1 : 0; }
  /// Whether the batch holds no prompt.
  bool empty() const { return offsets.size < 2; }
};

/// Throws, naming `where`, unless the batch has 2n >= 2 columns of input_dim features and 0 or n margins.
template <class T, class Input>
void validate_batch(const PreferenceBatch<T, Input>& batch, index_t input_dim, const char* where) {
  METARM_REQUIRE(batch.features.cols >= 2, where, "preference batch is empty (argument 'pairs' has no columns)");
  METARM_REQUIRE(batch.features.cols % 2 == 0, where,
                 "preference batch must have 2n columns (chosen then rejected), got {}", batch.features.cols);
  METARM_REQUIRE(batch.features.rows == input_dim, where,
                 "preference batch has {} features per column, the model expects {}", batch.features.rows, input_dim);
  METARM_REQUIRE(batch.margins.size == 0 || batch.margins.size == batch.pairs(), where,
                 "argument 'margins' must be empty or hold one value per pair ({}), got {}", batch.pairs(),
                 batch.margins.size);
}

/// Throws, naming `where`, unless the batch has prompts of input_dim features, each of k >= 2 responses.
///
/// Offsets are checked here when host-readable; other backends check them on the host when the batch is built.
template <class Backend, class T, class Input>
void validate_batch(const MetaBatch<T, Input>& batch, index_t input_dim, const char* where) {
  METARM_REQUIRE(!batch.empty(), where, "meta batch is empty (argument 'meta' has no prompts)");
  METARM_REQUIRE(batch.features.rows == input_dim, where,
                 "meta batch has {} features per column, the model expects {}", batch.features.rows, input_dim);
  if constexpr (Backend::host_accessible) {
    const auto& offsets = batch.offsets;
    METARM_REQUIRE(offsets[0] == 0 && offsets[offsets.size - 1] == batch.features.cols, where,
                   "meta batch offsets must run from 0 to its column count {}", batch.features.cols);
    for (index_t p = 0; p + 1 < offsets.size; ++p) {
      METARM_REQUIRE(offsets[p + 1] - offsets[p] >= 2, where,
                     "meta batch prompt {} has k = {} responses; the difference objective needs k >= 2", p,
                     offsets[p + 1] - offsets[p]);
    }
  }
}

}  // namespace metarm
