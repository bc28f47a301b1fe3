// SPDX-License-Identifier: Apache-2.0
/// \file
/// An arm written as text, `kind[:key=value,...]`, and its parser (docs/simulation.md, "Arms"):
/// \verbatim
///   vanilla                      metarm:eta=1,order=exact        dot:eta=0.1
///   joint:lambda=0.5             metarm:eta=3,objective=variance vanilla:adapt=3,name=vanilla-adapted
/// \endverbatim
/// kinds: vanilla, metarm, dot, joint. Keys of every kind: loss (bt | margin | smoothed), objective
/// (difference | variance), adapt (score at theta + adapt grad J), name (the label tables and files give it);
/// metarm adds eta, order (first | exact) and inner_steps, dot adds eta, joint adds lambda. A wrong spec throws
/// ArmSpecError with one line naming the bad part: `eta: "x" is not a number`.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/core.h>

namespace metarm::sim {

/// A spec that does not parse; what() is one line naming the bad part.
class ArmSpecError : public std::invalid_argument {
 public:
  /// The error with `message`.
  explicit ArmSpecError(const std::string& message) : std::invalid_argument(message) {}
};

/// One arm as parsed from `kind[:key=value,...]`; the fields a kind does not read keep their defaults.
struct ArmSpec {
  /// The reward-model strategy.
  enum class Kind { vanilla, metarm, dot, joint };
  /// The preference loss: Bradley-Terry, margin ranking (gamma 1), label-smoothed Bradley-Terry (epsilon 0.1).
  enum class Loss { bradley_terry, margin, smoothed };
  /// The meta objective: the difference objective J, or the within-prompt reward variance.
  enum class Objective { difference, variance };

  Kind kind = Kind::vanilla;                 ///< the strategy
  std::string name;                          ///< the label; the canonical text when not given
  double eta = 1.0;                          ///< metarm, dot: the ascent step (dot: the weight of grad L . grad J)
  bool exact = false;                        ///< metarm: the exact meta-gradient instead of the first-order one
  int inner_steps = 1;                       ///< metarm: ascent steps on J before the loss's gradient
  double lambda = 0.5;                       ///< joint: the weight of J in L - lambda J
  Loss loss = Loss::bradley_terry;           ///< the preference loss
  Objective objective = Objective::difference;  ///< the meta objective (what metarm, dot, joint and adapt use)
  double adapt = 0.0;                        ///< > 0: scored at theta + adapt grad J(theta; whole meta set)
  std::string text;                          ///< the spec as given

  /// Whether this is the plain vanilla arm, the paired baseline: vanilla, Bradley-Terry, scored at theta.
  bool is_baseline() const { return kind == Kind::vanilla && loss == Loss::bradley_terry && adapt == 0.0; }
};

namespace detail {

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

inline std::string join(std::span<const std::string_view> words) {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) out += (i ? ", " : "") + std::string(words[i]);
  return out;
}

inline std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// A finite number >= low, the whole of `text`.
inline double spec_number(std::string_view key, std::string_view text, double low) {
  double value = 0.0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end) {
    throw ArmSpecError(std::string(key) + ": " + quoted(text) + " is not a number");
  }
  if (!std::isfinite(value)) throw ArmSpecError(fmt::format("{}: {} is not a finite number", key, quoted(text)));
  if (value < low) throw ArmSpecError(fmt::format("{}: must be >= {}, got {}", key, static_cast<int>(low), text));
  return value;
}

inline int spec_integer(std::string_view key, std::string_view text, int low, int high) {
  int value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end) {
    throw ArmSpecError(fmt::format("{}: {} is not an integer in [{}, {}]", key, quoted(text), low, high));
  }
  if (value < low || value > high) {
    throw ArmSpecError(fmt::format("{}: must be in [{}, {}], got {}", key, low, high, text));
  }
  return value;
}

