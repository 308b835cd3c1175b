// CudaBackend: cuBLASLt handle, matmul plan cache, workspaces; stream/event RAII.
// matmul maps our row-major out[M, N] = a[M, K] @ w[N, K]^T onto cuBLASLt's
// column-major D[N, M] = op(A) @ B with A = w viewed as [K, N] (transposed), B = a
// viewed as [K, M]; the bias epilogue adds bias[N] along D's rows.
#include "kernels/cuda/backend.h"

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "kernels/cuda/common/env_switch.h"

namespace radix {
namespace {

Status cuda_ok(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return Status::ok();
  return internal_error(std::string(what) + ": " + cudaGetErrorString(err));
}

Status cublas_ok(cublasStatus_t st, const char* what) {
  if (st == CUBLAS_STATUS_SUCCESS) return Status::ok();
  return internal_error(std::string(what) + ": " + cublasLtGetStatusName(st) + " (" +
                        cublasLtGetStatusString(st) + ")");
}

Result<cudaDataType_t> cuda_type(DType t) {
  switch (t) {
    case DType::kBF16:
      return CUDA_R_16BF;
    case DType::kF16:
      return CUDA_R_16F;
    case DType::kF32:
      return CUDA_R_32F;
    default:
      return unimplemented(std::string("gemm: no cuBLASLt path for ") + dtype_name(t));
  }
}

// Largest power of two (<= 256) dividing the address: cuBLASLt picks kernels by it.
uint32_t alignment_of(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  uint32_t al = 256;
  while (al > 1 && (a % al) != 0) al >>= 1;
  return al;
}

// Owning wrappers for the cuBLASLt descriptor handles.
struct MatmulDesc {
  cublasLtMatmulDesc_t h = nullptr;
  ~MatmulDesc() {
    if (h) cublasLtMatmulDescDestroy(h);
  }
};
struct Layout {
  cublasLtMatrixLayout_t h = nullptr;
  ~Layout() {
    if (h) cublasLtMatrixLayoutDestroy(h);
  }
};
struct Preference {
  cublasLtMatmulPreference_t h = nullptr;
  ~Preference() {
    if (h) cublasLtMatmulPreferenceDestroy(h);
  }
};

// (M, N, K, input dtype, has_bias, min alignment of the pointers, output dtype)
using PlanKey = std::tuple<int64_t, int64_t, int64_t, int, bool, uint32_t, int>;

struct MatmulPlan {
  MatmulDesc desc;
  Layout a, b, c;  // A = w, B = a, C = D = out (cuBLASLt names)
  cublasLtMatmulAlgo_t algo{};
};

}  // namespace

struct CudaBackend::Impl {
  cublasLtHandle_t handle = nullptr;
  std::map<PlanKey, std::unique_ptr<MatmulPlan>> plans;
  ~Impl() {
    plans.clear();
    if (handle) cublasLtDestroy(handle);
  }

  // `time_algo` (may be empty) returns the milliseconds one candidate takes on the real
  // operands, or < 0 when it cannot run; with it, small-M shapes (decode GEMVs, whose
  // first heuristic is often not the fastest) try up to kTuneCandidates algorithms.
  static constexpr int kTuneCandidates = 8;
  static constexpr int64_t kTuneMaxM = 16;
  MatmulPlan* cached(const PlanKey& key) const {
    auto it = plans.find(key);
    return it == plans.end() ? nullptr : it->second.get();
  }

