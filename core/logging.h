// Logging: thin wrapper over spdlog so every layer logs the same way.
// Levels follow SGLang's --log-level names (debug, info, warning, error).
#pragma once

#include <spdlog/spdlog.h>

#include <string>

#include "core/status.h"

namespace radix {

// Sets the global level from a name; an unknown name is an error for the flag parser.
Status set_log_level(const std::string& name);

}  // namespace radix

#define RADIX_LOG_DEBUG(...) ::spdlog::debug(__VA_ARGS__)
#define RADIX_LOG_INFO(...) ::spdlog::info(__VA_ARGS__)
#define RADIX_LOG_WARN(...) ::spdlog::warn(__VA_ARGS__)
#define RADIX_LOG_ERROR(...) ::spdlog::error(__VA_ARGS__)
