// Status and Result<T>: the error tier for anything a request, a file or a flag can
// trigger (STYLE.md habit 5). Internal invariants use RADIX_CHECK (core/check.h).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace radix {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad request parameter or flag -> HTTP 400
  kNotFound,         // missing file, tensor, model, route -> HTTP 404
  kOutOfRange,       // prompt too long, index past the end -> HTTP 400
  kResourceExhausted,  // queue full, out of memory -> HTTP 503
  kUnauthenticated,  // -> HTTP 401
  kUnimplemented,    // unsupported architecture / feature
  kDataLoss,         // corrupt or truncated file
  kAborted,          // request cancelled
  kInternal,         // a bug or a failed CUDA call
  kUnavailable,      // not ready yet -> HTTP 503
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }
  bool is_ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "InvalidArgument: <message>"
  std::string to_string() const;

  // Prefixes context: "loading model.safetensors: <message>".
  Status with_context(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status out_of_range(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status resource_exhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status data_loss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status aborted(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
inline Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }

// Result<T>: a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    if (std::get<Status>(v_).is_ok()) v_ = Status(StatusCode::kInternal, "Result from ok Status");
  }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }
  const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace radix

#define RADIX_CONCAT_INNER(a, b) a##b
#define RADIX_CONCAT(a, b) RADIX_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if it is not ok.
#define RADIX_RETURN_IF_ERROR(expr)                 \
  do {                                              \
    ::radix::Status radix_status_ = (expr);         \
    if (!radix_status_.is_ok()) return radix_status_; \
  } while (0)

// RADIX_ASSIGN_OR_RETURN(auto x, make_x()); declares x or returns the error.
#define RADIX_ASSIGN_OR_RETURN(lhs, expr) \
  RADIX_ASSIGN_OR_RETURN_IMPL(RADIX_CONCAT(radix_result_, __LINE__), lhs, expr)
#define RADIX_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.is_ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