  // Makes and caches the plan for a shape that has none yet.
  Result<MatmulPlan*> plan(const PlanKey& key, size_t workspace_bytes,
                           const std::function<float(const MatmulPlan&, const cublasLtMatmulAlgo_t&)>& time_algo) {
    const auto [m, n, k, dt, has_bias, align, out_dt] = key;
    RADIX_ASSIGN_OR_RETURN(cudaDataType_t type, cuda_type(static_cast<DType>(dt)));
    RADIX_ASSIGN_OR_RETURN(cudaDataType_t out_type, cuda_type(static_cast<DType>(out_dt)));
    auto p = std::make_unique<MatmulPlan>();
    RADIX_RETURN_IF_ERROR(
        cublas_ok(cublasLtMatmulDescCreate(&p->desc.h, CUBLAS_COMPUTE_32F, CUDA_R_32F),
                  "cublasLtMatmulDescCreate"));
    const cublasOperation_t trans_a = CUBLAS_OP_T, trans_b = CUBLAS_OP_N;
    RADIX_RETURN_IF_ERROR(
        cublas_ok(cublasLtMatmulDescSetAttribute(p->desc.h, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a,
                                                 sizeof(trans_a)),
                  "set TRANSA"));
    RADIX_RETURN_IF_ERROR(
        cublas_ok(cublasLtMatmulDescSetAttribute(p->desc.h, CUBLASLT_MATMUL_DESC_TRANSB, &trans_b,
                                                 sizeof(trans_b)),
                  "set TRANSB"));
    if (has_bias) {
      const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
      RADIX_RETURN_IF_ERROR(
          cublas_ok(cublasLtMatmulDescSetAttribute(p->desc.h, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi,
                                                   sizeof(epi)),
                    "set EPILOGUE"));
      RADIX_RETURN_IF_ERROR(
          cublas_ok(cublasLtMatmulDescSetAttribute(p->desc.h, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE,
                                                   &type, sizeof(type)),
                    "set BIAS_DATA_TYPE"));
    }
    RADIX_RETURN_IF_ERROR(
        cublas_ok(cublasLtMatrixLayoutCreate(&p->a.h, type, k, n, k), "layout A"));
    RADIX_RETURN_IF_ERROR(
        cublas_ok(cublasLtMatrixLayoutCreate(&p->b.h, type, k, m, k), "layout B"));
    RADIX_RETURN_IF_ERROR(
        cublas_ok(cublasLtMatrixLayoutCreate(&p->c.h, out_type, n, m, n), "layout C"));

    Preference pref;
    RADIX_RETURN_IF_ERROR(cublas_ok(cublasLtMatmulPreferenceCreate(&pref.h), "preference"));
    const uint64_t ws = workspace_bytes;
    RADIX_RETURN_IF_ERROR(
        cublas_ok(cublasLtMatmulPreferenceSetAttribute(
                      pref.h, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)),
                  "preference workspace"));
    for (auto attr :
         {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
          CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES}) {
      const uint32_t al = align;
      RADIX_RETURN_IF_ERROR(
          cublas_ok(cublasLtMatmulPreferenceSetAttribute(pref.h, attr, &al, sizeof(al)),
                    "preference alignment"));
    }
    cublasLtMatmulHeuristicResult_t results[kTuneCandidates] = {};
    const bool tune = time_algo && m <= kTuneMaxM;
    int found = 0;
    RADIX_RETURN_IF_ERROR(
        cublas_ok(cublasLtMatmulAlgoGetHeuristic(handle, p->desc.h, p->a.h, p->b.h, p->c.h, p->c.h,
                                                 pref.h, tune ? kTuneCandidates : 1, results, &found),
                  "cublasLtMatmulAlgoGetHeuristic"));
    if (found == 0) {
      return unimplemented("gemm: cuBLASLt has no algorithm for M=" + std::to_string(m) +
                           " N=" + std::to_string(n) + " K=" + std::to_string(k));
    }
    int best = 0;
    if (tune && found > 1) {
      float best_ms = -1.0f;
      for (int i = 0; i < found; ++i) {
        const float ms = time_algo(*p, results[i].algo);
        if (ms >= 0.0f && (best_ms < 0.0f || ms < best_ms)) {
          best_ms = ms;
          best = i;
        }
      }
    }
    p->algo = results[best].algo;
    MatmulPlan* raw = p.get();
    plans.emplace(key, std::move(p));
    return raw;
  }
};

