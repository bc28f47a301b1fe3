// SPDX-License-Identifier: Apache-2.0
/// \file
/// Preference pairs and meta sets whose features are precomputed embeddings:
///  - pairs: two [n, d] arrays (chosen, rejected), row i being pair i, from two .npy files or from tensors
///    "chosen" and "rejected" of one safetensors file (optionally with a [n] tensor "margin");
///  - meta sets: one [m, k, d] array, prompt p's k responses in row p (.npy, or tensor "responses").
/// float32 and float64 are read; the values must be finite.
#pragma once

#include <cmath>
#include <cstdio>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "metarm/core/error.hpp"
#include "metarm/data/meta_set.hpp"
#include "metarm/data/preference_set.hpp"
#include "metarm/io/npy.hpp"
#include "metarm/io/safetensors.hpp"

namespace metarm {

namespace detail {

inline std::vector<double> float_tensor(const SafetensorsFile& file, const std::string& name, std::vector<std::int64_t>& shape) {
  const TensorInfo& t = file.tensor(name);
  shape = t.shape;
  if (t.dtype == Dtype::F64) return file.values<double>(name);
  if (t.dtype == Dtype::F32) {
    const auto f = file.values<float>(name);
    return {f.begin(), f.end()};
  }
  throw Error(file.path(), fmt::format("tensor \"{}\" has dtype {}; embeddings must be F32 or F64", name,
                                       dtype_name(t.dtype)));
}

// A value of the file as T. A finite value beyond T's range has no T (the conversion would be undefined), so it
// is refused here, naming where it is; a NaN or an infinity converts and the sets refuse it, naming the row.
// `what()` names the value, and is called only for one that is refused.
template <class T, class What>
T embedding_value(double x, const std::string& where, What&& what) {
  if (std::isfinite(x) && std::abs(x) > static_cast<double>(std::numeric_limits<T>::max())) [[unlikely]] {
    throw Error(where, fmt::format("{} is {:g}, beyond the range of the model's scalar type", what(), x));
  }
  return static_cast<T>(x);
}

template <class T>
PreferenceSet<T> pairs_from_arrays(const std::vector<std::int64_t>& chosen_shape, const std::vector<double>& chosen,
                                   const std::vector<std::int64_t>& rejected_shape, const std::vector<double>& rejected,
                                   const std::vector<double>* margins, const std::string& where) {
  if (chosen_shape.size() != 2 || rejected_shape != chosen_shape) {
    throw Error(where, fmt::format("chosen and rejected embeddings must both be [n, d] arrays of one shape, got {} and {}",
                                   SafetensorsFile::shape_text(chosen_shape), SafetensorsFile::shape_text(rejected_shape)));
  }
  const index_t n = chosen_shape[0], d = chosen_shape[1];
  if (n == 0 || d == 0) throw Error(where, fmt::format("embeddings are empty (shape {})",
                                                       SafetensorsFile::shape_text(chosen_shape)));
  if (margins != nullptr && static_cast<index_t>(margins->size()) != n) {
    throw Error(where, fmt::format("\"margin\" holds {} values for {} pairs", margins->size(), n));
  }
  PreferenceSet<T> set(d);
  set.reserve(n);
  std::vector<T> c(static_cast<std::size_t>(d)), r(static_cast<std::size_t>(d));
  for (index_t i = 0; i < n; ++i) {
    for (index_t j = 0; j < d; ++j) {
      const auto feature = [&](const char* side) {
        return fmt::format("row {}: feature {} of the {} embedding", i, j, side);
      };
      c[static_cast<std::size_t>(j)] =
          embedding_value<T>(chosen[static_cast<std::size_t>(i * d + j)], where, [&] { return feature("chosen"); });
      r[static_cast<std::size_t>(j)] =
          embedding_value<T>(rejected[static_cast<std::size_t>(i * d + j)], where, [&] { return feature("rejected"); });
    }
    const T margin = margins != nullptr ? embedding_value<T>((*margins)[static_cast<std::size_t>(i)], where,
                                                             [&] { return fmt::format("row {}: the margin", i); })
                                        : T(0);
    try {
      set.add(c, r, margin);
    } catch (const Error& e) {
      throw Error(where, fmt::format("row {}: {}", i, e.message()));
    }
  }
  return set;
}

template <class T>
MetaSet<T> meta_from_array(const std::vector<std::int64_t>& shape, const std::vector<double>& values, const std::string& where) {
  if (shape.size() != 3) {
    throw Error(where, fmt::format("meta embeddings must be an [m, k, d] array, got shape {}",
                                   SafetensorsFile::shape_text(shape)));
  }
  const index_t m = shape[0], k = shape[1], d = shape[2];
  if (m == 0 || d == 0) throw Error(where, fmt::format("meta embeddings are empty (shape {})",
                                                       SafetensorsFile::shape_text(shape)));
  if (k < 2) throw Error(where, fmt::format("meta embeddings hold k = {} response(s) per prompt; J needs k >= 2", k));
  MetaSet<T> set(d);
  std::vector<T> block(static_cast<std::size_t>(k * d));
  for (index_t p = 0; p < m; ++p) {
    for (std::size_t i = 0; i < block.size(); ++i) {
      block[i] = embedding_value<T>(values[static_cast<std::size_t>(p * k * d) + i], where, [&] {
        return fmt::format("prompt {}: response {}, feature {}", p, i / static_cast<std::size_t>(d),
                           i % static_cast<std::size_t>(d));
      });
    }
    try {
      set.add_prompt(block);
    } catch (const Error& e) {
      throw Error(where, e.message());
    }
  }
  return set;
}

}  // namespace detail

/// Labelled pairs from two .npy files of [n, d] embeddings, chosen and rejected, row i being pair i.
template <class T>
PreferenceSet<T> read_embedding_pairs(const std::string& chosen_npy, const std::string& rejected_npy) {
  const NpyArray chosen = read_npy(chosen_npy), rejected = read_npy(rejected_npy);
  return detail::pairs_from_arrays<T>(chosen.shape, chosen.values, rejected.shape, rejected.values, nullptr,
                                      chosen_npy + " and " + rejected_npy);
}

/// Labelled pairs from two [n, d] tensors of a safetensors file, with the [n] tensor "margin" when it has one.
template <class T>
PreferenceSet<T> read_embedding_pairs(const SafetensorsFile& file, const std::string& chosen = "chosen",
                                      const std::string& rejected = "rejected") {
  std::vector<std::int64_t> cs, rs, ms;
  const auto c = detail::float_tensor(file, chosen, cs);
  const auto r = detail::float_tensor(file, rejected, rs);
  std::vector<double> margins;
  if (file.find("margin") != nullptr) {
    margins = detail::float_tensor(file, "margin", ms);
    if (ms.size() != 1) throw Error(file.path(), "tensor \"margin\" must be one-dimensional");
  }
  return detail::pairs_from_arrays<T>(cs, c, rs, r, file.find("margin") != nullptr ? &margins : nullptr, file.path());
}

/// A meta set from a .npy file of [m, k, d] embeddings, prompt p's k responses in row p.
template <class T>
MetaSet<T> read_embedding_meta(const std::string& npy_path) {
  const NpyArray a = read_npy(npy_path);
  return detail::meta_from_array<T>(a.shape, a.values, npy_path);
}

/// A meta set from an [m, k, d] tensor of a safetensors file.
template <class T>
MetaSet<T> read_embedding_meta(const SafetensorsFile& file, const std::string& responses = "responses") {
  std::vector<std::int64_t> shape;
  const auto values = detail::float_tensor(file, responses, shape);
  return detail::meta_from_array<T>(shape, values, file.path());
}

}  // namespace metarm
