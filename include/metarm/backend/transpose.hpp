// SPDX-License-Identifier: Apache-2.0
/// \file
/// Whether a GEMM operand is used as stored or transposed.
#pragma once

namespace metarm {

/// Whether a GEMM operand is used as stored (no) or transposed (yes).
enum class Trans : bool { no = false, yes = true };

}  // namespace metarm