Result<std::unique_ptr<CudaBackend>> CudaBackend::create(int device,
                                                         const CudaBackendOptions& options) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || device < 0 || device >= count) {
    cudaGetLastError();
    return invalid_argument("CudaBackend: no CUDA device " + std::to_string(device));
  }
  RADIX_RETURN_IF_ERROR(cuda_ok(cudaSetDevice(device), "cudaSetDevice"));
  std::unique_ptr<CudaBackend> b(new CudaBackend());
  b->device_ = device;
  cudaDeviceProp prop{};
  RADIX_RETURN_IF_ERROR(cuda_ok(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties"));
  b->num_sms_ = prop.multiProcessorCount;
  b->max_smem_per_block_ = prop.sharedMemPerBlockOptin;
  b->impl_ = std::make_unique<Impl>();
  RADIX_RETURN_IF_ERROR(cublas_ok(cublasLtCreate(&b->impl_->handle), "cublasLtCreate"));
  RADIX_ASSIGN_OR_RETURN(b->gemm_ws_,
                         Buffer::allocate(Device::cuda(device), options.gemm_workspace_bytes));
  RADIX_ASSIGN_OR_RETURN(b->attention_ws_,
                         Buffer::allocate(Device::cuda(device), options.attention_workspace_bytes));
  RADIX_ASSIGN_OR_RETURN(b->sync_counters_,
                         Buffer::allocate(Device::cuda(device), kSyncCounters * sizeof(unsigned long long)));
  RADIX_RETURN_IF_ERROR(
      cuda_ok(cudaMemset(b->sync_counters_.data(), 0, kSyncCounters * sizeof(unsigned long long)), "cudaMemset"));
  // The memset runs on the legacy stream; our streams do not wait for it.
  RADIX_RETURN_IF_ERROR(cuda_ok(cudaDeviceSynchronize(), "cudaDeviceSynchronize"));
  return b;
}

CudaBackend::~CudaBackend() = default;

size_t CudaBackend::cached_matmul_plans() const {
  return impl_->plans.size();
}

Status CudaBackend::matmul(const Tensor& out, const Tensor& a, const Tensor& w, const Tensor* bias,
                           void* stream, bool accumulate) {
  const int64_t m = a.size(0), k = a.size(1), n = w.size(0);
  if (m == 0 || n == 0) return Status::ok();
  // Same dtype throughout, or low-precision inputs with an f32 output (the lm_head
  // writes f32 logits for the sampler).
  const bool f32_out = out.dtype() == DType::kF32 && a.dtype() != DType::kF32 && !bias;
  if (w.dtype() != a.dtype() || (out.dtype() != a.dtype() && !f32_out) ||
      (bias && bias->dtype() != a.dtype())) {
    return unimplemented("gemm: mixed dtypes (a " + a.to_string() + ", w " + w.to_string() +
                         ", out " + out.to_string() + ") have no cuBLASLt path yet");
  }
  if (k == 0) return invalid_argument("gemm: K = 0");
  if (accumulate && (bias || out.dtype() != a.dtype())) {
    return invalid_argument("gemm: accumulate takes no bias and an out of a's dtype");
  }
  uint32_t align =
      std::min({alignment_of(a.data()), alignment_of(w.data()), alignment_of(out.data())});
  if (bias) align = std::min(align, alignment_of(bias->data()));
  const PlanKey key{m, n, k, static_cast<int>(a.dtype()), bias != nullptr, align,
                    static_cast<int>(out.dtype())};
  auto st = static_cast<cudaStream_t>(stream);
  MatmulPlan* p = impl_->cached(key);
  if (p == nullptr) {
    // A new shape: outside stream capture, candidates are timed on the real operands
    // (2 warm-up runs, then the median of 5).
    cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
    if (cudaStreamIsCapturing(st, &capturing) != cudaSuccess) capturing = cudaStreamCaptureStatusActive;
    std::function<float(const MatmulPlan&, const cublasLtMatmulAlgo_t&)> time_algo;
    if (capturing == cudaStreamCaptureStatusNone && !bias) {
      time_algo = [&](const MatmulPlan& pl, const cublasLtMatmulAlgo_t& algo) -> float {
        const float one = 1.0f, zero = 0.0f;
        auto run = [&] {
          return cublasLtMatmul(impl_->handle, pl.desc.h, &one, w.data(), pl.a.h, a.data(), pl.b.h, &zero,
                                out.data(), pl.c.h, out.data(), pl.c.h, &algo, gemm_ws_.data(), gemm_ws_.size(), st);
        };
        for (int i = 0; i < 2; ++i) {
          if (run() != CUBLAS_STATUS_SUCCESS) return -1.0f;
        }
        auto start = CudaEvent::create(), stop = CudaEvent::create();
        if (!start.is_ok() || !stop.is_ok()) return -1.0f;
        std::vector<float> ms;
        for (int i = 0; i < 5; ++i) {
          if (!start->record(stream).is_ok() || run() != CUBLAS_STATUS_SUCCESS || !stop->record(stream).is_ok() ||
              !stop->synchronize().is_ok()) {
            cudaGetLastError();
            return -1.0f;
          }
          auto t = stop->elapsed_ms_since(*start);
          if (!t.is_ok()) return -1.0f;
          ms.push_back(*t);
        }
        std::nth_element(ms.begin(), ms.begin() + 2, ms.end());
        return ms[2];
      };
    }
    // Timing overwrites out: an accumulating call keeps its addend aside meanwhile.
    Buffer saved;
    if (time_algo && accumulate) {
      const size_t bytes = static_cast<size_t>(out.numel()) * dtype_size(out.dtype());
      RADIX_ASSIGN_OR_RETURN(saved, Buffer::allocate(out.device(), bytes));
      RADIX_RETURN_IF_ERROR(cuda_ok(cudaMemcpyAsync(saved.data(), out.data(), bytes, cudaMemcpyDeviceToDevice, st),
                                    "save gemm addend"));
    }
    RADIX_ASSIGN_OR_RETURN(p, impl_->plan(key, gemm_ws_.size(), time_algo));
    if (saved.data() != nullptr) {
      RADIX_RETURN_IF_ERROR(cuda_ok(cudaMemcpyAsync(out.data(), saved.data(), saved.size(), cudaMemcpyDeviceToDevice, st),
                                    "restore gemm addend"));
      RADIX_RETURN_IF_ERROR(cuda_ok(cudaStreamSynchronize(st), "restore gemm addend"));
    }
  }
  if (bias) {
    const void* ptr = bias->data();
    RADIX_RETURN_IF_ERROR(
        cublas_ok(cublasLtMatmulDescSetAttribute(p->desc.h, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &ptr,
                                                 sizeof(ptr)),
                  "set BIAS_POINTER"));
  }
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  return cublas_ok(
      cublasLtMatmul(impl_->handle, p->desc.h, &alpha, w.data(), p->a.h, a.data(), p->b.h, &beta,
                     out.data(), p->c.h, out.data(), p->c.h, &p->algo, gemm_ws_.data(),
                     gemm_ws_.size(), st),
      "cublasLtMatmul");
}

// ---- process-wide kernel switches (cuda_utils.cuh): off unless NAME=1 at first use (decode PDL: on unless 0) ----
namespace cuda {
namespace {
EnvSwitch& pdl_switch() {
  static EnvSwitch s("RADIX_PDL", "1");
  return s;
}
EnvSwitch& decode_pdl_switch() {
  static EnvSwitch s("RADIX_DECODE_PDL", "0", EnvSwitch::DefaultOn{});
  return s;
}
EnvSwitch& carveout_switch() {
  static EnvSwitch s("RADIX_CARVEOUT", "1");
  return s;
}
}  // namespace

bool pdl_enabled() { return pdl_switch().get(); }
void set_pdl_enabled(bool on) { pdl_switch().set(on); }
bool decode_pdl_enabled() { return decode_pdl_switch().get(); }
void set_decode_pdl_enabled(bool on) { decode_pdl_switch().set(on); }
bool max_shared_carveout_enabled() { return carveout_switch().get(); }
void set_max_shared_carveout_enabled(bool on) { carveout_switch().set(on); }

void prefer_max_shared(const void* kernel) {
  // Every launch_pdl launch comes here: with the switch off and no kernel ever changed
  // (the default) there is nothing to do and no lock to take.
  static std::atomic<bool> ever_set{false};
  const bool on = max_shared_carveout_enabled();
  if (!on && !ever_set.load(std::memory_order_relaxed)) return;
  ever_set.store(true, std::memory_order_relaxed);
  static std::mutex mu;
  static std::unordered_map<const void*, int> applied;  // kernel -> carveout last set
  const int want = on ? static_cast<int>(cudaSharedmemCarveoutMaxShared) : static_cast<int>(cudaSharedmemCarveoutDefault);
  std::lock_guard<std::mutex> lock(mu);
  auto [it, inserted] = applied.try_emplace(kernel, static_cast<int>(cudaSharedmemCarveoutDefault));
  if (it->second == want) return;
  if (cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout, want) == cudaSuccess) {
    it->second = want;
  } else {
    cudaGetLastError();  // a hint only: the launch goes ahead either way
  }
}
}  // namespace cuda

