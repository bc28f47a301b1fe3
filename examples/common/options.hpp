// SPDX-License-Identifier: Apache-2.0
// What the command lines of metarm and metarm-simulate share: the one-line usage error, checked numbers and
// comma-separated lists, and the CLI11 glue (help layout, --config, unknown arguments, the written settings).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include <fmt/core.h>

namespace options {

// Wrong usage: the program prints the reason on one line and exits with status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline std::string compact(double x) { return fmt::format("{:g}", x); }

// The accepted range of a number: [low, high], or (low, high] when `above` (a step size that must be positive).
struct Range {
  double low = -std::numeric_limits<double>::infinity();
  double high = std::numeric_limits<double>::infinity();
  bool above = false;

  std::string describe(const char* what) const {
    if (std::isinf(high)) return std::string(what) + (above ? " > " : " >= ") + compact(low);
    return std::string(what) + " in " + (above ? "(" : "[") + compact(low) + ", " + compact(high) + "]";
  }
};

inline double to_number(const std::string& flag, const std::string& text, Range range, const char* what = "a number") {
  std::size_t used = 0;
  double x = 0;
  try {
    x = std::stod(text, &used);
  } catch (...) {
    used = 0;
  }
  if (used != text.size() || text.empty() || !std::isfinite(x) || (range.above ? !(x > range.low) : !(x >= range.low)) ||
      x > range.high) {
    throw UsageError(flag + " needs " + range.describe(what) + ", got '" + text + "'");
  }
  return x;
}

inline std::int64_t to_integer(const std::string& flag, const std::string& text, std::int64_t low, std::int64_t high,
                               const char* what = "an integer") {
  std::size_t used = 0;
  long long x = 0;
  try {
    x = std::stoll(text, &used);
  } catch (...) {
    used = 0;
  }
  if (used != text.size() || text.empty() || x < low || x > high) {
    const std::string bounds = high == std::numeric_limits<std::int64_t>::max()
                                   ? fmt::format(" >= {}", low)
                                   : fmt::format(" in [{}, {}]", low, high);
    throw UsageError(fmt::format("{} needs {}{}, got '{}'", flag, what, bounds, text));
  }
  return x;
}

// "a,b,c" into its items; an empty item is an error rather than a silent zero.
inline std::vector<std::string> split_list(const std::string& flag, const std::string& text) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    items.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  for (const auto& item : items) {
    if (item.empty()) throw UsageError(flag + " has an empty item in '" + text + "'");
  }
  return items;
}

inline std::vector<double> number_list(const std::string& flag, const std::string& text, Range range) {
  std::vector<double> out;
  for (const auto& item : split_list(flag, text)) out.push_back(to_number(flag, item, range, "comma-separated numbers"));
  return out;
}

inline std::vector<std::int64_t> integer_list(const std::string& flag, const std::string& text, std::int64_t low,
                                              std::int64_t high) {
  std::vector<std::int64_t> out;
  for (const auto& item : split_list(flag, text)) out.push_back(to_integer(flag, item, low, high, "comma-separated integers"));
  return out;
}

// A CLI11 check that throws UsageError itself: CLI11 catches only its own ValidationError inside a check, so
// ours passes through parse() unchanged and the message stays the program's own wording.
inline CLI::Validator check(std::function<void(const std::string&)> test) {
  return CLI::Validator(
      [test = std::move(test)](std::string& text) {
        test(text);
        return std::string();
      },
      "");
}

// Typed options, checked before CLI11 converts them (a check sees the text; the conversion then cannot fail).
template <class T>
CLI::Option* integer(CLI::App& app, const std::string& flag, T& field, const std::string& value, const std::string& help,
                     std::int64_t low, std::int64_t high = std::numeric_limits<std::int64_t>::max()) {
  return app.add_option(flag, field, help)
      ->option_text(value)
      ->check(check([flag, low, high](const std::string& text) { to_integer(flag, text, low, high); }));
}

inline CLI::Option* number(CLI::App& app, const std::string& flag, double& field, const std::string& value,
                           const std::string& help, Range range) {
  return app.add_option(flag, field, help)
      ->option_text(value)
      ->check(check([flag, range](const std::string& text) { to_number(flag, text, range); }));
}

// One of a few words, e.g. "vanilla or metarm".
inline CLI::Option* choice(CLI::App& app, const std::string& flag, std::string& field, const std::string& value,
                           const std::string& help, std::vector<std::string> words) {
  return app.add_option(flag, field, help)->option_text(value)->check(check([flag, words](const std::string& text) {
    for (const auto& word : words) {
      if (text == word) return;
    }
    std::string list;
    for (std::size_t i = 0; i < words.size(); ++i) {
      list += (i == 0 ? "" : i + 1 == words.size() ? " or " : ", ") + words[i];
    }
    throw UsageError(flag + " must be " + list + ", got '" + text + "'");
  }));
}

