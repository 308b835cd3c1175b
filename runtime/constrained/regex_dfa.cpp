// Regex -> byte DFA: parse to a tree of code-point sets (regex_parse.h), expand the sets
// to UTF-8 byte ranges in a Thompson NFA, determinize (subset construction over byte
// classes), prune states that cannot reach acceptance, minimize (Hopcroft) and emit the
// dense table. See regex_dfa.h for the supported syntax and semantics.
#include "runtime/constrained/regex_dfa.h"

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "core/check.h"
#include "runtime/constrained/regex_parse.h"

namespace radix::constrained {
namespace {

constexpr int64_t kMaxNfaStates = 1'000'000;    // "regex: too large" beyond this
constexpr int64_t kMaxSubsetWork = 10'000'000;  // NFA-state visits in determinization (~40 MB)

// ---- NFA ---------------------------------------------------------------------------

// Upper bound on the NFA states `node` expands to, saturating at kMaxNfaStates + 1 so
// that huge counted repetitions are rejected before anything is allocated.
int64_t estimate_nfa_size(std::vector<RegexNode>& nodes, int index) {
  constexpr int64_t kCap = kMaxNfaStates + 1;
  RegexNode& node = nodes[index];
  int64_t total = 1;
  switch (node.kind) {
    case RegexNodeKind::kEmpty:
      break;
    case RegexNodeKind::kSet:
      node.seqs = utf8_sequences(node.set);
      for (const ByteSeq& seq : node.seqs) total += seq.len;
      break;
    case RegexNodeKind::kConcat:
    case RegexNodeKind::kAlt:
      for (int child : node.children) {
        total = std::min(kCap, total + estimate_nfa_size(nodes, child));
      }
      break;
    case RegexNodeKind::kRepeat: {
      int64_t body = estimate_nfa_size(nodes, node.children[0]) + 1;
      int64_t copies = node.max < 0 ? node.min + 1 : std::max<int64_t>(node.max, 1);
      total = body > kCap / copies ? kCap : std::min(kCap, body * copies + 1);
      break;
    }
  }
  return std::min(total, kCap);
}

// Thompson NFA over bytes. A state either consumes one byte in [lo, hi] and goes to
// `out`, or (lo < 0) has epsilon moves to `eps`. State 0 is the match state.
struct NfaState {
  int16_t lo = -1, hi = -1;
  int32_t out = -1;
  std::vector<int32_t> eps;
};

class NfaBuilder {
 public:
  explicit NfaBuilder(const std::vector<RegexNode>& nodes) : nodes_(nodes) {
    states_.emplace_back();  // kMatch
  }
  static constexpr int32_t kMatch = 0;

  // Builds `index` so that a match of it continues at state `next`; returns its entry.
  int32_t build(int index, int32_t next) {
    const RegexNode& node = nodes_[index];
    switch (node.kind) {
      case RegexNodeKind::kEmpty:
        return next;
      case RegexNodeKind::kSet:
        return build_set(node, next);
      case RegexNodeKind::kConcat:
        for (auto it = node.children.rbegin(); it != node.children.rend(); ++it) {
          next = build(*it, next);
        }
        return next;
      case RegexNodeKind::kAlt: {
        std::vector<int32_t> entries;
        for (int child : node.children) entries.push_back(build(child, next));
        return add_epsilon(std::move(entries));
      }
      case RegexNodeKind::kRepeat: {
        int body = node.children[0];
        int32_t tail = next;
        if (node.max < 0) {
          int32_t loop = add_epsilon({});
          int32_t entry = build(body, loop);
          states_[loop].eps = {entry, next};
          tail = loop;
        } else {
          // Optional copies nest as (x(x(x)?)?)? so that after k bytes of input only one
          // copy is live, instead of x?x?x? where every later copy is.
          for (int64_t i = node.min; i < node.max; ++i) {
            int32_t entry = build(body, tail);
            tail = add_epsilon({entry, next});
          }
        }
        for (int64_t i = 0; i < node.min; ++i) tail = build(body, tail);
        return tail;
      }
    }
    return next;
  }

