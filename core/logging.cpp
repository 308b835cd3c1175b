#include "core/logging.h"

namespace radix {

Status set_log_level(const std::string& name) {
  if (name == "debug") {
    spdlog::set_level(spdlog::level::debug);
  } else if (name == "info") {
    spdlog::set_level(spdlog::level::info);
  } else if (name == "warning" || name == "warn") {
    spdlog::set_level(spdlog::level::warn);
  } else if (name == "error") {
    spdlog::set_level(spdlog::level::err);
  } else if (name == "critical") {
    spdlog::set_level(spdlog::level::critical);
  } else {
    return invalid_argument("unknown log level '" + name +
                            "' (expected debug, info, warning, error, critical)");
  }
  return Status::ok();
}

}  // namespace radix
