// safetensors reader and writer. Files are mmapped read-only; the header is validated
// completely before any tensor view is handed out, so a view never points outside the
// mapping. Format: 8-byte little-endian header length N, N bytes of JSON (an object of
// name -> {dtype, shape, data_offsets}, plus an optional "__metadata__" string map),
// then the data section that data_offsets index into.
#include "core/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

namespace radix {
namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

// The reference implementation refuses headers above 100 MB; so do we, which keeps a
// corrupt length field from making us parse the whole file as JSON.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct DTypeName {
  const char* name;
  DType dtype;
};
constexpr DTypeName kDTypeNames[] = {
    {"F32", DType::kF32},        {"F16", DType::kF16},        {"BF16", DType::kBF16},
    {"F8_E4M3", DType::kF8E4M3}, {"F8_E5M2", DType::kF8E5M2}, {"I32", DType::kI32},
    {"I64", DType::kI64},        {"U8", DType::kU8},
};

// safetensors dtype names are exact upper-case strings; parse_dtype() is looser.
Result<DType> safetensors_dtype(const std::string& name) {
  for (const auto& d : kDTypeNames) {
    if (name == d.name) return d.dtype;
  }
  std::string supported;
  for (const auto& d : kDTypeNames)
    supported += std::string(supported.empty() ? "" : ", ") + d.name;
  return unimplemented("dtype " + name + " is not supported (supported: " + supported + ")");
}

const char* safetensors_dtype_name(DType dtype) {
  for (const auto& d : kDTypeNames) {
    if (d.dtype == dtype) return d.name;
  }
  return "?";
}

std::string shape_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string json_type(const Json& j) {
  if (j.is_number_float()) return "float";
  if (j.is_number_unsigned() || j.is_number_integer()) return "integer";
  return j.type_name();
}

// Reads a non-negative JSON integer (signed or unsigned storage) into *out.
bool get_u64(const Json& j, uint64_t* out) {
  if (j.is_number_unsigned()) {
    *out = j.get<uint64_t>();
    return true;
  }
  if (j.is_number_integer()) {
    const int64_t v = j.get<int64_t>();
    if (v < 0) return false;
    *out = static_cast<uint64_t>(v);
    return true;
  }
  return false;
}

// One header entry -> TensorInfo; `where` is "file F: tensor T" for messages.
Result<TensorInfo> parse_entry(const std::string& name, const Json& entry, size_t data_size,
                               const std::string& file) {
  const std::string where = "file " + file + ": tensor " + name;
  if (!entry.is_object()) {
    return data_loss(where + ": header entry must be an object, got " + json_type(entry));
  }
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!entry.contains(key)) return data_loss(where + ": header entry has no \"" + key + "\"");
  }
  TensorInfo info;
  info.name = name;
  info.file = file;

  const Json& dtype = entry.at("dtype");
  if (!dtype.is_string())
    return data_loss(where + ": \"dtype\" must be a string, got " + json_type(dtype));
  Result<DType> dt = safetensors_dtype(dtype.get<std::string>());
  if (!dt.is_ok()) return dt.status().with_context(where);
  info.dtype = dt.value();

  const Json& shape = entry.at("shape");
  if (!shape.is_array())
    return data_loss(where + ": \"shape\" must be an array, got " + json_type(shape));
  if (shape.size() > static_cast<size_t>(kMaxDims)) {
    return unimplemented(where + ": " + std::to_string(shape.size()) + " dimensions; at most " +
                         std::to_string(kMaxDims) + " are supported");
  }
  uint64_t numel = 1;
  for (const Json& dim : shape) {
    uint64_t d = 0;
    if (!get_u64(dim, &d)) {
      return data_loss(where + ": shape entries must be non-negative integers, got " +
                       (dim.is_number() ? dim.dump() : json_type(dim)));
    }
    if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        __builtin_mul_overflow(numel, d, &numel)) {
      return data_loss(where + ": shape " + shape.dump() + " overflows the element count");
    }
    info.shape.push_back(static_cast<int64_t>(d));
  }
  uint64_t nbytes = 0;
  if (numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
      __builtin_mul_overflow(numel, static_cast<uint64_t>(dtype_size(info.dtype)), &nbytes)) {
    return data_loss(where + ": shape " + shape.dump() + " overflows the byte count");
  }

  const Json& offsets = entry.at("data_offsets");
  uint64_t begin = 0, end = 0;
  if (!offsets.is_array() || offsets.size() != 2 || !get_u64(offsets[0], &begin) ||
      !get_u64(offsets[1], &end)) {
    return data_loss(where +
                     ": \"data_offsets\" must be [begin, end] with non-negative integers, got " +
                     (offsets.is_array() ? offsets.dump() : json_type(offsets)));
  }
  if (begin > end) {
    return data_loss(where + ": data_offsets begin " + std::to_string(begin) + " > end " +
                     std::to_string(end));
  }
  if (end > data_size) {
    return data_loss(where + ": data_offsets end " + std::to_string(end) +
                     " is past the data section (" + std::to_string(data_size) +
                     " bytes; file truncated?)");
  }
  if (end - begin != nbytes) {
    return data_loss(where + ": data_offsets cover " + std::to_string(end - begin) + " bytes but " +
                     safetensors_dtype_name(info.dtype) + " " + shape_string(info.shape) +
                     " needs " + std::to_string(nbytes));
  }
  info.offset = static_cast<size_t>(begin);
  info.nbytes = static_cast<size_t>(nbytes);
  return info;
}

