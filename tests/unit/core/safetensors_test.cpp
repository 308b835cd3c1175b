// Tests for the safetensors reader/writer (core/safetensors.h): round trips of every
// dtype, sharded checkpoints, every class of corrupt header, truncation at every byte,
// and a seeded mutation fuzz of parse_header with an independent consistency oracle.
#include "core/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/buffer.h"

namespace radix {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "radix_st_XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    RADIX_CHECK(p != nullptr);
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (fs::path(path_) / name).string(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A raw safetensors image: length prefix + header text (unpadded) + data bytes.
std::string raw_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(uint64_t{header.size()} >> (8 * i));
  return out + header + data;
}

// Host tensor whose bytes are a recognisable pattern derived from `seed`.
OwnedTensor patterned(const Shape& shape, DType dtype, int seed) {
  OwnedTensor t = OwnedTensor::host(shape, dtype);
  auto* b = static_cast<unsigned char*>(t.view().data());
  for (size_t i = 0; i < t.view().nbytes(); ++i)
    b[i] = static_cast<unsigned char>(seed * 31 + i * 7);
  return t;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.nbytes() == b.nbytes() &&
         (a.nbytes() == 0 || std::memcmp(a.data(), b.data(), a.nbytes()) == 0);
}

void expect_error_names(const Status& s, const std::vector<std::string>& needles) {
  ASSERT_FALSE(s.is_ok());
  for (const std::string& n : needles) {
    EXPECT_NE(s.message().find(n), std::string::npos) << "'" << n << "' not in: " << s.message();
  }
}

// ------------------------------------------------------------------ round trips

TEST(Safetensors, RoundTripsEveryDtypeWithShapesAndMetadata) {
  TempDir dir;
  const std::vector<DType> dtypes = {DType::kF32,    DType::kF16, DType::kBF16, DType::kF8E4M3,
                                     DType::kF8E5M2, DType::kI32, DType::kI64,  DType::kU8};
  std::vector<OwnedTensor> owned;
  std::vector<NamedTensor> named;
  for (size_t i = 0; i < dtypes.size(); ++i) {
    owned.push_back(patterned({3, static_cast<int64_t>(i) + 2}, dtypes[i], static_cast<int>(i)));
  }
  owned.push_back(patterned({}, DType::kF32, 100));                 // a scalar
  owned.push_back(patterned({0, 4}, DType::kBF16, 101));            // empty
  owned.push_back(patterned({2, 1, 3, 1, 2, 1}, DType::kU8, 102));  // six dims
  for (size_t i = 0; i < owned.size(); ++i) {
    named.push_back(
        {"t" + std::to_string(i) + "." + dtype_name(owned[i].view().dtype()), owned[i]});
  }
  const std::string path = dir.file("model.safetensors");
  ASSERT_TRUE(write_safetensors(path, named, {{"format", "pt"}, {"note", "x"}}).is_ok());

  auto f = SafetensorsFile::open(path);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  EXPECT_EQ((*f)->tensors().size(), named.size());
  EXPECT_EQ((*f)->metadata().at("format"), "pt");
  EXPECT_EQ((*f)->metadata().at("note"), "x");
  for (const NamedTensor& nt : named) {
    auto t = (*f)->tensor(nt.name);
    ASSERT_TRUE(t.is_ok()) << nt.name;
    EXPECT_EQ(t->dtype(), nt.tensor.dtype()) << nt.name;
    EXPECT_EQ(t->shape(), nt.tensor.shape()) << nt.name;
    EXPECT_TRUE(same_bytes(*t, nt.tensor)) << nt.name;
  }
  EXPECT_EQ((*f)->tensor("nope").status().code(), StatusCode::kNotFound);
}

TEST(Safetensors, WriterPadsHeaderToEightBytesAndAlignsEveryTensor) {
  TempDir dir;
  OwnedTensor a = patterned({3}, DType::kU8, 1), b = patterned({5}, DType::kI64, 2),
              c = patterned({7}, DType::kF16, 3), d = patterned({1}, DType::kF32, 4);
  const std::string path = dir.file("x.safetensors");
  ASSERT_TRUE(write_safetensors(path, {{"a", a}, {"b", b}, {"c", c}, {"d", d}}).is_ok());
  const std::string bytes = read_bytes(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes[8], '{');
  auto f = SafetensorsFile::open(path);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  size_t total = 0;
  for (const TensorInfo& t : (*f)->tensors()) {
    EXPECT_EQ(t.offset % dtype_size(t.dtype), 0u) << t.name;
    total += t.nbytes;
  }
  EXPECT_EQ(bytes.size(), 8 + n + total);  // no gaps
}

TEST(Safetensors, WriterRejectsDuplicateAndReservedNames) {
  TempDir dir;
  OwnedTensor a = patterned({2}, DType::kF32, 1);
  EXPECT_FALSE(write_safetensors(dir.file("d.safetensors"), {{"a", a}, {"a", a}}).is_ok());
  EXPECT_FALSE(write_safetensors(dir.file("m.safetensors"), {{"__metadata__", a}}).is_ok());
  EXPECT_FALSE(write_safetensors(dir.file("e.safetensors"), {{"", a}}).is_ok());
  EXPECT_FALSE(write_safetensors(dir.path() + "/no/such/dir/x.safetensors", {{"a", a}}).is_ok());
}

// ------------------------------------------------------------------ checkpoints

struct Shards {
  OwnedTensor embed = patterned({4, 2}, DType::kBF16, 1);
  OwnedTensor w0 = patterned({2, 2}, DType::kF32, 2);
  OwnedTensor w1 = patterned({2, 2}, DType::kF32, 3);
  OwnedTensor head = patterned({4, 2}, DType::kF16, 4);

