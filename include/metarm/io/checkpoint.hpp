// SPDX-License-Identifier: Apache-2.0
/// \file
/// Checkpoints of a MetaLearner as one safetensors file:
/// \verbatim
///   tensors   "<block>"                   parameters, one tensor per layout block ("hidden.0.weight", ...),
///                                         row-major with the block's shape (a weight is [outputs, inputs], as
///                                         in PyTorch's nn.Linear; a bias is [outputs])
///             "optimizer.<state>.<block>" optimiser state in the same layout (exp_avg, exp_avg_sq, ...)
///             "fit.order", "fit.meta_order", "fit.order_rng", "fit.meta_rng"
///                                         the data order of the fit under way (see learner/fit_state.hpp)
///   metadata  format, format_version, library_version, model (describe()), scalar, strategy, loss,
///             meta_objective, optimizer,
///             optimizer_state, updates, fit.* positions, and whatever the caller adds (featuriser settings,
///             reward mean and std, ...)
/// \endverbatim
/// With parameters, optimiser state, update count and fit state restored, a resumed fit takes exactly the
/// steps the uninterrupted one would have taken.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "metarm/callback/events.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/version.hpp"
#include "metarm/params/flat_params.hpp"
#include "metarm/params/layout.hpp"
#include "metarm/learner/fit_state.hpp"
#include "metarm/loss/meta_objective.hpp"
#include "metarm/loss/preference_loss.hpp"
#include "metarm/io/safetensors.hpp"
#include "metarm/strategy/strategy.hpp"

