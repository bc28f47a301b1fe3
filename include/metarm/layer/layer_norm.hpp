// SPDX-License-Identifier: Apache-2.0
/// \file
/// Layer normalisation over the features of each column (Ba et al.\ 2016), as PyTorch's nn.LayerNorm over the
/// last dimension:
/// \verbatim
///   mu = mean(x),  r = 1 / sqrt(mean((x - mu)^2) + epsilon),  xhat = (x - mu) r,  y = gamma * xhat + beta
/// \endverbatim
/// with gamma ("<name>.weight", initialised to 1) and beta ("<name>.bias", 0) of the layer's width.
///
/// The Jacobian of xhat in x is r (I - 1 1^T / h - xhat xhat^T / h), which is symmetric, so the input
/// gradient of g = dy * gamma is P(g) = r (g - mean(g) - xhat mean(xhat g)) and the tangent of xhat along x_t
/// is the same map applied to x_t. The exact Hessian-vector product differentiates P once more:
/// \verbatim
///   r_t = -r^2 a,  a = mean(xhat x_t),  xhat_t = r (x_t - mean(x_t) - xhat a)
///   dx_t = -r a dx + r (g_t - mean(g_t) - xhat_t mean(xhat g) - xhat (mean(xhat_t g) + mean(xhat g_t)))
/// \endverbatim
/// with g_t = dy_t * gamma + dy * gamma_t. The workspace keeps mu and r per column, and a and mean(x_t) from
/// the forward tangent for the backward tangent.
#pragma once

#include <cmath>
#include <span>
#include <string>
#include <type_traits>

#include "metarm/backend/views.hpp"
#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/rng.hpp"
#include "metarm/layer/layer.hpp"
#include "metarm/params/layout.hpp"

namespace metarm {

namespace detail {

// One thread per column: its mean and reciprocal standard deviation, then y.
template <class T>
struct LayerNormForward {
  const T* x;
  index_t ldx;
  T* y;
  index_t ldy;
  const T* gamma;
  const T* beta;
  T* mean;
  T* rstd;
  index_t h;
  T epsilon;

  METARM_HOST_DEVICE void operator()(index_t j) const {
    using std::sqrt;
    const T* xc = x + j * ldx;
    T* yc = y + j * ldy;
    const T inv_h = T(1) / static_cast<T>(h);
    T mu = T(0);
    for (index_t i = 0; i < h; ++i) mu += xc[i];
    mu *= inv_h;
    T var = T(0);
    for (index_t i = 0; i < h; ++i) var += (xc[i] - mu) * (xc[i] - mu);
    var *= inv_h;
    const T r = T(1) / sqrt(var + epsilon);
    mean[j] = mu;
    rstd[j] = r;
    for (index_t i = 0; i < h; ++i) yc[i] = gamma[i] * ((xc[i] - mu) * r) + beta[i];
  }
};

// One thread per column: dx = P(dy * gamma).
template <class T>
struct LayerNormInputGradient {
  const T* x;
  index_t ldx;
  const T* dy;
  index_t lddy;
  T* dx;
  index_t lddx;
  const T* gamma;
  const T* mean;
  const T* rstd;
  index_t h;

  METARM_HOST_DEVICE void operator()(index_t j) const {
    const T* xc = x + j * ldx;
    const T* dyc = dy + j * lddy;
    T* dxc = dx + j * lddx;
    const T mu = mean[j], r = rstd[j], inv_h = T(1) / static_cast<T>(h);
    T mean_g = T(0), mean_xg = T(0);
    for (index_t i = 0; i < h; ++i) {
      const T g = dyc[i] * gamma[i];
      mean_g += g;
      mean_xg += (xc[i] - mu) * r * g;
    }
    mean_g *= inv_h;
    mean_xg *= inv_h;
    for (index_t i = 0; i < h; ++i) {
      const T xhat = (xc[i] - mu) * r;
      dxc[i] = r * (dyc[i] * gamma[i] - mean_g - xhat * mean_xg);
    }
  }
};

// One thread per feature: d gamma = sum over columns of dy * xhat, d beta = sum of dy.
template <class T>
struct LayerNormParameterGradient {
  const T* x;
  index_t ldx;
  const T* dy;
  index_t lddy;
  const T* mean;
  const T* rstd;
  T* d_gamma;
  T* d_beta;
  index_t columns;
  bool overwrite;

