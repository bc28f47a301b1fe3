// SPDX-License-Identifier: Apache-2.0
// A layer written outside the library, in one header: RMS normalisation (Zhang and Sennrich 2019), the
// normalisation of most current language-model reward heads,
//   r = 1 / sqrt(mean(x^2) + epsilon),   xhat = x r,   y = gain * xhat
// over the features of each column, with one parameter block, "<name>.weight" (the gain, initialised to 1).
//
// A layer owns no memory. It registers its blocks when built, keeps what its backward pass needs (r per
// column) in a workspace the network sizes, and writes each pass as functors with METARM_HOST_DEVICE call
// operators, run by the backend's for_each: the same code runs on the CPU and, in a .cu file, on the GPU.
//
// The math of the four passes, with g = dy * gain and the symmetric Jacobian r (I - xhat xhat^T / h) of xhat:
//   backward          dx = r (g - xhat mean(xhat g)),   d gain = sum over columns of dy * xhat
//   forward tangent   a = mean(xhat x_t),  xhat_t = r (x_t - xhat a),  y_t = gain_t * xhat + gain * xhat_t
//   backward tangent  dx_t = -r a dx + r (g_t - xhat_t mean(xhat g) - xhat (mean(xhat_t g) + mean(xhat g_t))),
//                     g_t = dy_t * gain + dy * gain_t,   hv(gain) += sum of dy_t * xhat + dy * xhat_t
// metarm::testing::check_layer checks all of it against finite differences (examples/custom_layer.cpp).
#pragma once

#include <cmath>
#include <span>
#include <string>

#include <metarm/metarm.hpp>