namespace metarm {

/// The "format" metadata value that marks a metarm checkpoint.
inline constexpr std::string_view checkpoint_format = "metarm-checkpoint";
/// The version of the checkpoint format, which a reader must know.
inline constexpr std::string_view checkpoint_format_version = "1";

namespace detail {

inline std::vector<std::int64_t> block_shape(const ParamBlock& b) {
  if (b.cols == 1) return {b.rows};
  return {b.rows, b.cols};
}

// Column-major block -> row-major tensor, and back.
template <class T>
std::vector<T> block_to_row_major(std::span<const T> flat, const ParamBlock& b) {
  std::vector<T> out(static_cast<std::size_t>(b.size()));
  for (index_t i = 0; i < b.rows; ++i) {
    for (index_t j = 0; j < b.cols; ++j) {
      out[static_cast<std::size_t>(i * b.cols + j)] = flat[static_cast<std::size_t>(b.offset + i + j * b.rows)];
    }
  }
  return out;
}

template <class T>
void row_major_to_block(const std::vector<T>& tensor, const ParamBlock& b, std::span<T> flat) {
  for (index_t i = 0; i < b.rows; ++i) {
    for (index_t j = 0; j < b.cols; ++j) {
      flat[static_cast<std::size_t>(b.offset + i + j * b.rows)] = tensor[static_cast<std::size_t>(i * b.cols + j)];
    }
  }
}

template <class T, class Backend>
std::vector<T> to_host(typename Backend::context& ctx, VectorView<const T> v) {
  std::vector<T> host(static_cast<std::size_t>(v.size));
  Backend::copy_to_host(ctx, v, host.data());
  return host;
}

template <class Optimizer>
std::string optimizer_name() {
  if constexpr (requires { Optimizer::name; }) {
    return std::string(Optimizer::name);
  } else {
    return "custom";
  }
}

template <class Optimizer>
std::string state_names_text() {
  std::string text;
  for (std::string_view n : Optimizer::state_names) text += (text.empty() ? "" : ",") + std::string(n);
  return text;
}

inline std::vector<std::uint64_t> rng_words(const Rng& rng) {
  const RngState s = rng.state();
  return {s.words[0], s.words[1], s.words[2], s.words[3], std::bit_cast<std::uint64_t>(s.spare_normal),
          s.has_spare_normal ? 1u : 0u};
}

}  // namespace detail

/// Saves the learner's parameters, optimiser state, update count and fit state, with `extra` added to the
/// metadata (keys of its own must not collide with the ones listed above).
///
/// In a data-parallel group only rank 0 writes: the ranks hold the same state, and one file may be resumed on
/// any number of ranks.
///
/// A state with a non-finite value (a diverged update) is not written: the error names the block, and the
/// file already at `path`, the last good checkpoint, stays as it was.
template <class Learner>
void save_checkpoint(const std::string& path, Learner& learner, const std::map<std::string, std::string>& extra = {}) {
  if constexpr (requires { learner.communicator().rank(); }) {
    if (learner.communicator().rank() != 0) return;
  }
  using T = typename Learner::scalar_type;
  using Backend = typename Learner::backend_type;
  using Optimizer = typename Learner::optimizer_type;
  auto& state = learner.training_state();
  auto& ctx = learner.backend_context();

  SafetensorsWriter writer;
  state.for_each_saved_vector([&](const std::string& prefix, FlatParams<T, Backend>& vector) {
    const auto values = detail::to_host<T, Backend>(ctx, as_const(vector.view()));
    for (const ParamBlock& b : vector.layout().blocks()) {
      for (index_t i = 0; i < b.size(); ++i) {
        if (!std::isfinite(static_cast<double>(values[static_cast<std::size_t>(b.offset + i)]))) {
          throw Error(path, fmt::format("not written: after update {} '{}{}' holds a non-finite value (at index {}); "
                                        "the updates diverged, and the checkpoint already here, if any, is kept",
                                        state.updates(), prefix, b.name, i));
        }
      }
      writer.add<T>(prefix + b.name, detail::block_shape(b), detail::block_to_row_major<T>(values, b));
    }
  });
  const FitState& fit = learner.fit_state();
  if (fit.started()) {
    const std::vector<std::int64_t> order(fit.order.begin(), fit.order.end());
    const std::vector<std::int64_t> meta_order(fit.meta_order.begin(), fit.meta_order.end());
    writer.add<std::int64_t>("fit.order", {static_cast<std::int64_t>(order.size())}, order);
    writer.add<std::int64_t>("fit.meta_order", {static_cast<std::int64_t>(meta_order.size())}, meta_order);
    writer.add<std::uint64_t>("fit.order_rng", {6}, detail::rng_words(fit.order_rng));
    writer.add<std::uint64_t>("fit.meta_rng", {6}, detail::rng_words(fit.meta_rng));
    writer.set_metadata("fit.fit_index", std::to_string(fit.fit_index));
    writer.set_metadata("fit.epoch", std::to_string(fit.epoch));
    writer.set_metadata("fit.next_batch", std::to_string(fit.next_batch));
    writer.set_metadata("fit.steps", std::to_string(fit.steps));
    writer.set_metadata("fit.meta_cursor", std::to_string(fit.meta_cursor));
  }
  writer.set_metadata("format", std::string(checkpoint_format));
  writer.set_metadata("format_version", std::string(checkpoint_format_version));
  writer.set_metadata("library_version", std::string(version));
  writer.set_metadata("model", learner.model().describe());
  writer.set_metadata("scalar", std::string(dtype_name(dtype_of<T>())));
  writer.set_metadata("strategy", std::string(strategy_name<typename Learner::strategy_type>()));
  writer.set_metadata("loss", std::string(loss_name<typename Learner::loss_type>()));
  writer.set_metadata("meta_objective", std::string(objective_name<typename Learner::meta_objective_type>()));
  writer.set_metadata("optimizer", detail::optimizer_name<Optimizer>());
  writer.set_metadata("optimizer_state", detail::state_names_text<Optimizer>());
  writer.set_metadata("updates", std::to_string(state.updates()));
  for (const auto& [key, value] : extra) {
    writer.set_metadata(key, value);
  }
  writer.write(path);
}

/// A checkpoint read from disk and validated as a safetensors file written by save_checkpoint.
class Checkpoint {
 public:
  /// Reads and validates the checkpoint at `path`.
  static Checkpoint read(const std::string& path) { return Checkpoint(SafetensorsFile::read(path)); }

  /// Validates `file` as a checkpoint: its format and version, and that it names its model and scalar type.
  explicit Checkpoint(SafetensorsFile file) : file_(std::move(file)) {
    const auto format = file_.metadata().find("format");
    if (format == file_.metadata().end() || format->second != checkpoint_format) {
      throw Error(file_.path(), "not a metarm checkpoint (its __metadata__ has no \"format\": \"metarm-checkpoint\")");
    }
    if (value("format_version") != checkpoint_format_version) {
      throw Error(file_.path(), fmt::format("checkpoint format version {} is not supported (this is {})",
                                            value("format_version"), checkpoint_format_version));
    }
    value("model");
    value("scalar");
  }

