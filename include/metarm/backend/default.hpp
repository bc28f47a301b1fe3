// The backend a template uses when the program does not name one. Define METARM_DEFAULT_BACKEND before
// including metarm to change it; code can always name a backend type explicitly instead.
#pragma once

#include "metarm/backend/cpu.hpp"

#ifndef METARM_DEFAULT_BACKEND
#define METARM_DEFAULT_BACKEND ::metarm::cpu
#endif

namespace metarm {

using default_backend = METARM_DEFAULT_BACKEND;

}  // namespace metarm
