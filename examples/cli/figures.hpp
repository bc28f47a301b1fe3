// SPDX-License-Identifier: Apache-2.0
// What the figures of metarm eval --plot and metarm plot share: the check for gnuplot, the output folder, names
// for the figures taken from the input files' names, and writing one figure (its data as CSV, its gnuplot
// script, the PNG that gnuplot draws), each file written atomically.
#pragma once

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <metarm/io.hpp>

#include "common/gnuplot.hpp"

namespace cli {

// Throws, naming `option`, when gnuplot is not on PATH: checked before any work, so that a long evaluation does
// not end without its figures.
inline void require_gnuplot(const std::string& option) {
  if (!gnuplot::available()) {
    throw metarm::Error(option, fmt::format("gnuplot is not installed or not on PATH ({})", gnuplot::install_hint));
  }
}

// Creates `dir` and its parents where missing; throws, naming it, when that fails or it is not a folder.
inline void make_figure_folder(const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) throw metarm::Error(dir, fmt::format("cannot create the folder: {}", error.message()));
  if (!std::filesystem::is_directory(dir, error)) throw metarm::Error(dir, "is not a folder");
}

// A number as CSV and gnuplot read it back: the shortest text that gives the same double ("nan" for NaN).
inline std::string csv_number(double x) { return fmt::format("{}", x); }

namespace detail {

// A file's name without the endings of the formats the program reads (.gz, then .jsonl, .json or .jsonlines),
// with every character outside [A-Za-z0-9._+-] replaced by '_'.
inline std::string figure_stem(const std::filesystem::path& file) {
  std::string name = file.filename().string();
  const auto strip = [&](std::string_view ending) {
    if (name.size() > ending.size() && name.compare(name.size() - ending.size(), ending.size(), ending) == 0) {
      name.resize(name.size() - ending.size());
      return true;
    }
    return false;
  };
  strip(".gz");
  strip(".jsonl") || strip(".jsonlines") || strip(".json");
  return name;
}

inline std::string safe_name(std::string name) {
  for (char& c : name) {
    const bool kept = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '_' || c == '+' || c == '-';
    if (!kept) c = '_';
  }
  return name.empty() ? "set" : name;
}

}  // namespace detail

// One name per input file for the figures drawn from it: the file's name without .gz and .jsonl, led by as many
// of its folders' names as it takes to tell it from the other files ("helpful-base/test.jsonl.gz" and
// "helpful-online/test.jsonl.gz" give "helpful-base-test" and "helpful-online-test"); a file named twice gets
// "-2", "-3" on its later names.
inline std::vector<std::string> figure_names(const std::vector<std::string>& paths) {
  std::vector<std::vector<std::string>> parts(paths.size());  // the stem, then its folders inwards-out
  for (std::size_t i = 0; i < paths.size(); ++i) {
    const std::filesystem::path path = std::filesystem::path(paths[i]).lexically_normal();
    parts[i].push_back(detail::figure_stem(path));
    for (std::filesystem::path folder = path.parent_path(); !folder.empty() && folder.has_filename();
         folder = folder.parent_path()) {
      const std::string part = folder.filename().string();
      if (part == "." || part == "..") break;
      parts[i].push_back(part);
    }
  }
  std::vector<std::size_t> depth(paths.size(), 1);
  const auto name_of = [&](std::size_t i) {
    std::string name;
    for (std::size_t d = depth[i]; d-- > 0;) name += (name.empty() ? "" : "-") + parts[i][d];
    return detail::safe_name(name);
  };
  // Every name shared with another file (not the same one named again) takes one more folder, all at once,
  // until none can.
  for (bool longer = true; longer;) {
    std::vector<std::string> current;
    for (std::size_t i = 0; i < paths.size(); ++i) current.push_back(name_of(i));
    longer = false;
    for (std::size_t i = 0; i < paths.size(); ++i) {
      bool shared = false;
      for (std::size_t j = 0; j < paths.size(); ++j) shared = shared || (current[j] == current[i] && parts[j] != parts[i]);
      if (shared && depth[i] < parts[i].size()) {
        ++depth[i];
        longer = true;
      }
    }
  }
  std::vector<std::string> names;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    const std::string name = name_of(i);
    std::string unique = name;
    for (int repeat = 2; std::find(names.begin(), names.end(), unique) != names.end(); ++repeat) {
      unique = fmt::format("{}-{}", name, repeat);
    }
    names.push_back(unique);
  }
  return names;
}

// Writes DIR/BASE.csv (the figure's data), DIR/BASE.gp (a self-contained gnuplot script, the data inline, that
// writes the PNG to standard output) and DIR/BASE.png, which gnuplot draws from the script; each atomically.
// Returns the PNG's path. Throws naming the script when gnuplot fails.
inline std::string write_figure(const std::string& dir, const std::string& base, const std::string& csv,
                                const std::string& script) {
  const std::string path = (std::filesystem::path(dir) / base).string();
  metarm::write_file_atomically(path + ".csv", csv);
  metarm::write_file_atomically(path + ".gp", fmt::format("# gnuplot {}.gp > {}.png\n{}", base, base, script));
  metarm::write_file_atomically(path + ".png", gnuplot::render(path + ".gp"));
  return path + ".png";
}

// The start of every script: a PNG of width x height pixels to standard output, text taken literally (no
// gnuplot markup, so that names with '_' or '^' print as they are).
inline std::string png_terminal(int width, int height) {
  return fmt::format("set terminal pngcairo noenhanced size {},{} font 'DejaVu Sans,10'\n", width, height);
}

}  // namespace cli