  METARM_HOST_DEVICE void operator()(index_t i) const {
    T sum_gamma = T(0), sum_beta = T(0);
    for (index_t j = 0; j < columns; ++j) {
      const T d = dy[i + j * lddy];
      sum_gamma += d * ((x[i + j * ldx] - mean[j]) * rstd[j]);
      sum_beta += d;
    }
    d_gamma[i] = overwrite ? sum_gamma : d_gamma[i] + sum_gamma;
    d_beta[i] = overwrite ? sum_beta : d_beta[i] + sum_beta;
  }
};

// One thread per column: a = mean(xhat x_t), mean(x_t), and y_t = gamma_t xhat + gamma xhat_t + beta_t.
// x_t is null when the input does not depend on the parameters (xhat_t = 0).
template <class T>
struct LayerNormForwardTangent {
  const T* x;
  index_t ldx;
  const T* x_t;
  index_t ldx_t;
  T* y_t;
  index_t ldy_t;
  const T* gamma;
  const T* gamma_t;
  const T* beta_t;
  const T* mean;
  const T* rstd;
  T* tangent_mean;
  T* tangent_a;
  index_t h;

  METARM_HOST_DEVICE void operator()(index_t j) const {
    const T* xc = x + j * ldx;
    T* ytc = y_t + j * ldy_t;
    const T mu = mean[j], r = rstd[j], inv_h = T(1) / static_cast<T>(h);
    T mean_t = T(0), a = T(0);
    if (x_t != nullptr) {
      const T* xtc = x_t + j * ldx_t;
      for (index_t i = 0; i < h; ++i) {
        mean_t += xtc[i];
        a += (xc[i] - mu) * r * xtc[i];
      }
      mean_t *= inv_h;
      a *= inv_h;
    }
    tangent_mean[j] = mean_t;
    tangent_a[j] = a;
    for (index_t i = 0; i < h; ++i) {
      const T xhat = (xc[i] - mu) * r;
      const T xhat_t = x_t != nullptr ? r * (x_t[i + j * ldx_t] - mean_t - xhat * a) : T(0);
      ytc[i] = gamma_t[i] * xhat + gamma[i] * xhat_t + beta_t[i];
    }
  }
};

// One thread per column: dx (when asked) and dx_t (when asked) of the formulas at the top of the file.
template <class T>
struct LayerNormBackwardTangent {
  const T* x;
  index_t ldx;
  const T* x_t;  // null: xhat_t = 0 and r_t = 0
  index_t ldx_t;
  const T* dy;
  index_t lddy;
  const T* dy_t;
  index_t lddy_t;
  T* dx;  // null when not asked for
  index_t lddx;
  T* dx_t;  // null when not asked for
  index_t lddx_t;
  const T* gamma;
  const T* gamma_t;
  const T* mean;
  const T* rstd;
  const T* tangent_mean;
  const T* tangent_a;
  index_t h;

  METARM_HOST_DEVICE T xhat_tangent(index_t i, index_t j, T xhat) const {
    return x_t != nullptr ? rstd[j] * (x_t[i + j * ldx_t] - tangent_mean[j] - xhat * tangent_a[j]) : T(0);
  }

  METARM_HOST_DEVICE void operator()(index_t j) const {
    const T* xc = x + j * ldx;
    const T* dyc = dy + j * lddy;
    const T* dytc = dy_t + j * lddy_t;
    const T mu = mean[j], r = rstd[j], a = tangent_a[j], inv_h = T(1) / static_cast<T>(h);
    T mean_g = T(0), mean_xg = T(0), mean_gt = T(0), mean_xgt = T(0), mean_xtg = T(0);
    for (index_t i = 0; i < h; ++i) {
      const T xhat = (xc[i] - mu) * r;
      const T g = dyc[i] * gamma[i];
      const T g_t = dytc[i] * gamma[i] + dyc[i] * gamma_t[i];
      mean_g += g;
      mean_xg += xhat * g;
      mean_gt += g_t;
      mean_xgt += xhat * g_t;
      mean_xtg += xhat_tangent(i, j, xhat) * g;
    }
    mean_g *= inv_h;
    mean_xg *= inv_h;
    mean_gt *= inv_h;
    mean_xgt *= inv_h;
    mean_xtg *= inv_h;
    for (index_t i = 0; i < h; ++i) {
      const T xhat = (xc[i] - mu) * r;
      const T g = dyc[i] * gamma[i];
      const T gradient = r * (g - mean_g - xhat * mean_xg);
      if (dx != nullptr) dx[i + j * lddx] = gradient;
      if (dx_t != nullptr) {
        const T g_t = dytc[i] * gamma[i] + dyc[i] * gamma_t[i];
        const T xhat_t = xhat_tangent(i, j, xhat);
        dx_t[i + j * lddx_t] =
            -r * a * gradient + r * (g_t - mean_gt - xhat_t * mean_xg - xhat * (mean_xtg + mean_xgt));
      }
    }
  }
};

// One thread per feature: hv(gamma) += sum over columns of dy_t xhat + dy xhat_t; hv(beta) += sum of dy_t.
template <class T>
struct LayerNormParameterTangent {
  LayerNormBackwardTangent<T> columns_pass;  // for xhat_tangent and the pointers
  T* hv_gamma;
  T* hv_beta;
  index_t columns;

