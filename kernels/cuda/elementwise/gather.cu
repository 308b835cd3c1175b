// Row movement: embedding lookup (table rows -> activations), gather_rows (e.g. the
// last token of each sequence before the LM head), and store_kv (new K/V rows into
// their pool slots). Same-dtype rows are copied in 16-byte vectors where the row
// allows; an out-of-range index writes a zero row (gathers) or is skipped (store_kv).
#include "kernels/cuda/common/cuda_utils.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace radix::cuda {
namespace {

constexpr int kThreads = 256;

// dst row i = src row index[i] (or zeros if index[i] is outside [0, src_rows)).
// Rows are `row_units` units of U (U = 16-, 4- or 1-byte words).
template <typename U>
__global__ void __launch_bounds__(kThreads)
    gather_kernel(U* __restrict__ dst, const U* __restrict__ src, const int32_t* __restrict__ index,
                  int64_t src_rows, int64_t row_units) {
  const int64_t i = blockIdx.x;
  const int64_t r = index[i];
  const bool ok = r >= 0 && r < src_rows;
  for (int64_t c = threadIdx.x; c < row_units; c += kThreads) {
    dst[i * row_units + c] = ok ? src[r * row_units + c] : U{};
  }
}

// dst row index[i] = src row i, for two tensor pairs at once (K and V).
template <typename U>
__global__ void __launch_bounds__(kThreads)
    scatter2_kernel(U* __restrict__ dst0, U* __restrict__ dst1, const U* __restrict__ src0,
                    const U* __restrict__ src1, const int32_t* __restrict__ index, int64_t dst_rows,
                    int64_t row_units) {
  const int64_t i = blockIdx.x;
  const int64_t r = index[i];
  if (r < 0 || r >= dst_rows) return;
  for (int64_t c = threadIdx.x; c < row_units; c += kThreads) {
    dst0[r * row_units + c] = src0[i * row_units + c];
    dst1[r * row_units + c] = src1[i * row_units + c];
  }
}

// Converting embedding: out [T, H] of To from table [V, H] of Ti.
template <typename To, typename Ti>
__global__ void __launch_bounds__(kThreads)
    embedding_convert_kernel(To* __restrict__ out, const Ti* __restrict__ table,
                             const int32_t* __restrict__ ids, int64_t vocab, int64_t h) {
  const int64_t i = blockIdx.x;
  const int64_t r = ids[i];
  const bool ok = r >= 0 && r < vocab;
  for (int64_t c = threadIdx.x; c < h; c += kThreads) {
    out[i * h + c] = from_f32<To>(ok ? to_f32(table[r * h + c]) : 0.0f);
  }
}

struct alignas(16) U16 {
  uint4 v;
};

// Picks the widest word that divides the row and the base pointers.
int word_bytes(int64_t row_bytes, std::initializer_list<const void*> ptrs) {
  for (int w : {16, 4}) {
    bool ok = row_bytes % w == 0;
    for (const void* p : ptrs) ok = ok && reinterpret_cast<uintptr_t>(p) % w == 0;
    if (ok) return w;
  }
  return 1;
}

Status gather_bytes(const OpContext& ctx, const char* op, void* dst, const void* src,
                    const Tensor& index, int64_t src_rows, int64_t row_bytes) {
  const int64_t n = index.numel();
  if (n == 0 || row_bytes == 0) return Status::ok();
  auto stream = static_cast<cudaStream_t>(ctx.stream);
  const auto* idx = index.data_as<const int32_t>();
  const int w = word_bytes(row_bytes, {dst, src});
  if (w == 16) {
    gather_kernel<U16><<<static_cast<unsigned>(n), kThreads, 0, stream>>>(
        static_cast<U16*>(dst), static_cast<const U16*>(src), idx, src_rows, row_bytes / 16);
  } else if (w == 4) {
    gather_kernel<uint32_t><<<static_cast<unsigned>(n), kThreads, 0, stream>>>(
        static_cast<uint32_t*>(dst), static_cast<const uint32_t*>(src), idx, src_rows,
        row_bytes / 4);
  } else {
    gather_kernel<uint8_t><<<static_cast<unsigned>(n), kThreads, 0, stream>>>(
        static_cast<uint8_t*>(dst), static_cast<const uint8_t*>(src), idx, src_rows, row_bytes);
  }
  return check_launch(op);
}

}  // namespace

