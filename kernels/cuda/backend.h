// CudaBackend: the per-device state CUDA ops need beyond their tensors — a cuBLASLt
// handle with its workspace and a cache of matmul plans per (M, N, K, dtype, bias), a
// scratch workspace for split-KV attention partials and the counters of persistent
// kernels. One per device, owned by the
// model runner and passed to ops through OpContext::cuda. Not thread-safe: the engine
// thread owns it. Also RAII wrappers for streams and events. This header includes no
// CUDA headers, so any layer may hold these objects.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "core/buffer.h"
#include "core/status.h"
#include "core/tensor.h"

namespace radix {

struct CudaBackendOptions {
  size_t gemm_workspace_bytes = size_t{32} << 20;       // cuBLASLt scratch
  size_t attention_workspace_bytes = size_t{64} << 20;  // split-KV partial outputs
};

class CudaBackend {
 public:
  static Result<std::unique_ptr<CudaBackend>> create(int device,
                                                     const CudaBackendOptions& options = {});
  ~CudaBackend();
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  int device() const { return device_; }
  int num_sms() const { return num_sms_; }
  size_t max_shared_memory_per_block() const { return max_smem_per_block_; }

  // out[M, N] = a[M, K] @ w[N, K]^T (+ bias[N]) through cuBLASLt, f32 accumulation.
  // a, w, out (and bias) share one dtype: bf16, f16 or f32. `stream` is a cudaStream_t.
  // accumulate: out += a @ w^T (beta = 1, one rounding; no bias).
  Status matmul(const Tensor& out, const Tensor& a, const Tensor& w, const Tensor* bias,
                void* stream, bool accumulate = false);

  // Scratch for attention's split-KV partials; fixed size, so captured graphs keep
  // pointing at the same memory.
  void* attention_workspace() const { return attention_ws_.data(); }
  size_t attention_workspace_bytes() const { return attention_ws_.size(); }

  // 64-bit counters, zero at creation, for the kernels that synchronize CTAs within one
  // launch (the decode chain's phase counters; decode_chain.h says what a launch leaves
  // in them). One launch at a time uses them (the engine thread's stream).
  static constexpr size_t kSyncCounters = 8;
  unsigned long long* sync_counters() const { return static_cast<unsigned long long*>(sync_counters_.data()); }

  size_t cached_matmul_plans() const;

 private:
  struct Impl;  // cuBLASLt handle and plan cache (backend.cpp)
  CudaBackend() = default;

  int device_ = 0;
  int num_sms_ = 0;
  size_t max_smem_per_block_ = 0;
  Buffer gemm_ws_;
  Buffer attention_ws_;
  Buffer sync_counters_;
  std::unique_ptr<Impl> impl_;
};

// RAII cudaStream_t (non-blocking with respect to the legacy default stream).
class CudaStream {
 public:
  static Result<CudaStream> create();
  CudaStream() = default;
  ~CudaStream();
  CudaStream(CudaStream&& o) noexcept : stream_(o.stream_) { o.stream_ = nullptr; }
  CudaStream& operator=(CudaStream&& o) noexcept;
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;

  void* get() const { return stream_; }  // cudaStream_t
  Status synchronize() const;

 private:
  void* stream_ = nullptr;
};

// RAII cudaEvent_t (timing enabled, so it can measure elapsed time).
class CudaEvent {
 public:
  static Result<CudaEvent> create();
  CudaEvent() = default;
  ~CudaEvent();
  CudaEvent(CudaEvent&& o) noexcept : event_(o.event_) { o.event_ = nullptr; }
  CudaEvent& operator=(CudaEvent&& o) noexcept;
  CudaEvent(const CudaEvent&) = delete;
  CudaEvent& operator=(const CudaEvent&) = delete;

  void* get() const { return event_; }  // cudaEvent_t
  Status record(void* stream) const;
  Status synchronize() const;
  // Milliseconds from `start` to this event (both recorded and complete).
  Result<float> elapsed_ms_since(const CudaEvent& start) const;

 private:
  void* event_ = nullptr;
};

// A captured CUDA graph, instantiated and ready to launch (RAII over cudaGraphExec_t).
// capture() records every kernel `body` enqueues on `stream` (which must not be the
// legacy default stream) without running them; body must not synchronize or allocate.
class CudaGraph {
 public:
  static Result<CudaGraph> capture(void* stream, const std::function<Status()>& body);
  CudaGraph() = default;
  ~CudaGraph();
  CudaGraph(CudaGraph&& o) noexcept : exec_(o.exec_) { o.exec_ = nullptr; }
  CudaGraph& operator=(CudaGraph&& o) noexcept;
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  bool valid() const { return exec_ != nullptr; }
  Status launch(void* stream) const;

 private:
  void* exec_ = nullptr;  // cudaGraphExec_t
};

}  // namespace radix
