// SPDX-License-Identifier: Apache-2.0
/// \file
/// What one training step reports. Quantities a strategy does not compute stay NaN. Its fmt formatter prints
/// the measured ones: `fmt::print("{:.3g}", stats)` prints "{loss: 0.693, learning_rate: 0.001, accuracy: 0.5}".
#pragma once

#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/core.h>

#include "metarm/core/format.hpp"

namespace metarm {

/// What one training step reports; quantities a strategy does not compute stay NaN.
struct StepStats {
  /// NaN: the value of a quantity the step did not compute.
  static constexpr double not_measured = std::numeric_limits<double>::quiet_NaN();

  double loss = not_measured;             ///< preference loss where its gradient was taken
  double inner_loss = not_measured;       ///< MAML family: the inner (support) loss before adaptation
  double objective = not_measured;        ///< difference objective J at the parameters before the step
  double objective_after = not_measured;  ///< J at the adapted parameters, when the strategy measures it
  double grad_norm = not_measured;        ///< norm of the gradient handed to the optimiser, before clipping
  double ascent_norm = not_measured;      ///< norm of grad J used for the ascent step
  double learning_rate = not_measured;    ///< scheduled learning rate of the update (filled in by the learner)
  /// Share of the batch's pairs ranked right, ties one half.
  ///
  /// How the preference batch's pairs were ordered where the preference loss was taken (filled in by the
  /// learner; at the adapted point for MetaRM): share of pairs ranked right (ties one half), mean
  /// r_chosen - r_rejected, and the mean reward of each side.
  double accuracy = not_measured;
  /// Mean r_chosen - r_rejected over the batch.
  double margin = not_measured;
  /// Mean reward of the batch's chosen responses.
  double rewards_chosen = not_measured;
  /// Mean reward of the batch's rejected responses.
  double rewards_rejected = not_measured;
};

/// The statistics a strategy may leave in backend memory instead of reading them on the host during the step
/// (StepContext's record_* members); the learner reads them into the StepStats field of the same name.
enum class Statistic { loss, inner_loss, objective, objective_after, grad_norm, ascent_norm };

/// The number of Statistic values.
inline constexpr int statistic_count = 6;

/// The StepStats field that a Statistic is read into.
constexpr double& field_of(StepStats& stats, Statistic s) {
  switch (s) {
    case Statistic::loss:
      return stats.loss;
    case Statistic::inner_loss:
      return stats.inner_loss;
    case Statistic::objective:
      return stats.objective;
    case Statistic::objective_after:
      return stats.objective_after;
    case Statistic::grad_norm:
      return stats.grad_norm;
    case Statistic::ascent_norm:
      break;
  }
  return stats.ascent_norm;
}

/// Norms are recorded as squared norms (a sum, like the objectives) and read back through a square root.
constexpr bool is_norm(Statistic s) { return s == Statistic::grad_norm || s == Statistic::ascent_norm; }

/// The name of a Statistic, which is also the name of its StepStats field.
constexpr std::string_view statistic_name(Statistic s) {
  switch (s) {
    case Statistic::loss:
      return "loss";
    case Statistic::inner_loss:
      return "inner_loss";
    case Statistic::objective:
      return "objective";
    case Statistic::objective_after:
      return "objective_after";
    case Statistic::grad_norm:
      return "grad_norm";
    case Statistic::ascent_norm:
      break;
  }
  return "ascent_norm";
}

}  // namespace metarm

// Formatters for fmt, which looks them up in its own namespace.
namespace fmt {

/// Formats StepStats as "{field: value, ...}" with the fields a step measured (not NaN), under their member
/// names in declaration order ("{}" when none was); a spec applies to each value as to a double.
template <>
struct formatter<metarm::StepStats> {
  /// The spec of each value, as of a double.
  metarm::detail::NumberSpec spec;

  /// Reads the spec, which must be a double's.
  constexpr auto parse(fmt::format_parse_context& ctx) { return spec.parse(ctx); }

  /// Writes the text.
  template <class FormatContext>
  auto format(const metarm::StepStats& s, FormatContext& ctx) const {
    const std::pair<const char*, double> fields[] = {
        {"loss", s.loss},
        {"inner_loss", s.inner_loss},
        {"objective", s.objective},
        {"objective_after", s.objective_after},
        {"grad_norm", s.grad_norm},
        {"ascent_norm", s.ascent_norm},
        {"learning_rate", s.learning_rate},
        {"accuracy", s.accuracy},
        {"margin", s.margin},
        {"rewards_chosen", s.rewards_chosen},
        {"rewards_rejected", s.rewards_rejected},
    };
    return metarm::detail::write_text(ctx.out(), metarm::detail::braced_fields(fields, spec, true));
  }
};

}  // namespace fmt