// RAII for a file descriptor during open().
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string errno_text() {
  return std::strerror(errno);
}

}  // namespace

// ---------------------------------------------------------------- SafetensorsFile

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
}

Result<std::vector<TensorInfo>> SafetensorsFile::parse_header(const std::string& header_json,
                                                              size_t data_size,
                                                              const std::string& file) {
  // The reference format requires the header to start with '{'; anything else
  // (including a JSON scalar) is rejected before parsing.
  if (header_json.empty() || header_json[0] != '{') {
    return data_loss("file " + file + ": header does not start with '{' (not a safetensors file?)");
  }
  Json root;
  try {
    root = Json::parse(header_json, nullptr, /*allow_exceptions=*/false);
  } catch (const std::exception& e) {  // parse never throws here; belt and braces
    return data_loss("file " + file + ": header is not valid JSON: " + e.what());
  }
  if (root.is_discarded()) return data_loss("file " + file + ": header is not valid JSON");
  if (!root.is_object()) {
    return data_loss("file " + file + ": header must be a JSON object, got " + json_type(root));
  }

  std::vector<TensorInfo> infos;
  try {
    for (auto it = root.begin(); it != root.end(); ++it) {
      if (it.key() == "__metadata__") {
        if (!it.value().is_object()) {
          return data_loss("file " + file + ": __metadata__ must be an object of strings");
        }
        for (auto m = it.value().begin(); m != it.value().end(); ++m) {
          if (!m.value().is_string()) {
            return data_loss("file " + file + ": __metadata__ value for \"" + m.key() +
                             "\" must be a string, got " + json_type(m.value()));
          }
        }
        continue;
      }
      if (it.key().empty()) return data_loss("file " + file + ": a tensor has an empty name");
      Result<TensorInfo> info = parse_entry(it.key(), it.value(), data_size, file);
      if (!info.is_ok()) return info.status();
      infos.push_back(std::move(info).value());
    }
  } catch (const std::exception& e) {  // a JSON accessor we did not guard: still an error
    return data_loss("file " + file + ": malformed header: " + e.what());
  }

  // Overlapping tensors would alias each other's bytes: reject. Empty tensors occupy
  // nothing and may sit anywhere.
  std::vector<const TensorInfo*> by_offset;
  for (const TensorInfo& t : infos) {
    if (t.nbytes > 0) by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo& prev = *by_offset[i - 1];
    const TensorInfo& cur = *by_offset[i];
    if (cur.offset < prev.offset + prev.nbytes) {
      return data_loss("file " + file + ": tensor " + cur.name + " (bytes " +
                       std::to_string(cur.offset) + ".." + std::to_string(cur.offset + cur.nbytes) +
                       ") overlaps tensor " + prev.name + " (bytes " + std::to_string(prev.offset) +
                       ".." + std::to_string(prev.offset + prev.nbytes) + ")");
    }
  }
  return infos;
}

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::open(const std::string& path) {
  Fd fd;
  fd.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd.fd < 0) {
    const int err = errno;
    const std::string msg = "file " + path + ": cannot open: " + std::strerror(err);
    return err == ENOENT ? not_found(msg) : invalid_argument(msg);
  }
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0)
    return invalid_argument("file " + path + ": stat failed: " + errno_text());
  if (!S_ISREG(st.st_mode)) return invalid_argument("file " + path + ": not a regular file");
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < 8) {
    return data_loss("file " + path + ": " + std::to_string(file_size) +
                     " bytes is too small for a safetensors header (truncated?)");
  }

  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  void* map = ::mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd.fd, 0);
  if (map == MAP_FAILED) return invalid_argument("file " + path + ": mmap failed: " + errno_text());
  f->map_ = map;
  f->map_size_ = file_size;  // from here on the destructor unmaps

  const auto* bytes = static_cast<const unsigned char*>(map);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len > file_size - 8) {
    return data_loss("file " + path + ": header length " + std::to_string(header_len) +
                     " is larger than the rest of the file (" + std::to_string(file_size - 8) +
                     " bytes; truncated or not a safetensors file)");
  }
  if (header_len > kMaxHeaderBytes) {
    return data_loss("file " + path + ": header length " + std::to_string(header_len) +
                     " exceeds the 100 MB limit");
  }
  const std::string header(reinterpret_cast<const char*>(bytes + 8), header_len);
  const size_t data_size = file_size - 8 - header_len;
  f->data_ = reinterpret_cast<const char*>(bytes + 8 + header_len);

  RADIX_ASSIGN_OR_RETURN(f->tensors_, parse_header(header, data_size, path));
  for (size_t i = 0; i < f->tensors_.size(); ++i) f->index_[f->tensors_[i].name] = i;
  // parse_header validated the metadata's shape; read it without further checks.
  const Json root = Json::parse(header, nullptr, false);
  if (root.contains("__metadata__")) {
    for (auto m = root["__metadata__"].begin(); m != root["__metadata__"].end(); ++m) {
      f->metadata_[m.key()] = m.value().get<std::string>();
    }
  }
  return f;
}

