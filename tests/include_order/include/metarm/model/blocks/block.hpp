// SPDX-License-Identifier: Apache-2.0
// In model/blocks/, so it belongs to model/ and may include model/ and core/.
#pragma once

#include "metarm/core/base.hpp"
#include "metarm/model/net.hpp"
