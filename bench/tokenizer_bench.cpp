// `radix bench tokenizer` (see tokenizer_bench.h): corpus, timing of radix's encoder, and
// the Hugging Face reference run through node (tools/bench/tokenizers_ref.mjs).
#include "bench/tokenizer_bench.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/file_util.h"
#include "tokenizer/tokenizer.h"

extern char** environ;

namespace radix {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr const char* kCorpusMarker = "tests/data/tokenizer/corpus.jsonl";
constexpr const char* kReferenceScript = "tools/bench/tokenizers_ref.mjs";

// splitmix64: a small generator whose sequence is the same on every platform (the
// standard distributions are not), so the corpus is too.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }

 private:
  uint64_t state_;
};

uint32_t fnv1a(uint32_t h, std::string_view bytes) {
  for (unsigned char c : bytes) h = (h ^ c) * 0x01000193u;
  return h;
}

void finish_corpus(BenchCorpus* c) {
  c->bytes = 0;
  c->hash = 0x811C9DC5u;
  for (const auto& d : c->docs) {
    c->bytes += d.size();
    c->hash = fnv1a(fnv1a(c->hash, d), "\xff");
  }
}

bool is_valid_utf8_text(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

// Every string value in a JSON document (chat messages, template renderings).
void collect_strings(const Json& j, std::vector<std::string>* out) {
  if (j.is_string()) {
    if (!j.get_ref<const std::string&>().empty()) out->push_back(j.get<std::string>());
  } else if (j.is_array() || j.is_object()) {
    for (const auto& v : j) collect_strings(v, out);
  }
}

// Paragraphs of a source file: text between blank lines.
void split_paragraphs(const std::string& text, std::vector<std::string>* out) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find("\n\n", start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out->push_back(text.substr(start, end - start));
    start = end + 2;
  }
}

// The paragraph pools of the mixed corpus, by kind.
struct Pools {
  std::vector<std::string> multilingual;  // *.jsonl lines: the tokenizer parity corpus
  std::vector<std::string> chat;          // strings of *.json: conversations, templates
  std::vector<std::string> code;          // paragraphs of sources
};

Result<Pools> read_pools(const fs::path& tests_dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(tests_dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory() && it->path().filename() == "node_modules") {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file() || it->file_size() > (1u << 20)) continue;
    if (it->path().filename() == "package-lock.json") continue;
    static const char* const kExts[] = {".jsonl", ".json", ".cpp", ".h",  ".cu", ".cuh",
                                        ".mjs",   ".js",   ".py",  ".md", ".txt"};
    const std::string ext = it->path().extension().string();
    if (std::find(std::begin(kExts), std::end(kExts), ext) != std::end(kExts)) {
      files.push_back(it->path());
    }
  }
  if (ec) return not_found("cannot list " + tests_dir.string() + ": " + ec.message());
  std::sort(files.begin(), files.end());  // directory order is not deterministic
  Pools pools;
  for (const auto& f : files) {
    RADIX_ASSIGN_OR_RETURN(const std::string text, read_file(f.string()));
    if (!is_valid_utf8_text(text)) continue;
    const std::string ext = f.extension().string();
    if (ext == ".jsonl") {
      std::istringstream in(text);
      std::string line;
      while (std::getline(in, line)) {
        Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (j.is_string() && !j.get_ref<const std::string&>().empty()) {
          pools.multilingual.push_back(j.get<std::string>());
        }
      }
    } else if (ext == ".json") {
      Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (!j.is_discarded()) collect_strings(j, &pools.chat);
    } else {
      split_paragraphs(text, &pools.code);
    }
  }
  if (pools.multilingual.empty() || pools.chat.empty() || pools.code.empty()) {
    return not_found("no corpus material under " + tests_dir.string() +
                     " (expected *.jsonl, *.json and source files)");
  }
  return pools;
}

std::string describe_path(const fs::path& p) {
  std::error_code ec;
  const fs::path c = fs::weakly_canonical(p, ec);
  return ec ? p.string() : c.string();
}

// Runs `argv` with `env_extra` added to the environment; returns its stdout. Its stderr
// goes to ours, so node's own errors reach the user.
Result<std::string> run_capture(const std::vector<std::string>& argv,
                                const std::vector<std::string>& env_extra) {
  int fds[2];
  if (::pipe(fds) != 0) return internal_error("pipe() failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
  for (const auto& e : env_extra) env.push_back(const_cast<char*>(e.c_str()));
  env.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return not_found("cannot run '" + argv[0] + "': " + std::strerror(rc) +
                     " (install node, or pass --no-reference)");
  }
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return internal_error("'" + argv[0] + " " + (argv.size() > 1 ? argv[1] : "") +
                          "' failed (see its message above)");
  }
  return out;
}