namespace example {

namespace detail {

// One thread per column: r, then y.
template <class T>
struct RmsNormForward {
  const T* x;
  T* y;
  const T* gain;
  T* rstd;
  metarm::index_t h;
  T epsilon;
  METARM_HOST_DEVICE void operator()(metarm::index_t j) const {
    using std::sqrt;
    T mean_square = T(0);
    for (metarm::index_t i = 0; i < h; ++i) mean_square += x[i + j * h] * x[i + j * h];
    const T r = T(1) / sqrt(mean_square / static_cast<T>(h) + epsilon);
    rstd[j] = r;
    for (metarm::index_t i = 0; i < h; ++i) y[i + j * h] = gain[i] * x[i + j * h] * r;
  }
};

// One thread per column: dx (when asked), and dx_t (when asked) along (v, x_t); x_t, gain_t, dy_t null in
// the backward pass. a[j] = mean(xhat x_t) comes from the forward tangent.
template <class T>
struct RmsNormColumnGradients {
  const T* x;
  const T* x_t;
  const T* dy;
  const T* dy_t;
  const T* gain;
  const T* gain_t;
  const T* rstd;
  const T* a;
  T* dx;
  T* dx_t;
  metarm::index_t h;
  METARM_HOST_DEVICE void operator()(metarm::index_t j) const {
    const T r = rstd[j], inv_h = T(1) / static_cast<T>(h);
    const T aj = x_t != nullptr ? a[j] : T(0);
    T mean_xg = T(0), mean_xgt = T(0), mean_xtg = T(0);
    for (metarm::index_t i = 0; i < h; ++i) {
      const metarm::index_t e = i + j * h;
      const T xhat = x[e] * r, g = dy[e] * gain[i];
      mean_xg += xhat * g;
      if (dy_t != nullptr) {
        mean_xgt += xhat * (dy_t[e] * gain[i] + dy[e] * gain_t[i]);
        if (x_t != nullptr) mean_xtg += r * (x_t[e] - xhat * aj) * g;
      }
    }
    mean_xg *= inv_h;
    mean_xgt *= inv_h;
    mean_xtg *= inv_h;
    for (metarm::index_t i = 0; i < h; ++i) {
      const metarm::index_t e = i + j * h;
      const T xhat = x[e] * r, g = dy[e] * gain[i];
      const T gradient = r * (g - xhat * mean_xg);
      if (dx != nullptr) dx[e] = gradient;
      if (dx_t != nullptr) {
        const T g_t = dy_t[e] * gain[i] + dy[e] * gain_t[i];
        const T xhat_t = x_t != nullptr ? r * (x_t[e] - xhat * aj) : T(0);
        dx_t[e] = -r * aj * gradient + r * (g_t - xhat_t * mean_xg - xhat * (mean_xtg + mean_xgt));
      }
    }
  }
};

// One thread per column: a = mean(xhat x_t) and y_t.
template <class T>
struct RmsNormForwardTangent {
  const T* x;
  const T* x_t;
  T* y_t;
  const T* gain;
  const T* gain_t;
  const T* rstd;
  T* a;
  metarm::index_t h;
  METARM_HOST_DEVICE void operator()(metarm::index_t j) const {
    const T r = rstd[j];
    T aj = T(0);
    if (x_t != nullptr) {
      for (metarm::index_t i = 0; i < h; ++i) aj += x[i + j * h] * r * x_t[i + j * h];
      aj /= static_cast<T>(h);
    }
    a[j] = aj;
    for (metarm::index_t i = 0; i < h; ++i) {
      const metarm::index_t e = i + j * h;
      const T xhat = x[e] * r;
      const T xhat_t = x_t != nullptr ? r * (x_t[e] - xhat * aj) : T(0);
      y_t[e] = gain_t[i] * xhat + gain[i] * xhat_t;
    }
  }
};

// One thread per feature: the gain's gradient (dy_t null) or its Hessian-vector part.
template <class T>
struct RmsNormGainGradient {
  const T* x;
  const T* x_t;
  const T* dy;
  const T* dy_t;
  const T* rstd;
  const T* a;
  T* out;
  metarm::index_t h;
  metarm::index_t columns;
  bool overwrite;
  METARM_HOST_DEVICE void operator()(metarm::index_t i) const {
    T sum = T(0);
    for (metarm::index_t j = 0; j < columns; ++j) {
      const metarm::index_t e = i + j * h;
      const T xhat = x[e] * rstd[j];
      if (dy_t == nullptr) {
        sum += dy[e] * xhat;
      } else {
        const T xhat_t = x_t != nullptr ? rstd[j] * (x_t[e] - xhat * a[j]) : T(0);
        sum += dy_t[e] * xhat + dy[e] * xhat_t;
      }
    }
    out[i] = overwrite ? sum : out[i] + sum;
  }
};

template <class T>
const T* data_or_null(metarm::MatrixView<const T> m) {
  return m.empty() ? nullptr : m.data;
}
template <class T>
T* data_or_null(metarm::MatrixView<T> m) {
  return m.empty() ? nullptr : m.data;
}

}  // namespace detail

template <class T>
class RmsNorm {
 public:
  using scalar_type = T;

  template <class Backend, class U>
  struct workspace {
    typename Backend::template buffer<T> rstd;  // r per column
    typename Backend::template buffer<T> a;     // mean(xhat x_t) per column, from the forward tangent
  };

  explicit RmsNorm(double epsilon = 1e-6) : epsilon_(epsilon) {}

  metarm::index_t build(metarm::Layout& layout, const std::string& name, metarm::index_t input_width) {
    width_ = input_width;
    gain_offset_ = layout.add(metarm::join_name(name, "weight"), width_, 1);
    return width_;
  }
  metarm::index_t output_width() const { return width_; }
  std::string describe() const { return "rms_norm"; }

  void initialize(std::span<T> params, metarm::Rng&) const {
    for (metarm::index_t i = 0; i < width_; ++i) params[static_cast<std::size_t>(gain_offset_ + i)] = T(1);
  }

