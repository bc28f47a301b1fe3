// SPDX-License-Identifier: Apache-2.0
/// \file
/// Sparse batches gathered from sparse host sets by index, as SparseMatrixViews. Like the dense buffers they
/// grow to the largest batch they are sized for (`reserve_for` sizes them for the worst batch a set can yield)
/// and are then reused, so gathering allocates nothing once training is under way.
#pragma once

#include <algorithm>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "metarm/backend/sparse_view.hpp"
#include "metarm/core/error.hpp"
#include "metarm/data/batch.hpp"
#include "metarm/data/sparse_columns.hpp"
#include "metarm/data/sparse_meta_set.hpp"
#include "metarm/data/sparse_preference_set.hpp"
#include "metarm/layer/sparse_input.hpp"

namespace metarm {

namespace detail {

// Sum of the `take` largest of `sizes` (sizes is reordered).
inline index_t largest_sum(std::vector<index_t>& sizes, index_t take) {
  const auto count = static_cast<std::size_t>(std::clamp<index_t>(take, 0, static_cast<index_t>(sizes.size())));
  std::partial_sort(sizes.begin(), sizes.begin() + static_cast<std::ptrdiff_t>(count), sizes.end(), std::greater<>());
  index_t total = 0;
  for (std::size_t i = 0; i < count; ++i) {
    total += sizes[i];
  }
  return total;
}

// Offsets, row indices and values of a CSC batch in host-accessible backend memory.
template <class T, class Backend>
class SparseStaging {
  static_assert(Backend::host_accessible,
                "metarm: sparse batches are gathered in host-accessible memory (metarm::cpu); densify each batch for "
                "other backends");

 public:
  void reserve(index_t columns, index_t nonzeros) {
    if (offsets_.size() < columns + 1) offsets_.resize(columns + 1);
    if (indices_.size() < nonzeros) indices_.resize(nonzeros);
    if (values_.size() < nonzeros) values_.resize(nonzeros);
  }

  // Starts a batch of `columns` columns holding `nonzeros` values in all.
  void begin(index_t columns, index_t nonzeros) {
    reserve(columns, nonzeros);
    offsets_.data()[0] = 0;
    column_ = 0;
  }

  void push(const SparseColumns<T>& source, index_t j) {
    const index_t at = offsets_.data()[column_];
    const index_t count = source.nonzeros_of(j);
    if (count > 0) {
      std::memcpy(indices_.data() + at, source.column_rows(j).data(), static_cast<std::size_t>(count) * sizeof(index_t));
      std::memcpy(values_.data() + at, source.column_values(j).data(), static_cast<std::size_t>(count) * sizeof(T));
    }
    offsets_.data()[++column_] = at + count;
  }

  SparseMatrixView<const T> view(index_t rows) const {
    return {rows, column_, offsets_.data(), indices_.data(), values_.data()};
  }

 private:
  typename Backend::template buffer<index_t> offsets_;
  typename Backend::template buffer<index_t> indices_;
  typename Backend::template buffer<T> values_;
  index_t column_ = 0;
};

}  // namespace detail

/// Gathers preference batches of a SparsePreferenceSet into host-accessible backend memory, reusing its storage.
template <class T, class Backend>
class SparsePreferenceBatchBuffer {
 public:
  /// A preference batch of sparse columns.
  using batch_type = PreferenceBatch<T, SparseMatrixView<const T>>;

