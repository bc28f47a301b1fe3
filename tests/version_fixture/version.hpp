// SPDX-License-Identifier: Apache-2.0
// A version header that the version check must reject: its minor number is not the project's, and it has
// no patch number.
#pragma once

#define METARM_VERSION_MAJOR 0
#define METARM_VERSION_MINOR 1
