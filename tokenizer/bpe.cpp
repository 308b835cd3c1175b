// BPE model (see bpe.h). The merge loop follows Hugging Face tokenizers exactly: a
// min-heap of candidate merges ordered by (rank, position), stale entries skipped.
#include "tokenizer/bpe.h"

#include <bit>
#include <cstdio>
#include <queue>

#include "tokenizer/unicode.h"

namespace radix::tok {
namespace {

constexpr int64_t kMaxVocabId = int64_t{1} << 26;  // sanity bound on ids read from files

struct Symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
  uint32_t len;  // bytes of the word covered; 0 once merged into the left neighbour
};

struct Candidate {
  int32_t rank;
  int32_t pos;
  int32_t new_id;
  // std::priority_queue pops the largest: make (lowest rank, lowest pos) the largest.
  bool operator<(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

// A whole character's UTF-8 bytes as one integer (unambiguous: the lead byte gives the
// length).
uint32_t pack_char(std::string_view c) {
  uint32_t v = 0;
  for (size_t k = 0; k < c.size(); ++k)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(c[k])) << (8 * k);
  return v;
}

}  // namespace

void BpeModel::MergeTable::insert(uint64_t key, Merge merge) {
  if (2 * (size_ + 1) > slots_.size()) grow();
  size_t i = slot_of(key);
  while (slots_[i].key != kEmpty && slots_[i].key != key) i = (i + 1) & (slots_.size() - 1);
  if (slots_[i].key == kEmpty) ++size_;
  slots_[i] = {key, merge};
}

void BpeModel::MergeTable::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.empty() ? 1024 : 2 * old.size(), Slot{});
  shift_ = 64 - std::countr_zero(slots_.size());
  for (const Slot& s : old) {
    if (s.key == kEmpty) continue;
    size_t i = slot_of(s.key);
    while (slots_[i].key != kEmpty) i = (i + 1) & (slots_.size() - 1);
    slots_[i] = s;
  }
}

int32_t BpeModel::char_id(std::string_view c) const {
  if (c.size() == 1 && static_cast<unsigned char>(c[0]) < 0x80) {
    return ascii_ids_[static_cast<unsigned char>(c[0])];
  }
  auto it = char_ids_.find(pack_char(c));
  return it == char_ids_.end() ? -1 : it->second;
}

Result<std::unique_ptr<BpeModel>> BpeModel::from_json(const Json& j) {
  const std::string where = "model BPE";
  if (!j.is_object()) return invalid_argument("tokenizer.json: 'model' must be an object");
  if (auto t = j.find("type"); t != j.end()) {
    if (!t->is_string() || t->get<std::string>() != "BPE") {
      return unimplemented("unsupported model type '" +
                           (t->is_string() ? t->get<std::string>() : t->dump()) +
                           "' in tokenizer.json (radix supports BPE)");
    }
  } else if (!j.contains("merges")) {
    return unimplemented("tokenizer.json model without a type is not a BPE model");
  }
  if (auto d = j.find("dropout"); d != j.end() && !d->is_null()) {
    if (!d->is_number() || d->get<double>() != 0.0) {
      return unimplemented(where + ": dropout is not supported (it makes encoding random)");
    }
  }
  std::unique_ptr<BpeModel> m(new BpeModel());
  auto vocab_it = j.find("vocab");
  if (vocab_it == j.end() || !vocab_it->is_object()) {
    return invalid_argument(where + ": 'vocab' must be an object of token -> id");
  }
  int64_t max_id = -1;
  m->vocab_.reserve(vocab_it->size());
  for (auto it = vocab_it->begin(); it != vocab_it->end(); ++it) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() >= kMaxVocabId) {
      return invalid_argument(where + ": vocab id of '" + it.key() + "' is not a valid id");
    }
    const int64_t id = it->get<int64_t>();
    m->vocab_[it.key()] = static_cast<int32_t>(id);
    max_id = std::max(max_id, id);
  }
  m->id_to_token_.resize(static_cast<size_t>(max_id + 1));
  m->ascii_ids_.fill(-1);
  for (const auto& [tok, id] : m->vocab_) {
    m->id_to_token_[id] = tok;
    if (tok.empty() || utf8_len(static_cast<unsigned char>(tok[0])) != tok.size()) continue;
    if (tok.size() == 1 && static_cast<unsigned char>(tok[0]) < 0x80) {
      m->ascii_ids_[static_cast<unsigned char>(tok[0])] = id;
    } else {
      m->char_ids_[pack_char(tok)] = id;
    }
  }

  RADIX_ASSIGN_OR_RETURN(m->continuing_subword_prefix_,
                         json_string(j, "continuing_subword_prefix", where));
  RADIX_ASSIGN_OR_RETURN(m->end_of_word_suffix_, json_string(j, "end_of_word_suffix", where));
  RADIX_ASSIGN_OR_RETURN(m->fuse_unk_, json_bool(j, "fuse_unk", where, false));
  RADIX_ASSIGN_OR_RETURN(m->byte_fallback_, json_bool(j, "byte_fallback", where, false));
  RADIX_ASSIGN_OR_RETURN(m->ignore_merges_, json_bool(j, "ignore_merges", where, false));
  RADIX_ASSIGN_OR_RETURN(const std::string unk, json_string(j, "unk_token", where));
  if (!unk.empty()) m->unk_id_ = m->token_to_id(unk);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    m->byte_ids_[b] = m->token_to_id(name).value_or(-1);
  }

  auto merges_it = j.find("merges");
  if (merges_it == j.end() || !merges_it->is_array()) {
    return invalid_argument(where + ": 'merges' must be an array");
  }
  const size_t prefix_len = m->continuing_subword_prefix_.size();
  int32_t rank = 0;
  for (const auto& entry : *merges_it) {
    std::string a, b;
    if (entry.is_string()) {
      const auto& s = entry.get_ref<const std::string&>();
      if (s.rfind("#version", 0) == 0) continue;
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
        return invalid_argument(where + ": merge " + std::to_string(rank + 1) + " '" + s +
                                "' is not two tokens separated by one space");
      }
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (entry.is_array() && entry.size() == 2 && entry[0].is_string() &&
               entry[1].is_string()) {
      a = entry[0].get<std::string>();
      b = entry[1].get<std::string>();
    } else {
      return invalid_argument(where + ": merge " + std::to_string(rank + 1) +
                              " must be \"a b\" or [\"a\", \"b\"]");
    }
    const auto a_id = m->token_to_id(a), b_id = m->token_to_id(b);
    if (!a_id || !b_id || b.size() < prefix_len) {
      return invalid_argument(where + ": merge '" + a + " " + b + "' uses a token not in vocab");
    }
    const std::string merged = a + b.substr(prefix_len);
    const auto new_id = m->token_to_id(merged);
    if (!new_id) {
      return invalid_argument(where + ": merge result '" + merged + "' is not in vocab");
    }
    m->merges_.insert(pair_key(*a_id, *b_id), Merge{rank, *new_id});
    ++rank;
  }
  return m;
}

