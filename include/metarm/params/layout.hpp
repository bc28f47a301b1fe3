// SPDX-License-Identifier: Apache-2.0
// The named layout of a flat parameter vector: which block (a layer's weight, its bias, ...) lives at which
// offset with which shape. Gradients and optimiser state use the same layout, and checkpoints store params
// block by block under these names.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"

namespace metarm {

struct ParamBlock {
  std::string name;
  index_t offset = 0;
  index_t rows = 0;  // a block is a column-major rows x cols matrix; a vector has cols == 1
  index_t cols = 0;

  index_t size() const { return rows * cols; }
  friend bool operator==(const ParamBlock&, const ParamBlock&) = default;
};

class Layout {
 public:
  // Appends a block right after the previous one and returns its offset.
  index_t add(std::string name, index_t rows, index_t cols = 1) {
    METARM_REQUIRE(rows >= 0 && cols >= 0, "Layout::add",
                   "block '" + name + "' has a negative shape " + std::to_string(rows) + " x " + std::to_string(cols));
    METARM_REQUIRE(!contains(name), "Layout::add", "block name '" + name + "' is already used");
    blocks_.push_back({std::move(name), size_, rows, cols});
    size_ += rows * cols;
    return blocks_.back().offset;
  }

  index_t size() const { return size_; }
  const std::vector<ParamBlock>& blocks() const { return blocks_; }

  bool contains(std::string_view name) const {
    for (const auto& block : blocks_) {
      if (block.name == name) {
        return true;
      }
    }
    return false;
  }

  const ParamBlock& block(std::string_view name) const {
    for (const auto& block : blocks_) {
      if (block.name == name) {
        return block;
      }
    }
    throw Error("Layout::block", "no block named '" + std::string(name) + "'");
  }

  friend bool operator==(const Layout&, const Layout&) = default;

 private:
  std::vector<ParamBlock> blocks_;
  index_t size_ = 0;
};

}  // namespace metarm