  METARM_HOST_DEVICE void operator()(index_t i) const {
    const LayerNormBackwardTangent<T>& c = columns_pass;
    T sum_gamma = T(0), sum_beta = T(0);
    for (index_t j = 0; j < columns; ++j) {
      const T xhat = (c.x[i + j * c.ldx] - c.mean[j]) * c.rstd[j];
      const T d = c.dy[i + j * c.lddy];
      const T d_t = c.dy_t[i + j * c.lddy_t];
      sum_gamma += d_t * xhat + d * c.xhat_tangent(i, j, xhat);
      sum_beta += d_t;
    }
    hv_gamma[i] += sum_gamma;
    hv_beta[i] += sum_beta;
  }
};

}  // namespace detail

/// Layer normalisation over each column's features, with a learned scale gamma and shift beta; see the file.
template <class T>
class LayerNorm {
 public:
  /// The scalar type of its parameters.
  using scalar_type = T;

  /// Each column's statistics, kept from the forward passes for the backward passes.
  template <class Backend, class U>
  struct workspace {
    typename Backend::template buffer<T> mean;  ///< per column
    /// 1 / sqrt(variance + epsilon), per column.
    typename Backend::template buffer<T> rstd;
    typename Backend::template buffer<T> tangent_mean;  ///< mean(x_t), per column
    typename Backend::template buffer<T> tangent_a;     ///< mean(xhat x_t), per column
  };

  /// A layer that adds `epsilon` to each column's variance (PyTorch's default 1e-5).
  explicit LayerNorm(double epsilon = 1e-5) : epsilon_(epsilon) {
    METARM_REQUIRE(std::isfinite(epsilon) && epsilon > 0.0, "LayerNorm",
                   "argument 'epsilon' must be finite and > 0, got {:f}", epsilon);
  }

  /// Registers "<name>.weight" (gamma) and "<name>.bias" (beta), one value per feature; the width is unchanged.
  index_t build(Layout& layout, const std::string& name, index_t input_width) {
    METARM_REQUIRE(input_width > 0, "LayerNorm " + name,
                   "argument 'input_width' must be > 0, got {}", input_width);
    width_ = input_width;
    gamma_offset_ = layout.add(join_name(name, "weight"), width_, 1);
    beta_offset_ = layout.add(join_name(name, "bias"), width_, 1);
    return width_;
  }

  /// The input width, which is also the output width.
  index_t output_width() const { return width_; }
  /// What is added to each column's variance.
  double epsilon() const { return epsilon_; }
  /// "layer_norm", with epsilon when it is not 1e-5.
  std::string describe() const {
    return epsilon_ == 1e-5 ? std::string("layer_norm") : fmt::format("layer_norm({:f})", epsilon_);
  }

  /// gamma within a flat vector laid out as the model's parameters.
  template <class P>
  VectorView<P> gamma(VectorView<P> params) const {
    return {params.data + gamma_offset_, width_};
  }
  /// beta within a flat vector laid out as the model's parameters.
  template <class P>
  VectorView<P> beta(VectorView<P> params) const {
    return {params.data + beta_offset_, width_};
  }

  /// gamma = 1, beta = 0, as PyTorch; draws nothing from rng.
  void initialize(std::span<T> params, Rng&) const {
    for (index_t i = 0; i < width_; ++i) {
      params[static_cast<std::size_t>(gamma_offset_ + i)] = T(1);
      params[static_cast<std::size_t>(beta_offset_ + i)] = T(0);
    }
  }

  /// Grows the per-column statistics (and their tangents) for `columns` columns.
  template <class Backend, class U>
  void reserve(workspace<Backend, U>& ws, index_t columns, bool tangents) const {
    grow_to(ws.mean, columns);
    grow_to(ws.rstd, columns);
    if (tangents) {
      grow_to(ws.tangent_mean, columns);
      grow_to(ws.tangent_a, columns);
    }
  }

