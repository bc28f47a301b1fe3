// SPDX-License-Identifier: Apache-2.0
/// \file
/// The named layout of a flat parameter vector: which block (a layer's weight, its bias, ...) lives at which
/// offset with which shape. Gradients and optimiser state use the same layout, and checkpoints store params
/// block by block under these names. Both types have fmt formatters: a ParamBlock prints as "0.weight 4x3 at 0"
/// (a vector as "0.bias 4 at 12"), a Layout as "16 values: 0.weight 4x3 at 0, 0.bias 4 at 12".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <fmt/core.h>

#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/format.hpp"

namespace metarm {

/// One named block of a flat vector: where it starts and its shape.
struct ParamBlock {
  /// The block's name, such as "0.weight"; checkpoints store the block under it.
  std::string name;
  /// Where the block starts in the flat vector.
  index_t offset = 0;
  index_t rows = 0;  ///< a block is a column-major rows x cols matrix; a vector has cols == 1
  /// The number of columns; 1 for a vector.
  index_t cols = 0;

  /// The number of values, rows * cols.
  index_t size() const { return rows * cols; }
  /// Blocks are equal when name, offset and shape are.
  friend bool operator==(const ParamBlock&, const ParamBlock&) = default;
};

/// The blocks of a flat parameter vector, in order, each under a unique name.
class Layout {
 public:
  /// Appends a block right after the previous one and returns its offset.
  index_t add(std::string name, index_t rows, index_t cols = 1) {
    METARM_REQUIRE(rows >= 0 && cols >= 0, "Layout::add",
                   "block '{}' has a negative shape {} x {}", name, rows, cols);
    METARM_REQUIRE(!contains(name), "Layout::add", "block name '{}' is already used", name);
    blocks_.push_back({std::move(name), size_, rows, cols});
    size_ += rows * cols;
    return blocks_.back().offset;
  }

  /// The number of values of all blocks together.
  index_t size() const { return size_; }
  /// The blocks in the order they were added.
  const std::vector<ParamBlock>& blocks() const { return blocks_; }

  /// Whether a block is called `name`.
  bool contains(std::string_view name) const {
    for (const auto& block : blocks_) {
      if (block.name == name) {
        return true;
      }
    }
    return false;
  }

  /// The block called `name`; throws metarm::Error when there is none.
  const ParamBlock& block(std::string_view name) const {
    for (const auto& block : blocks_) {
      if (block.name == name) {
        return block;
      }
    }
    throw Error("Layout::block", fmt::format("no block named '{}'", name));
  }

  /// Layouts are equal when they have the same blocks in the same order.
  friend bool operator==(const Layout&, const Layout&) = default;

 private:
  std::vector<ParamBlock> blocks_;
  index_t size_ = 0;
};

}  // namespace metarm

// Formatters for fmt, which looks them up in its own namespace.
namespace fmt {

/// Formats a ParamBlock as "name ROWSxCOLS at OFFSET", or "name ROWS at OFFSET" for a vector (one column).
template <>
struct formatter<metarm::ParamBlock> {
  /// Takes no spec: "{}" only.
  constexpr auto parse(fmt::format_parse_context& ctx) { return ctx.begin(); }

  /// Writes the text.
  template <class FormatContext>
  auto format(const metarm::ParamBlock& b, FormatContext& ctx) const {
    return metarm::detail::write_text(ctx.out(), b.cols == 1 ? fmt::format("{} {} at {}", b.name, b.rows, b.offset)
                                                             : fmt::format("{} {}x{} at {}", b.name, b.rows, b.cols,
                                                                           b.offset));
  }
};

/// Formats a Layout as "SIZE values: block, block, ..." with each block as its formatter prints it ("0 values"
/// when there is none).
template <>
struct formatter<metarm::Layout> {
  /// Takes no spec: "{}" only.
  constexpr auto parse(fmt::format_parse_context& ctx) { return ctx.begin(); }

  /// Writes the text.
  template <class FormatContext>
  auto format(const metarm::Layout& layout, FormatContext& ctx) const {
    std::string text = fmt::format("{} values", layout.size());
    const char* separator = ": ";
    for (const metarm::ParamBlock& b : layout.blocks()) {
      text += separator;
      text += fmt::format("{}", b);
      separator = ", ";
    }
    return metarm::detail::write_text(ctx.out(), text);
  }
};

}  // namespace fmt
