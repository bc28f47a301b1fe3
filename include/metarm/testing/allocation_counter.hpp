// SPDX-License-Identifier: Apache-2.0
/// \file
/// Counting heap allocations, for checks that a pass allocates nothing once its buffers exist. A program
/// that wants them counted includes count_allocations.hpp in exactly one translation unit; that header
/// replaces the global operator new and points allocation_counter at its count. Without it the count is not
/// available, and checks say so instead of passing.
#pragma once

#include <atomic>
#include <optional>

namespace metarm::testing {

/// The count kept by count_allocations.hpp's operator new; null when that header is not in the program.
inline std::atomic<long>* allocation_counter = nullptr;

/// The number of allocations so far, when a counting operator new is installed.
inline std::optional<long> allocations_so_far() {
  if (allocation_counter == nullptr) return std::nullopt;
  return allocation_counter->load(std::memory_order_relaxed);
}

}  // namespace metarm::testing
