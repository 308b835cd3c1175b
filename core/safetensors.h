// safetensors reader: mmapped files, single or sharded (model.safetensors.index.json).
// Every corrupt, truncated or inconsistent input is a Status naming the file and the
// tensor — never a crash. Tensors are host views straight into the mapping.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace radix {

struct TensorInfo {
  std::string name;
  DType dtype;
  Shape shape;
  size_t offset = 0;  // byte offset of the data from the start of the data section
  size_t nbytes = 0;
  std::string file;   // the file it lives in
};

// One mmapped .safetensors file.
class SafetensorsFile {
 public:
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  static Result<std::unique_ptr<SafetensorsFile>> open(const std::string& path);
  // Parses a header (the JSON after the 8-byte length) against a data section of
  // `data_size` bytes; exposed for tests and fuzzing.
  static Result<std::vector<TensorInfo>> parse_header(const std::string& header_json,
                                                      size_t data_size, const std::string& file);

  const std::string& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  Result<Tensor> tensor(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  const char* data_ = nullptr;  // start of the data section
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// All weights of a checkpoint directory: model.safetensors, or the shards listed by
// model.safetensors.index.json, or (fallback) every *.safetensors in the directory.
class Checkpoint {
 public:
  static Result<Checkpoint> open_dir(const std::string& dir);

  bool has(const std::string& name) const;
  Result<TensorInfo> info(const std::string& name) const;
  // Host view into the mapping, in the stored dtype; the Checkpoint must outlive it.
  Result<Tensor> tensor(const std::string& name) const;
  // Like tensor() but also checks the shape (error names file, tensor, both shapes).
  Result<Tensor> tensor(const std::string& name, const Shape& expected_shape) const;
  std::vector<std::string> names() const;  // sorted
  size_t total_bytes() const;

 private:
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> where_;  // tensor name -> index into files_
};

// Writes tensors to a .safetensors file (for tests, fixtures and dummy checkpoints).
struct NamedTensor {
  std::string name;
  Tensor tensor;  // host, contiguous
};
Status write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                         const std::map<std::string, std::string>& metadata = {});

}  // namespace radix
