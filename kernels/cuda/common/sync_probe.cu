// cuda::sync_probe: a diagnostic for the decode layer's synchronization structure. One
// persistent CTA of 512 threads per SM streams a Llama-3-8B layer's weights (436 MB in
// 2 KB items, each warp its range of each phase, through the decode chain's 6-slot
// cp.async ring whose cursor crosses every phase and sync) and, between the phases,
// meets its peers as a program says: grid syncs (store, fence, count, poll, stage
// through L2, as decode_chain.cu's boundaries) or cluster syncs (values exchanged
// through distributed shared memory around a cluster barrier), with the loads an
// in-kernel decode attention would make, or chunk by chunk (dataflow). No dot products:
// the weights are consumed by an xor. The point is to compare sync structures (the
// chain's grid syncs, the attention inside, a tensor-parallel split over clusters or
// groups of CTAs, dataflow) on the same stream; bench_kernels_gpu --sync-probe runs
// them, docs/perf.md (session 18) has the numbers. Every wait gives up after 20 ms and
// says so (out[grid]), so a wrong program cannot hang the GPU.
#include <cooperative_groups.h>

#include "kernels/cuda/common/cuda_utils.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace radix::cuda {
namespace {

namespace cg = cooperative_groups;

constexpr int kThreads = 512, kWarps = kThreads / 32;
constexpr int kRing = 6, kVecs = 4, kItemVecs = kVecs * 32;  // 2 KB items
constexpr int kXWords = 6144;      // staged input words (wrapping)
constexpr int kExportWords = 1024;  // per export buffer (two)
constexpr int kSmem = (kRing * kVecs * kThreads) * 16 + (kXWords + 2 * kExportWords) * 4;

struct Args {
  SyncProbeStep steps[kSyncProbeMaxSteps];
  int num_steps;
  int group;                  // kGroup: CTAs per group (consecutive blocks)
  int chunk_stride;           // u64s between chunk counters
  unsigned poll_ns;           // grid / group counter polls: sleep between reads
  int layers;                 // program repetitions in this launch
  int64_t phase_items[8];     // items of stream phase p (phase p: the p-th kStream step)
  int64_t phase_base[8];      // its first item in a layer
  int num_phases;
  int64_t layer_items;        // a layer's items; layer l of this launch at (first_layer + l) % layer_slots
  int first_layer, layer_slots;
  const uint4* w;
  const uint4* kv;            // kLoads: each CTA its own bytes, per layer
  int64_t kv_layer_vecs;
  float* xbuf;                // grid exchange: 2 x 65536 words
  // Counters, all growing by whole launches (epoch): per (layer of the launch, step) 64
  // grid / group counters, then 16 chunk counters chunk_stride apart, then 128 per-CTA
  // (peer) counters.
  unsigned long long* counters;
  unsigned long long epoch;   // launches since the counters were zeroed
  uint32_t* out;
  const double* prefix;               // optional: CTA shares (gridDim.x + 1 ascending, 0 .. 1)
  unsigned long long* trace;          // optional: each CTA's start and end (globaltimer ns)
};

__device__ __forceinline__ unsigned long long now_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

// Spin loops give up after 20 ms (a probe must not hang the GPU): the CTA records it in
// out[gridDim.x] and goes on.
__device__ __forceinline__ bool expired(unsigned long long t0, uint32_t* out) {
  if (now_ns() - t0 < 20000000ull) return false;
  out[gridDim.x] = 1;
  return true;
}

// Reads *counter (acquire) until it reaches target, sleeping sleep_ns between reads, or
// gives up (expired).
__device__ __forceinline__ void poll_until(const unsigned long long* counter, unsigned long long target,
                                           unsigned sleep_ns, uint32_t* out) {
  const unsigned long long t0 = now_ns();
  for (;;) {
    unsigned long long v;
    asm volatile("ld.acquire.gpu.global.u64 %0, [%1];" : "=l"(v) : "l"(counter) : "memory");
    if (v >= target || expired(t0, out)) return;
    __nanosleep(sleep_ns);
  }
}

static_assert(sizeof(Args) <= 4096, "kernel parameters");

struct Cursor {
  int seg, segs;  // (layer, phase) segment
  int64_t it, end;
};

// Each CTA's own counter per (layer, step) after the chunk counters (Flow::kPeers, kLoads with publish).
__device__ __forceinline__ unsigned long long* peer_counters(const Args& a, int layer, int step) {
  return a.counters + 8 * kSyncProbeMaxSteps * 64 + 8 * kSyncProbeMaxSteps * 16 * a.chunk_stride +
         (layer * kSyncProbeMaxSteps + step) * 128;
}

__device__ __forceinline__ void seg_range(const Args& a, int seg, int64_t& i0, int64_t& i1) {
  const int layer = seg / a.num_phases, p = seg % a.num_phases;
  const int64_t base = static_cast<int64_t>((a.first_layer + layer) % a.layer_slots) * a.layer_items + a.phase_base[p];
  const int64_t n = a.phase_items[p];
  if (a.prefix != nullptr) {  // CTA c's share of every phase: [prefix[c], prefix[c + 1]) of it
    const int64_t c0 = static_cast<int64_t>(n * a.prefix[blockIdx.x]), c1 = static_cast<int64_t>(n * a.prefix[blockIdx.x + 1]);
    const int w = threadIdx.x >> 5;
    i0 = base + c0 + (c1 - c0) * w / kWarps;
    i1 = base + c0 + (c1 - c0) * (w + 1) / kWarps;
    return;
  }
  const int64_t warps = static_cast<int64_t>(gridDim.x) * kWarps, g = blockIdx.x * kWarps + (threadIdx.x >> 5);
  i0 = base + n * g / warps;
  i1 = base + n * (g + 1) / warps;
}

__device__ __forceinline__ void advance(const Args& a, Cursor& c) {
  ++c.it;
  while (c.it >= c.end && c.seg + 1 < c.segs) {
    ++c.seg;
    seg_range(a, c.seg, c.it, c.end);
  }
}

__device__ __forceinline__ void issue(const Args& a, Cursor& c, uint4* slot_base, int lane, unsigned long long policy) {
  const bool valid = c.it < c.end;
#pragma unroll
  for (int j = 0; j < kVecs; ++j) {
    const uint4* src = a.w + (valid ? c.it * kItemVecs + j * 32 + lane : 0);
    cp_async_16_policy(slot_base + j * kThreads, src, valid, policy);
  }
  cp_async_commit();
  if (valid) advance(a, c);
}

template <int C>
__global__ void __launch_bounds__(kThreads, 1) sync_probe_kernel(const Args a) {
  extern __shared__ __align__(16) uint4 smem[];
  if (a.trace != nullptr && threadIdx.x == 0) a.trace[2 * blockIdx.x] = now_ns();
  uint4* ring = smem;
  float* x = reinterpret_cast<float*>(smem + kRing * kVecs * kThreads);
  float* exp = x + kXWords;
  const int lane = threadIdx.x & 31;
  const unsigned long long policy = l2_evict_first_policy();
  Cursor cur{0, a.layers * a.num_phases, 0, 0};
  seg_range(a, 0, cur.it, cur.end);
  int issue_slot = 0, slot = 0;
  for (int i = 0; i < kRing - 1; ++i) {
    issue(a, cur, ring + issue_slot * kVecs * kThreads + threadIdx.x, lane, policy);
    issue_slot = issue_slot + 1 == kRing ? 0 : issue_slot + 1;
  }
  __shared__ int flags[64];
  __shared__ int local[64];
  for (int i = threadIdx.x; i < 64; i += kThreads) flags[i] = local[i] = 0;
  __syncthreads();
  uint32_t acc = 0;
  int seg = 0, grid_k = 0, buf = 0, xi = 0;
  for (int layer = 0; layer < a.layers; ++layer) {
    for (int s = 0; s < a.num_steps; ++s) {
      const SyncProbeStep st = a.steps[s];
      if (st.kind == SyncProbeStep::kStream) {
        int64_t i0, i1;
        seg_range(a, seg++, i0, i1);
        // Dataflow by chunks: a publishing phase (P chunks) has each warp store a word,
        // fence and count chunk j's counter after the j-th of P equal parts of its items;
        // an awaiting phase (A chunks of the step before it, possibly of the previous
        // layer) has warp w stage chunk w (512 words through L2) once its counter is full
        // and flag it in shared memory, and each warp wait for chunk j's flag before the
        // j-th of A parts of its items.
        const int pub = st.publish, awt = st.await;
        const SyncProbeStep::Flow flow = st.flow;
        const bool per_cta = flow == SyncProbeStep::kPerCta || flow == SyncProbeStep::kPeers;
        const bool peers = flow == SyncProbeStep::kPeers;
        const int warp = threadIdx.x >> 5;
        const int prev_s = s > 0 ? s - 1 : a.num_steps - 1, prev_layer = s > 0 ? layer : layer - 1;
        // Chunk j's counter at chunk_ctr + j * chunk_stride (after the grid counters).
        unsigned long long* chunk_ctr = a.counters + 8 * kSyncProbeMaxSteps * 64;
        unsigned long long* pub_ctr = chunk_ctr + (layer * kSyncProbeMaxSteps + s) * 16 * a.chunk_stride;
        unsigned long long* awt_ctr = chunk_ctr + (prev_layer * kSyncProbeMaxSteps + prev_s) * 16 * a.chunk_stride;
        // kPerCta: a CTA counts a chunk once, by its last warp to finish it (a shared-memory
        // count per step and chunk: warps of one CTA may be in different phases).
        // kPeers: chunks are the CTAs of this CTA's group (a.group consecutive CTAs), each
        // counted once per CTA on its own counter; chunk j of an awaiting CTA of rank r is
        // the output of rank (r + j) % group: its own first (no wait), 128 words each.
        const unsigned long long full = peers ? a.epoch + 1 : (a.epoch + 1) * gridDim.x * (per_cta ? 1 : kWarps);
        const int rank = blockIdx.x % a.group, base = blockIdx.x - rank;
        unsigned long long* awt_peer = prev_layer >= 0 ? peer_counters(a, prev_layer, prev_s) : nullptr;
        if (awt > 0 && prev_layer >= 0) {
          for (int j = warp; j < awt; j += kWarps) {
            const int words = peers ? 128 : 512;
            const bool own = peers && j == 0;
            if (lane == 0 && !own) {
              poll_until(peers ? awt_peer + base + (rank + j) % a.group : awt_ctr + j * a.chunk_stride, full, 32, a.out);
            }
            __syncwarp();
            for (int i = lane; i < words && !own; i += 32) {
              x[(j * words + i) % kXWords] = __ldcg(a.xbuf + ((j * words + i) & 65535));
            }
            __syncwarp();
            if (lane == 0) {
              __threadfence_block();
              *reinterpret_cast<volatile int*>(&flags[j]) = layer * kSyncProbeMaxSteps + s + 1;
            }
          }
        } else if (awt > 0 && lane == 0) {  // the first layer of a launch: nothing to wait for
          for (int j = warp; j < awt; j += kWarps) *reinterpret_cast<volatile int*>(&flags[j]) = layer * kSyncProbeMaxSteps + s + 1;
        }
        // Chunk j of A is awaited before the first item at or past i0 + (i1 - i0) j / A,
        // chunk j of P published after the item that ends i0 + (i1 - i0) (j + 1) / P; a
        // warp with fewer items than chunks waits for or publishes several at once (all of
        // them, published, with none).
        const int tag = layer * kSyncProbeMaxSteps + s + 1;
        auto await_chunk = [&](int j) {
          if (lane == 0) {
            const unsigned long long t0 = now_ns();
            while (*reinterpret_cast<volatile int*>(&flags[j]) != tag && !expired(t0, a.out)) {
            }
          }
          __syncwarp();
        };
        auto publish_chunk = [&](int j) {
          if (lane != 0) return;
          a.xbuf[(blockIdx.x * kWarps + warp) & 65535] = __uint_as_float(acc & 0x3f7fffffu);
          if (per_cta) {
            int old;
            asm volatile("atom.acq_rel.cta.shared::cta.add.u32 %0, [%1], 1;"
                         : "=r"(old)
                         : "r"(static_cast<unsigned>(__cvta_generic_to_shared(&local[(s & 3) * 16 + j])))
                         : "memory");
            if ((old + 1) % kWarps != 0) return;  // not the CTA's last warp to finish chunk j
            __threadfence();
            atomicAdd(peers ? peer_counters(a, layer, s) + blockIdx.x : pub_ctr + j * a.chunk_stride, 1ull);
          } else {
            if (flow != SyncProbeStep::kPerWarpNoFence) __threadfence();
            if (flow != SyncProbeStep::kPerWarpNoCount) atomicAdd(pub_ctr + j * a.chunk_stride, 1ull);
          }
        };
        int published = 0, awaited = 0;
        for (int64_t t = i0; t < i1; ++t) {
          while (awaited < awt && i0 + (i1 - i0) * awaited / awt <= t) await_chunk(awaited++);
          issue(a, cur, ring + issue_slot * kVecs * kThreads + threadIdx.x, lane, policy);
          issue_slot = issue_slot + 1 == kRing ? 0 : issue_slot + 1;
          cp_async_wait<kRing - 1>();
#pragma unroll
          for (int j = 0; j < kVecs; ++j) {
            const uint4 v = ring[(slot * kVecs + j) * kThreads + threadIdx.x];
            acc ^= v.x ^ v.y ^ v.z ^ v.w;
          }
          slot = slot + 1 == kRing ? 0 : slot + 1;
          while (published < pub && i0 + (i1 - i0) * (published + 1) / pub <= t + 1) publish_chunk(published++);
        }
        while (published < pub) publish_chunk(published++);
      } else if (st.kind == SyncProbeStep::kGrid || st.kind == SyncProbeStep::kStore || st.kind == SyncProbeStep::kGroup) {
        const bool group = st.kind == SyncProbeStep::kGroup;
        __syncthreads();
        float* xb = a.xbuf + (grid_k & 1) * 65536;
        if (threadIdx.x < st.out) {
          xb[(blockIdx.x * st.out + threadIdx.x) & 65535] = __uint_as_float(acc & 0x3f7fffffu);
          if (st.kind != SyncProbeStep::kStore) __threadfence();
        }
        if (st.kind != SyncProbeStep::kStore) {
          __syncthreads();
          const int members = group ? a.group : static_cast<int>(gridDim.x);
          unsigned long long* ctr =
              a.counters + (layer * kSyncProbeMaxSteps + s) * 64 + (group ? blockIdx.x / a.group : 0);
          if (threadIdx.x == 0) {
            atomicAdd(ctr, 1ull);
            poll_until(ctr, (a.epoch + 1) * members, a.poll_ns, a.out);
          }
          __syncthreads();
          const int total = members * st.out, first = group ? blockIdx.x / a.group * a.group * st.out : 0;
          for (int i = threadIdx.x; i < st.in; i += kThreads) {
            const float v = __ldcg(xb + ((first + (blockIdx.x * 97 + i) % total) & 65535));
            x[(xi + i) % kXWords] = v;
          }
          xi += st.in;
          __syncthreads();
        }
        ++grid_k;
      } else if (st.kind == SyncProbeStep::kGlobalStage) {
        // The previous launch's stores (kStore), read through L2 with no wait.
        const float* xb = a.xbuf + ((grid_k + 1) & 1) * 65536;
        for (int i = threadIdx.x; i < st.in; i += kThreads) x[(xi + i) % kXWords] = __ldcg(xb + ((blockIdx.x * 97 + i) & 65535));
        xi += st.in;
        __syncthreads();
      } else if (st.kind == SyncProbeStep::kCluster) {
        if constexpr (C > 1) {
          cg::cluster_group cl = cg::this_cluster();
          float* e = exp + buf * kExportWords;
          for (int i = threadIdx.x; i < st.out; i += kThreads) e[i] = __uint_as_float((acc + i) & 0x3f7fffffu);
          cl.sync();
          const int out = st.out > 0 ? st.out : 1;
          // Up to 16 words per thread, all loads issued before any is stored.
          float v[16];
#pragma unroll
          for (int k = 0; k < 16; ++k) {
            const int i = threadIdx.x + k * kThreads;
            if (i < st.in) v[k] = cl.map_shared_rank(e, static_cast<unsigned>(i % C))[(i / C) % out];
          }
#pragma unroll
          for (int k = 0; k < 16; ++k) {
            const int i = threadIdx.x + k * kThreads;
            if (i < st.in) x[(xi + i) % kXWords] = v[k];
          }
          xi += st.in;
          __syncthreads();
          buf ^= 1;
        }
      } else if (st.kind == SyncProbeStep::kSleep) {
        // Every CTA stops for `in` ns (no memory traffic), its ring's copies in flight.
        __syncthreads();
        if (threadIdx.x == 0) {
          const unsigned long long t0 = now_ns();
          while (now_ns() - t0 < static_cast<unsigned long long>(st.in)) {
          }
        }
        __syncthreads();
      } else if (st.kind == SyncProbeStep::kLoads) {
        const int layer_slot = (a.first_layer + layer) % a.layer_slots;
        const uint4* kv = a.kv + layer_slot * a.kv_layer_vecs + static_cast<int64_t>(blockIdx.x) * (st.in / 16);
        for (int i = threadIdx.x; i < st.in / 16; i += kThreads) {
          const uint4 v = __ldcg(kv + i);
          acc ^= v.x ^ v.y ^ v.z ^ v.w;
        }
        __syncthreads();
        if (st.publish == 1 && threadIdx.x == 0) {  // counted on its peer counter (Flow::kPeers)
          a.xbuf[blockIdx.x & 65535] = __uint_as_float(acc & 0x3f7fffffu);
          __threadfence();
          atomicAdd(peer_counters(a, layer, s) + blockIdx.x, 1ull);
        }
      }
    }
  }
  cp_async_wait<0>();
  if (a.trace != nullptr) {
    __syncthreads();
    if (threadIdx.x == 0) a.trace[2 * blockIdx.x + 1] = now_ns();
  }
  if constexpr (C > 1) cg::this_cluster().sync();  // peers may still read this CTA's exports
  for (int i = threadIdx.x; i < kXWords; i += kThreads) acc ^= __float_as_uint(x[i]);
  if (acc == 0x9e3779b9u) a.out[blockIdx.x] = acc;
}

template <int C>
cudaError_t launch(const Args& a, int grid, cudaStream_t s, int* max_clusters) {
  static const bool attr = [] {
    bool ok = cudaFuncSetAttribute(sync_probe_kernel<C>, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem) ==
              cudaSuccess;
    if constexpr (C > 8) {
      ok = ok && cudaFuncSetAttribute(sync_probe_kernel<C>, cudaFuncAttributeNonPortableClusterSizeAllowed, 1) ==
                     cudaSuccess;
    }
    return ok;
  }();
  if (!attr) return cudaErrorInvalidValue;
  cudaLaunchConfig_t cfg{};
  cudaLaunchAttribute at[1];
  cfg.gridDim = dim3(static_cast<unsigned>(grid));
  cfg.blockDim = dim3(kThreads);
  cfg.dynamicSmemBytes = kSmem;
  cfg.stream = s;
  at[0].id = cudaLaunchAttributeClusterDimension;
  at[0].val.clusterDim.x = C;
  at[0].val.clusterDim.y = 1;
  at[0].val.clusterDim.z = 1;
  cfg.attrs = at;
  cfg.numAttrs = 1;
  if (max_clusters != nullptr) {
    const cudaError_t e = cudaOccupancyMaxActiveClusters(max_clusters, sync_probe_kernel<C>, &cfg);
    if (e != cudaSuccess) return e;
    if (*max_clusters * C < grid) return cudaErrorCooperativeLaunchTooLarge;  // a grid sync would never end
  }
  return cudaLaunchKernelEx(&cfg, sync_probe_kernel<C>, a);
}

// Words Args::counters spans (room for 8 layers, whatever the launch's count).
size_t counter_words(const SyncProbe& p) {
  return 8 * kSyncProbeMaxSteps * 64 + 8 * kSyncProbeMaxSteps * 16 * static_cast<size_t>(p.chunk_stride) +
         8 * kSyncProbeMaxSteps * 128;
}

// How an awaiting phase counts arrivals (its flow): 1 per warp, 2 once per CTA, 3 on
// each peer CTA's own counter. counted_by: how a step counts what it publishes, in the
// same terms (0: nothing an awaiting phase could see).
int awaited_as(SyncProbeStep::Flow f) {
  return f == SyncProbeStep::kPeers ? 3 : f == SyncProbeStep::kPerCta ? 2 : 1;
}
int counted_by(const SyncProbeStep& st) {
  if (st.kind == SyncProbeStep::kLoads) return st.publish == 1 ? 3 : 0;
  if (st.kind != SyncProbeStep::kStream || st.publish == 0 || st.flow == SyncProbeStep::kPerWarpNoCount) return 0;
  return awaited_as(st.flow);
}

// Every check on the program and its buffers, before any CUDA call.
Status validate(const SyncProbe& p) {
  if (p.num_steps < 1 || p.num_steps > kSyncProbeMaxSteps) return invalid_argument("sync_probe: 1..16 steps");
  if ((p.cluster != 1 && p.cluster != 8 && p.cluster != 16) || p.grid < 1 || p.grid % p.cluster != 0) {
    return invalid_argument("sync_probe: cluster 1, 8 or 16, dividing the grid");
  }
  if (p.layers < 1 || p.layers > 8) return invalid_argument("sync_probe: 1..8 layers per launch");
  if (p.group < 1 || p.grid % p.group != 0 || p.grid / p.group > 64 || p.chunk_stride < 1) {
    return invalid_argument("sync_probe: groups dividing the grid (at most 64 of them), chunk_stride >= 1");
  }
  if (p.weights.nbytes() % (kItemVecs * 16) != 0) return invalid_argument("sync_probe: weights of whole 2 KB items");
  if (p.xbuf.nbytes() < 2 * 65536 * 4 || p.counters.nbytes() < 8 * counter_words(p) ||
      p.out.nbytes() < 4 * static_cast<size_t>(p.grid + 1)) {
    return invalid_argument("sync_probe: xbuf >= 512 KB, counters too small for the chunk stride, out >= grid + 1 words");
  }
  if ((p.prefix.data() != nullptr && p.prefix.nbytes() < 8 * static_cast<size_t>(p.grid + 1)) ||
      (p.trace.data() != nullptr && p.trace.nbytes() < 16 * static_cast<size_t>(p.grid))) {
    return invalid_argument("sync_probe: prefix needs grid + 1 doubles, trace 2 x grid u64");
  }
  int phases = 0;
  int64_t items = 0;
  for (int s = 0; s < p.num_steps; ++s) {
    const SyncProbeStep& st = p.steps[s];
    if (st.out < 0 || st.in < 0) return invalid_argument("sync_probe: negative words, items or bytes");
    const bool stores = st.kind == SyncProbeStep::kGrid || st.kind == SyncProbeStep::kStore ||
                        st.kind == SyncProbeStep::kGroup || st.kind == SyncProbeStep::kCluster;
    if (stores && st.out > kThreads) return invalid_argument("sync_probe: at most 512 words out per CTA");
    if ((st.kind == SyncProbeStep::kGrid || st.kind == SyncProbeStep::kGroup) && st.in > 0 && st.out == 0) {
      return invalid_argument("sync_probe: a sync that stages words needs words stored");
    }
    if (st.kind == SyncProbeStep::kCluster && (p.cluster == 1 || st.in > 16 * kThreads)) {
      return invalid_argument("sync_probe: cluster exchanges need clusters, at most 8192 words in");
    }
    if (st.kind == SyncProbeStep::kSleep && st.in > 1000000) return invalid_argument("sync_probe: pauses up to 1 ms");
    if (st.kind == SyncProbeStep::kStream) {
      if (++phases > 8) return invalid_argument("sync_probe: at most 8 stream phases");
      items += st.in;
      if (st.publish < 0 || st.publish > 16 || st.await < 0 || st.await > 64) {
        return invalid_argument("sync_probe: at most 16 chunks published, 64 awaited");
      }
      const SyncProbeStep& before = p.steps[s > 0 ? s - 1 : p.num_steps - 1];
      if (st.await > 0 && counted_by(before) != awaited_as(st.flow)) {
        return invalid_argument("sync_probe: a phase awaits chunks the step before it counts the same way");
      }
    }
    const bool peers = (st.kind == SyncProbeStep::kStream && st.flow == SyncProbeStep::kPeers) ||
                       (st.kind == SyncProbeStep::kLoads && st.publish == 1);
    if (peers && p.grid > 128) return invalid_argument("sync_probe: per-CTA (peer) counters for at most 128 CTAs");
    if (st.kind == SyncProbeStep::kStream && st.flow == SyncProbeStep::kPeers &&
        (st.publish > 1 || st.await > p.group)) {
      return invalid_argument("sync_probe: peers publish one chunk and await at most their group");
    }
  }
  if (items < 1) return invalid_argument("sync_probe: no items to stream");
  const int64_t slots = static_cast<int64_t>(p.weights.nbytes() / (kItemVecs * 16)) / items;
  if (slots < 1) return invalid_argument("sync_probe: weights smaller than one layer");
  for (int s = 0; s < p.num_steps; ++s) {
    const SyncProbeStep& st = p.steps[s];
    if (st.kind == SyncProbeStep::kLoads &&
        (st.in % 16 != 0 || st.in / 16 * p.grid > static_cast<int64_t>(p.kv.nbytes() / 16) / slots)) {
      return invalid_argument("sync_probe: loads of whole 16-byte vectors, kv holding a layer's loads per slot");
    }
  }
  return Status::ok();
}

}  // namespace