Status write_jsonl(const BenchCorpus& corpus, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  for (const auto& d : corpus.docs) out << Json(d).dump() << '\n';
  out.close();
  if (!out) return data_loss("cannot write " + path);
  return Status::ok();
}

Result<EncodeThroughput> parse_reference_run(const Json& j, const char* key, std::string label) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_object()) return internal_error(std::string("no '") + key + "'");
  EncodeThroughput t;
  t.label = std::move(label);
  t.seconds = it->at("seconds").get<std::vector<double>>();
  t.tokens = it->at("tokens").get<int64_t>();
  if (t.seconds.empty()) return internal_error(std::string("'") + key + "' has no passes");
  return t;
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%08x", v);
  return buf;
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

}  // namespace

double EncodeThroughput::median_seconds() const {
  std::vector<double> s = seconds;
  std::sort(s.begin(), s.end());
  return s.empty() ? 0 : s[s.size() / 2];
}

uint32_t hash_ids(const std::vector<int32_t>& ids) {
  uint32_t h = 0x811C9DC5u;
  for (int32_t id : ids) h = (h ^ static_cast<uint32_t>(id)) * 0x01000193u;
  return h;
}

Result<std::string> find_source_dir(const std::string& hint) {
  std::vector<fs::path> starts;
  if (!hint.empty()) {
    if (fs::exists(fs::path(hint) / kCorpusMarker)) return hint;
    return not_found("--source-dir " + hint + " has no " + kCorpusMarker);
  }
  std::error_code ec;
  starts.push_back(fs::current_path(ec));
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) starts.push_back(exe.parent_path());
  for (fs::path p : starts) {
    for (; !p.empty(); p = p.parent_path()) {
      if (fs::exists(p / kCorpusMarker, ec)) return p.string();
      if (p == p.parent_path()) break;
    }
  }
  return not_found(std::string("cannot find the radix checkout (") + kCorpusMarker +
                   ") from the working directory or the binary; pass --source-dir or --corpus");
}

Result<BenchCorpus> build_mixed_corpus(const std::string& source_dir, size_t target_bytes,
                                       uint64_t seed) {
  RADIX_ASSIGN_OR_RETURN(Pools pools, read_pools(fs::path(source_dir) / "tests"));
  // By bytes: a quarter multilingual and edge cases, a quarter chat, half code.
  const std::vector<std::string>* kinds[] = {&pools.multilingual, &pools.chat, &pools.code,
                                             &pools.code};
  Rng rng(seed);
  BenchCorpus c;
  size_t total = 0;
  while (total < target_bytes) {
    const size_t want = 1024 + rng.below(7 * 1024 + 1);
    std::string doc;
    while (doc.size() < want) {
      const auto& pool = *kinds[rng.below(4)];
      if (!doc.empty()) doc += "\n\n";
      doc += pool[rng.below(pool.size())];
    }
    total += doc.size();
    c.docs.push_back(std::move(doc));
  }
  finish_corpus(&c);
  c.description =
      "mixed corpus from " + describe_path(fs::path(source_dir) / "tests") + " (" +
      std::to_string(pools.multilingual.size() + pools.chat.size() + pools.code.size()) +
      " paragraphs, seed " + std::to_string(seed) + ")";
  return c;
}

Result<BenchCorpus> load_corpus_file(const std::string& path) {
  RADIX_ASSIGN_OR_RETURN(const std::string text, read_file(path));
  BenchCorpus c;
  if (fs::path(path).extension() == ".jsonl") {
    std::istringstream in(text);
    std::string line;
    for (size_t n = 1; std::getline(in, line); ++n) {
      if (line.empty()) continue;
      Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!j.is_string()) {
        return invalid_argument(path + ":" + std::to_string(n) + ": not a JSON string");
      }
      c.docs.push_back(j.get<std::string>());
    }
  } else {
    size_t start = 0;
    while (start < text.size()) {
      size_t end = std::min(text.size(), start + 4096);
      const size_t nl = text.find('\n', end);
      end = nl == std::string::npos ? text.size() : nl + 1;
      c.docs.push_back(text.substr(start, end - start));
      start = end;
    }
  }
  for (const auto& d : c.docs) {
    if (!is_valid_utf8_text(d)) {
      return invalid_argument(path +
                              " is not valid UTF-8 (both tokenizers would repair it "
                              "differently in byte counts)");
    }
  }
  if (c.docs.empty()) return invalid_argument(path + " holds no documents");
  finish_corpus(&c);
  c.description = describe_path(path);
  return c;
}

