#include "runtime/step_trace.h"

#include <cerrno>
#include <cstring>

namespace radix {

StepTrace::~StepTrace() { close(); }

Status StepTrace::open(const std::string& path) {
  close();
  if (path.empty()) return Status::ok();
  file_ = std::fopen(path.c_str(), "w");
  if (file_ == nullptr) {
    return invalid_argument("--step-trace: cannot write '" + path + "': " + std::strerror(errno));
  }
  start_ = std::chrono::steady_clock::now();
  steps_ = 0;
  return Status::ok();
}

void StepTrace::write(const StepRecord& r) {
  if (file_ == nullptr) return;
  const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(file_,
               "{\"step\":%lld,\"t\":%.6f,\"extend_seqs\":%d,\"extend_tokens\":%d,\"decode_rows\":%d,"
               "\"running\":%d,\"queued\":%d,\"kv_used\":%lld,\"forward_ms\":%.3f,\"host_ms\":%.3f,"
               "\"graph\":%s,\"cascade\":%s}\n",
               static_cast<long long>(steps_), t, r.extend_seqs, r.extend_tokens, r.decode_rows, r.running, r.queued,
               static_cast<long long>(r.kv_used), r.forward_ms, r.host_ms, r.graph ? "true" : "false",
               r.cascade ? "true" : "false");
  dirty_ = true;
  if (++steps_ % 256 == 0) flush();
}

void StepTrace::flush() {
  if (file_ == nullptr || !dirty_) return;
  std::fflush(file_);
  dirty_ = false;
}

void StepTrace::close() {
  if (file_ == nullptr) return;
  std::fclose(file_);
  file_ = nullptr;
}

}  // namespace radix
