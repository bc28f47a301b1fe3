// SPDX-License-Identifier: Apache-2.0
/// \file
/// check_layer: every check a layer must pass, from one line, in double on any backend.
///
/// \code
///   const auto report = metarm::testing::check_layer<metarm::cpu>(MyLayer(16));
///   REQUIRE(report.passed());   // report.describe() says what failed and by how much
/// \endcode
///
/// The layer is built on a random input x of options.input_width features by options.columns columns, with
/// random parameters theta, and judged through the scalar
/// \verbatim
///   F(theta, x) = sum(U * y) + 1/2 sum(W * y * y),   y = layer(x; theta)
/// \endverbatim
/// whose curvature in y (W > 0) makes every second-order term of the layer show. It checks:
///  - the parameter and input gradients of backward against central differences of F, with the gradient
///    written over the buffer and added to it;
///  - the exact Hessian-vector product (forward_tangent, backward_tangent) along a random direction (v, x_t)
///    against central differences of the gradients, and along v alone with x as data (x_t empty);
///  - that it is symmetric: <u1, H u2> = <u2, H u1> for two random directions;
///  - that backward_tangent without recompute (the gradients held from backward) gives the same result;
///  - that once the workspace exists, a second round of all four passes allocates nothing, when a counting
///    operator new is installed (count_allocations.hpp).
/// run_layer_passes gives the passes' outputs on host memory, so a CUDA test can compare a layer on both
/// backends (tests/cuda).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "metarm/backend/views.hpp"
#include "metarm/core/rng.hpp"
#include "metarm/grad/gradient_check.hpp"
#include "metarm/layer/layer.hpp"
#include "metarm/params/layout.hpp"
#include "metarm/testing/allocation_counter.hpp"

/// \namespace metarm::testing
/// Harnesses that check a layer, a preference loss or a meta objective of your own against finite differences,
/// and allocation counting for test programs.

namespace metarm::testing {

/// How check_layer draws its test point, and the error it accepts.
struct LayerCheckOptions {
  /// The width of the random input.
  index_t input_width = 6;
  /// The number of input columns.
  index_t columns = 5;
  /// The seed of the input, the parameters and the directions.
  std::uint64_t seed = 1;
  double parameter_noise = 0.3;  ///< added to the layer's initial parameters, so that no symmetry hides an error
  double step = 1e-5;            ///< of the central differences
  /// The largest error that passes.
  ///
  /// Per coordinate |analytic - numeric| / max(1, |analytic|, |numeric|); above 1e-7 in double means a wrong
  /// derivative (truncation O(h^2) ~ 1e-10, rounding O(eps / h) ~ 1e-11).
  double tolerance = 1e-7;
};

/// What check_layer measured: the worst error of each check, and the allocations of a second round of passes.
struct LayerCheckReport {
  /// The layer's describe().
  std::string layer;
  double gradient_error = 0;        ///< parameters and input, written over the buffer
  double accumulate_error = 0;      ///< the same, added to what the buffer held
  double hvp_error = 0;             ///< along (v, x_t), parameters and input
  double data_hvp_error = 0;        ///< along v, x as data
  double symmetry_error = 0;        ///< |<u1, H u2> - <u2, H u1>| / max(1, |<u1, H u2>|)
  double held_gradients_error = 0;  ///< backward_tangent without recompute against with it
  std::optional<long> allocations_after_first;  ///< empty when no counting operator new is installed
  /// The tolerance the errors were judged against.
  double tolerance = 0;

  /// Whether every error is within the tolerance and, when counted, no pass allocated.
  bool passed() const {
    return gradient_error <= tolerance && accumulate_error <= tolerance && hvp_error <= tolerance &&
           data_hvp_error <= tolerance && symmetry_error <= tolerance && held_gradients_error <= tolerance &&
           allocations_after_first.value_or(0) == 0;
  }

