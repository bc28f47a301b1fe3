// SPDX-License-Identifier: Apache-2.0
// Whether a GEMM operand is used as stored or transposed.
#pragma once

namespace metarm {

enum class Trans : bool { no = false, yes = true };

}  // namespace metarm