// ---- CudaStream ----
Result<CudaStream> CudaStream::create() {
  CudaStream s;
  cudaStream_t h = nullptr;
  RADIX_RETURN_IF_ERROR(
      cuda_ok(cudaStreamCreateWithFlags(&h, cudaStreamNonBlocking), "cudaStreamCreate"));
  s.stream_ = h;
  return s;
}
CudaStream::~CudaStream() {
  if (stream_) cudaStreamDestroy(static_cast<cudaStream_t>(stream_));
}
CudaStream& CudaStream::operator=(CudaStream&& o) noexcept {
  if (this != &o) {
    if (stream_) cudaStreamDestroy(static_cast<cudaStream_t>(stream_));
    stream_ = o.stream_;
    o.stream_ = nullptr;
  }
  return *this;
}
Status CudaStream::synchronize() const {
  return cuda_ok(cudaStreamSynchronize(static_cast<cudaStream_t>(stream_)),
                 "cudaStreamSynchronize");
}

// ---- CudaEvent ----
Result<CudaEvent> CudaEvent::create() {
  CudaEvent e;
  cudaEvent_t h = nullptr;
  RADIX_RETURN_IF_ERROR(cuda_ok(cudaEventCreate(&h), "cudaEventCreate"));
  e.event_ = h;
  return e;
}
CudaEvent::~CudaEvent() {
  if (event_) cudaEventDestroy(static_cast<cudaEvent_t>(event_));
}
CudaEvent& CudaEvent::operator=(CudaEvent&& o) noexcept {
  if (this != &o) {
    if (event_) cudaEventDestroy(static_cast<cudaEvent_t>(event_));
    event_ = o.event_;
    o.event_ = nullptr;
  }
  return *this;
}
Status CudaEvent::record(void* stream) const {
  return cuda_ok(
      cudaEventRecord(static_cast<cudaEvent_t>(event_), static_cast<cudaStream_t>(stream)),
      "cudaEventRecord");
}
Status CudaEvent::synchronize() const {
  return cuda_ok(cudaEventSynchronize(static_cast<cudaEvent_t>(event_)), "cudaEventSynchronize");
}
Result<float> CudaEvent::elapsed_ms_since(const CudaEvent& start) const {
  float ms = 0;
  RADIX_RETURN_IF_ERROR(cuda_ok(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start.event_),
                                                     static_cast<cudaEvent_t>(event_)),
                                "cudaEventElapsedTime"));
  return ms;
}

