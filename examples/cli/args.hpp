// SPDX-License-Identifier: Apache-2.0
// Command-line options of one subcommand: declared once (name, value, help), parsed with one-line errors.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cli {

// Wrong usage: the program prints the reason on one line and exits with status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Option {
  std::string name;        // without the leading "--"
  std::string value;       // placeholder shown in help ("FILE", "N"); empty for a flag
  std::string help;
  std::string fallback;    // default shown in help and returned by get(); empty when none
  bool many = false;       // takes one or more values ("--eval A B C" or repeated)
  bool required = false;
};

class Arguments {
 public:
  Arguments(std::string command, std::vector<Option> options) : command_(std::move(command)), options_(std::move(options)) {}

  // Parses argv[first..argc). Throws UsageError on an unknown option, a missing value or a missing required
  // option; returns false when --help was given (help has been printed).
  bool parse(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        print_help();
        return false;
      }
      if (arg.rfind("--", 0) != 0) {
        throw UsageError("unexpected argument '" + arg + "'");
      }
      std::string name = arg.substr(2), inline_value;
      bool has_inline = false;
      if (const auto eq = name.find('='); eq != std::string::npos) {
        inline_value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_inline = true;
      }
      const Option* option = find(name);
      if (option == nullptr) {
        throw UsageError("unknown option --" + name);
      }
      auto& values = values_[name];
      if (option->value.empty()) {
        if (has_inline) throw UsageError("option --" + name + " takes no value");
        values.push_back("1");
        continue;
      }
      if (!option->many && !values.empty()) {
        throw UsageError("option --" + name + " is given twice");
      }
      if (has_inline) {
        values.push_back(inline_value);
        continue;
      }
      int taken = 0;
      while (i + 1 < argc && (taken == 0 || option->many) && std::string_view(argv[i + 1]).rfind("--", 0) != 0) {
        values.emplace_back(argv[++i]);
        ++taken;
      }
      if (taken == 0) throw UsageError("option --" + name + " needs a value (" + option->value + ")");
    }
    for (const auto& option : options_) {
      if (option.required && !has(option.name)) {
        throw UsageError("missing required option --" + option.name + " " + option.value);
      }
    }
    return true;
  }

  bool has(const std::string& name) const { return values_.count(name) > 0; }
  bool flag(const std::string& name) const { return has(name); }

  std::string get(const std::string& name) const {
    const auto it = values_.find(name);
    if (it != values_.end()) return it->second.front();
    return find(name)->fallback;
  }

  std::vector<std::string> all(const std::string& name) const {
    const auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
  }

  double number(const std::string& name, double low, double high) const {
    const std::string text = get(name);
    std::size_t used = 0;
    double x = 0;
    try {
      x = std::stod(text, &used);
    } catch (...) {
      used = 0;
    }
    if (used != text.size() || text.empty() || !std::isfinite(x) || x < low || x > high) {
      throw UsageError("--" + name + " needs a number in [" + compact(low) + ", " + compact(high) + "], got '" + text + "'");
    }
    return x;
  }

  std::int64_t integer(const std::string& name, std::int64_t low, std::int64_t high) const {
    const std::string text = get(name);
    std::size_t used = 0;
    long long x = 0;
    try {
      x = std::stoll(text, &used);
    } catch (...) {
      used = 0;
    }
    if (used != text.size() || text.empty() || x < low || x > high) {
      throw UsageError("--" + name + " needs an integer in [" + std::to_string(low) + ", " + std::to_string(high) +
                       "], got '" + text + "'");
    }
    return x;
  }

  void set_summary(std::string usage, std::string description) {
    usage_ = std::move(usage);
    description_ = std::move(description);
  }

  void print_help() const {
    std::printf("usage: metarm %s %s\n\n%s\n\noptions:\n", command_.c_str(), usage_.c_str(), description_.c_str());
    for (const auto& o : options_) {
      std::string left = "  --" + o.name + (o.value.empty() ? "" : " " + o.value + (o.many ? "..." : ""));
      if (left.size() < 26) left.append(26 - left.size(), ' ');
      else left += "\n" + std::string(26, ' ');
      std::string help = o.help;
      if (!o.fallback.empty() && !o.value.empty()) help += " (default " + o.fallback + ")";
      if (o.required) help += " (required)";
      std::printf("%s%s\n", left.c_str(), help.c_str());
    }
    std::printf("  --help                  this text\n");
  }

 private:
  const Option* find(const std::string& name) const {
    for (const auto& o : options_) {
      if (o.name == name) return &o;
    }
    return nullptr;
  }

  static std::string compact(double x) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%g", x);
    return buffer;
  }

  std::string command_;
  std::vector<Option> options_;
  std::map<std::string, std::vector<std::string>> values_;
  std::string usage_;
  std::string description_;
};

}  // namespace cli