Result<Tensor> SafetensorsFile::tensor(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) return not_found("file " + path_ + ": no tensor " + name);
  const TensorInfo& info = tensors_[it->second];
  // The mapping is read-only: writing through the view faults. Tensor has no const view.
  return Tensor(const_cast<char*>(data_ + info.offset), info.dtype, info.shape);
}

// ---------------------------------------------------------------- Checkpoint

namespace {

Status add_file(std::vector<std::shared_ptr<SafetensorsFile>>& files,
                std::map<std::string, size_t>& where, std::shared_ptr<SafetensorsFile> file) {
  const size_t idx = files.size();
  for (const TensorInfo& t : file->tensors()) {
    auto [it, inserted] = where.emplace(t.name, idx);
    if (!inserted) {
      return data_loss("tensor " + t.name + " appears in both " + files[it->second]->path() +
                       " and " + file->path());
    }
  }
  files.push_back(std::move(file));
  return Status::ok();
}

Result<std::string> read_text_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return not_found("file " + path + ": cannot open: " + errno_text());
  std::string text;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return data_loss("file " + path + ": read error");
  return text;
}

// Shard names come from an index file: keep them inside the checkpoint directory.
bool is_safe_relative_path(const std::string& p) {
  if (p.empty() || p[0] == '/') return false;
  for (const auto& part : fs::path(p)) {
    if (part == "..") return false;
  }
  return true;
}

}  // namespace

