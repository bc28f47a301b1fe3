// SPDX-License-Identifier: Apache-2.0
/// \file
/// The one exception type the library throws, with the place the problem was found kept apart from the
/// description so programs can report either.
#pragma once

#include <fmt/core.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace metarm {

/// The exception every failed check of the library throws: where the problem was found and what is wrong,
/// kept as two strings.
class Error : public std::runtime_error {
 public:
  /// Builds the error; what() reads "context: message", or the message alone when the context is empty.
  ///
  /// `context` names where the problem was found ("BradleyTerryLoss", "MetaLearner::step", a "file:line");
  /// `message` says what is wrong, naming the offending argument or field.
  Error(std::string context, std::string message)
      : std::runtime_error(context.empty() ? message : context + ": " + message),
        context_(std::move(context)),
        message_(std::move(message)) {}

  /// Where the problem was found: a class, a member function or a "file:line".
  const std::string& context() const noexcept { return context_; }
  /// What is wrong, naming the offending argument or field.
  const std::string& message() const noexcept { return message_; }

 private:
  std::string context_;
  std::string message_;
};

}  // namespace metarm

/// Throws metarm::Error(context, fmt::format(message_format, args...)) when `condition` is false.
///
/// `message_format` is an fmt format string, checked against the arguments at compile time
/// (`METARM_REQUIRE(n > 0, "Dense", "argument 'outputs' must be > 0, got {}", n)`); a message that is a runtime
/// string goes through `"{}"`. The message is formatted only when the check fails, so passing checks cost no
/// allocation and may sit inside training steps.
#define METARM_REQUIRE(condition, context, message_format, ...)                                   \
  do {                                                                                            \
    if (!(condition)) [[unlikely]] {                                                              \
      throw ::metarm::Error((context), ::fmt::format(message_format __VA_OPT__(, ) __VA_ARGS__)); \
    }                                                                                             \
  } while (false)
