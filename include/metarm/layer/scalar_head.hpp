// SPDX-License-Identifier: Apache-2.0
// The reward head: a dense layer of one unit, r = w . h + b, whose blocks are "<name>.weight" (1 x inputs)
// and "<name>.bias". The last layer of every reward network.
#pragma once

#include <string>

#include "metarm/layer/dense.hpp"

namespace metarm {

template <class T>
class ScalarHead : public Dense<T> {
 public:
  ScalarHead() : Dense<T>(1) {}
  std::string describe() const { return "head"; }
};

}  // namespace metarm