std::optional<int32_t> BpeModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

void BpeModel::tokenize(std::string_view word, std::vector<int32_t>* out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (auto it = vocab_.find(word); it != vocab_.end()) {
      out->push_back(it->second);
      return;
    }
  }
  if (word.size() > kMaxCachedWordBytes) {
    merge_word(word, out);
    return;
  }
  const size_t h = StringHash{}(word);
  CacheShard& shard = cache_[h % kCacheShards];
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    if (auto it = shard.map.find(word); it != shard.map.end()) {
      out->insert(out->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  merge_word(word, &ids);
  out->insert(out->end(), ids.begin(), ids.end());
  std::lock_guard<std::mutex> lock(shard.mu);
  if (shard.map.size() >= kCacheShardCapacity) shard.map.clear();
  shard.map.emplace(std::string(word), std::move(ids));
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>* out) const {
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  auto add = [&symbols](int32_t id, size_t len) {
    const auto n = static_cast<int32_t>(symbols.size());
    if (n > 0) symbols.back().next = n;
    symbols.push_back({id, n - 1, -1, static_cast<uint32_t>(len)});
  };
  // A pending run of unknown characters (fused when fuse_unk).
  bool has_unk = false;
  size_t unk_len = 0;
  std::string piece;
  size_t i = 0;
  while (i < word.size()) {
    const size_t n = utf8_len(static_cast<unsigned char>(word[i]));
    const size_t len = std::min(n, word.size() - i);
    const bool first = i == 0, last = i + len >= word.size();
    std::string_view s = word.substr(i, len);
    int32_t id = -1;
    if ((!first && !continuing_subword_prefix_.empty()) || (last && !end_of_word_suffix_.empty())) {
      piece.clear();
      if (!first) piece += continuing_subword_prefix_;
      piece += s;
      if (last) piece += end_of_word_suffix_;
      s = piece;
      if (auto it = vocab_.find(s); it != vocab_.end()) id = it->second;
    } else if (len == n) {
      id = char_id(s);
    }  // else: a truncated character, never in the vocab
    i += len;
    if (id >= 0) {
      if (has_unk) {
        add(*unk_id_, unk_len);
        has_unk = false;
      }
      add(id, len);
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (char ch : s) all &= byte_ids_[static_cast<unsigned char>(ch)] >= 0;
      if (all) {
        for (char ch : s) add(byte_ids_[static_cast<unsigned char>(ch)], 1);
        continue;
      }
    }
    if (unk_id_) {
      if (has_unk && fuse_unk_) {
        unk_len += len;
      } else {
        if (has_unk) add(*unk_id_, unk_len);
        has_unk = true;
        unk_len = len;
      }
    }
  }
  if (has_unk) add(*unk_id_, unk_len);

  std::priority_queue<Candidate> queue;
  for (size_t k = 0; k + 1 < symbols.size(); ++k) {
    if (const Merge* m = merges_.find(pair_key(symbols[k].id, symbols[k + 1].id))) {
      queue.push({m->rank, static_cast<int32_t>(k), m->new_id});
    }
  }
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& cur = symbols[top.pos];
    if (cur.len == 0 || cur.next == -1) continue;
    const int32_t next_pos = cur.next;
    const Symbol right = symbols[next_pos];
    const Merge* m = merges_.find(pair_key(cur.id, right.id));
    if (m == nullptr || m->new_id != top.new_id) continue;  // stale entry
    cur.id = top.new_id;
    cur.len += right.len;
    cur.next = right.next;
    symbols[next_pos].len = 0;
    if (right.next >= 0) symbols[right.next].prev = top.pos;
    if (cur.prev >= 0) {
      if (const Merge* p = merges_.find(pair_key(symbols[cur.prev].id, cur.id))) {
        queue.push({p->rank, cur.prev, p->new_id});
      }
    }
    if (cur.next >= 0) {
      if (const Merge* p = merges_.find(pair_key(cur.id, symbols[cur.next].id))) {
        queue.push({p->rank, top.pos, p->new_id});
      }
    }
  }
  for (const Symbol& s : symbols) {
    if (s.len != 0) out->push_back(s.id);
  }
}

}  // namespace radix::tok