Status embedding(const OpContext& ctx, const Tensor& out, const Tensor& ids, const Tensor& table) {
  const int64_t vocab = table.size(0), h = table.size(1);
  if (out.dtype() == table.dtype()) {
    return gather_bytes(ctx, "embedding", out.data(), table.data(), ids, vocab,
                        h * static_cast<int64_t>(dtype_size(table.dtype())));
  }
  const int64_t n = ids.numel();
  if (n == 0) return Status::ok();
  auto stream = static_cast<cudaStream_t>(ctx.stream);
  return dispatch_float(out.dtype(), "embedding", [&](auto ot) -> Status {
    using To = decltype(ot);
    return dispatch_float(table.dtype(), "embedding", [&](auto it) -> Status {
      using Ti = decltype(it);
      embedding_convert_kernel<To, Ti><<<static_cast<unsigned>(n), kThreads, 0, stream>>>(
          out.data_as<To>(), table.data_as<const Ti>(), ids.data_as<const int32_t>(), vocab, h);
      return check_launch("embedding");
    });
  });
}

Status gather_rows(const OpContext& ctx, const Tensor& out, const Tensor& x, const Tensor& index) {
  const int64_t rows = x.size(0);
  const int64_t row_bytes = rows == 0 ? 0 : static_cast<int64_t>(x.nbytes()) / rows;
  if (rows == 0 && index.numel() > 0) return invalid_argument("gather_rows: x has no rows");
  return gather_bytes(ctx, "gather_rows", out.data(), x.data(), index, rows, row_bytes);
}

namespace {
__global__ void take_pending_tokens_kernel(int32_t* ids, const int32_t* src, const int32_t* prev, int64_t n,
                                           int64_t m) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const int32_t s = src[i];
  if (s >= 0 && s < m) ids[i] = max(prev[s], 0);
}
}  // namespace

Status take_pending_tokens(const OpContext& ctx, const Tensor& ids, const Tensor& src, const Tensor& prev) {
  const int64_t n = ids.numel();
  if (n == 0) return Status::ok();
  const int64_t blocks = (n + 255) / 256;
  take_pending_tokens_kernel<<<static_cast<unsigned>(blocks), 256, 0, static_cast<cudaStream_t>(ctx.stream)>>>(
      ids.data_as<int32_t>(), src.data_as<const int32_t>(), prev.data_as<const int32_t>(), n, prev.numel());
  return cuda_status(cudaGetLastError(), "take_pending_tokens");
}

Status store_kv(const OpContext& ctx, const Tensor& k_cache, const Tensor& v_cache, const Tensor& k,
                const Tensor& v, const Tensor& slots) {
  if (k.dtype() != k_cache.dtype() || v.dtype() != v_cache.dtype()) {
    return unimplemented(std::string("store_kv: converting ") + dtype_name(k.dtype()) + " into a " +
                         dtype_name(k_cache.dtype()) + " cache is not implemented on CUDA");
  }
  const int64_t n = slots.numel();
  const int64_t row_bytes = k.size(1) * k.size(2) * static_cast<int64_t>(dtype_size(k.dtype()));
  if (n == 0 || row_bytes == 0) return Status::ok();
  auto stream = static_cast<cudaStream_t>(ctx.stream);
  const auto* idx = slots.data_as<const int32_t>();
  const int64_t dst_rows = k_cache.size(0);
  const int w = word_bytes(row_bytes, {k_cache.data(), v_cache.data(), k.data(), v.data()});
  if (w == 16) {
    scatter2_kernel<U16><<<static_cast<unsigned>(n), kThreads, 0, stream>>>(
        k_cache.data_as<U16>(), v_cache.data_as<U16>(), k.data_as<const U16>(),
        v.data_as<const U16>(), idx, dst_rows, row_bytes / 16);
  } else if (w == 4) {
    scatter2_kernel<uint32_t><<<static_cast<unsigned>(n), kThreads, 0, stream>>>(
        k_cache.data_as<uint32_t>(), v_cache.data_as<uint32_t>(), k.data_as<const uint32_t>(),
        v.data_as<const uint32_t>(), idx, dst_rows, row_bytes / 4);
  } else {
    scatter2_kernel<uint8_t><<<static_cast<unsigned>(n), kThreads, 0, stream>>>(
        k_cache.data_as<uint8_t>(), v_cache.data_as<uint8_t>(), k.data_as<const uint8_t>(),
        v.data_as<const uint8_t>(), idx, dst_rows, row_bytes);
  }
  return check_launch("store_kv");
}

}  // namespace radix::cuda