  /// One line with every error, for the message of a failed check.
  std::string describe() const {
    return fmt::format("{}: gradient {:g}, accumulated gradient {:g}, hvp {:g}, hvp on data {:g}, symmetry {:g}, "
                       "held gradients {:g} (tolerance {:g}); allocations after the first round: {}",
                       layer, gradient_error, accumulate_error, hvp_error, data_hvp_error, symmetry_error,
                       held_gradients_error, tolerance,
                       allocations_after_first ? fmt::format("{}", *allocations_after_first) : "not counted");
  }
};

/// What the four passes of a layer give at one point, on host memory: y, the parameter and input gradients,
/// y_t, and the parameter and input parts of the Hessian-vector product along (v, x_t).
struct LayerPassResults {
  /// The layer's describe().
  std::string layer;
  /// The layer's output y.
  std::vector<double> y, grad, dx, y_t, hv, dx_t;
  /// \var metarm::testing::LayerPassResults::grad
  /// The parameter gradient.
  /// \var metarm::testing::LayerPassResults::dx
  /// The input gradient.
  /// \var metarm::testing::LayerPassResults::y_t
  /// The tangent of y along (v, x_t).
  /// \var metarm::testing::LayerPassResults::hv
  /// The parameter part of the Hessian-vector product along (v, x_t).
  /// \var metarm::testing::LayerPassResults::dx_t
  /// The input part of the Hessian-vector product along (v, x_t).
};

namespace detail {

inline double worst_error(const std::vector<double>& analytic, const std::vector<double>& numeric) {
  double worst = 0;
  for (std::size_t i = 0; i < analytic.size(); ++i) {
    worst = std::max(worst, gradient_error(analytic[i], numeric[i]));
  }
  return worst;
}

inline std::vector<double> random_values(Rng& rng, std::size_t n, double scale = 1.0) {
  std::vector<double> v(n);
  for (double& x : v) x = scale * rng.normal();
  return v;
}

inline std::vector<double> concat(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> c(a);
  c.insert(c.end(), b.begin(), b.end());
  return c;
}

// One built layer on one backend, with device copies of everything the passes read.
template <class Backend, class L>
class LayerProbe {
 public:
  using buffer = typename Backend::template buffer<double>;

  LayerProbe(L layer, const LayerCheckOptions& options) : layer_(std::move(layer)), options_(options) {
    static_assert(check_layer_type<L, Backend, double>());
    out_width_ = layer_.build(layout_, "layer", options.input_width);
    n_ = options.columns;
    Rng rng(options.seed);
    params_.assign(static_cast<std::size_t>(layout_.size()), 0.0);
    layer_.initialize(std::span<double>(params_), rng);
    for (double& p : params_) p += options.parameter_noise * rng.normal();
    x_ = random_values(rng, static_cast<std::size_t>(options.input_width * n_));
    u_ = random_values(rng, static_cast<std::size_t>(out_width_ * n_));
    w_.resize(u_.size());
    for (double& w : w_) w = rng.uniform(0.5, 1.5);
    layer_.template reserve<Backend, double>(ws_, n_, true);
  }

  index_t parameter_count() const { return layout_.size(); }
  index_t input_size() const { return options_.input_width * n_; }
  index_t output_size() const { return out_width_ * n_; }
  const std::vector<double>& params() const { return params_; }
  const std::vector<double>& x() const { return x_; }
  std::string describe() const { return layer_.describe(); }

  double value(const std::vector<double>& params, const std::vector<double>& x) {
    const std::vector<double> y = forward(params, x);
    double f = 0;
    for (std::size_t i = 0; i < y.size(); ++i) f += u_[i] * y[i] + 0.5 * w_[i] * y[i] * y[i];
    return f;
  }

  std::vector<double> forward(const std::vector<double>& params, const std::vector<double>& x) {
    upload(params, theta_);
    upload(x, input_);
    y_.resize(output_size());
    layer_.template forward<Backend>(ctx_, as_const(theta_.view()), x_matrix(), y_matrix(), ws_);
    return download(y_);
  }

  // The gradient of F in (theta, x), after forward at the same point. With `accumulate` the parameter
  // gradient is added to a buffer holding `start` and `start` is subtracted afterwards.
  std::vector<double> gradient(const std::vector<double>& params, const std::vector<double>& x,
                               bool accumulate = false) {
    const std::vector<double> y = forward(params, x);
    upload(output_gradient(y), dy_);
    std::vector<double> start(params.size(), 0.0);
    if (accumulate) {
      Rng rng(options_.seed + 7);
      start = random_values(rng, params.size());
    }
    upload(start, grad_);
    dx_.resize(input_size());
    layer_.template backward<Backend>(ctx_, as_const(theta_.view()), x_matrix(), as_const(y_matrix()),
                                      as_const(dy_matrix()), grad_.view(), dx_.matrix(options_.input_width, n_), ws_,
                                      accumulate ? GradientWrite::accumulate : GradientWrite::overwrite);
    std::vector<double> g = download(grad_);
    for (std::size_t i = 0; i < g.size(); ++i) g[i] -= start[i];
    return concat(g, download(dx_));
  }