// The help layout: "usage: metarm train --pairs FILE ...", the command's description, then CLI11's option
// list. The description shown here is the long one; CLI11's own (app.description) is the one-line summary that a
// list of commands shows.
class Layout : public CLI::Formatter {
 public:
  Layout(std::string usage, std::string description) : usage_(std::move(usage)), description_(std::move(description)) {
    column_width(26);
  }
  std::string make_usage(const CLI::App*, std::string) const override {
    return "usage: " + usage_ + "\n" + (description_.empty() ? "" : "\n" + description_ + "\n");
  }
  std::string make_description(const CLI::App*) const override { return ""; }

 private:
  std::string usage_, description_;
};

// Help text, --help, and --config FILE (TOML, or INI's key=value lines) on one command. Call before adding
// the command's options: the defaults set here apply to options added afterwards.
inline void describe(CLI::App& app, const std::string& usage, const std::string& description) {
  app.formatter(std::make_shared<Layout>(usage, description));
  app.option_defaults()->group("options");
  app.set_help_flag("-h,--help", "this text");
  app.set_config("--config", "", "read options from this file (TOML or INI; the command line wins)")->option_text("FILE");
  // Unknown arguments are reported by reject_extras in the program's own words, not CLI11's.
  app.allow_extras();
  // Every option's default is recorded, so that settings_text() writes a complete configuration.
  app.option_defaults()->always_capture_default();
}

// CLI11's own reasons (a missing value, a value given to a flag) on one line.
inline std::string one_line(const CLI::Error& e) {
  std::string text = e.what();
  for (char& c : text) {
    if (c == '\n') c = ' ';
  }
  return text;
}

// Reads --config FILE into the options the command line left unset. CLI11 2.1 reads the file of the top-level
// command only; this reads it for a subcommand too, and names any key that is no option of the command
// rather than ignoring it (a misspelt key would otherwise leave its option at the default unnoticed).
// Values pass the options' checks as if typed.
inline void apply_config(CLI::App& app) {
  const CLI::Option* config = app.get_option_no_throw("--config");
  if (config == nullptr || config->count() == 0) return;
  const std::string path = config->as<std::string>();
  std::vector<CLI::ConfigItem> items;
  try {
    items = app.get_config_formatter()->from_file(path);
  } catch (const CLI::Error& e) {
    throw UsageError("--config " + path + ": " + e.what());
  }
  for (const CLI::ConfigItem& item : items) {
    if (item.name == "++" || item.name == "--") continue;  // CLI11's markers of a [section]'s start and end
    CLI::Option* option = item.parents.empty() ? app.get_option_no_throw("--" + item.name) : nullptr;
    if (option == nullptr || !option->get_configurable()) {
      throw UsageError("--config " + path + ": unknown option '" + item.fullname() + "'");
    }
    if (option->count() > 0) continue;  // given on the command line, or already read by CLI11
    try {
      option->add_result(item.inputs);
      option->run_callback();
    } catch (const CLI::ParseError& e) {
      // A value CLI11 itself refuses (a list for a one-value option, a flag that is not true or false): wrong
      // usage, as it would be on the command line, rather than an error of the run.
      throw UsageError("--config " + path + ": " + one_line(e));
    }
  }
}

// Throws UsageError for the first argument no option took.
inline void reject_extras(const CLI::App& app) {
  for (const std::string& arg : app.remaining()) {
    if (arg.rfind("--", 0) == 0) throw UsageError("unknown option " + arg.substr(0, arg.find('=')));
    throw UsageError("unexpected argument '" + arg + "'");
  }
}

// Options that must be given (on the command line or in --config); checked here rather than by CLI11 so that
// the message names the value too: "missing required option --out CKPT".
inline void require(const CLI::App& app, const std::vector<std::string>& flags) {
  for (const auto& flag : flags) {
    const CLI::Option* option = app.get_option(flag);
    if (option->count() == 0) throw UsageError("missing required option " + flag + " " + option->get_option_text());
  }
}

// Every option of `app` with its effective value, as a TOML file that --config reads back.
inline std::string settings_text(const CLI::App& app, const std::string& program) {
  return "# " + program + ": the effective settings of a run; " + program + " --config FILE repeats it\n" +
         app.config_to_str(true, false);
}

}  // namespace options
