// SPDX-License-Identifier: Apache-2.0
// Replaces the global operator new and delete with versions that count allocations, and registers the
// count in metarm::testing::allocation_counter. Include it in exactly one translation unit of a test
// program (the replacement operators are definitions).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

#include "metarm/testing/allocation_counter.hpp"

namespace metarm::testing::detail {

inline std::atomic<long> allocation_count{0};
inline std::atomic<std::size_t> largest_allocation{0};  // bytes; tests reset it to watch a span of work

inline void* counted_allocation(std::size_t size, std::size_t alignment) {
  allocation_count.fetch_add(1, std::memory_order_relaxed);
  std::size_t seen = largest_allocation.load(std::memory_order_relaxed);
  while (size > seen && !largest_allocation.compare_exchange_weak(seen, size, std::memory_order_relaxed)) {
  }
  if (size == 0) size = 1;
  void* p = alignment > alignof(std::max_align_t)
                ? std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment)
                : std::malloc(size);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

inline const bool registered = [] {
  allocation_counter = &allocation_count;
  return true;
}();

}  // namespace metarm::testing::detail

void* operator new(std::size_t size) { return metarm::testing::detail::counted_allocation(size, 0); }
void* operator new[](std::size_t size) { return metarm::testing::detail::counted_allocation(size, 0); }
void* operator new(std::size_t size, std::align_val_t a) {
  return metarm::testing::detail::counted_allocation(size, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t size, std::align_val_t a) {
  return metarm::testing::detail::counted_allocation(size, static_cast<std::size_t>(a));
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return metarm::testing::detail::counted_allocation(size, 0);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return metarm::testing::detail::counted_allocation(size, 0);
  } catch (...) {
    return nullptr;
  }
}
// The operators above allocate with malloc, so free is the matching release; GCC, seeing only that a pointer
// came from operator new once these are inlined, warns otherwise.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