  // H (v, x_t) at (params, x) by the tangent passes, parameter part then input part; `data` takes x as data
  // (x_t empty, no input part). Without `recompute` backward runs first and its gradients are held.
  std::vector<double> hvp(const std::vector<double>& params, const std::vector<double>& x, const std::vector<double>& v,
                          const std::vector<double>& x_t, bool data, bool recompute, LayerPassResults* results = nullptr) {
    std::vector<double> g = gradient(params, x);  // forward and backward, so that gradients may be held
    const std::vector<double> y = download(y_);
    upload(v, v_);
    upload(x_t, input_tangent_);
    y_t_.resize(output_size());
    const MatrixView<const double> xt = data ? MatrixView<const double>{} : as_const(input_tangent_.matrix(options_.input_width, n_));
    layer_.template forward_tangent<Backend>(ctx_, as_const(theta_.view()), as_const(v_.view()), x_matrix(), xt,
                                             as_const(y_matrix()), y_t_.matrix(out_width_, n_), ws_);
    const std::vector<double> y_t = download(y_t_);
    std::vector<double> dy_t(y_t.size());
    for (std::size_t i = 0; i < y_t.size(); ++i) dy_t[i] = w_[i] * y_t[i];
    upload(dy_t, dy_t_);
    upload(std::vector<double>(params.size(), 0.0), hv_);
    dx_t_.resize(input_size());
    std::vector<double> dx_after(static_cast<std::size_t>(input_size()), 0.0);
    upload(dx_after, dx_);
    layer_.template backward_tangent<Backend>(
        ctx_, as_const(theta_.view()), as_const(v_.view()), x_matrix(), xt, as_const(y_matrix()),
        as_const(y_t_.matrix(out_width_, n_)), as_const(dy_matrix()), as_const(dy_t_.matrix(out_width_, n_)),
        hv_.view(), (data || !recompute) ? MatrixView<double>{} : dx_.matrix(options_.input_width, n_),
        data ? MatrixView<double>{} : dx_t_.matrix(options_.input_width, n_), ws_, recompute);
    std::vector<double> hv = download(hv_);
    if (results != nullptr) {
      results->layer = describe();
      results->y = y;
      results->grad.assign(g.begin(), g.begin() + parameter_count());
      results->dx.assign(g.begin() + parameter_count(), g.end());
      results->y_t = y_t;
      results->hv = hv;
      results->dx_t = download(dx_t_);
    }
    if (data) return hv;
    return concat(hv, download(dx_t_));
  }

  // The four passes again on the buffers of the last hvp, both with recompute and without: nothing here
  // but the layer's own work, so that allocations can be counted.
  void repeat_passes() {
    const MatrixView<const double> xt = as_const(input_tangent_.matrix(options_.input_width, n_));
    for (bool recompute : {true, false}) {
      layer_.template forward<Backend>(ctx_, as_const(theta_.view()), x_matrix(), y_matrix(), ws_);
      layer_.template backward<Backend>(ctx_, as_const(theta_.view()), x_matrix(), as_const(y_matrix()),
                                        as_const(dy_matrix()), grad_.view(), dx_.matrix(options_.input_width, n_), ws_,
                                        GradientWrite::overwrite);
      layer_.template forward_tangent<Backend>(ctx_, as_const(theta_.view()), as_const(v_.view()), x_matrix(), xt,
                                               as_const(y_matrix()), y_t_.matrix(out_width_, n_), ws_);
      layer_.template backward_tangent<Backend>(
          ctx_, as_const(theta_.view()), as_const(v_.view()), x_matrix(), xt, as_const(y_matrix()),
          as_const(y_t_.matrix(out_width_, n_)), as_const(dy_matrix()), as_const(dy_t_.matrix(out_width_, n_)),
          hv_.view(), recompute ? dx_.matrix(options_.input_width, n_) : MatrixView<double>{},
          dx_t_.matrix(options_.input_width, n_), ws_, recompute);
    }
    ctx_.synchronize();
  }

 private:
  std::vector<double> output_gradient(const std::vector<double>& y) const {
    std::vector<double> dy(y.size());
    for (std::size_t i = 0; i < y.size(); ++i) dy[i] = u_[i] + w_[i] * y[i];
    return dy;
  }
  void upload(const std::vector<double>& host, buffer& device) {
    device.resize(static_cast<index_t>(host.size()));
    Backend::copy_from_host(ctx_, host.data(), device.view());
  }
  std::vector<double> download(buffer& device) {
    std::vector<double> host(static_cast<std::size_t>(device.size()));
    Backend::copy_to_host(ctx_, as_const(device.view()), host.data());
    return host;
  }
  MatrixView<const double> x_matrix() { return as_const(input_.matrix(options_.input_width, n_)); }
  MatrixView<double> y_matrix() { return y_.matrix(out_width_, n_); }
  MatrixView<double> dy_matrix() { return dy_.matrix(out_width_, n_); }