  void write(const TempDir& dir) const {
    ASSERT_TRUE(write_safetensors(dir.file("model-00001-of-00002.safetensors"),
                                  {{"embed", embed}, {"layers.0.w", w0}})
                    .is_ok());
    ASSERT_TRUE(write_safetensors(dir.file("model-00002-of-00002.safetensors"),
                                  {{"layers.1.w", w1}, {"lm_head", head}})
                    .is_ok());
  }
  static Json index() {
    return {{"metadata", {{"total_size", 56}}},
            {"weight_map",
             {{"embed", "model-00001-of-00002.safetensors"},
              {"layers.0.w", "model-00001-of-00002.safetensors"},
              {"layers.1.w", "model-00002-of-00002.safetensors"},
              {"lm_head", "model-00002-of-00002.safetensors"}}}};
  }
};

TEST(Checkpoint, OpensShardedDirectoryThroughTheIndex) {
  TempDir dir;
  Shards s;
  s.write(dir);
  write_bytes(dir.file("model.safetensors.index.json"), Shards::index().dump(2));
  auto ck = Checkpoint::open_dir(dir.path());
  ASSERT_TRUE(ck.is_ok()) << ck.status().to_string();
  EXPECT_EQ(ck->names(),
            (std::vector<std::string>{"embed", "layers.0.w", "layers.1.w", "lm_head"}));
  EXPECT_EQ(ck->total_bytes(), 16u + 16u + 16u + 16u);
  EXPECT_TRUE(ck->has("lm_head"));
  EXPECT_FALSE(ck->has("nope"));
  auto w1 = ck->tensor("layers.1.w", {2, 2});
  ASSERT_TRUE(w1.is_ok()) << w1.status().to_string();
  EXPECT_TRUE(same_bytes(*w1, s.w1));
  auto info = ck->info("lm_head");
  ASSERT_TRUE(info.is_ok());
  EXPECT_NE(info->file.find("model-00002-of-00002.safetensors"), std::string::npos);
  EXPECT_EQ(info->dtype, DType::kF16);
  EXPECT_EQ(ck->info("nope").status().code(), StatusCode::kNotFound);
}

TEST(Checkpoint, PrefersModelSafetensorsOverEverythingElse) {
  TempDir dir;
  OwnedTensor a = patterned({2}, DType::kF32, 9);
  ASSERT_TRUE(write_safetensors(dir.file("model.safetensors"), {{"only", a}}).is_ok());
  ASSERT_TRUE(write_safetensors(dir.file("other.safetensors"), {{"ignored", a}}).is_ok());
  auto ck = Checkpoint::open_dir(dir.path());
  ASSERT_TRUE(ck.is_ok()) << ck.status().to_string();
  EXPECT_EQ(ck->names(), std::vector<std::string>{"only"});
}

TEST(Checkpoint, FallsBackToEverySafetensorsFileInTheDirectory) {
  TempDir dir;
  Shards s;
  s.write(dir);
  auto ck = Checkpoint::open_dir(dir.path());
  ASSERT_TRUE(ck.is_ok()) << ck.status().to_string();
  EXPECT_EQ(ck->names().size(), 4u);
}

TEST(Checkpoint, DuplicateTensorAcrossFilesIsAnErrorNamingBothFiles) {
  TempDir dir;
  OwnedTensor a = patterned({2}, DType::kF32, 1);
  ASSERT_TRUE(write_safetensors(dir.file("a.safetensors"), {{"w", a}}).is_ok());
  ASSERT_TRUE(write_safetensors(dir.file("b.safetensors"), {{"w", a}}).is_ok());
  auto ck = Checkpoint::open_dir(dir.path());
  expect_error_names(ck.status(), {"w", "a.safetensors", "b.safetensors"});
}

TEST(Checkpoint, MissingShardIsNotFoundNamingTheShard) {
  TempDir dir;
  Shards s;
  s.write(dir);
  fs::remove(dir.file("model-00002-of-00002.safetensors"));
  write_bytes(dir.file("model.safetensors.index.json"), Shards::index().dump());
  auto ck = Checkpoint::open_dir(dir.path());
  EXPECT_EQ(ck.status().code(), StatusCode::kNotFound);
  expect_error_names(ck.status(), {"model-00002-of-00002.safetensors", "index.json"});
}

TEST(Checkpoint, IndexListingATensorItsShardLacksIsAnError) {
  TempDir dir;
  Shards s;
  s.write(dir);
  Json index = Shards::index();
  index["weight_map"]["lm_head"] = "model-00001-of-00002.safetensors";  // wrong shard
  write_bytes(dir.file("model.safetensors.index.json"), index.dump());
  expect_error_names(Checkpoint::open_dir(dir.path()).status(),
                     {"lm_head", "model-00001-of-00002.safetensors"});

  index = Shards::index();
  index["weight_map"]["ghost"] = "model-00002-of-00002.safetensors";  // not in any shard
  write_bytes(dir.file("model.safetensors.index.json"), index.dump());
  expect_error_names(Checkpoint::open_dir(dir.path()).status(), {"ghost"});
}

TEST(Checkpoint, MalformedIndexFilesAreErrors) {
  TempDir dir;
  Shards s;
  s.write(dir);
  const std::string index = dir.file("model.safetensors.index.json");
  for (const std::string& text :
       {std::string("not json"), std::string("[1,2]"), std::string("{\"metadata\":{}}"),
        std::string("{\"weight_map\":[]}"), std::string("{\"weight_map\":{\"embed\":3}}"),
        std::string("{\"weight_map\":{}}"),
        std::string("{\"weight_map\":{\"embed\":\"../model-00001-of-00002.safetensors\"}}")}) {
    write_bytes(index, text);
    auto ck = Checkpoint::open_dir(dir.path());
    EXPECT_FALSE(ck.is_ok()) << text;
    EXPECT_NE(ck.status().message().find("index.json"), std::string::npos) << ck.status().message();
  }
}

TEST(Checkpoint, MissingDirectoryOrNoWeightsIsNotFound) {
  TempDir dir;
  auto missing = Checkpoint::open_dir(dir.file("nope"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  expect_error_names(missing.status(), {"nope"});

  auto empty = Checkpoint::open_dir(dir.path());
  EXPECT_EQ(empty.status().code(), StatusCode::kNotFound);
  expect_error_names(empty.status(), {dir.path(), "model.safetensors"});

  write_bytes(dir.file("pytorch_model.bin"), "x");
  expect_error_names(Checkpoint::open_dir(dir.path()).status(), {".bin"});
}

TEST(Checkpoint, ShapeMismatchNamesFileTensorAndBothShapes) {
  TempDir dir;
  OwnedTensor a = patterned({4, 2}, DType::kF32, 1);
  ASSERT_TRUE(write_safetensors(dir.file("model.safetensors"), {{"q_proj", a}}).is_ok());
  auto ck = Checkpoint::open_dir(dir.path());
  ASSERT_TRUE(ck.is_ok());
  EXPECT_TRUE(ck->tensor("q_proj", {4, 2}).is_ok());
  expect_error_names(ck->tensor("q_proj", {2, 4}).status(),
                     {"model.safetensors", "tensor q_proj has shape [4, 2], expected [2, 4]"});
  EXPECT_EQ(ck->tensor("k_proj").status().code(), StatusCode::kNotFound);
  expect_error_names(ck->tensor("k_proj", {1}).status(), {"k_proj"});
}

// ------------------------------------------------------------------ corrupt headers

struct BadHeader {
  const char* what;
  std::string header;
  size_t data_size;
  std::vector<std::string> needles;  // besides the file name
};

TEST(Safetensors, EveryKindOfInconsistentHeaderIsAnErrorNamingFileAndTensor) {
  const std::vector<BadHeader> cases = {
      {"not JSON", "{\"w\": {", 0, {"not valid JSON"}},
      {"not an object", "[1, 2]", 0, {"'{'"}},
      {"trailing garbage", "{} x", 0, {"JSON"}},
      {"entry not an object", R"({"w": 3})", 0, {"tensor w", "object"}},
      {"missing dtype",
       R"({"w": {"shape": [1], "data_offsets": [0, 4]}})",
       4,
       {"tensor w", "dtype"}},
      {"missing shape",
       R"({"w": {"dtype": "F32", "data_offsets": [0, 4]}})",
       4,
       {"tensor w", "shape"}},
      {"missing offsets",
       R"({"w": {"dtype": "F32", "shape": [1]}})",
       4,
       {"tensor w", "data_offsets"}},
      {"dtype not a string",
       R"({"w": {"dtype": 7, "shape": [1], "data_offsets": [0, 4]}})",
       4,
       {"tensor w", "dtype"}},
      {"unknown dtype",
       R"({"w": {"dtype": "Q4_K", "shape": [1], "data_offsets": [0, 1]}})",
       1,
       {"tensor w", "Q4_K", "F32"}},
      {"bool dtype",
       R"({"w": {"dtype": "BOOL", "shape": [1], "data_offsets": [0, 1]}})",
       1,
       {"tensor w", "BOOL"}},
      {"f64 dtype",
       R"({"w": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}})",
       8,
       {"tensor w", "F64"}},
      {"lower-case dtype",
       R"({"w": {"dtype": "f32", "shape": [1], "data_offsets": [0, 4]}})",
       4,
       {"tensor w", "f32"}},
      {"shape not an array",
       R"({"w": {"dtype": "F32", "shape": 4, "data_offsets": [0, 16]}})",
       16,
       {"tensor w", "shape"}},
      {"negative dim",
       R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})",
       4,
       {"tensor w", "-1"}},
      {"float dim",
       R"({"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})",
       4,
       {"tensor w", "shape"}},
      {"string dim",
       R"({"w": {"dtype": "F32", "shape": ["2"], "data_offsets": [0, 8]}})",
       8,
       {"tensor w", "shape"}},
      {"huge dim",
       R"({"w": {"dtype": "U8", "shape": [18446744073709551615], "data_offsets": [0, 1]}})",
       1,
       {"tensor w", "overflow"}},
      {"numel overflow",
       R"({"w": {"dtype": "U8", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}})",
       0,
       {"tensor w", "overflow"}},
      {"byte overflow",
       R"({"w": {"dtype": "I64", "shape": [4611686018427387904], "data_offsets": [0, 0]}})",
       0,
       {"tensor w", "overflow"}},
      {"too many dims",
       R"({"w": {"dtype": "U8", "shape": [1,1,1,1,1,1,1], "data_offsets": [0, 1]}})",
       1,
       {"tensor w", "dimensions"}},
      {"offsets wrong length",
       R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})",
       4,
       {"tensor w", "data_offsets"}},
      {"offsets not integers",
       R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": ["0", "4"]}})",
       4,
       {"tensor w", "data_offsets"}},
      {"negative offset",
       R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}})",
       4,
       {"tensor w", "data_offsets"}},
      {"begin after end",
       R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}})",
       8,
       {"tensor w", "begin"}},
      {"end past data",
       R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})",
       7,
       {"tensor w", "past the data section"}},
      {"byte count mismatch",
       R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})",
       8,
       {"tensor w", "needs 8"}},
      {"overlap",
       R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
           "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
       12,
       {"tensor b", "overlaps tensor a"}},
      {"metadata not an object", R"({"__metadata__": [1]})", 0, {"__metadata__"}},
      {"metadata value not a string",
       R"({"__metadata__": {"format": 1}})",
       0,
       {"__metadata__", "format"}},
      {"empty name",
       R"({"": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}})",
       1,
       {"empty"}},
  };
  for (const BadHeader& c : cases) {
    auto r = SafetensorsFile::parse_header(c.header, c.data_size, "bad.safetensors");
    SCOPED_TRACE(c.what);
    EXPECT_FALSE(r.is_ok());
    std::vector<std::string> needles = c.needles;
    needles.push_back("bad.safetensors");
    expect_error_names(r.status(), needles);
  }
}

