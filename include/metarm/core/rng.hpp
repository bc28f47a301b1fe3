// SPDX-License-Identifier: Apache-2.0
/// \file
/// A small, fully specified random number generator. The standard distributions differ between standard
/// libraries; these do not, so a seed means the same run everywhere.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <utility>

#include "metarm/core/error.hpp"

namespace metarm {

/// Everything that determines a generator's future output, so that a run saved mid-way (a checkpoint) can
/// continue with exactly the numbers it would have drawn.
struct RngState {
  /// The four xoshiro256** state words.
  std::array<std::uint64_t, 4> words{};
  /// The second normal of the last polar-method pair, returned by the next normal() call.
  double spare_normal = 0.0;
  /// Whether spare_normal is waiting to be returned.
  bool has_spare_normal = false;

  /// States are equal when every field is.
  friend bool operator==(const RngState&, const RngState&) = default;
};

/// The library's random number generator: the same seed gives the same numbers on every platform and standard library.
///
/// xoshiro256** (Blackman and Vigna), seeded through splitmix64.
class Rng {
 public:
  /// The type of one raw draw (UniformRandomBitGenerator).
  using result_type = std::uint64_t;

  /// A generator seeded with `seed`; every seed, 0 included, is valid.
  explicit Rng(std::uint64_t seed = 0) { reseed(seed); }

  /// Restarts the generator as if it had just been constructed with `seed`.
  void reseed(std::uint64_t seed) {
    std::uint64_t x = seed;
    for (auto& word : state_) {
      word = splitmix64(x);
    }
    has_spare_normal_ = false;
  }

  /// An independent generator for a named purpose (data order, initialisation, ...), so that consuming
  /// numbers for one purpose never shifts another's sequence.
  Rng stream(std::uint64_t purpose) const {
    std::uint64_t x = state_[0] ^ (purpose * 0xD1B54A32D192ED03ULL);
    return Rng(splitmix64(x) ^ state_[3]);
  }

  /// Everything needed to continue the sequence later with set_state().
  RngState state() const { return {{state_[0], state_[1], state_[2], state_[3]}, spare_normal_, has_spare_normal_}; }

  /// Continues the sequence saved by state().
  /// An all-zero word state is xoshiro's one fixed point (it would only ever produce zeros), so it is refused.
  void set_state(const RngState& s) {
    METARM_REQUIRE(s.words[0] != 0 || s.words[1] != 0 || s.words[2] != 0 || s.words[3] != 0, "Rng::set_state",
                   "argument 'state' is all zero, which no seeded generator reaches");
    for (std::size_t i = 0; i < 4; ++i) {
      state_[i] = s.words[i];
    }
    spare_normal_ = s.spare_normal;
    has_spare_normal_ = s.has_spare_normal;
  }

  /// The smallest raw draw (UniformRandomBitGenerator).
  static constexpr result_type min() { return 0; }
  /// The largest raw draw (UniformRandomBitGenerator).
  static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }

  /// One raw 64-bit draw, so that Rng can drive standard algorithms.
  result_type operator()() { return next(); }

  /// The next raw 64-bit number of the sequence.
  std::uint64_t next() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /// Uniform on [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  /// Uniform on [low, high).
  double uniform(double low, double high) { return low + (high - low) * uniform(); }

  /// Standard normal by the Marsaglia polar method.
  double normal() {
    if (has_spare_normal_) {
      has_spare_normal_ = false;
      return spare_normal_;
    }
    double u, v, s;
    do {
      u = 2.0 * uniform() - 1.0;
      v = 2.0 * uniform() - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double factor = std::sqrt(-2.0 * std::log(s) / s);
    spare_normal_ = v * factor;
    has_spare_normal_ = true;
    return u * factor;
  }

  /// Normal with the given mean and standard deviation.
  double normal(double mean, double stddev) { return mean + stddev * normal(); }

  /// Uniform integer in [0, bound) without modulo bias (Lemire's multiply-and-reject).
  std::uint64_t below(std::uint64_t bound) {
    if (bound == 0) {
      return 0;
    }
    __uint128_t product = static_cast<__uint128_t>(next()) * bound;
    auto low = static_cast<std::uint64_t>(product);
    if (low < bound) {
      const std::uint64_t threshold = (0 - bound) % bound;
      while (low < threshold) {
        product = static_cast<__uint128_t>(next()) * bound;
        low = static_cast<std::uint64_t>(product);
      }
    }
    return static_cast<std::uint64_t>(product >> 64);
  }

  /// Fisher-Yates; unlike std::shuffle the permutation for a seed is the same on every standard library.
  template <class RandomIt>
  void shuffle(RandomIt first, RandomIt last) {
    const auto n = static_cast<std::uint64_t>(std::distance(first, last));
    for (std::uint64_t i = n; i > 1; --i) {
      const std::uint64_t j = below(i);
      using std::swap;
      swap(first[static_cast<std::ptrdiff_t>(i - 1)], first[static_cast<std::ptrdiff_t>(j)]);
    }
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  static std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  std::uint64_t state_[4]{};
  double spare_normal_ = 0.0;
  bool has_spare_normal_ = false;
};

}  // namespace metarm