// The index of `text` among `words`, or an error naming the valid ones.
inline std::size_t spec_choice(std::string_view key, std::string_view text, std::span<const std::string_view> words) {
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (text == words[i]) return i;
  }
  throw ArmSpecError(std::string(key) + ": " + quoted(text) + " is not one of " + join(words));
}

// Numbers in canonical names: 1, 0.3, 1e-05 (shortest round-trip form).
inline std::string spec_number_text(double value) {
  char text[32];
  const auto [ptr, ec] = std::to_chars(text, text + sizeof text, value);
  return ec == std::errc{} ? std::string(text, ptr) : std::to_string(value);
}

}  // namespace detail

/// The kinds, as specs write them.
inline constexpr std::string_view arm_kinds[] = {"vanilla", "metarm", "dot", "joint"};
/// The losses, as `loss=` writes them.
inline constexpr std::string_view arm_losses[] = {"bt", "margin", "smoothed"};
/// The meta objectives, as `objective=` writes them.
inline constexpr std::string_view arm_objectives[] = {"difference", "variance"};

/// The keys `kind` accepts, in the order canonical names write them.
inline std::vector<std::string_view> arm_keys(ArmSpec::Kind kind) {
  std::vector<std::string_view> keys;
  switch (kind) {
    case ArmSpec::Kind::vanilla: break;
    case ArmSpec::Kind::metarm: keys = {"eta", "order", "inner_steps"}; break;
    case ArmSpec::Kind::dot: keys = {"eta"}; break;
    case ArmSpec::Kind::joint: keys = {"lambda"}; break;
  }
  for (std::string_view common : {"loss", "objective", "adapt", "name"}) keys.push_back(common);
  return keys;
}

/// The canonical text of `spec` without its name: the kind, then every key given a value other than its
/// default, separated by spaces ("metarm eta=1 order=exact"); tables and files use it when no name is given.
inline std::string canonical_arm_name(const ArmSpec& spec) {
  std::string out(arm_kinds[static_cast<std::size_t>(spec.kind)]);
  auto add = [&](std::string_view key, const std::string& value) { out += " " + std::string(key) + "=" + value; };
  const bool has_eta = spec.kind == ArmSpec::Kind::metarm || spec.kind == ArmSpec::Kind::dot;
  if (has_eta) add("eta", detail::spec_number_text(spec.eta));
  if (spec.kind == ArmSpec::Kind::metarm && spec.exact) add("order", "exact");
  if (spec.kind == ArmSpec::Kind::metarm && spec.inner_steps != 1) add("inner_steps", std::to_string(spec.inner_steps));
  if (spec.kind == ArmSpec::Kind::joint) add("lambda", detail::spec_number_text(spec.lambda));
  if (spec.loss != ArmSpec::Loss::bradley_terry) add("loss", std::string(arm_losses[static_cast<std::size_t>(spec.loss)]));
  if (spec.objective != ArmSpec::Objective::difference) {
    add("objective", std::string(arm_objectives[static_cast<std::size_t>(spec.objective)]));
  }
  if (spec.adapt != 0.0) add("adapt", detail::spec_number_text(spec.adapt));
  return out;
}

