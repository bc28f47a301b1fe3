// SPDX-License-Identifier: Apache-2.0
// One contiguous vector of parameters (or of gradients, or of one optimiser moment) with its layout; every
// block is a view into the same buffer, so a whole-model update is one pass over one array.
#pragma once

#include <string_view>
#include <utility>

#include "metarm/backend/views.hpp"
#include "metarm/params/layout.hpp"

namespace metarm {

template <class T, class Backend>
class FlatParams {
 public:
  using scalar_type = T;
  using backend_type = Backend;

  FlatParams() = default;
  explicit FlatParams(Layout layout) : layout_(std::move(layout)), values_(layout_.size()) {}

  const Layout& layout() const { return layout_; }
  index_t size() const { return layout_.size(); }

  VectorView<T> view() { return values_.view(); }
  VectorView<const T> view() const { return values_.view(); }

  MatrixView<T> block(std::string_view name) {
    const ParamBlock& b = layout_.block(name);
    return {values_.data() + b.offset, b.rows, b.cols, b.rows};
  }
  MatrixView<const T> block(std::string_view name) const {
    const ParamBlock& b = layout_.block(name);
    return {values_.data() + b.offset, b.rows, b.cols, b.rows};
  }

  typename Backend::template buffer<T>& storage() { return values_; }
  const typename Backend::template buffer<T>& storage() const { return values_; }

 private:
  Layout layout_;
  typename Backend::template buffer<T> values_;
};

}  // namespace metarm
