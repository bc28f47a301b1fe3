// SPDX-License-Identifier: Apache-2.0
/// \file
/// The reward head: a dense layer of one unit, r = w \. h + b, whose blocks are "<name>.weight" (1 x inputs)
/// and "<name>.bias". The last layer of every reward network.
#pragma once

#include <string>

#include "metarm/layer/dense.hpp"

namespace metarm {

/// The reward head: a Dense layer of one unit, the last layer of every reward network.
template <class T>
class ScalarHead : public Dense<T> {
 public:
  /// One unit; the input width is set when it is built.
  ScalarHead() : Dense<T>(1) {}
  /// "head".
  std::string describe() const { return "head"; }
};

}  // namespace metarm