Result<TokenizerBenchResult> run_tokenizer_bench(const TokenizerBenchOptions& o) {
  if (o.iterations < 1) return invalid_argument("--iterations must be >= 1");
  if (!(o.corpus_mb > 0) || o.corpus_mb > 4096) {
    return invalid_argument("--corpus-mb must be in (0, 4096]");
  }
  // Both sides read the same tokenizer.json; tokenizer_config.json is left out because HF
  // `tokenizers` does not read it (it only changes which BOS/EOS a template adds).
  fs::path tok_file = o.tokenizer;
  if (fs::is_directory(tok_file)) tok_file /= "tokenizer.json";
  RADIX_ASSIGN_OR_RETURN(auto tok, Tokenizer::from_file(tok_file.string()));

  std::string source_dir;
  if (o.corpus_file.empty() || o.reference) {
    RADIX_ASSIGN_OR_RETURN(source_dir, find_source_dir(o.source_dir));
  }
  TokenizerBenchResult r;
  if (o.corpus_file.empty()) {
    RADIX_ASSIGN_OR_RETURN(
        r.corpus, build_mixed_corpus(source_dir, static_cast<size_t>(o.corpus_mb * 1e6), o.seed));
  } else {
    RADIX_ASSIGN_OR_RETURN(r.corpus, load_corpus_file(o.corpus_file));
  }
  if (!o.save_corpus.empty()) RADIX_RETURN_IF_ERROR(write_jsonl(r.corpus, o.save_corpus));
  r.tokenizer = describe_path(tok_file);
  r.num_docs = r.corpus.docs.size();
  r.iterations = o.iterations;
  r.add_special_tokens = o.add_special_tokens;

  // radix: one encode() per document, single thread; ids of the first pass kept as hashes.
  std::vector<std::pair<int64_t, uint32_t>> ours(r.num_docs);
  r.radix.label = "radix encode";
  for (int pass = 0; pass < o.iterations; ++pass) {
    int64_t tokens = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t d = 0; d < r.num_docs; ++d) {
      const std::vector<int32_t> ids = tok->encode(r.corpus.docs[d], o.add_special_tokens);
      tokens += static_cast<int64_t>(ids.size());
      if (pass == 0) ours[d] = {static_cast<int64_t>(ids.size()), hash_ids(ids)};
    }
    r.radix.seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    r.radix.tokens = tokens;
  }

  if (o.reference) {
    // The corpus goes to node as JSONL in a temporary file.
    char path[] = "/tmp/radix-bench-corpus-XXXXXX";
    const int fd = ::mkstemp(path);
    if (fd < 0) return internal_error("cannot create a temporary corpus file");
    ::close(fd);
    struct Remove {
      const char* p;
      ~Remove() { std::remove(p); }
    } remove_later{path};
    RADIX_RETURN_IF_ERROR(write_jsonl(r.corpus, path));
    std::vector<std::string> argv = {
        o.node,         (fs::path(source_dir) / kReferenceScript).string(),
        "--tokenizer",  tok_file.string(),
        "--corpus",     path,
        "--iterations", std::to_string(o.iterations)};
    if (!o.add_special_tokens) argv.push_back("--no-special");
    RADIX_ASSIGN_OR_RETURN(const std::string out,
                           run_capture(argv, {"TOKENIZERS_PARALLELISM=false"}));
    Json j = Json::parse(out, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) return internal_error("the reference script printed no JSON object");
    try {
      RADIX_ASSIGN_OR_RETURN(r.hf_encode,
                             parse_reference_run(j, "encode", "HF encode (1 call per doc)"));
      RADIX_ASSIGN_OR_RETURN(r.hf_encode_batch,
                             parse_reference_run(j, "encode_batch", "HF encodeBatch (1 thread)"));
      r.hf_version = j.value("version", std::string());
      if (j.at("bytes").get<size_t>() != r.corpus.bytes) {
        return internal_error("the reference script read " + j.at("bytes").dump() +
                              " bytes of corpus, radix " + std::to_string(r.corpus.bytes));
      }
      const Json& docs = j.at("docs");
      if (!docs.is_array() || docs.size() != r.num_docs) {
        return internal_error("the reference script returned " + std::to_string(docs.size()) +
                              " documents for " + std::to_string(r.num_docs));
      }
      r.mismatched_docs = 0;
      for (size_t d = 0; d < r.num_docs; ++d) {
        if (docs[d].at(0).get<int64_t>() == ours[d].first &&
            docs[d].at(1).get<uint32_t>() == ours[d].second) {
          continue;
        }
        if (r.first_mismatch < 0) r.first_mismatch = static_cast<int64_t>(d);
        ++r.mismatched_docs;
      }
    } catch (const Json::exception& e) {
      return internal_error(std::string("unexpected output of the reference script: ") + e.what());
    }
  }
  if (r.first_mismatch >= 0) {
    r.corpus.docs = {r.corpus.docs[static_cast<size_t>(r.first_mismatch)]};
  } else {
    r.corpus.docs.clear();
  }

  if (!o.output_file.empty()) {
    std::ofstream out(o.output_file, std::ios::app);
    out << r.to_json().dump() << '\n';
    if (!out) return data_loss("cannot append to " + o.output_file);
  }
  return r;
}

