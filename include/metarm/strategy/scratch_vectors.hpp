// SPDX-License-Identifier: Apache-2.0
/// \file
/// Parameter-sized vectors a strategy keeps across steps, found by name: s.scratch("adapted"), or a family
/// of them by name and index, s.scratch("inner point", i). Each is created zero-filled on first use and
/// reused afterwards, so after the first step asking for one allocates nothing.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "metarm/backend/views.hpp"
#include "metarm/core/config.hpp"

namespace metarm {

/// Named parameter-sized vectors a strategy keeps across steps; see the file's description.
template <class T, class Backend>
class ScratchVectors {
 public:
  /// Vectors of `size` values each.
  explicit ScratchVectors(index_t size = 0) : size_(size) {}

  /// The vector called (name, index), created zero-filled on first use.
  VectorView<T> get(std::string_view name, std::size_t index = 0) {
    for (Entry& e : entries_) {
      if (e.index == index && e.name == name) {
        return e.values.view();
      }
    }
    entries_.push_back(Entry{std::string(name), index, typename Backend::template buffer<T>(size_)});
    return entries_.back().values.view();
  }

  /// The number of vectors created so far.
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string name;
    std::size_t index;
    typename Backend::template buffer<T> values;
  };
  index_t size_;
  std::vector<Entry> entries_;
};

}  // namespace metarm
