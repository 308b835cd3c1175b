// Device building blocks shared by the tensor-core and weight-streaming kernels:
// the bf16 m16n8k16 MMA (attention, gemv_mma) and the 16-byte streaming load that
// bypasses L1 (weights read once: gemv, gemv_mma).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace radix::cuda {

// D[16x8] += A[16x16] (row) * B[16x8] (col), bf16 in, f32 accumulate. Thread (g, t) =
// (lane / 4, lane % 4) holds A (g, 2t..2t+1), (g+8, 2t..), (g, 2t+8..), (g+8, 2t+8..)
// in a[0..3]; B (2t..2t+1, g), (2t+8..2t+9, g) in b[0..1]; D (g, 2t..2t+1) in d[0..1]
// and (g+8, 2t..2t+1) in d[2..3].
__device__ __forceinline__ void mma_bf16_16816(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// 16 bytes from global memory that is read once: not cached in L1.
__device__ __forceinline__ uint4 load_stream(const uint4* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

}  // namespace radix::cuda
