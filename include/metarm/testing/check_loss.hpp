// SPDX-License-Identifier: Apache-2.0
/// \file
/// check_preference_loss and check_meta_objective: the checks a loss or a meta objective must pass, from one
/// line, in double on any backend: the reward gradient against central differences of the value, the reward
/// Hessian product against central differences of the gradient, and its symmetry, at random rewards (with
/// margins, or with prompts of mixed sizes).
///
/// \code
///   const auto report = metarm::testing::check_preference_loss<metarm::cpu>(MyLoss{});
///   REQUIRE(report.passed());
/// \endcode
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "metarm/backend/views.hpp"
#include "metarm/core/rng.hpp"
#include "metarm/grad/gradient_check.hpp"
#include "metarm/loss/meta_objective.hpp"
#include "metarm/loss/preference_loss.hpp"

namespace metarm::testing {

/// How the loss checks draw their random rewards, and the error they accept.
struct LossCheckOptions {
  index_t pairs = 7;                            ///< for a preference loss
  std::vector<index_t> responses{2, 3, 5, 4};   ///< per prompt, for a meta objective
  /// The seed of the rewards, margins and directions.
  std::uint64_t seed = 1;
  /// The standard deviation of the random rewards.
  double reward_scale = 1.5;
  /// The step of the central differences.
  double step = 1e-5;
  /// The largest error that passes.
  double tolerance = 1e-7;
};

/// What a loss check measured: the worst error of each check.
struct LossCheckReport {
  /// The loss's or objective's name.
  std::string name;
  /// The reward gradient against central differences of the value.
  double gradient_error = 0;
  /// The reward Hessian product against central differences of the gradient.
  double hessian_error = 0;
  /// |<u, H t> - <t, H u>| / max(1, |<u, H t>|) for two random directions.
  double symmetry_error = 0;
  /// The tolerance the errors were judged against.
  double tolerance = 0;