  std::vector<NfaState> take() { return std::move(states_); }

 private:
  int32_t add_epsilon(std::vector<int32_t> targets) {
    NfaState s;
    s.eps = std::move(targets);
    states_.push_back(std::move(s));
    return static_cast<int32_t>(states_.size()) - 1;
  }

  int32_t build_set(const RegexNode& node, int32_t next) {
    // Share suffixes such as the trailing [80-BF] continuation bytes within one set.
    std::map<std::tuple<int, int, int32_t>, int32_t> memo;
    auto range_state = [&](int lo, int hi, int32_t out) {
      auto [it, inserted] = memo.try_emplace({lo, hi, out}, 0);
      if (inserted) {
        NfaState s;
        s.lo = static_cast<int16_t>(lo);
        s.hi = static_cast<int16_t>(hi);
        s.out = out;
        states_.push_back(std::move(s));
        it->second = static_cast<int32_t>(states_.size()) - 1;
      }
      return it->second;
    };
    std::vector<int32_t> entries;
    for (const ByteSeq& seq : node.seqs) {
      int32_t t = next;
      for (int k = seq.len - 1; k >= 0; --k) t = range_state(seq.lo[k], seq.hi[k], t);
      entries.push_back(t);
    }
    std::sort(entries.begin(), entries.end());
    entries.erase(std::unique(entries.begin(), entries.end()), entries.end());
    if (entries.size() == 1) return entries[0];
    return add_epsilon(std::move(entries));  // none: a state with no moves (empty set)
  }