  /// y = gamma * xhat + beta for each column; keeps each column's mean and 1 / sd in ws. Dense input only.
  template <class Backend, class Input>
  void forward(typename Backend::context& ctx, VectorView<const T> params, const Input& x, MatrixView<T> y,
               workspace<Backend, T>& ws) const {
    static_assert(std::is_same_v<Input, MatrixView<const T>>,
                  "metarm: LayerNorm reads dense columns; put a Dense layer first on sparse features");
    Backend::for_each(ctx, x.cols,
                      detail::LayerNormForward<T>{x.data, x.ld, y.data, y.ld, gamma(params).data, beta(params).data,
                                                  ws.mean.data(), ws.rstd.data(), width_, static_cast<T>(epsilon_)});
  }

  /// The gradients of gamma and beta, and dx = P(dy * gamma) unless dx is empty.
  template <class Backend>
  void backward(typename Backend::context& ctx, VectorView<const T> params, MatrixView<const T> x,
                MatrixView<const T>, MatrixView<const T> dy, VectorView<T> grad, MatrixView<T> dx,
                workspace<Backend, T>& ws, GradientWrite write) const {
    Backend::for_each(ctx, width_,
                      detail::LayerNormParameterGradient<T>{x.data, x.ld, dy.data, dy.ld, ws.mean.data(),
                                                            ws.rstd.data(), gamma(grad).data, beta(grad).data, x.cols,
                                                            write == GradientWrite::overwrite});
    if (!dx.empty()) {
      Backend::for_each(ctx, x.cols,
                        detail::LayerNormInputGradient<T>{x.data, x.ld, dy.data, dy.ld, dx.data, dx.ld,
                                                          gamma(params).data, ws.mean.data(), ws.rstd.data(), width_});
    }
  }

  /// y_t, the derivative of y along v's gamma and beta and along x_t; keeps a and mean(x_t) in ws.
  template <class Backend>
  void forward_tangent(typename Backend::context& ctx, VectorView<const T> params, VectorView<const T> v,
                       MatrixView<const T> x, MatrixView<const T> x_t, MatrixView<const T>, MatrixView<T> y_t,
                       workspace<Backend, T>& ws) const {
    Backend::for_each(ctx, x.cols,
                      detail::LayerNormForwardTangent<T>{
                          x.data, x.ld, x_t.empty() ? nullptr : x_t.data, x_t.ld, y_t.data, y_t.ld, gamma(params).data,
                          gamma(v).data, beta(v).data, ws.mean.data(), ws.rstd.data(), ws.tangent_mean.data(),
                          ws.tangent_a.data(), width_});
  }

  /// hv += the derivative of the parameter gradient, and dx and dx_t each unless empty, by the file's formulas.
  template <class Backend>
  void backward_tangent(typename Backend::context& ctx, VectorView<const T> params, VectorView<const T> v,
                        MatrixView<const T> x, MatrixView<const T> x_t, MatrixView<const T>, MatrixView<const T>,
                        MatrixView<const T> dy, MatrixView<const T> dy_t, VectorView<T> hv, MatrixView<T> dx,
                        MatrixView<T> dx_t, workspace<Backend, T>& ws, bool) const {
    const detail::LayerNormBackwardTangent<T> pass{x.data,
                                                   x.ld,
                                                   x_t.empty() ? nullptr : x_t.data,
                                                   x_t.ld,
                                                   dy.data,
                                                   dy.ld,
                                                   dy_t.data,
                                                   dy_t.ld,
                                                   dx.empty() ? nullptr : dx.data,
                                                   dx.ld,
                                                   dx_t.empty() ? nullptr : dx_t.data,
                                                   dx_t.ld,
                                                   gamma(params).data,
                                                   gamma(v).data,
                                                   ws.mean.data(),
                                                   ws.rstd.data(),
                                                   ws.tangent_mean.data(),
                                                   ws.tangent_a.data(),
                                                   width_};
    Backend::for_each(ctx, width_, detail::LayerNormParameterTangent<T>{pass, gamma(hv).data, beta(hv).data, x.cols});
    if (pass.dx != nullptr || pass.dx_t != nullptr) {
      Backend::for_each(ctx, x.cols, pass);
    }
  }

 private:
  double epsilon_ = 1e-5;
  index_t width_ = 0;
  index_t gamma_offset_ = 0;
  index_t beta_offset_ = 0;
};

}  // namespace metarm
