// SPDX-License-Identifier: Apache-2.0
// The one exception type the library throws, with the place the problem was found kept apart from the
// description so programs can report either.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace metarm {

class Error : public std::runtime_error {
 public:
  // `context` names where the problem was found ("BradleyTerryLoss", "MetaLearner::step", a file:line);
  // `message` says what is wrong, naming the offending argument or field.
  Error(std::string context, std::string message)
      : std::runtime_error(context.empty() ? message : context + ": " + message),
        context_(std::move(context)),
        message_(std::move(message)) {}

  const std::string& context() const noexcept { return context_; }
  const std::string& message() const noexcept { return message_; }

 private:
  std::string context_;
  std::string message_;
};

}  // namespace metarm

// The message expression is evaluated only when the check fails, so passing checks cost no allocation and
// may sit inside training steps.
#define METARM_REQUIRE(condition, context, message)                 \
  do {                                                              \
    if (!(condition)) [[unlikely]] {                                \
      throw ::metarm::Error((context), (message));                  \
    }                                                               \
  } while (false)