  /// Gathers the listed pairs: chosen columns first, then rejected, then margins when the set has any.
  batch_type gather(typename Backend::context&, const SparsePreferenceSet<T>& set, std::span<const index_t> pairs) {
    METARM_REQUIRE(!pairs.empty(), "SparsePreferenceBatchBuffer::gather", "argument 'pairs' is empty");
    const index_t n = static_cast<index_t>(pairs.size());
    index_t nonzeros = 0;
    for (index_t i : pairs) {
      METARM_REQUIRE(i >= 0 && i < set.size(), "SparsePreferenceBatchBuffer::gather",
                     "pair index {} is outside the set of {}", i, set.size());
      nonzeros += set.chosen_features().nonzeros_of(i) + set.rejected_features().nonzeros_of(i);
    }
    features_.begin(2 * n, nonzeros);
    if (margins_.size() < n) margins_.resize(n);
    for (index_t i : pairs) {
      features_.push(set.chosen_features(), i);
    }
    for (index_t j = 0; j < n; ++j) {
      const index_t i = pairs[static_cast<std::size_t>(j)];
      features_.push(set.rejected_features(), i);
      margins_.data()[j] = set.margin(i);
    }
    batch_type batch{features_.view(set.dim()), {}};
    if (set.has_margins()) {
      batch.margins = {margins_.data(), n};
    }
    return batch;
  }

  /// Sizes the buffers for any batch of `pairs` pairs of `set`, so later gathers never allocate.
  void reserve_for(const SparsePreferenceSet<T>& set, index_t pairs) {
    std::vector<index_t> sizes(static_cast<std::size_t>(set.size()));
    for (index_t i = 0; i < set.size(); ++i) {
      sizes[static_cast<std::size_t>(i)] = set.chosen_features().nonzeros_of(i) + set.rejected_features().nonzeros_of(i);
    }
    features_.reserve(2 * pairs, detail::largest_sum(sizes, pairs));
    if (margins_.size() < pairs) margins_.resize(pairs);
  }

 private:
  detail::SparseStaging<T, Backend> features_;
  typename Backend::template buffer<T> margins_;
};

/// Gathers meta batches of a SparseMetaSet into host-accessible backend memory, reusing its storage.
template <class T, class Backend>
class SparseMetaBatchBuffer {
 public:
  /// A meta batch of sparse columns.
  using batch_type = MetaBatch<T, SparseMatrixView<const T>>;

  /// Gathers the listed prompts with all their responses.
  batch_type gather(typename Backend::context&, const SparseMetaSet<T>& set, std::span<const index_t> prompts) {
    METARM_REQUIRE(!prompts.empty(), "SparseMetaBatchBuffer::gather", "argument 'prompts' is empty");
    const index_t m = static_cast<index_t>(prompts.size());
    index_t columns = 0, nonzeros = 0;
    for (index_t p : prompts) {
      METARM_REQUIRE(p >= 0 && p < set.prompts(), "SparseMetaBatchBuffer::gather",
                     "prompt index {} is outside the set of {}", p, set.prompts());
      columns += set.responses_of(p);
      nonzeros += set.nonzeros_of(p);
    }
    features_.begin(columns, nonzeros);
    if (offsets_.size() < m + 1) offsets_.resize(m + 1);
    index_t* offsets = offsets_.data();
    offsets[0] = 0;
    for (index_t j = 0; j < m; ++j) {
      const index_t p = prompts[static_cast<std::size_t>(j)];
      for (index_t c = set.offsets()[static_cast<std::size_t>(p)]; c < set.offsets()[static_cast<std::size_t>(p) + 1]; ++c) {
        features_.push(set.features(), c);
      }
      offsets[j + 1] = offsets[j] + set.responses_of(p);
    }
    return {features_.view(set.dim()), {offsets, m + 1}};
  }

  /// Sizes the buffers for any `prompts` prompts of `set`, so later gathers never allocate.
  void reserve_for(const SparseMetaSet<T>& set, index_t prompts) {
    std::vector<index_t> columns(static_cast<std::size_t>(set.prompts())), nonzeros(columns.size());
    for (index_t p = 0; p < set.prompts(); ++p) {
      columns[static_cast<std::size_t>(p)] = set.responses_of(p);
      nonzeros[static_cast<std::size_t>(p)] = set.nonzeros_of(p);
    }
    features_.reserve(detail::largest_sum(columns, prompts), detail::largest_sum(nonzeros, prompts));
    if (offsets_.size() < prompts + 1) offsets_.resize(prompts + 1);
  }

 private:
  detail::SparseStaging<T, Backend> features_;
  typename Backend::template buffer<index_t> offsets_;
};

}  // namespace metarm
