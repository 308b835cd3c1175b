// cuda::gemm: the ops entry for dense projections; the work (plan cache, cuBLASLt call)
// lives in CudaBackend::matmul, which owns the handle and workspace.
#include "kernels/cuda/backend.h"
#include "kernels/cuda/cuda_ops.h"

namespace radix::cuda {

Status gemm(const OpContext& ctx, const Tensor& out, const Tensor& a, const Tensor& w,
            const Tensor* bias) {
  if (ctx.cuda == nullptr) return invalid_argument("gemm: OpContext has no CudaBackend");
  return ctx.cuda->matmul(out, a, w, bias, ctx.stream);
}

}  // namespace radix::cuda
