// The single translation unit nvcc compiles into dev/quantspec/kernels/quantspec.fatbin.
// One unit (rather than one fatbin per file) keeps the image to one cuModuleLoadData call.
#include "elementwise.cuh"
#include "gemv.cuh"
#include "gemv_tc.cuh"
#include "attention.cuh"
#include "quantkv.cuh"
#include "prefill.cuh"
#include "passrows.cuh"
#include "q4gemv.cuh"
#include "quantkv_mma.cuh"
#include "round.cuh"
#include "sampling.cuh"