TEST(Safetensors, UnsupportedDtypeIsUnimplementedNotDataLoss) {
  auto r = SafetensorsFile::parse_header(
      R"({"w": {"dtype": "BOOL", "shape": [1], "data_offsets": [0, 1]}})", 1, "f");
  EXPECT_EQ(r.status().code(), StatusCode::kUnimplemented);
}

TEST(Safetensors, AcceptsTrailingSpacePaddingEmptyTensorsAndUnknownEntryFields) {
  auto r = SafetensorsFile::parse_header(
      R"({"a": {"dtype": "BF16", "shape": [0, 3], "data_offsets": [4, 4], "extra": 1},
          "b": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}}     )",
      4, "f");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_EQ(r->size(), 2u);
}

TEST(Safetensors, FileLevelCorruptionIsDataLossNamingTheFile) {
  TempDir dir;
  const std::string p = dir.file("x.safetensors");
  const std::string good_header = R"({"w":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})";

  write_bytes(p, "");
  expect_error_names(SafetensorsFile::open(p).status(), {p, "too small"});
  write_bytes(p, "abc");
  expect_error_names(SafetensorsFile::open(p).status(), {p, "too small"});

  std::string huge = raw_file(good_header, "ab");
  huge[6] = 1;  // header length ~2^48
  expect_error_names(SafetensorsFile::open(p + "").status(), {p});
  write_bytes(p, huge);
  expect_error_names(SafetensorsFile::open(p).status(), {p, "header length"});

  std::string not_json = raw_file("PK\x03\x04 zip", "");
  write_bytes(p, not_json);
  expect_error_names(SafetensorsFile::open(p).status(), {p, "'{'"});

  write_bytes(p, raw_file(good_header, "a"));  // data one byte short
  expect_error_names(SafetensorsFile::open(p).status(), {p, "tensor w"});

  expect_error_names(SafetensorsFile::open(dir.file("absent.safetensors")).status(),
                     {"absent.safetensors"});
  EXPECT_EQ(SafetensorsFile::open(dir.file("absent.safetensors")).status().code(),
            StatusCode::kNotFound);
  expect_error_names(SafetensorsFile::open(dir.path()).status(), {"not a regular file"});
}

