// SPDX-License-Identifier: Apache-2.0
/// \file
/// Backend-resident batches gathered from host sets by index. Buffers grow to the largest batch seen and are
/// then reused, so gathering a batch of a size already seen does not allocate.
#pragma once

#include <algorithm>
#include <cstring>
#include <functional>
#include <span>
#include <type_traits>
#include <vector>

#include "metarm/core/error.hpp"
#include "metarm/data/batch.hpp"
#include "metarm/data/meta_set.hpp"
#include "metarm/data/preference_set.hpp"

namespace metarm {

namespace detail {

// Host staging for backends without page-locked staging of their own: pageable memory copied over with
// copy_from_host.
template <class Backend, class T>
class PageableStaging {
 public:
  void reserve(index_t size) {
    if (static_cast<index_t>(host_.size()) < size) {
      host_.resize(static_cast<std::size_t>(size));
    }
  }
  T* writable(const typename Backend::context&) { return host_.data(); }
  void upload(typename Backend::context& ctx, index_t count, T* destination) {
    Backend::copy_from_host(ctx, host_.data(), VectorView<T>{destination, count});
  }

 private:
  std::vector<T> host_;
};

template <class Backend, class T>
struct staging_of {
  using type = PageableStaging<Backend, T>;
};
template <class Backend, class T>
  requires requires { typename Backend::template staging<T>; }
struct staging_of<Backend, T> {
  using type = typename Backend::template staging<T>;
};

// Host-accessible backends are written in place; others get the host staging area copied over in one go,
// which on a GPU does not wait for the device (see cuda::staging).
template <class Backend, class T>
class StagedBuffer {
 public:
  void resize(index_t size) {
    device_.resize(size);
    if constexpr (!Backend::host_accessible) {
      staging_.reserve(size);
    }
  }
  T* host(const typename Backend::context& ctx) {
    if constexpr (Backend::host_accessible) {
      return device_.data();
    } else {
      return staging_.writable(ctx);
    }
  }
  void upload(typename Backend::context& ctx, index_t count) {
    if constexpr (!Backend::host_accessible) {
      staging_.upload(ctx, count, device_.data());
    }
  }
  const T* device() const { return device_.data(); }
  index_t capacity() const { return device_.size(); }

 private:
  struct NoStaging {};
  typename Backend::template buffer<T> device_;
  std::conditional_t<Backend::host_accessible, NoStaging, typename staging_of<Backend, T>::type> staging_;
};

}  // namespace detail

/// Gathers preference batches of a PreferenceSet into Backend's memory, reusing its storage from batch to batch.
template <class T, class Backend>
class PreferenceBatchBuffer {
 public:
  /// Gathers the listed pairs: chosen columns first, then rejected, then margins when the set has any.
  PreferenceBatch<T> gather(typename Backend::context& ctx, const PreferenceSet<T>& set, std::span<const index_t> pairs) {
    METARM_REQUIRE(!pairs.empty(), "PreferenceBatchBuffer::gather", "argument 'pairs' is empty");
    const index_t n = static_cast<index_t>(pairs.size());
    const index_t d = set.dim();
    features_.resize(std::max(features_.capacity(), 2 * n * d));
    margins_.resize(std::max(margins_.capacity(), n));
    T* out = features_.host(ctx);
    T* margins = margins_.host(ctx);
    for (index_t j = 0; j < n; ++j) {
      const index_t i = pairs[static_cast<std::size_t>(j)];
      METARM_REQUIRE(i >= 0 && i < set.size(), "PreferenceBatchBuffer::gather",
                     "pair index {} is outside the set of {}", i, set.size());
      std::memcpy(out + j * d, set.chosen(i), static_cast<std::size_t>(d) * sizeof(T));
      std::memcpy(out + (n + j) * d, set.rejected(i), static_cast<std::size_t>(d) * sizeof(T));
      margins[j] = set.margin(i);
    }
    features_.upload(ctx, 2 * n * d);
    PreferenceBatch<T> batch{{features_.device(), d, 2 * n, d}, {}};
    if (set.has_margins()) {
      margins_.upload(ctx, n);
      batch.margins = {margins_.device(), n};
    }
    return batch;
  }

 private:
  detail::StagedBuffer<Backend, T> features_;
  detail::StagedBuffer<Backend, T> margins_;
};

/// Gathers meta batches of a MetaSet into Backend's memory, reusing its storage from batch to batch.
template <class T, class Backend>
class MetaBatchBuffer {
 public:
  /// Gathers the listed prompts with all their responses.
  MetaBatch<T> gather(typename Backend::context& ctx, const MetaSet<T>& set, std::span<const index_t> prompts) {
    METARM_REQUIRE(!prompts.empty(), "MetaBatchBuffer::gather", "argument 'prompts' is empty");
    const index_t m = static_cast<index_t>(prompts.size());
    const index_t d = set.dim();
    index_t columns = 0;
    for (index_t p : prompts) {
      METARM_REQUIRE(p >= 0 && p < set.prompts(), "MetaBatchBuffer::gather",
                     "prompt index {} is outside the set of {}", p, set.prompts());
      columns += set.responses_of(p);
    }
    features_.resize(std::max(features_.capacity(), columns * d));
    offsets_.resize(std::max(offsets_.capacity(), m + 1));
    T* out = features_.host(ctx);
    index_t* offsets = offsets_.host(ctx);
    offsets[0] = 0;
    for (index_t j = 0; j < m; ++j) {
      const index_t p = prompts[static_cast<std::size_t>(j)];
      const index_t k = set.responses_of(p);
      std::memcpy(out + offsets[j] * d, set.prompt_features(p), static_cast<std::size_t>(k * d) * sizeof(T));
      offsets[j + 1] = offsets[j] + k;
    }
    features_.upload(ctx, columns * d);
    offsets_.upload(ctx, m + 1);
    return {{features_.device(), d, columns, d}, {offsets_.device(), m + 1}};
  }

  /// Sizes the buffers for any `prompts` prompts of `set`, so later gathers never allocate.
  void reserve_for(const MetaSet<T>& set, index_t prompts) {
    std::vector<index_t> sizes(static_cast<std::size_t>(set.prompts()));
    for (index_t p = 0; p < set.prompts(); ++p) {
      sizes[static_cast<std::size_t>(p)] = set.responses_of(p);
    }
    const auto take = static_cast<std::size_t>(std::min(prompts, set.prompts()));
    std::partial_sort(sizes.begin(), sizes.begin() + static_cast<std::ptrdiff_t>(take), sizes.end(), std::greater<>());
    index_t columns = 0;
    for (std::size_t i = 0; i < take; ++i) {
      columns += sizes[i];
    }
    features_.resize(std::max(features_.capacity(), columns * set.dim()));
    offsets_.resize(std::max(offsets_.capacity(), prompts + 1));
  }

 private:
  detail::StagedBuffer<Backend, T> features_;
  detail::StagedBuffer<Backend, index_t> offsets_;
};

}  // namespace metarm