  /// The safetensors file.
  const SafetensorsFile& file() const { return file_; }
  /// The path it was read from.
  const std::string& path() const { return file_.path(); }
  /// All metadata.
  const std::map<std::string, std::string>& metadata() const { return file_.metadata(); }
  /// Whether the metadata has `key`.
  bool has(std::string_view key) const { return file_.metadata().find(std::string(key)) != file_.metadata().end(); }

  /// A metadata value; throws naming the key when absent.
  const std::string& value(std::string_view key) const {
    const auto it = file_.metadata().find(std::string(key));
    if (it == file_.metadata().end()) throw Error(file_.path(), fmt::format("metadata has no \"{}\"", key));
    return it->second;
  }

  /// A metadata value as a number; throws naming the key when it is absent or not a number.
  double number(std::string_view key) const {
    const std::string& text = value(key);
    std::size_t used = 0;
    double x = 0;
    try {
      x = std::stod(text, &used);
    } catch (...) {
      used = 0;
    }
    if (used != text.size() || text.empty()) {
      throw Error(file_.path(), fmt::format("metadata \"{}\" is not a number: '{}'", key, text));
    }
    return x;
  }

  /// A metadata value as an integer; throws naming the key when it is absent or not an integer.
  std::int64_t integer(std::string_view key) const {
    const std::string& text = value(key);
    std::size_t used = 0;
    long long x = 0;
    try {
      x = std::stoll(text, &used);
    } catch (...) {
      used = 0;
    }
    if (used != text.size() || text.empty()) {
      throw Error(file_.path(), fmt::format("metadata \"{}\" is not an integer: '{}'", key, text));
    }
    return x;
  }

  /// The saved model's description, its describe().
  const std::string& model_description() const { return value("model"); }

  /// Copies the parameters into `learner`, whose model must be the one saved (same description, layout and
  /// scalar type). Every other tensor must be optimiser or fit state.
  template <class Learner>
  void restore_parameters(Learner& learner) const {
    using T = typename Learner::scalar_type;
    check_model(learner);
    const Layout& layout = learner.model().layout();
    for (const TensorInfo& t : file_.tensors()) {
      if (t.name.rfind("optimizer.", 0) == 0 || t.name.rfind("fit.", 0) == 0) continue;
      if (!layout.contains(t.name)) {
        throw Error(path(), fmt::format("tensor \"{}\" is not a block of model {}", t.name, learner.model().describe()));
      }
    }
    std::vector<T> host(static_cast<std::size_t>(layout.size()));
    for (const ParamBlock& b : layout.blocks()) {
      const auto shape = detail::block_shape(b);
      detail::row_major_to_block<T>(file_.values<T>(b.name, &shape), b, host);
    }
    learner.set_parameters(host);
  }

  /// Parameters, optimiser state and update count: what a resumed fit needs besides fit_state().
  template <class Learner>
  void restore_training_state(Learner& learner) const {
    using T = typename Learner::scalar_type;
    using Backend = typename Learner::backend_type;
    using Optimizer = typename Learner::optimizer_type;
    restore_parameters(learner);
    if (value("optimizer") != detail::optimizer_name<Optimizer>() ||
        value("optimizer_state") != detail::state_names_text<Optimizer>()) {
      throw Error(path(), fmt::format("checkpoint was trained with optimizer {} (state {}), the learner uses {}",
                                      value("optimizer"), value("optimizer_state"),
                                      detail::optimizer_name<Optimizer>()));
    }
    auto& state = learner.training_state();
    std::vector<T> host(static_cast<std::size_t>(learner.model().layout().size()));
    state.for_each_saved_vector([&](const std::string& prefix, FlatParams<T, Backend>& vector) {
      if (prefix.empty()) return;  // the parameters, restored above
      for (const ParamBlock& b : vector.layout().blocks()) {
        const auto shape = detail::block_shape(b);
        detail::row_major_to_block<T>(file_.values<T>(prefix + b.name, &shape), b, host);
      }
      Backend::copy_from_host(learner.backend_context(), host.data(), vector.view());
    });
    const std::int64_t updates = integer("updates");
    if (updates < 0) throw Error(path(), "metadata \"updates\" is negative");
    state.set_updates(updates);
  }