  const std::vector<RegexNode>& nodes_;
  std::vector<NfaState> states_;
};

// ---- determinization ---------------------------------------------------------------

struct VectorHash {
  size_t operator()(const std::vector<int32_t>& v) const {
    uint64_t h = 1469598103934665603ull;
    for (int32_t x : v) h = (h ^ static_cast<uint32_t>(x)) * 1099511628211ull;
    return static_cast<size_t>(h);
  }
};

// A DFA over byte classes (bytes no NFA range distinguishes share a class).
struct ClassDfa {
  std::array<uint8_t, 256> byte_class{};
  int num_classes = 0;
  std::vector<int32_t> trans;  // [num_states][num_classes], -1 = no move
  std::vector<uint8_t> accepting;
  int32_t num_states() const { return static_cast<int32_t>(accepting.size()); }
  int32_t at(int32_t s, int c) const { return trans[static_cast<size_t>(s) * num_classes + c]; }
};

Result<ClassDfa> determinize(const std::vector<NfaState>& nfa, int32_t nfa_start,
                             const DfaLimits& limits) {
  ClassDfa dfa;
  std::array<bool, 257> boundary{};
  boundary[0] = true;
  for (const NfaState& s : nfa) {
    if (s.lo < 0) continue;
    boundary[s.lo] = true;
    boundary[s.hi + 1] = true;
  }
  int cls = -1;
  for (int b = 0; b < 256; ++b) {
    if (boundary[b]) ++cls;
    dfa.byte_class[b] = static_cast<uint8_t>(cls);
  }
  const int num_classes = dfa.num_classes = cls + 1;

  int64_t work = 0;
  std::vector<uint32_t> mark(nfa.size(), 0);
  uint32_t stamp = 0;
  std::vector<int32_t> stack;
  // Epsilon closure of `seeds`, keeping only the states that matter for the subset:
  // byte-consuming states and the match state.
  auto closure = [&](const std::vector<int32_t>& seeds) {
    ++stamp;
    std::vector<int32_t> result;
    stack.assign(seeds.begin(), seeds.end());
    while (!stack.empty()) {
      int32_t s = stack.back();
      stack.pop_back();
      if (mark[s] == stamp) continue;
      mark[s] = stamp;
      ++work;
      const NfaState& st = nfa[s];
      if (st.lo >= 0 || s == NfaBuilder::kMatch) {
        result.push_back(s);
      } else {
        stack.insert(stack.end(), st.eps.begin(), st.eps.end());
      }
    }
    std::sort(result.begin(), result.end());
    return result;
  };

  std::unordered_map<std::vector<int32_t>, int32_t, VectorHash> ids;
  std::vector<const std::vector<int32_t>*> sets;
  auto too_complex = [&]() {
    return invalid_argument("regex: too complex: more than " + std::to_string(limits.max_states) +
                            " DFA states");
  };
  auto intern = [&](std::vector<int32_t> set) -> int32_t {
    auto [it, inserted] = ids.try_emplace(std::move(set), static_cast<int32_t>(sets.size()));
    if (inserted) {
      sets.push_back(&it->first);
      dfa.accepting.push_back(
          std::binary_search(it->first.begin(), it->first.end(), NfaBuilder::kMatch));
    }
    return it->second;
  };

  std::vector<int32_t> start = closure({nfa_start});
  intern(std::move(start));
  std::vector<std::vector<int32_t>> buckets(num_classes);
  std::vector<std::pair<size_t, int>> distinct;  // (hash, class) of this state's buckets
  for (size_t d = 0; d < sets.size(); ++d) {
    if (static_cast<int64_t>(sets.size()) > limits.max_states) return too_complex();
    for (auto& b : buckets) b.clear();
    for (int32_t s : *sets[d]) {
      const NfaState& st = nfa[s];
      if (st.lo < 0) continue;
      for (int c = dfa.byte_class[st.lo]; c <= dfa.byte_class[st.hi]; ++c) {
        buckets[c].push_back(st.out);
      }
      work += dfa.byte_class[st.hi] - dfa.byte_class[st.lo] + 1;
    }
    // Classes often share a bucket (one wide range covers many): close each once.
    distinct.clear();
    for (int c = 0; c < num_classes; ++c) {
      int32_t target = -1;
      if (!buckets[c].empty()) {
        size_t hash = VectorHash()(buckets[c]);
        auto same = std::find_if(distinct.begin(), distinct.end(), [&](const auto& seen) {
          return seen.first == hash && buckets[seen.second] == buckets[c];
        });
        if (same != distinct.end()) {
          target = dfa.at(static_cast<int32_t>(d), same->second);
        } else {
          std::vector<int32_t> next = closure(buckets[c]);
          if (!next.empty()) target = intern(std::move(next));
          distinct.emplace_back(hash, c);
        }
      }
      dfa.trans.push_back(target);
    }
    if (work > kMaxSubsetWork) {
      return invalid_argument(
          "regex: too complex: determinization exceeded its work budget (try smaller "
          "counted repetitions)");
    }
  }
  if (static_cast<int64_t>(sets.size()) > limits.max_states) return too_complex();
  return dfa;
}

// ---- pruning and minimization ------------------------------------------------------

// Returns, for each state, the id of its class of equivalent states (Hopcroft's
// partition refinement), with every state that cannot reach acceptance in class -1.
// Classes are numbered 0..*num_classes_out-1.
std::vector<int32_t> minimize(const ClassDfa& dfa, int32_t* num_blocks_out) {
  const int32_t n = dfa.num_states();
  const int k = dfa.num_classes;

  // Live states: those that can reach an accepting state.
  std::vector<std::vector<int32_t>> reverse(n);
  for (int32_t s = 0; s < n; ++s) {
    for (int c = 0; c < k; ++c) {
      int32_t t = dfa.at(s, c);
      if (t >= 0) reverse[t].push_back(s);
    }
  }
  std::vector<uint8_t> live(n, 0);
  std::vector<int32_t> queue;
  for (int32_t s = 0; s < n; ++s) {
    if (dfa.accepting[s]) {
      live[s] = 1;
      queue.push_back(s);
    }
  }
  for (size_t i = 0; i < queue.size(); ++i) {
    for (int32_t p : reverse[queue[i]]) {
      if (!live[p]) {
        live[p] = 1;
        queue.push_back(p);
      }
    }
  }
  reverse.clear();

  // Complete DFA over the live states plus one sink (index m) standing for kDead.
  std::vector<int32_t> compact(n, -1), original;
  for (int32_t s = 0; s < n; ++s) {
    if (live[s]) {
      compact[s] = static_cast<int32_t>(original.size());
      original.push_back(s);
    }
  }
  const int32_t m = static_cast<int32_t>(original.size());
  const int32_t total = m + 1;
  auto delta = [&](int32_t s, int c) -> int32_t {
    if (s == m) return m;
    int32_t t = dfa.at(original[s], c);
    return t < 0 || compact[t] < 0 ? m : compact[t];
  };

  // Predecessors by (target, class), CSR.
  std::vector<int32_t> pred_start(static_cast<size_t>(total) * k + 1, 0);
  for (int32_t s = 0; s < total; ++s) {
    for (int c = 0; c < k; ++c) ++pred_start[static_cast<size_t>(delta(s, c)) * k + c + 1];
  }
  for (size_t i = 1; i < pred_start.size(); ++i) pred_start[i] += pred_start[i - 1];
  std::vector<int32_t> preds(pred_start.back());
  {
    std::vector<int32_t> fill(pred_start.begin(), pred_start.end() - 1);
    for (int32_t s = 0; s < total; ++s) {
      for (int c = 0; c < k; ++c) preds[fill[static_cast<size_t>(delta(s, c)) * k + c]++] = s;
    }
  }

  // Partition: elems is a permutation of the states; each block is a contiguous slice.
  struct Block {
    int32_t start, end, marked;
  };
  std::vector<Block> blocks;
  std::vector<int32_t> elems(total), loc(total), block_of(total);
  {
    int32_t i = 0;
    for (int pass = 0; pass < 2; ++pass) {
      int32_t begin = i;
      for (int32_t s = 0; s < total; ++s) {
        bool acc = s < m && dfa.accepting[original[s]];
        if (acc == (pass == 0)) {
          elems[i] = s;
          loc[s] = i;
          block_of[s] = static_cast<int32_t>(blocks.size());
          ++i;
        }
      }
      if (i > begin) blocks.push_back({begin, i, 0});
    }
  }
  std::vector<int32_t> worklist;
  std::vector<uint8_t> in_worklist;
  for (int32_t b = 0; b < static_cast<int32_t>(blocks.size()); ++b) {
    worklist.push_back(b);
    in_worklist.push_back(1);
  }

  std::vector<int32_t> splitter, touched;
  while (!worklist.empty()) {
    int32_t a = worklist.back();
    worklist.pop_back();
    in_worklist[a] = 0;
    splitter.assign(elems.begin() + blocks[a].start, elems.begin() + blocks[a].end);
    for (int c = 0; c < k; ++c) {
      touched.clear();
      for (int32_t t : splitter) {
        size_t key = static_cast<size_t>(t) * k + c;
        for (int32_t i = pred_start[key]; i < pred_start[key + 1]; ++i) {
          int32_t s = preds[i];
          Block& b = blocks[block_of[s]];
          if (b.marked == 0) touched.push_back(block_of[s]);
          // Move s into the marked prefix of its block.
          int32_t dst = b.start + b.marked;
          int32_t other = elems[dst];
          std::swap(elems[loc[s]], elems[dst]);
          loc[other] = loc[s];
          loc[s] = dst;
          ++b.marked;
        }
      }
      for (int32_t b : touched) {
        Block& blk = blocks[b];
        int32_t marked = blk.marked;
        blk.marked = 0;
        int32_t size = blk.end - blk.start;
        if (marked == size) continue;
        // The smaller part gets the new id, so relabelling stays O(n log n).
        Block fresh;
        if (marked <= size - marked) {
          fresh = {blk.start, blk.start + marked, 0};
          blk.start += marked;
        } else {
          fresh = {blk.start + marked, blk.end, 0};
          blk.end = blk.start + marked;
        }
        int32_t nb = static_cast<int32_t>(blocks.size());
        blocks.push_back(fresh);
        for (int32_t i = fresh.start; i < fresh.end; ++i) block_of[elems[i]] = nb;
        in_worklist.push_back(0);
        if (in_worklist[b]) {
          worklist.push_back(nb);
          in_worklist[nb] = 1;
        } else {
          // Either half suffices (Hopcroft): take the smaller.
          int32_t smaller = (fresh.end - fresh.start) <= (blocks[b].end - blocks[b].start) ? nb : b;
          worklist.push_back(smaller);
          in_worklist[smaller] = 1;
        }
      }
    }
  }

  // Number the blocks; the sink's block is -1 (only the sink can be in it: every other
  // state reaches acceptance).
  const int32_t sink_block = block_of[m];
  std::vector<int32_t> block_id(blocks.size(), -1);
  int32_t next_id = 0;
  std::vector<int32_t> result(n, -1);
  for (int32_t s = 0; s < m; ++s) {
    int32_t b = block_of[s];
    RADIX_CHECK_NE(b, sink_block);
    if (block_id[b] < 0) block_id[b] = next_id++;
    result[original[s]] = block_id[b];
  }
  *num_blocks_out = next_id;
  return result;
}

}  // namespace

// Assembles the final Dfa from a ClassDfa and its minimization.
class DfaBuilder {
 public:
  static Dfa assemble(const ClassDfa& dfa) {
    Dfa out;
    int32_t num_blocks = 0;
    std::vector<int32_t> block = minimize(dfa, &num_blocks);
    if (block[0] < 0) {  // the language is empty: one state, no moves
      out.table_.assign(256, Dfa::kDead);
      out.accepting_.assign(1, 0);
      out.can_continue_.assign(1, 0);
      return out;
    }
    // Representatives per block, then breadth-first numbering from the start.
    std::vector<int32_t> rep(num_blocks, -1);
    for (int32_t s = 0; s < dfa.num_states(); ++s) {
      if (block[s] >= 0 && rep[block[s]] < 0) rep[block[s]] = s;
    }
    std::vector<int32_t> order, number(num_blocks, -1);
    number[block[0]] = 0;
    order.push_back(block[0]);
    for (size_t i = 0; i < order.size(); ++i) {
      for (int c = 0; c < dfa.num_classes; ++c) {
        int32_t t = dfa.at(rep[order[i]], c);
        int32_t tb = t < 0 ? -1 : block[t];
        if (tb >= 0 && number[tb] < 0) {
          number[tb] = static_cast<int32_t>(order.size());
          order.push_back(tb);
        }
      }
    }
    const size_t count = order.size();
    out.table_.assign(count * 256, Dfa::kDead);
    out.accepting_.assign(count, 0);
    out.can_continue_.assign(count, 0);
    for (size_t i = 0; i < count; ++i) {
      int32_t s = rep[order[i]];
      out.accepting_[i] = dfa.accepting[s];
      for (int b = 0; b < 256; ++b) {
        int32_t t = dfa.at(s, dfa.byte_class[b]);
        int32_t v = t < 0 || block[t] < 0 ? Dfa::kDead : number[block[t]];
        out.table_[i * 256 + b] = v;
        if (v != Dfa::kDead) out.can_continue_[i] = 1;
      }
    }
    return out;
  }
};

Result<Dfa> Dfa::compile(std::string_view pattern, const DfaLimits& limits) {
  RADIX_ASSIGN_OR_RETURN(RegexTree tree, parse_regex(pattern));
  if (estimate_nfa_size(tree.nodes, tree.root) > kMaxNfaStates) {
    return invalid_argument("regex: too large: it expands to more than " +
                            std::to_string(kMaxNfaStates) +
                            " NFA states (counted repetitions such as {n,m} are expanded)");
  }
  NfaBuilder builder(tree.nodes);
  int32_t nfa_start = builder.build(tree.root, NfaBuilder::kMatch);
  std::vector<NfaState> nfa = builder.take();
  RADIX_ASSIGN_OR_RETURN(ClassDfa dfa, determinize(nfa, nfa_start, limits));
  return DfaBuilder::assemble(dfa);
}

bool Dfa::matches(std::string_view text) const {
  int32_t s = start();
  for (char ch : text) {
    s = next(s, static_cast<uint8_t>(ch));
    if (s == kDead) return false;
  }
  return accepting(s);
}

}  // namespace radix::constrained