/// Parses one spec, `kind[:key=value,...]`; throws ArmSpecError naming the bad part.
inline ArmSpec parse_arm_spec(std::string_view text) {
  ArmSpec spec;
  spec.text = std::string(text);
  const std::size_t colon = text.find(':');
  const std::string_view kind = detail::trim(text.substr(0, colon));
  if (kind.empty()) throw ArmSpecError("empty arm kind (valid: " + detail::join(arm_kinds) + ")");
  std::size_t k = 0;
  while (k < std::size(arm_kinds) && arm_kinds[k] != kind) ++k;
  if (k == std::size(arm_kinds)) {
    throw ArmSpecError("unknown kind " + detail::quoted(kind) + " (valid: " + detail::join(arm_kinds) + ")");
  }
  spec.kind = static_cast<ArmSpec::Kind>(k);
  const std::vector<std::string_view> keys = arm_keys(spec.kind);
  std::vector<std::string_view> seen;
  bool named = false;
  if (colon != std::string_view::npos) {
    std::string_view rest = text.substr(colon + 1);
    if (detail::trim(rest).empty()) throw ArmSpecError(std::string(kind) + ": nothing after ':' (write key=value)");
    while (true) {
      const std::size_t comma = rest.find(',');
      const std::string_view item = detail::trim(rest.substr(0, comma));
      const std::size_t equals = item.find('=');
      if (item.empty()) throw ArmSpecError(std::string(kind) + ": empty key=value (a comma too many?)");
      if (equals == std::string_view::npos) throw ArmSpecError(detail::quoted(item) + ": expected key=value");
      const std::string_view key = detail::trim(item.substr(0, equals));
      const std::string_view value = detail::trim(item.substr(equals + 1));
      bool known = false;
      for (std::string_view valid : keys) known = known || valid == key;
      if (!known) {
        throw ArmSpecError(std::string(kind) + ": unknown key " + detail::quoted(key) + " (valid: " +
                           detail::join(keys) + ")");
      }
      for (std::string_view earlier : seen) {
        if (earlier == key) throw ArmSpecError(std::string(key) + ": given twice");
      }
      seen.push_back(key);
      if (key == "eta") {
        spec.eta = detail::spec_number(key, value, 0.0);
      } else if (key == "order") {
        constexpr std::string_view orders[] = {"first", "exact"};
        spec.exact = detail::spec_choice(key, value, orders) == 1;
      } else if (key == "inner_steps") {
        spec.inner_steps = detail::spec_integer(key, value, 1, 1000);
      } else if (key == "lambda") {
        spec.lambda = detail::spec_number(key, value, 0.0);
      } else if (key == "loss") {
        spec.loss = static_cast<ArmSpec::Loss>(detail::spec_choice(key, value, arm_losses));
      } else if (key == "objective") {
        spec.objective = static_cast<ArmSpec::Objective>(detail::spec_choice(key, value, arm_objectives));
      } else if (key == "adapt") {
        spec.adapt = detail::spec_number(key, value, 0.0);
      } else if (key == "name") {
        if (value.empty()) throw ArmSpecError("name: empty");
        for (char c : value) {
          if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            throw ArmSpecError("name: " + detail::quoted(value) + " holds a quote, backslash or control character");
          }
        }
        spec.name = std::string(value);
        named = true;
      }
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
  }
  if (!named) spec.name = canonical_arm_name(spec);
  return spec;
}

/// Parses every spec and settles the arms: the plain vanilla arm (is_baseline()) is the paired baseline and
/// comes first, added in front when no spec is one (named "vanilla"); names must differ. Errors name the spec.
inline std::vector<ArmSpec> parse_arm_specs(std::span<const std::string> texts) {
  std::vector<ArmSpec> specs;
  for (const std::string& text : texts) {
    try {
      specs.push_back(parse_arm_spec(text));
    } catch (const ArmSpecError& e) {
      throw ArmSpecError(text + ": " + e.what());
    }
  }
  std::size_t baseline = specs.size();
  for (std::size_t i = 0; i < specs.size() && baseline == specs.size(); ++i) {
    if (specs[i].is_baseline()) baseline = i;
  }
  if (baseline == specs.size()) {
    specs.insert(specs.begin(), parse_arm_spec("vanilla"));
  } else if (baseline != 0) {
    ArmSpec first = specs[baseline];
    specs.erase(specs.begin() + static_cast<std::ptrdiff_t>(baseline));
    specs.insert(specs.begin(), std::move(first));
  }
  for (std::size_t i = 0; i < specs.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (specs[i].name == specs[j].name) {
        throw ArmSpecError(specs[i].text + ": arm name " + detail::quoted(specs[i].name) + " given twice" +
                           (specs[j].text.empty() ? "" : " (also by " + specs[j].text + ")"));
      }
    }
  }
  return specs;
}

}  // namespace metarm::sim