Result<Checkpoint> Checkpoint::open_dir(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return not_found("model directory " + dir + " does not exist");
  if (!fs::is_directory(dir, ec)) return invalid_argument(dir + " is not a directory");

  Checkpoint ckpt;
  const fs::path root(dir);
  const fs::path single = root / "model.safetensors";
  const fs::path index = root / "model.safetensors.index.json";

  // Same preference order as Hugging Face: the single file, then the sharded index.
  if (fs::exists(single, ec)) {
    RADIX_ASSIGN_OR_RETURN(auto f, SafetensorsFile::open(single.string()));
    RADIX_RETURN_IF_ERROR(add_file(ckpt.files_, ckpt.where_, std::move(f)));
    return ckpt;
  }

  if (fs::exists(index, ec)) {
    const std::string index_path = index.string();
    RADIX_ASSIGN_OR_RETURN(std::string text, read_text_file(index_path));
    const Json j = Json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return data_loss("file " + index_path + ": not a JSON object");
    }
    if (!j.contains("weight_map") || !j["weight_map"].is_object()) {
      return data_loss("file " + index_path + ": missing \"weight_map\" object");
    }
    const Json& weight_map = j["weight_map"];
    std::map<std::string, size_t> shard_index;  // shard file name -> files_ index
    for (auto it = weight_map.begin(); it != weight_map.end(); ++it) {
      if (!it.value().is_string()) {
        return data_loss("file " + index_path + ": weight_map entry for tensor " + it.key() +
                         " must be a file name string");
      }
      const std::string shard = it.value().get<std::string>();
      if (!is_safe_relative_path(shard)) {
        return data_loss("file " + index_path + ": tensor " + it.key() + " maps to shard \"" +
                         shard + "\", which is outside the model directory");
      }
      if (shard_index.count(shard)) continue;
      const std::string shard_path = (root / shard).string();
      if (!fs::exists(shard_path, ec)) {
        return not_found("file " + index_path + ": tensor " + it.key() + " maps to shard " + shard +
                         ", which does not exist (" + shard_path + ")");
      }
      RADIX_ASSIGN_OR_RETURN(auto f, SafetensorsFile::open(shard_path));
      shard_index[shard] = ckpt.files_.size();
      RADIX_RETURN_IF_ERROR(add_file(ckpt.files_, ckpt.where_, std::move(f)));
    }
    if (ckpt.files_.empty())
      return not_found("file " + index_path + ": weight_map lists no tensors");
    for (auto it = weight_map.begin(); it != weight_map.end(); ++it) {
      const size_t want = shard_index.at(it.value().get<std::string>());
      auto w = ckpt.where_.find(it.key());
      if (w == ckpt.where_.end() || w->second != want) {
        return data_loss("file " + index_path + ": tensor " + it.key() + " is listed in shard " +
                         it.value().get<std::string>() + ", which does not contain it");
      }
    }
    return ckpt;
  }

  std::vector<std::string> shards;
  bool has_bin = false;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string ext = entry.path().extension().string();
    if (ext == ".safetensors" && entry.is_regular_file(ec)) shards.push_back(entry.path().string());
    if (ext == ".bin" || ext == ".pt" || ext == ".pth") has_bin = true;
  }
  if (ec) return invalid_argument("cannot list model directory " + dir + ": " + ec.message());
  if (shards.empty()) {
    return not_found(
        "no weights in " + dir +
        ": expected model.safetensors, model.safetensors.index.json or *.safetensors" +
        (has_bin ? " (found PyTorch .bin/.pt files; radix reads safetensors only)" : ""));
  }
  std::sort(shards.begin(), shards.end());
  for (const std::string& p : shards) {
    RADIX_ASSIGN_OR_RETURN(auto f, SafetensorsFile::open(p));
    RADIX_RETURN_IF_ERROR(add_file(ckpt.files_, ckpt.where_, std::move(f)));
  }
  return ckpt;
}