  /// Whether every error is within the tolerance.
  bool passed() const {
    return gradient_error <= tolerance && hessian_error <= tolerance && symmetry_error <= tolerance;
  }
  /// One line with every error, for the message of a failed check.
  std::string describe() const {
    return fmt::format("{}: reward gradient {:g}, reward Hessian product {:g}, symmetry {:g} (tolerance {:g})", name,
                       gradient_error, hessian_error, symmetry_error, tolerance);
  }
};

namespace detail {

// `value_and_gradient(rewards, gradient_or_empty)` and `hessian_product(rewards, tangent, out)` on host
// vectors, whatever the structure behind them.
inline LossCheckReport check_reward_function(
    std::string name, std::vector<double> rewards, const LossCheckOptions& options,
    const std::function<double(const std::vector<double>&, std::vector<double>*)>& value_and_gradient,
    const std::function<std::vector<double>(const std::vector<double>&, const std::vector<double>&)>& hessian_product) {
  LossCheckReport report;
  report.name = std::move(name);
  report.tolerance = options.tolerance;
  std::vector<double> gradient;
  value_and_gradient(rewards, &gradient);
  const auto gradient_check = check_gradient(
      [&](std::span<const double> r) { return value_and_gradient(std::vector<double>(r.begin(), r.end()), nullptr); },
      std::span<double>(rewards), gradient, options.step);
  report.gradient_error = gradient_check.max_error;

  Rng rng(options.seed + 5);
  std::vector<double> t(rewards.size()), u(rewards.size());
  for (double& x : t) x = rng.normal();
  for (double& x : u) x = rng.normal();
  const std::vector<double> ht = hessian_product(rewards, t), hu = hessian_product(rewards, u);
  std::vector<double> up = rewards, down = rewards, g_up, g_down;
  for (std::size_t i = 0; i < rewards.size(); ++i) {
    up[i] += options.step * t[i];
    down[i] -= options.step * t[i];
  }
  value_and_gradient(up, &g_up);
  value_and_gradient(down, &g_down);
  for (std::size_t i = 0; i < rewards.size(); ++i) {
    report.hessian_error = std::max(report.hessian_error,
                                    gradient_error(ht[i], (g_up[i] - g_down[i]) / (2.0 * options.step)));
  }
  double u_ht = 0, t_hu = 0;
  for (std::size_t i = 0; i < rewards.size(); ++i) {
    u_ht += u[i] * ht[i];
    t_hu += t[i] * hu[i];
  }
  report.symmetry_error = std::fabs(u_ht - t_hu) / std::max(1.0, std::fabs(u_ht));
  return report;
}

template <class Backend>
struct HostVectors {
  typename Backend::context ctx{};
  template <class T>
  typename Backend::template buffer<T> upload(const std::vector<T>& host) {
    typename Backend::template buffer<T> device(static_cast<index_t>(host.size()));
    Backend::copy_from_host(ctx, host.data(), device.view());
    return device;
  }
  template <class T>
  std::vector<T> download(const typename Backend::template buffer<T>& device) {
    std::vector<T> host(static_cast<std::size_t>(device.size()));
    Backend::copy_to_host(ctx, device.view(), host.data());
    return host;
  }
};

}  // namespace detail

/// Checks a preference loss on Backend at random rewards and margins; see the file's description.
template <class Backend, class Loss>
LossCheckReport check_preference_loss(const Loss& loss, LossCheckOptions options = {}) {
  static_assert(::metarm::check_preference_loss<Loss, Backend, double>());
  Rng rng(options.seed);
  const std::size_t n = static_cast<std::size_t>(options.pairs);
  std::vector<double> rewards(2 * n), margins(n);
  for (double& r : rewards) r = options.reward_scale * rng.normal();
  for (double& m : margins) m = rng.uniform(0.0, 0.3);
  detail::HostVectors<Backend> io;
  auto device_margins = io.upload(margins);
  return detail::check_reward_function(
      std::string(loss_name<Loss>()), rewards, options,
      [&](const std::vector<double>& r, std::vector<double>* gradient) {
        auto device_rewards = io.upload(r);
        typename Backend::template buffer<double> d(gradient != nullptr ? static_cast<index_t>(r.size()) : 0);
        const double value = loss.template value_and_gradient<Backend, double>(
            io.ctx, as_const(device_rewards.view()), as_const(device_margins.view()), d.view());
        if (gradient != nullptr) *gradient = io.download(d);
        return value;
      },
      [&](const std::vector<double>& r, const std::vector<double>& t) {
        auto device_rewards = io.upload(r), device_tangent = io.upload(t);
        typename Backend::template buffer<double> out(static_cast<index_t>(r.size()));
        loss.template hessian_product<Backend, double>(io.ctx, as_const(device_rewards.view()),
                                                       as_const(device_margins.view()),
                                                       as_const(device_tangent.view()), out.view());
        return io.download(out);
      });
}

/// Checks a meta objective on Backend at random rewards of prompts of the sizes in options.responses.
template <class Backend, class Objective>
LossCheckReport check_meta_objective(const Objective& objective, LossCheckOptions options = {}) {
  static_assert(::metarm::check_meta_objective<Objective, Backend, double>());
  Rng rng(options.seed);
  std::vector<index_t> offsets{0};
  for (index_t k : options.responses) offsets.push_back(offsets.back() + k);
  std::vector<double> rewards(static_cast<std::size_t>(offsets.back()));
  for (double& r : rewards) r = options.reward_scale * rng.normal();
  detail::HostVectors<Backend> io;
  auto device_offsets = io.upload(offsets);
  return detail::check_reward_function(
      std::string(objective_name<Objective>()), rewards, options,
      [&](const std::vector<double>& r, std::vector<double>* gradient) {
        auto device_rewards = io.upload(r);
        typename Backend::template buffer<double> d(gradient != nullptr ? static_cast<index_t>(r.size()) : 0);
        const double value = objective.template value_and_gradient<Backend, double>(
            io.ctx, as_const(device_rewards.view()), as_const(device_offsets.view()), d.view());
        if (gradient != nullptr) *gradient = io.download(d);
        return value;
      },
      [&](const std::vector<double>& r, const std::vector<double>& t) {
        auto device_rewards = io.upload(r), device_tangent = io.upload(t);
        typename Backend::template buffer<double> out(static_cast<index_t>(r.size()));
        objective.template hessian_product<Backend, double>(io.ctx, as_const(device_rewards.view()),
                                                            as_const(device_offsets.view()),
                                                            as_const(device_tangent.view()), out.view());
        return io.download(out);
      });
}

}  // namespace metarm::testing