std::string TokenizerBenchResult::table() const {
  std::ostringstream s;
  s << "tokenizer: " << tokenizer << "\n";
  s << "corpus:    " << corpus.description << "\n";
  s << "           " << fmt("%.2f", corpus.bytes / 1e6) << " MB of UTF-8 in " << num_docs
    << " documents, hash " << hex32(corpus.hash) << "; " << iterations
    << (iterations == 1 ? " pass" : " passes, median reported")
    << "; add_special_tokens=" << (add_special_tokens ? "true" : "false") << "; single thread\n\n";
  char line[160];
  std::snprintf(line, sizeof(line), "%-30s %10s %14s %10s\n", "encoder", "MB/s", "tokens/s",
                "vs radix");
  s << line;
  const double ours = radix.mb_per_s(corpus.bytes);
  for (const auto* t :
       {&radix, hf_encode ? &*hf_encode : nullptr, hf_encode_batch ? &*hf_encode_batch : nullptr}) {
    if (t == nullptr) continue;
    const double mbs = t->mb_per_s(corpus.bytes);
    std::snprintf(line, sizeof(line), "%-30s %10.2f %14.0f %9.2fx\n", t->label.c_str(), mbs,
                  t->tokens_per_s(), mbs / ours);
    s << line;
  }
  if (hf_encode) {
    s << "\nradix / HF encode: " << fmt("%.2f", ours / hf_encode->mb_per_s(corpus.bytes)) << "x";
    s << "   radix / HF encodeBatch: "
      << fmt("%.2f", ours / hf_encode_batch->mb_per_s(corpus.bytes)) << "x";
    if (!hf_version.empty()) s << "   (" << hf_version << ")";
    s << "\n";
  }
  if (mismatched_docs >= 0) {
    s << "ids: " << (num_docs - static_cast<size_t>(mismatched_docs)) << "/" << num_docs
      << " documents identical to HF";
    if (mismatched_docs > 0) {
      s << "; first difference in document " << first_mismatch << ": "
        << Json(corpus.docs.empty() ? std::string() : corpus.docs[0].substr(0, 200))
               .dump(-1, ' ', false, Json::error_handler_t::replace)
        << " (check with radix tokenize --text and tests/e2e/tokenizer_parity.mjs)";
    }
    s << "\n";
  }
  return s.str();
}

Json TokenizerBenchResult::to_json() const {
  auto entry = [&](const EncodeThroughput& t) {
    return Json{{"mb_per_s", t.mb_per_s(corpus.bytes)},
                {"tokens_per_s", t.tokens_per_s()},
                {"median_seconds", t.median_seconds()},
                {"seconds", t.seconds},
                {"tokens", t.tokens}};
  };
  Json j = {{"bench", "tokenizer"},         {"tokenizer", tokenizer},
            {"corpus", corpus.description}, {"corpus_bytes", corpus.bytes},
            {"corpus_hash", corpus.hash},   {"docs", num_docs},
            {"iterations", iterations},     {"add_special_tokens", add_special_tokens},
            {"radix", entry(radix)}};
  if (hf_encode) {
    j["hf_encode"] = entry(*hf_encode);
    j["hf_encode_batch"] = entry(*hf_encode_batch);
    j["hf_version"] = hf_version;
    j["ratio_vs_hf_encode"] = radix.mb_per_s(corpus.bytes) / hf_encode->mb_per_s(corpus.bytes);
    j["ratio_vs_hf_encode_batch"] =
        radix.mb_per_s(corpus.bytes) / hf_encode_batch->mb_per_s(corpus.bytes);
    j["mismatched_docs"] = mismatched_docs;
  }
  return j;
}

}  // namespace radix
