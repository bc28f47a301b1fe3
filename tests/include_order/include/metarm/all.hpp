// SPDX-License-Identifier: Apache-2.0
// Umbrella header: exempt from the order, it may include every folder.
#pragma once

#include "metarm/core/base.hpp"
#include "metarm/learner/fit.hpp"
#include "metarm/model/net.hpp"
#include "metarm/model/upward.hpp"