  template <class Backend, class U>
  void reserve(workspace<Backend, U>& ws, metarm::index_t columns, bool tangents) const {
    metarm::grow_to(ws.rstd, columns);
    if (tangents) metarm::grow_to(ws.a, columns);
  }

  template <class Backend>
  void forward(typename Backend::context& ctx, metarm::VectorView<const T> params, metarm::MatrixView<const T> x,
               metarm::MatrixView<T> y, workspace<Backend, T>& ws) const {
    METARM_REQUIRE(x.contiguous(), "RmsNorm", "reads contiguous columns; put a Dense layer before it on other input");
    Backend::for_each(ctx, x.cols,
                      detail::RmsNormForward<T>{x.data, y.data, gain(params), ws.rstd.data(), width_, T(epsilon_)});
  }

  template <class Backend>
  void backward(typename Backend::context& ctx, metarm::VectorView<const T> params, metarm::MatrixView<const T> x,
                metarm::MatrixView<const T>, metarm::MatrixView<const T> dy, metarm::VectorView<T> grad,
                metarm::MatrixView<T> dx, workspace<Backend, T>& ws, metarm::GradientWrite write) const {
    Backend::for_each(ctx, width_,
                      detail::RmsNormGainGradient<T>{x.data, nullptr, dy.data, nullptr, ws.rstd.data(), nullptr,
                                                     grad.data + gain_offset_, width_, x.cols,
                                                     write == metarm::GradientWrite::overwrite});
    if (!dx.empty()) {
      Backend::for_each(ctx, x.cols,
                        detail::RmsNormColumnGradients<T>{x.data, nullptr, dy.data, nullptr, gain(params), nullptr,
                                                          ws.rstd.data(), nullptr, dx.data, nullptr, width_});
    }
  }

  template <class Backend>
  void forward_tangent(typename Backend::context& ctx, metarm::VectorView<const T> params,
                       metarm::VectorView<const T> v, metarm::MatrixView<const T> x, metarm::MatrixView<const T> x_t,
                       metarm::MatrixView<const T>, metarm::MatrixView<T> y_t, workspace<Backend, T>& ws) const {
    Backend::for_each(ctx, x.cols,
                      detail::RmsNormForwardTangent<T>{x.data, detail::data_or_null(x_t), y_t.data, gain(params),
                                                       gain(v), ws.rstd.data(), ws.a.data(), width_});
  }

  // Keeps no gradients inside, so `recompute` asks nothing more of it than dx when dx is given.
  template <class Backend>
  void backward_tangent(typename Backend::context& ctx, metarm::VectorView<const T> params,
                        metarm::VectorView<const T> v, metarm::MatrixView<const T> x, metarm::MatrixView<const T> x_t,
                        metarm::MatrixView<const T>, metarm::MatrixView<const T>, metarm::MatrixView<const T> dy,
                        metarm::MatrixView<const T> dy_t, metarm::VectorView<T> hv, metarm::MatrixView<T> dx,
                        metarm::MatrixView<T> dx_t, workspace<Backend, T>& ws, bool) const {
    Backend::for_each(ctx, width_,
                      detail::RmsNormGainGradient<T>{x.data, detail::data_or_null(x_t), dy.data, dy_t.data,
                                                     ws.rstd.data(), ws.a.data(), hv.data + gain_offset_, width_,
                                                     x.cols, false});
    if (!dx.empty() || !dx_t.empty()) {
      Backend::for_each(ctx, x.cols,
                        detail::RmsNormColumnGradients<T>{x.data, detail::data_or_null(x_t), dy.data, dy_t.data,
                                                          gain(params), gain(v), ws.rstd.data(), ws.a.data(),
                                                          detail::data_or_null(dx), detail::data_or_null(dx_t),
                                                          width_});
    }
  }

 private:
  const T* gain(metarm::VectorView<const T> params) const { return params.data + gain_offset_; }

  double epsilon_;
  metarm::index_t width_ = 0;
  metarm::index_t gain_offset_ = 0;
};

}  // namespace example
