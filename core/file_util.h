// Whole-file reads with errors a user can act on (config.json, tokenizer files, templates).
#pragma once

#include <string>

#include "core/status.h"

namespace radix {

// The file's bytes; NotFound when it is missing or not a regular file, DataLoss on a
// read error.
Result<std::string> read_file(const std::string& path);

}  // namespace radix