bool Checkpoint::has(const std::string& name) const {
  return where_.count(name) != 0;
}

Result<TensorInfo> Checkpoint::info(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) return not_found("checkpoint has no tensor " + name);
  const SafetensorsFile& f = *files_[it->second];
  for (const TensorInfo& t : f.tensors()) {
    if (t.name == name) return t;
  }
  return internal_error("tensor " + name + " indexed but not in " + f.path());
}

Result<Tensor> Checkpoint::tensor(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) return not_found("checkpoint has no tensor " + name);
  return files_[it->second]->tensor(name);
}

Result<Tensor> Checkpoint::tensor(const std::string& name, const Shape& expected_shape) const {
  RADIX_ASSIGN_OR_RETURN(Tensor t, tensor(name));
  if (t.shape() != expected_shape) {
    return invalid_argument("file " + files_[where_.at(name)]->path() + ": tensor " + name +
                            " has shape " + shape_string(t.shape()) + ", expected " +
                            shape_string(expected_shape));
  }
  return t;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(where_.size());
  for (const auto& [name, idx] : where_) out.push_back(name);
  return out;  // std::map iterates in sorted order
}

size_t Checkpoint::total_bytes() const {
  size_t total = 0;
  for (const auto& f : files_) {
    for (const TensorInfo& t : f->tensors()) total += t.nbytes;
  }
  return total;
}

// ---------------------------------------------------------------- writer

Status write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                         const std::map<std::string, std::string>& metadata) {
  // Larger elements first, then by name, so every tensor starts at a multiple of its
  // element size (the header is padded to 8 bytes).
  std::vector<const NamedTensor*> order;
  std::set<std::string> seen;
  for (const NamedTensor& t : tensors) {
    if (t.name.empty() || t.name == "__metadata__") {
      return invalid_argument("write " + path + ": invalid tensor name \"" + t.name + "\"");
    }
    if (!seen.insert(t.name).second) {
      return invalid_argument("write " + path + ": duplicate tensor " + t.name);
    }
    if (!t.tensor.device().is_cpu() || !t.tensor.is_contiguous() || !t.tensor.defined()) {
      return invalid_argument("write " + path + ": tensor " + t.name +
                              " must be a defined, contiguous host tensor");
    }
    order.push_back(&t);
  }
  std::stable_sort(order.begin(), order.end(), [](const NamedTensor* a, const NamedTensor* b) {
    const size_t sa = dtype_size(a->tensor.dtype()), sb = dtype_size(b->tensor.dtype());
    return sa != sb ? sa > sb : a->name < b->name;
  });

  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header["__metadata__"] = meta;
  }
  uint64_t offset = 0;
  for (const NamedTensor* t : order) {
    Json shape = Json::array();
    for (int64_t d : t->tensor.shape()) shape.push_back(d);
    const uint64_t n = t->tensor.nbytes();
    header[t->name] = {{"dtype", safetensors_dtype_name(t->tensor.dtype())},
                       {"shape", shape},
                       {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const std::exception& e) {  // e.g. a name that is not valid UTF-8
    return invalid_argument("write " + path + ": cannot encode header: " + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');

  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return invalid_argument("write " + path + ": cannot create: " + errno_text());
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(uint64_t{text.size()} >> (8 * i));
  bool ok =
      std::fwrite(len, 1, 8, f) == 8 && std::fwrite(text.data(), 1, text.size(), f) == text.size();
  for (const NamedTensor* t : order) {
    const size_t n = t->tensor.nbytes();
    if (ok && n > 0) ok = std::fwrite(t->tensor.data(), 1, n, f) == n;
  }
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string err = errno_text();
    std::remove(tmp.c_str());
    return invalid_argument("write " + path + ": " + err);
  }
  return Status::ok();
}

}  // namespace radix
