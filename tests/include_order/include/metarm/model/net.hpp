// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <vector>

#include "metarm/core/base.hpp"
