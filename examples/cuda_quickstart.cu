// The quickstart on the GPU: the same program, compiled by nvcc with CUDA enabled, where the default backend
// is metarm::cuda. Parameters, gradients and optimiser state live on the device.
#include "quickstart.cpp"
