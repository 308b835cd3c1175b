#include "core/file_util.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace radix {

Result<std::string> read_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return not_found("no such file: " + path);
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return data_loss("error reading " + path);
  return ss.str();
}

}  // namespace radix