  L layer_;
  LayerCheckOptions options_;
  Layout layout_;
  index_t out_width_ = 0;
  index_t n_ = 0;
  std::vector<double> params_, x_, u_, w_;
  typename Backend::context ctx_{};
  layer_workspace_t<L, Backend, double> ws_{};
  buffer theta_, input_, y_, dy_, grad_, dx_, v_, input_tangent_, y_t_, dy_t_, hv_, dx_t_;
};

}  // namespace detail

/// Runs every check of the file's description on `layer`, built on `options.input_width` features, on Backend.
template <class Backend, class L>
LayerCheckReport check_layer(L layer, LayerCheckOptions options = {}) {
  detail::LayerProbe<Backend, L> probe(std::move(layer), options);
  LayerCheckReport report;
  report.layer = probe.describe();
  report.tolerance = options.tolerance;
  std::vector<double> params = probe.params(), x = probe.x();
  const std::size_t p = params.size();
  std::vector<double> joint = detail::concat(params, x);
  auto split = [&](std::span<const double> point) {
    return std::pair{std::vector<double>(point.begin(), point.begin() + static_cast<std::ptrdiff_t>(p)),
                     std::vector<double>(point.begin() + static_cast<std::ptrdiff_t>(p), point.end())};
  };

  // Gradients.
  const std::vector<double> numeric = numeric_gradient(
      [&](std::span<const double> point) {
        const auto [theta, input] = split(point);
        return probe.value(theta, input);
      },
      std::span<double>(joint), options.step);
  report.gradient_error = detail::worst_error(probe.gradient(params, x), numeric);
  report.accumulate_error = detail::worst_error(probe.gradient(params, x, true), numeric);

  // Hessian-vector products against central differences of gradients.
  Rng rng(options.seed + 11);
  const std::vector<double> v = detail::random_values(rng, p), x_t = detail::random_values(rng, x.size());
  auto gradient_difference = [&](const std::vector<double>& dv, const std::vector<double>& dx, bool data) {
    std::vector<double> plus_p(params), minus_p(params), plus_x(x), minus_x(x);
    for (std::size_t i = 0; i < p; ++i) {
      plus_p[i] += options.step * dv[i];
      minus_p[i] -= options.step * dv[i];
    }
    if (!data) {
      for (std::size_t i = 0; i < x.size(); ++i) {
        plus_x[i] += options.step * dx[i];
        minus_x[i] -= options.step * dx[i];
      }
    }
    const std::vector<double> up = probe.gradient(plus_p, plus_x), down = probe.gradient(minus_p, minus_x);
    std::vector<double> diff(data ? p : up.size());
    for (std::size_t i = 0; i < diff.size(); ++i) diff[i] = (up[i] - down[i]) / (2.0 * options.step);
    return diff;
  };
  const std::vector<double> exact = probe.hvp(params, x, v, x_t, false, true);
  report.hvp_error = detail::worst_error(exact, gradient_difference(v, x_t, false));
  report.data_hvp_error =
      detail::worst_error(probe.hvp(params, x, v, x_t, true, true), gradient_difference(v, x_t, true));

  const std::vector<double> held = probe.hvp(params, x, v, x_t, false, false);
  report.held_gradients_error = detail::worst_error(held, exact);

  const std::vector<double> v2 = detail::random_values(rng, p), x_t2 = detail::random_values(rng, x.size());
  const std::vector<double> h2 = probe.hvp(params, x, v2, x_t2, false, true);
  const std::vector<double> u1 = detail::concat(v, x_t), u2 = detail::concat(v2, x_t2);
  double u1_h_u2 = 0, u2_h_u1 = 0;
  for (std::size_t i = 0; i < u1.size(); ++i) {
    u1_h_u2 += u1[i] * h2[i];
    u2_h_u1 += u2[i] * exact[i];
  }
  report.symmetry_error = std::fabs(u1_h_u2 - u2_h_u1) / std::max(1.0, std::fabs(u1_h_u2));

  probe.repeat_passes();
  if (const auto before = allocations_so_far()) {
    probe.repeat_passes();
    report.allocations_after_first = *allocations_so_far() - *before;
  }
  return report;
}

/// The outputs of the four passes at the probe's random point and direction (options.seed), for comparing
/// one layer on two backends.
template <class Backend, class L>
LayerPassResults run_layer_passes(L layer, LayerCheckOptions options = {}) {
  detail::LayerProbe<Backend, L> probe(std::move(layer), options);
  Rng rng(options.seed + 11);
  const auto v = detail::random_values(rng, static_cast<std::size_t>(probe.parameter_count()));
  const auto x_t = detail::random_values(rng, static_cast<std::size_t>(probe.input_size()));
  LayerPassResults results;
  probe.hvp(probe.params(), probe.x(), v, x_t, false, true, &results);
  return results;
}

}  // namespace metarm::testing
