// SPDX-License-Identifier: Apache-2.0
/// \file
/// Calls the hooks a callback has and skips those it lacks. Hooks that return bool may stop the fit; the
/// learner asks the callback for `name()` and `stop_reason()` (both optional) to record why.
///
/// Hooks: on_fit_begin(const FitBeginEvent&), on_step(const StepEvent&), on_eval(const EvalEvent&),
///        on_epoch_end(const EpochEvent&), on_fit_end(const StopReason&).
#pragma once

#include <string>
#include <type_traits>

#include "metarm/callback/events.hpp"

namespace metarm::detail {

template <class R>
bool as_stop(R&& result) {
  if constexpr (std::is_convertible_v<R, bool>) {
    return static_cast<bool>(result);
  } else {
    return false;
  }
}

#define METARM_DETAIL_HOOK(hook)                                          \
  template <class C, class E>                                             \
  bool call_##hook(C& callback, const E& event) {                         \
    if constexpr (requires { callback.hook(event); }) {                   \
      using R = decltype(callback.hook(event));                           \
      if constexpr (std::is_void_v<R>) {                                  \
        callback.hook(event);                                             \
        return false;                                                     \
      } else {                                                            \
        return as_stop(callback.hook(event));                             \
      }                                                                   \
    } else {                                                              \
      return false;                                                       \
    }                                                                     \
  }

METARM_DETAIL_HOOK(on_fit_begin)
METARM_DETAIL_HOOK(on_step)
METARM_DETAIL_HOOK(on_eval)
METARM_DETAIL_HOOK(on_epoch_end)
METARM_DETAIL_HOOK(on_fit_end)

#undef METARM_DETAIL_HOOK

template <class C>
std::string callback_name(const C& callback, std::size_t position) {
  if constexpr (requires { std::string(callback.name()); }) {
    return std::string(callback.name());
  } else {
    return fmt::format("callback #{}", position + 1);
  }
}

template <class C>
std::string callback_stop_detail(const C& callback) {
  if constexpr (requires { std::string(callback.stop_reason()); }) {
    return std::string(callback.stop_reason());
  } else {
    return {};
  }
}

// Calls `hook` on every callback in order (all of them, even after one asks to stop) and records the first
// that asked.
template <class Invoke, class... Callbacks>
bool dispatch(StopReason& reason, Invoke&& invoke, Callbacks&... callbacks) {
  bool stop = false;
  std::size_t position = 0;
  [[maybe_unused]] auto one = [&](auto& callback) {
    if (invoke(callback) && !stop) {
      stop = true;
      reason.kind = StopReason::Kind::callback;
      reason.source = callback_name(callback, position);
      reason.detail = callback_stop_detail(callback);
    }
    ++position;
  };
  (one(callbacks), ...);
  return stop;
}

}  // namespace metarm::detail
