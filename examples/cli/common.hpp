// SPDX-License-Identifier: Apache-2.0
// What the subcommands share: model specifications, the learner types they instantiate, reading and
// featurising text data, the length-only baseline, and formatting.
#pragma once

#include <cerrno>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <metarm/io.hpp>

#include <fmt/core.h>

#include "common/options.hpp"

namespace cli {

using metarm::index_t;
using options::UsageError;

// "linear" or "mlp:H[,H...]" (ReLU hidden layers).
struct ModelSpec {
  std::vector<index_t> hidden;

  bool linear() const { return hidden.empty(); }
  std::string text() const {
    if (linear()) return "linear";
    std::string s = "mlp:";
    for (std::size_t i = 0; i < hidden.size(); ++i) s += fmt::format("{}{}", i ? "," : "", hidden[i]);
    return s;
  }

  static ModelSpec parse(const std::string& text) {
    ModelSpec spec;
    if (text == "linear") return spec;
    if (text.rfind("mlp:", 0) != 0) throw UsageError("--model must be linear or mlp:H[,H...], got '" + text + "'");
    for (const std::int64_t h : options::integer_list("--model mlp:H[,H...]", text.substr(4), 1, 1 << 16)) {
      spec.hidden.push_back(h);
    }
    return spec;
  }

  // Reads back a model description, "mlp<identity>(D,1)" or "mlp<relu>(D,H1,...,1)"; `input_dim` gets D.
  static ModelSpec from_description(const std::string& description, index_t& input_dim, const std::string& where) {
    const auto bad = [&] {
      return metarm::Error(where, "model '" + description + "' is not one this program builds (mlp<identity> or mlp<relu>)");
    };
    bool linear;
    std::string rest;
    if (description.rfind("mlp<identity>(", 0) == 0) {
      linear = true;
      rest = description.substr(14);
    } else if (description.rfind("mlp<relu>(", 0) == 0) {
      linear = false;
      rest = description.substr(10);
    } else {
      throw bad();
    }
    if (rest.empty() || rest.back() != ')') throw bad();
    rest.pop_back();
    std::vector<index_t> sizes;
    std::size_t start = 0;
    while (start <= rest.size()) {
      const std::size_t comma = std::min(rest.find(',', start), rest.size());
      try {
        sizes.push_back(std::stoll(rest.substr(start, comma - start)));
      } catch (...) {
        throw bad();
      }
      start = comma + 1;
    }
    if (sizes.size() < 2 || sizes.back() != 1 || (linear && sizes.size() != 2) || (!linear && sizes.size() < 3)) throw bad();
    input_dim = sizes.front();
    ModelSpec spec;
    spec.hidden.assign(sizes.begin() + 1, sizes.end() - 1);
    return spec;
  }
};

// Checks of --model and --features at parse time, in the words of the parsers that read them.
inline CLI::Validator model_check() {
  return options::check([](const std::string& text) { ModelSpec::parse(text); });
}
inline CLI::Validator features_check() {
  return options::check([](const std::string& text) {
    try {
      metarm::FeaturizerSettings::parse(text);
    } catch (const metarm::Error& e) {
      throw UsageError("--features: " + e.message());
    }
  });
}

// The program trains float models on sparse text features with AdamW (weight decay 0 makes it Adam).
template <class Model, class Strategy>
using Learner = metarm::SparseMetaLearner<Model, Strategy, metarm::AdamW>;

// Calls f(model) with the model type the spec names.
template <class F>
decltype(auto) with_model(const ModelSpec& spec, index_t input_dim, F&& f) {
  if (spec.linear()) return f(metarm::LinearModel<float>(input_dim));
  return f(metarm::Mlp<metarm::ReLU, float>(input_dim, spec.hidden));
}

inline metarm::TextPairFile load_pairs(const std::string& path, bool quiet) {
  metarm::TextPairFile file = metarm::read_text_pairs(path);
  if (!quiet) {
    fmt::print(stderr, "read {} pairs from {}", file.pairs.size(), path);
    if (file.dropped_identical > 0) {
      fmt::print(stderr, " (dropped {} with identical responses)", static_cast<long long>(file.dropped_identical));
    }
    fmt::print(stderr, "\n");
  }
  return file;
}

// Share of pairs the rule "the longer response is chosen" (direction +1) or "the shorter" (-1) gets right,
// measuring length in bytes; equal lengths count one half.
inline double length_rule_accuracy(const std::vector<metarm::TextPair>& pairs, int direction) {
  double right = 0.0;
  for (const auto& p : pairs) {
    const auto c = p.chosen.size(), r = p.rejected.size();
    right += c == r ? 0.5 : ((c > r) == (direction > 0) ? 1.0 : 0.0);
  }
  return pairs.empty() ? 0.0 : right / static_cast<double>(pairs.size());
}

// The length rule's direction fitted on training pairs: +1 when "longer wins" is right at least half the time.
inline int length_direction(const std::vector<metarm::TextPair>& train) {
  return length_rule_accuracy(train, +1) >= 0.5 ? +1 : -1;
}

// A callback that may be switched off: forwards the hooks to `target` when it is not null.
template <class C>
struct Maybe {
  C* target;
  explicit Maybe(C* c) : target(c) {}
  void on_fit_begin(const metarm::FitBeginEvent& e) {
    if constexpr (requires { target->on_fit_begin(e); }) if (target) target->on_fit_begin(e);
  }
  void on_step(const metarm::StepEvent& e) {
    if constexpr (requires { target->on_step(e); }) if (target) target->on_step(e);
  }
  void on_eval(const metarm::EvalEvent& e) {
    if constexpr (requires { target->on_eval(e); }) if (target) target->on_eval(e);
  }
  void on_epoch_end(const metarm::EpochEvent& e) {
    if constexpr (requires { target->on_epoch_end(e); }) if (target) target->on_epoch_end(e);
  }
  void on_fit_end(const metarm::StopReason& r) {
    if constexpr (requires { target->on_fit_end(r); }) if (target) target->on_fit_end(r);
  }
};

// A file opened for writing (none when the path is empty), closed at scope end; "-" is standard output.
class OutputFile {
 public:
  OutputFile(const std::string& path, const char* mode) {
    if (path.empty()) return;
    if (path == "-") {
      file_ = stdout;
      return;
    }
    file_ = std::fopen(path.c_str(), mode);
    if (file_ == nullptr) throw metarm::Error(path, fmt::format("cannot open for writing: {}", std::strerror(errno)));
    owned_ = true;
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  ~OutputFile() {
    if (owned_) std::fclose(file_);
  }
  std::FILE* get() const { return file_; }

 private:
  std::FILE* file_ = nullptr;
  bool owned_ = false;
};

inline std::string format_number(double x) { return fmt::format("{:.9g}", x); }

}  // namespace cli
