// SPDX-License-Identifier: Apache-2.0
// The deliberate violation: model/ is above learner/ in architecture.md, so it may not include it.
#pragma once

#include "metarm/learner/fit.hpp"
#include "metarm/model/net.hpp"
