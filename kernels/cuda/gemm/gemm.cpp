// cuda::gemm: the ops entry for dense projections. Decode-sized GEMVs (M <= 4) go to our
// own kernel (gemv.cu); everything else to CudaBackend::matmul (plan cache, cuBLASLt
// call), which owns the handle and workspace.
#include "kernels/cuda/backend.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/gemm/gemv.h"

namespace radix::cuda {

Status gemm(const OpContext& ctx, const Tensor& out, const Tensor& a, const Tensor& w,
            const Tensor* bias) {
  if (ctx.cuda == nullptr) return invalid_argument("gemm: OpContext has no CudaBackend");
  if (gemv_applies(out, a, w, bias)) return gemv(out, a, w, bias, ctx.stream);
  return ctx.cuda->matmul(out, a, w, bias, ctx.stream);
}

}  // namespace radix::cuda