TEST(Safetensors, TruncationAtEveryByteIsAnErrorNeverACrash) {
  TempDir dir;
  OwnedTensor a = patterned({3, 2}, DType::kF32, 1), b = patterned({5}, DType::kBF16, 2),
              c = patterned({3}, DType::kU8, 3);
  const std::string full_path = dir.file("full.safetensors");
  ASSERT_TRUE(write_safetensors(full_path, {{"a", a}, {"b", b}, {"c", c}}, {{"k", "v"}}).is_ok());
  const std::string full = read_bytes(full_path);
  ASSERT_TRUE(SafetensorsFile::open(full_path).is_ok());
  const std::string p = dir.file("cut.safetensors");
  for (size_t len = 0; len < full.size(); ++len) {
    write_bytes(p, full.substr(0, len));
    auto f = SafetensorsFile::open(p);
    EXPECT_FALSE(f.is_ok()) << "truncated to " << len << " of " << full.size() << " bytes";
    if (!f.is_ok()) {
      EXPECT_NE(f.status().message().find(p), std::string::npos);
    }
  }
}

// ------------------------------------------------------------------ fuzz

// The independent oracle: when parse_header reports ok, every tensor must be in bounds
// and consistent, and must agree with what the JSON itself says.
void check_consistent(const std::string& header, size_t data_size,
                      const std::vector<TensorInfo>& infos) {
  const Json j = Json::parse(header, nullptr, false);
  ASSERT_TRUE(j.is_object()) << header;
  size_t entries = 0;
  for (auto it = j.begin(); it != j.end(); ++it) entries += it.key() != "__metadata__";
  ASSERT_EQ(infos.size(), entries) << header;
  std::set<std::string> names;
  std::vector<std::pair<size_t, size_t>> ranges;
  for (const TensorInfo& t : infos) {
    ASSERT_TRUE(names.insert(t.name).second) << header;
    ASSERT_TRUE(j.contains(t.name)) << header;
    const Json& e = j.at(t.name);
    uint64_t numel = 1;
    ASSERT_EQ(e.at("shape").size(), t.shape.size()) << header;
    for (size_t i = 0; i < t.shape.size(); ++i) {
      ASSERT_GE(t.shape[i], 0);
      ASSERT_EQ(e.at("shape")[i].get<int64_t>(), t.shape[i]) << header;
      numel *= static_cast<uint64_t>(t.shape[i]);
    }
    ASSERT_EQ(t.nbytes, numel * dtype_size(t.dtype)) << header;
    ASSERT_EQ(e.at("data_offsets")[0].get<uint64_t>(), t.offset) << header;
    ASSERT_EQ(e.at("data_offsets")[1].get<uint64_t>(), t.offset + t.nbytes) << header;
    ASSERT_LE(t.offset, data_size) << header;
    ASSERT_LE(t.nbytes, data_size - t.offset) << header;
    if (t.nbytes > 0) ranges.emplace_back(t.offset, t.offset + t.nbytes);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    ASSERT_LE(ranges[i - 1].second, ranges[i].first) << header;
}

std::string mutate(std::string s, std::mt19937_64& rng) {
  static const std::vector<std::string> kFragments = {
      "{",
      "}",
      "[",
      "]",
      ",",
      ":",
      "\"",
      "-1",
      "0",
      "1e308",
      "-0",
      "1.5",
      "null",
      "true",
      "18446744073709551615",
      "18446744073709551616",
      "9223372036854775807",
      "4294967296",
      "\"dtype\":\"F32\"",
      "\"shape\":[]",
      "\"data_offsets\":[0,0]",
      "\"__metadata__\":{}",
      "\"BOOL\"",
      "\"I64\"",
      "\"F8_E4M3\"",
      "\\u0000",
      "\\ud800",
      "\xff",
      "\x00",
      "[[[[",
      "]]]]",
      "{\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}},"};
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  // Mostly a single mutation, so that a fair share of mutants stay valid JSON and
  // reach the consistency checks rather than the JSON parser's rejection.
  const int rounds = rng() % 4 == 0 ? 2 + static_cast<int>(rng() % 3) : 1;
  for (int r = 0; r < rounds; ++r) {
    switch (rng() % 6) {
      case 0:  // flip a byte
        if (!s.empty()) s[pick(s.size())] = static_cast<char>(rng());
        break;
      case 1:  // replace a byte by a digit (keeps the JSON valid surprisingly often)
        if (!s.empty()) s[pick(s.size())] = static_cast<char>('0' + rng() % 10);
        break;
      case 2:  // truncate
        s.resize(pick(s.size() + 1));
        break;
      case 3:  // insert a fragment
        s.insert(pick(s.size() + 1), kFragments[pick(kFragments.size())]);
        break;
      case 4: {  // delete a span
        const size_t at = pick(s.size() + 1);
        s.erase(at, pick(8) + 1);
        break;
      }
      case 5: {  // duplicate a span
        const size_t at = pick(s.size() + 1);
        const std::string span = s.substr(at, pick(24) + 1);
        s.insert(pick(s.size() + 1), span);
        break;
      }
    }
  }
  return s;
}

TEST(Safetensors, ParseHeaderSurvivesThousandsOfSeededMutations) {
  const std::string base = R"({"__metadata__":{"format":"pt"},)"
                           R"("model.embed":{"dtype":"BF16","shape":[4,2],"data_offsets":[0,16]},)"
                           R"("model.norm":{"dtype":"F32","shape":[2],"data_offsets":[16,24]},)"
                           R"("q":{"dtype":"F8_E4M3","shape":[3],"data_offsets":[24,27]},)"
                           R"("ids":{"dtype":"I64","shape":[1,1],"data_offsets":[32,40]},)"
                           R"("empty":{"dtype":"U8","shape":[0],"data_offsets":[40,40]}})";
  ASSERT_TRUE(SafetensorsFile::parse_header(base, 40, "base").is_ok());
  int accepted = 0;
  constexpr int kIterations = 20000;
  for (int i = 0; i < kIterations; ++i) {
    std::mt19937_64 rng(0x5afe7e75u + static_cast<uint64_t>(i));
    const std::string header = mutate(base, rng);
    const size_t data_size = rng() % 4 == 0 ? 38 + static_cast<size_t>(rng() % 5) : 40;
    auto r = SafetensorsFile::parse_header(header, data_size, "fuzz");
    if (r.is_ok()) {
      ++accepted;
      SCOPED_TRACE("iteration " + std::to_string(i));
      check_consistent(header, data_size, *r);
      if (HasFatalFailure()) return;
    } else {
      ASSERT_NE(r.status().message().find("fuzz"), std::string::npos) << r.status().message();
    }
  }
  // The oracle must actually have been exercised by accepted mutants.
  EXPECT_GT(accepted, kIterations / 100);
}

TEST(Safetensors, OpenSurvivesMutatedFileImages) {
  TempDir dir;
  OwnedTensor a = patterned({3, 2}, DType::kF32, 1), b = patterned({5}, DType::kBF16, 2);
  const std::string src = dir.file("src.safetensors");
  ASSERT_TRUE(write_safetensors(src, {{"a", a}, {"b", b}}).is_ok());
  const std::string full = read_bytes(src);
  const std::string p = dir.file("m.safetensors");
  for (int i = 0; i < 500; ++i) {
    std::mt19937_64 rng(77 + static_cast<uint64_t>(i));
    std::string img = full;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < flips; ++k) {
      // Bias toward the length prefix and header, where the structure lives.
      const size_t at = rng() % 2 ? rng() % 8 : rng() % img.size();
      img[at] = static_cast<char>(rng());
    }
    write_bytes(p, img);
    auto f = SafetensorsFile::open(p);
    if (!f.is_ok()) continue;
    for (const TensorInfo& t : (*f)->tensors()) {  // touch every byte of every view
      auto v = (*f)->tensor(t.name);
      ASSERT_TRUE(v.is_ok());
      unsigned sum = 0;
      for (size_t k = 0; k < v->nbytes(); ++k)
        sum += static_cast<const unsigned char*>(v->data())[k];
      (void)sum;
    }
  }
}

}  // namespace
}  // namespace radix
