// SPDX-License-Identifier: Apache-2.0
/// \file
/// Sequential<L...>: a reward model made of layers applied one after another, composed at compile time,
/// \code
///   Sequential model(dim, Dense<double>(64), LayerNorm<double>(), GELU{},
///                    Residual(Dense<double>(64), Tanh{}), ScalarHead<double>());
/// \endcode
/// The last layer must have one output. Its blocks are named "<i>.<block>" after each layer's position, as
/// PyTorch's nn.Sequential names them ("0.weight", "3.0.bias", "4.weight").
#pragma once

#include <concepts>
#include <string>
#include <utility>

#include "metarm/layer/chain.hpp"
#include "metarm/model/reward_network.hpp"

namespace metarm {

/// A reward model made of the layers L..., applied one after another; the last must have one output.
template <class... L>
class Sequential : public RewardNetwork<Chain<L...>> {
 public:
  /// An empty model, to be assigned one made from layers.
  Sequential() = default;
  /// Builds the layers on inputs of `input_dim` features, their blocks named after their positions.
  Sequential(index_t input_dim, L... layers)
      : RewardNetwork<Chain<L...>>(input_dim, Chain<L...>(std::move(layers)...), "Sequential") {
    this->set_description(fmt::format("sequential({};{})", input_dim, this->body().describe_layers()));
  }
};

/// A Sequential of the layers given, deduced from the constructor's arguments.
template <std::integral Dim, class... L>
Sequential(Dim, L...) -> Sequential<L...>;

}  // namespace metarm
