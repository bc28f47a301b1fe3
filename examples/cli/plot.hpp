// SPDX-License-Identifier: Apache-2.0
// metarm plot LOG DIR: the training curves of a metarm train --log file (JSON lines with TRL's names,
// metarm/callback/metrics_log.hpp) against the step: loss, accuracy and J (difference_objective) of the training
// lines, and every eval_ metric of the evaluation lines.
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <fmt/format.h>
#include <metarm/io.hpp>

#include "command_line.hpp"
#include "figures.hpp"

namespace cli {

// One metric's points, by step.
struct Curve {
  std::string key;                        // the log's name: "loss", "eval_accuracy", "eval_rewards/chosen"
  std::map<std::int64_t, double> points;  // step -> value
};

// The training metrics drawn; every "eval_" metric is drawn too.
inline bool plotted_metric(const std::string& key) {
  return key == "loss" || key == "accuracy" || key == "difference_objective" || key.rfind("eval_", 0) == 0;
}

// The curves of a log, in the order the panels show them: loss, accuracy, difference_objective, then the eval_
// metrics in the order they first appear. Lines without "step" (the last line, with train_runtime) hold no
// points; a metric that is missing or null on a line has no point there; a step logged twice (a run resumed from
// a checkpoint before its last logged step) keeps the later value. Throws naming the file and line for a line that
// is not a JSON object or has a step or metric that is not a number, and naming the file when it is empty or has
// no metric to draw.
inline std::vector<Curve> read_training_curves(const std::string& path) {
  metarm::LineReader reader(path);
  std::vector<Curve> curves{{"loss", {}}, {"accuracy", {}}, {"difference_objective", {}}};
  std::map<std::string, std::size_t> index{{"loss", 0}, {"accuracy", 1}, {"difference_objective", 2}};
  std::string line;
  std::int64_t records = 0;
  while (reader.next(line)) {
    if (metarm::detail::blank_line(line)) continue;
    ++records;
    const std::string where = reader.where();
    const nlohmann::json object = metarm::parse_json_object(line, where);
    const auto step = object.find("step");
    if (step == object.end()) continue;
    if (!step->is_number_integer()) {
      throw metarm::Error(where, fmt::format("field \"step\" must be an integer, got {}", step->type_name()));
    }
    const std::int64_t at = step->get<std::int64_t>();
    for (const auto& [key, value] : object.items()) {
      if (!plotted_metric(key) || value.is_null()) continue;
      if (!value.is_number()) {
        throw metarm::Error(where, fmt::format("field \"{}\" must be a number or null, got {}", key, value.type_name()));
      }
      auto [slot, added] = index.try_emplace(key, curves.size());
      if (added) curves.push_back({key, {}});
      curves[slot->second].points[at] = value.get<double>();
    }
  }
  if (records == 0) throw metarm::Error(path, "the log is empty");
  std::erase_if(curves, [](const Curve& c) { return c.points.empty(); });
  if (curves.empty()) {
    throw metarm::Error(path, "no line has a metric to plot (loss, accuracy, difference_objective or an eval_ metric)");
  }
  return curves;
}

namespace detail {

// The panel a metric goes to: its name without "eval_" up to the first '/' ("eval_rewards/chosen": "rewards").
inline std::string panel_of(const std::string& key) {
  const std::string base = key.rfind("eval_", 0) == 0 ? key.substr(5) : key;
  return base.substr(0, base.find('/'));
}

// The curve's title in its panel: "train" or "eval", then what the panel's name leaves out ("eval chosen").
inline std::string curve_title(const std::string& key) {
  const bool eval = key.rfind("eval_", 0) == 0;
  const std::string base = eval ? key.substr(5) : key;
  const std::size_t slash = base.find('/');
  return std::string(eval ? "eval" : "train") + (slash == std::string::npos ? "" : " " + base.substr(slash + 1));
}

}  // namespace detail

inline std::string curves_csv(const std::vector<Curve>& curves) {
  std::string out = "metric,step,value\n";
  for (const Curve& c : curves) {
    for (const auto& [step, value] : c.points) out += fmt::format("{},{},{}\n", c.key, step, csv_number(value));
  }
  return out;
}

inline std::string curves_script(const std::vector<Curve>& curves, const std::string& title) {
  std::vector<std::string> panels;
  for (const Curve& c : curves) {
    const std::string panel = detail::panel_of(c.key);
    if (std::find(panels.begin(), panels.end(), panel) == panels.end()) panels.push_back(panel);
  }
  const int columns = static_cast<int>(std::min<std::size_t>(panels.size(), 3));
  const int rows = static_cast<int>((panels.size() + 2) / 3);
  std::string s = png_terminal(440 * columns, 330 * rows + 40);
  for (std::size_t i = 0; i < curves.size(); ++i) {
    s += fmt::format("$curve{} << EOD\n", i);
    for (const auto& [step, value] : curves[i].points) s += fmt::format("{} {}\n", step, csv_number(value));
    s += "EOD\n";
  }
  static constexpr const char* train_colour = "#0072b2";
  static constexpr const char* eval_colours[] = {"#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000"};
  s += fmt::format("set multiplot layout {},{} title {}\n", rows, columns, gnuplot::quote(title));
  s += "set grid\nset xlabel 'step'\nset key bottom left box opaque font ',8'\n";
  for (const std::string& panel : panels) {
    s += fmt::format("set title {}\n", gnuplot::quote(panel == "difference_objective" ? "J (difference_objective)" : panel));
    std::string plot;
    int eval_curves = 0;
    for (std::size_t i = 0; i < curves.size(); ++i) {
      if (detail::panel_of(curves[i].key) != panel) continue;
      const bool eval = curves[i].key.rfind("eval_", 0) == 0;
      const std::string colour = eval ? eval_colours[eval_curves++ % std::size(eval_colours)] : train_colour;
      plot += fmt::format("{}$curve{} using 1:2 with linespoints lw 2 pt 7 ps {} lc rgb '{}' title {}",
                          plot.empty() ? "plot " : ", \\\n     ", i, eval ? "0.9" : "0.4", colour,
                          gnuplot::quote(detail::curve_title(curves[i].key)));
    }
    s += plot + "\n";
  }
  s += "unset multiplot\n";
  return s;
}

inline int plot_command(const PlotSettings& s) {
  require_gnuplot("");
  const std::vector<Curve> curves = read_training_curves(s.log);
  make_figure_folder(s.dir);
  const std::string name = figure_names({s.log}).front() + ".curves";
  const std::string png = write_figure(s.dir, name, curves_csv(curves), curves_script(curves, "training curves: " + s.log));
  fmt::print("{}: {} curves\n", s.log, curves.size());
  for (const Curve& c : curves) {
    fmt::print("  {:<28} {:>5} points  steps {}-{}  last {:.4f}\n", c.key, c.points.size(), c.points.begin()->first,
               c.points.rbegin()->first, c.points.rbegin()->second);
  }
  fmt::print("wrote {} (data: {}.csv, gnuplot script: {}.gp)\n", png, name, name);
  return 0;
}

}  // namespace cli