  /// Whether the checkpoint holds the position of a fit.
  bool has_fit_state() const { return has("fit.epoch"); }

  /// The saved position of the fit under way, for FitOptions::resume.
  FitState fit_state() const {
    if (!has_fit_state()) throw Error(path(), "the checkpoint holds no fit state (it was saved before any fit)");
    FitState s;
    const auto non_negative = [&](std::string_view key) {
      const std::int64_t v = integer(key);
      if (v < 0) throw Error(path(), fmt::format("metadata \"{}\" is negative", key));
      return v;
    };
    s.fit_index = static_cast<std::uint64_t>(non_negative("fit.fit_index"));
    s.epoch = static_cast<int>(non_negative("fit.epoch"));
    s.next_batch = non_negative("fit.next_batch");
    s.steps = non_negative("fit.steps");
    s.meta_cursor = non_negative("fit.meta_cursor");
    for (std::int64_t i : file_.values<std::int64_t>("fit.order")) s.order.push_back(i);
    for (std::int64_t i : file_.values<std::int64_t>("fit.meta_order")) s.meta_order.push_back(i);
    s.order_rng.set_state(rng_state("fit.order_rng"));
    s.meta_rng.set_state(rng_state("fit.meta_rng"));
    return s;
  }

 private:
  template <class Learner>
  void check_model(const Learner& learner) const {
    using T = typename Learner::scalar_type;
    if (model_description() != learner.model().describe()) {
      throw Error(path(), fmt::format("checkpoint holds model {}, the learner's is {}", model_description(),
                                      learner.model().describe()));
    }
    if (value("scalar") != dtype_name(dtype_of<T>())) {
      throw Error(path(), fmt::format("checkpoint holds {} parameters, the learner uses {}", value("scalar"),
                                      dtype_name(dtype_of<T>())));
    }
  }

  RngState rng_state(std::string_view name) const {
    const std::vector<std::int64_t> shape{6};
    const auto w = file_.values<std::uint64_t>(name, &shape);
    if (w[5] > 1) throw Error(path(), fmt::format("tensor \"{}\" is not a generator state", name));
    RngState s;
    for (std::size_t i = 0; i < 4; ++i) s.words[i] = w[i];
    s.spare_normal = std::bit_cast<double>(w[4]);
    s.has_spare_normal = w[5] == 1;
    if (s.words[0] == 0 && s.words[1] == 0 && s.words[2] == 0 && s.words[3] == 0) {
      throw Error(path(), fmt::format("tensor \"{}\" is an all-zero generator state", name));
    }
    return s;
  }

  SafetensorsFile file_;
};

/// A callback that saves a checkpoint every `every_steps` steps (0: never) and at the end of every epoch.
template <class Learner>
class SaveCheckpoints {
 public:
  /// Saves `learner` to `path`, overwritten each time, with `metadata` added to every checkpoint.
  SaveCheckpoints(Learner& learner, std::string path, std::int64_t every_steps = 0,
                  std::map<std::string, std::string> metadata = {})
      : learner_(&learner), path_(std::move(path)), every_(every_steps), metadata_(std::move(metadata)) {}

  /// The name that a stop reason cites.
  std::string_view name() const { return "SaveCheckpoints"; }

  /// Saves every `every_steps` steps.
  void on_step(const StepEvent& e) {
    if (every_ > 0 && e.step % every_ == 0) save(e.step);
  }
  /// Saves at the end of the epoch.
  void on_epoch_end(const EpochEvent& e) { save(e.step); }

  /// The number of checkpoints saved.
  std::int64_t saved() const { return saved_; }
  /// The fit's step at the last save (the last good checkpoint), or -1 before the first.
  std::int64_t last_saved_step() const { return last_step_; }
  /// The path it saves to.
  const std::string& path() const { return path_; }
  /// The metadata added to each checkpoint, which may change between saves.
  std::map<std::string, std::string>& metadata() { return metadata_; }

 private:
  void save(std::int64_t step) {
    save_checkpoint(path_, *learner_, metadata_);
    ++saved_;
    last_step_ = step;
  }

  Learner* learner_;
  std::string path_;
  std::int64_t every_;
  std::map<std::string, std::string> metadata_;
  std::int64_t saved_ = 0;
  std::int64_t last_step_ = -1;
};

}  // namespace metarm
