// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "metarm/core/base.hpp"
#include "metarm/model/blocks/block.hpp"
#include "metarm/model/net.hpp"