// ---- CudaGraph ----
Result<CudaGraph> CudaGraph::capture(void* stream, const std::function<Status()>& body) {
  auto st = static_cast<cudaStream_t>(stream);
  if (st == nullptr) return invalid_argument("CudaGraph::capture: needs a created stream, not the default one");
  RADIX_RETURN_IF_ERROR(cuda_ok(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture"));
  const Status body_status = body();
  cudaGraph_t graph = nullptr;
  const cudaError_t end = cudaStreamEndCapture(st, &graph);
  if (!body_status.is_ok()) {
    if (graph) cudaGraphDestroy(graph);
    return body_status.with_context("while capturing a CUDA graph");
  }
  RADIX_RETURN_IF_ERROR(cuda_ok(end, "cudaStreamEndCapture"));
  cudaGraphExec_t exec = nullptr;
  const cudaError_t inst = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  RADIX_RETURN_IF_ERROR(cuda_ok(inst, "cudaGraphInstantiate"));
  CudaGraph g;
  g.exec_ = exec;
  return g;
}
CudaGraph::~CudaGraph() {
  if (exec_) cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec_));
}
CudaGraph& CudaGraph::operator=(CudaGraph&& o) noexcept {
  if (this != &o) {
    if (exec_) cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec_));
    exec_ = o.exec_;
    o.exec_ = nullptr;
  }
  return *this;
}
Status CudaGraph::launch(void* stream) const {
  return cuda_ok(cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec_), static_cast<cudaStream_t>(stream)),
                 "cudaGraphLaunch");
}

}  // namespace radix
