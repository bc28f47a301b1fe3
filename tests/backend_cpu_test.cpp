// The backend-generic cases (backend_cases.hpp) on the CPU backend.
#define METARM_TEST_BACKEND ::metarm::cpu
#include "backend_cases.hpp"
