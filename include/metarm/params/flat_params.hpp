// SPDX-License-Identifier: Apache-2.0
/// \file
/// One contiguous vector of parameters (or of gradients, or of one optimiser moment) with its layout; every
/// block is a view into the same buffer, so a whole-model update is one pass over one array.
#pragma once

#include <string_view>
#include <utility>

#include "metarm/backend/views.hpp"
#include "metarm/params/layout.hpp"

namespace metarm {

/// A model's parameters (or gradients, or one optimiser moment) as one backend buffer laid out by a Layout.
template <class T, class Backend>
class FlatParams {
 public:
  /// The element type.
  using scalar_type = T;
  /// The backend whose memory holds the values.
  using backend_type = Backend;

  /// No blocks and no storage.
  FlatParams() = default;
  /// Zeroed storage for every block of `layout`.
  explicit FlatParams(Layout layout) : layout_(std::move(layout)), values_(layout_.size()) {}

  /// The blocks: names, offsets and shapes.
  const Layout& layout() const { return layout_; }
  /// The number of values, all blocks together.
  index_t size() const { return layout_.size(); }

  /// All values as one vector, in layout order.
  VectorView<T> view() { return values_.view(); }
  /// All values as one read-only vector, in layout order.
  VectorView<const T> view() const { return values_.view(); }

  /// The block called `name` as a matrix view into the same storage; throws when there is none.
  MatrixView<T> block(std::string_view name) {
    const ParamBlock& b = layout_.block(name);
    return {values_.data() + b.offset, b.rows, b.cols, b.rows};
  }
  /// The block called `name` as a read-only matrix view; throws when there is none.
  MatrixView<const T> block(std::string_view name) const {
    const ParamBlock& b = layout_.block(name);
    return {values_.data() + b.offset, b.rows, b.cols, b.rows};
  }

  /// The backend buffer behind the views.
  typename Backend::template buffer<T>& storage() { return values_; }
  /// The backend buffer behind the views, read-only.
  const typename Backend::template buffer<T>& storage() const { return values_; }

 private:
  Layout layout_;
  typename Backend::template buffer<T> values_;
};

}  // namespace metarm