Status sync_probe(const OpContext& ctx, const SyncProbe& p, int* max_clusters) {
  RADIX_RETURN_IF_ERROR(validate(p));
  Args a{};
  int64_t items = 0;
  for (int s = 0; s < p.num_steps; ++s) {
    a.steps[s] = p.steps[s];
    if (p.steps[s].kind == SyncProbeStep::kStream) {
      a.phase_base[a.num_phases] = items;
      a.phase_items[a.num_phases++] = p.steps[s].in;
      items += p.steps[s].in;
    }
  }
  a.num_steps = p.num_steps;
  a.group = p.group;
  a.chunk_stride = p.chunk_stride;
  a.poll_ns = p.poll_ns;
  a.layers = p.layers;
  a.layer_items = items;
  a.layer_slots = static_cast<int>(static_cast<int64_t>(p.weights.nbytes() / (kItemVecs * 16)) / items);
  a.first_layer = p.first_layer % a.layer_slots;
  a.w = static_cast<const uint4*>(p.weights.data());
  a.kv = static_cast<const uint4*>(p.kv.data());
  a.kv_layer_vecs = static_cast<int64_t>(p.kv.nbytes() / 16 / a.layer_slots);
  a.xbuf = p.xbuf.data_as<float>();
  a.counters = p.counters.data_as<unsigned long long>();
  a.epoch = p.epoch;
  a.out = p.out.data_as<uint32_t>();
  a.prefix = p.prefix.data() != nullptr ? p.prefix.data_as<const double>() : nullptr;
  a.trace = p.trace.data() != nullptr ? p.trace.data_as<unsigned long long>() : nullptr;
  auto s = static_cast<cudaStream_t>(ctx.stream);
  cudaError_t e = cudaSuccess;
  switch (p.cluster) {
    case 1: e = launch<1>(a, p.grid, s, max_clusters); break;
    case 8: e = launch<8>(a, p.grid, s, max_clusters); break;
    default: e = launch<16>(a, p.grid, s, max_clusters); break;
  }
  if (e != cudaSuccess) {
    cudaGetLastError();
    return Status(StatusCode::kInternal, std::string("sync_probe: ") + cudaGetErrorString(e));
  }
  return check_launch("sync_probe");
}

}  // namespace radix::cuda
