#pragma once

#include <vector>

#include "metarm/core/base.hpp"
