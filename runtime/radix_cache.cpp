// RadixCache: compressed radix tree over token ids owning KV slots (see radix_cache.h).
#include "runtime/radix_cache.h"

#include <algorithm>
#include <queue>
#include <sstream>

#include "core/check.h"

namespace radix {
namespace {

size_t common_prefix(std::span<const int32_t> a, std::span<const int32_t> b) {
  size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

// Frees a subtree without recursion: a long chain of single-token edges would
// otherwise recurse once per node in the unique_ptr destructors.
void destroy_tree(std::unique_ptr<RadixNode> root) {
  std::vector<std::unique_ptr<RadixNode>> stack;
  stack.push_back(std::move(root));
  while (!stack.empty()) {
    std::unique_ptr<RadixNode> node = std::move(stack.back());
    stack.pop_back();
    if (!node) continue;
    for (auto& [first, child] : node->children) stack.push_back(std::move(child));
    node->children.clear();
  }
}

// Nodes of the tree in pre-order (root first), children in ascending first token.
std::vector<const RadixNode*> preorder(const RadixNode* root) {
  std::vector<const RadixNode*> out;
  std::vector<const RadixNode*> stack{root};
  while (!stack.empty()) {
    const RadixNode* node = stack.back();
    stack.pop_back();
    out.push_back(node);
    std::vector<const RadixNode*> kids;
    for (const auto& [first, child] : node->children) kids.push_back(child.get());
    std::sort(kids.begin(), kids.end(),
              [](const RadixNode* a, const RadixNode* b) { return a->key[0] > b->key[0]; });
    for (const RadixNode* k : kids) stack.push_back(k);  // reversed: smallest pops first
  }
  return out;
}

}  // namespace

RadixCache::RadixCache(bool disabled) : disabled_(disabled) {
  root_ = new_node();
}

RadixCache::~RadixCache() {
  destroy_tree(std::move(root_));
}

std::unique_ptr<RadixNode> RadixCache::new_node() {
  auto node = std::make_unique<RadixNode>();
  node->id = next_id_++;
  node->last_access = clock_;
  return node;
}

void RadixCache::reset() {
  RADIX_CHECK_EQ(protected_size_, 0);  // a running request still points into the tree
  destroy_tree(std::move(root_));
  root_ = new_node();
  evictable_size_ = 0;
  protected_size_ = 0;
  evictable_leaves_.clear();
}

// Walks from the root along `tokens` as far as the tree matches, refreshing LRU times
// and splitting the last edge when the match ends inside it, so the returned node ends
// exactly at the matched length. Appends the matched slots to `slots` when given.
RadixNode* RadixCache::descend(std::span<const int32_t> tokens, size_t* matched,
                               std::vector<int32_t>* slots) {
  ++clock_;
  RadixNode* node = root_.get();
  node->last_access = clock_;
  size_t pos = 0;
  while (pos < tokens.size()) {
    auto it = node->children.find(tokens[pos]);
    if (it == node->children.end()) break;
    RadixNode* child = it->second.get();
    child->last_access = clock_;
    const size_t m = common_prefix(child->key, tokens.subspan(pos));
    const bool ends_inside = m < child->key.size();
    if (ends_inside) child = split_node(child, m);
    if (slots) slots->insert(slots->end(), child->value.begin(), child->value.end());
    node = child;
    pos += m;
    if (ends_inside) break;
  }
  *matched = pos;
  return node;
}

RadixCache::MatchResult RadixCache::match_prefix(std::span<const int32_t> tokens) {
  MatchResult result{{}, root_.get()};
  if (disabled_) return result;
  size_t matched = 0;
  result.last_node = descend(tokens, &matched, &result.slots);
  return result;
}

int RadixCache::insert(std::span<const int32_t> tokens, std::span<const int32_t> slots) {
  RADIX_CHECK_EQ(tokens.size(), slots.size());
  if (disabled_) return 0;
  size_t pos = 0;
  RadixNode* node = descend(tokens, &pos, nullptr);
  if (pos < tokens.size()) {
    std::unique_ptr<RadixNode> leaf = new_node();
    leaf->key.assign(tokens.begin() + static_cast<std::ptrdiff_t>(pos), tokens.end());
    leaf->value.assign(slots.begin() + static_cast<std::ptrdiff_t>(pos), slots.end());
    leaf->parent = node;
    RadixNode* raw = leaf.get();
    node->children.emplace(raw->key[0], std::move(leaf));
    evictable_size_ += static_cast<int>(raw->key.size());
    update_leaf_status(node);
    update_leaf_status(raw);
  }
  return static_cast<int>(pos);
}

// Splits `child` so that its first split_len tokens become a new node between it and
// its parent; returns the new node. Both halves keep the child's lock count, so the
// evictable/protected sizes do not change.
RadixNode* RadixCache::split_node(RadixNode* child, size_t split_len) {
  RADIX_CHECK_GT(split_len, 0u);
  RADIX_CHECK_LT(split_len, child->key.size());
  RadixNode* parent = child->parent;
  std::unique_ptr<RadixNode>& owner = parent->children.at(child->key[0]);
  std::unique_ptr<RadixNode> owned_child = std::move(owner);

  std::unique_ptr<RadixNode> prefix = new_node();
  const auto cut = static_cast<std::ptrdiff_t>(split_len);
  prefix->key.assign(child->key.begin(), child->key.begin() + cut);
  prefix->value.assign(child->value.begin(), child->value.begin() + cut);
  prefix->parent = parent;
  prefix->lock_ref = child->lock_ref;
  prefix->last_access = child->last_access;
  child->key.erase(child->key.begin(), child->key.begin() + cut);
  child->value.erase(child->value.begin(), child->value.begin() + cut);
  child->parent = prefix.get();

  RadixNode* raw = prefix.get();
  raw->children.emplace(child->key[0], std::move(owned_child));
  owner = std::move(prefix);
  return raw;
}

bool RadixCache::is_evictable_leaf(const RadixNode* node) const {
  return node != root_.get() && node->lock_ref == 0 && node->children.empty();
}

void RadixCache::update_leaf_status(RadixNode* node) {
  if (is_evictable_leaf(node)) {
    evictable_leaves_.insert(node);
  } else {
    evictable_leaves_.erase(node);
  }
}

void RadixCache::inc_lock_ref(RadixNode* node) {
  if (disabled_) return;
  for (; node != nullptr && node != root_.get(); node = node->parent) {
    if (node->lock_ref == 0) {
      const int len = static_cast<int>(node->key.size());
      evictable_size_ -= len;
      protected_size_ += len;
    }
    ++node->lock_ref;
    update_leaf_status(node);
  }
}

void RadixCache::dec_lock_ref(RadixNode* node) {
  if (disabled_) return;
  for (; node != nullptr && node != root_.get(); node = node->parent) {
    RADIX_CHECK_GT(node->lock_ref, 0);  // unbalanced dec_lock_ref
    if (node->lock_ref == 1) {
      const int len = static_cast<int>(node->key.size());
      evictable_size_ += len;
      protected_size_ -= len;
    }
    --node->lock_ref;
    update_leaf_status(node);
  }
}

int RadixCache::evict(int num_tokens,
                      const std::function<void(std::span<const int32_t>)>& free_slots) {
  if (disabled_ || num_tokens <= 0) return 0;
  // Min-heap on (last_access, id): least recently used first, older node on ties.
  auto later = [](const RadixNode* a, const RadixNode* b) {
    if (a->last_access != b->last_access) return a->last_access > b->last_access;
    return a->id > b->id;
  };
  std::priority_queue<RadixNode*, std::vector<RadixNode*>, decltype(later)> heap(
      later, std::vector<RadixNode*>(evictable_leaves_.begin(), evictable_leaves_.end()));

  int evicted = 0;
  while (evicted < num_tokens && !heap.empty()) {
    RadixNode* leaf = heap.top();
    heap.pop();
    RADIX_CHECK(is_evictable_leaf(leaf));
    free_slots(leaf->value);
    const int len = static_cast<int>(leaf->key.size());
    evicted += len;
    evictable_size_ -= len;
    evictable_leaves_.erase(leaf);

    RadixNode* parent = leaf->parent;
    auto it = parent->children.find(leaf->key[0]);
    RADIX_CHECK(it != parent->children.end() && it->second.get() == leaf);
    std::unique_ptr<RadixNode> doomed = std::move(it->second);
    parent->children.erase(it);
    doomed.reset();  // a leaf: no subtree to recurse into

    update_leaf_status(parent);
    if (evictable_leaves_.count(parent) != 0) heap.push(parent);
  }
  return evicted;
}

Status RadixCache::check_invariants(const KvSlotAllocator& alloc,
                                    std::span<const int32_t> held_by_requests) const {
  auto fail = [](const std::string& what) {
    return internal_error("radix cache invariant violated: " + what);
  };
  const int num_slots = alloc.num_slots();
  std::vector<int> tree_owners(static_cast<size_t>(num_slots), 0);
  std::vector<int> held(static_cast<size_t>(num_slots), 0);

  int evictable = 0, protected_tokens = 0;
  size_t leaves = 0;
  for (const RadixNode* node : preorder(root_.get())) {
    int child_locks = 0;
    for (const auto& [first, child] : node->children) {
      if (child->key.empty()) return fail("a non-root node has an empty key");
      if (child->key[0] != first) return fail("child map key differs from the edge's first token");
      if (child->parent != node) return fail("a child's parent pointer is wrong");
      child_locks += child->lock_ref;
    }
    if (node == root_.get()) continue;
    if (node->key.size() != node->value.size()) return fail("key and value lengths differ");
    if (node->lock_ref < 0) return fail("negative lock_ref");
    if (node->lock_ref < child_locks) {
      return fail("lock_ref " + std::to_string(node->lock_ref) +
                  " is less than the sum of its children's (" + std::to_string(child_locks) + ")");
    }
    const int len = static_cast<int>(node->key.size());
    (node->lock_ref > 0 ? protected_tokens : evictable) += len;
    const bool leaf = is_evictable_leaf(node);
    if (leaf) ++leaves;
    if (leaf != (evictable_leaves_.count(const_cast<RadixNode*>(node)) != 0)) {
      return fail("evictable-leaf set out of date for node " + std::to_string(node->id));
    }
    for (int32_t s : node->value) {
      if (s <= 0 || s >= num_slots) {
        return fail("tree owns slot " + std::to_string(s) + " outside [1, " +
                    std::to_string(num_slots) + ")");
      }
      ++tree_owners[static_cast<size_t>(s)];
    }
  }
  if (disabled_ && !root_->children.empty()) return fail("disabled cache stores nodes");
  if (leaves != evictable_leaves_.size()) return fail("evictable-leaf set has stale entries");
  if (evictable != evictable_size_) {
    return fail("evictable_size " + std::to_string(evictable_size_) + " but unlocked nodes hold " +
                std::to_string(evictable));
  }
  if (protected_tokens != protected_size_) {
    return fail("protected_size " + std::to_string(protected_size_) + " but locked nodes hold " +
                std::to_string(protected_tokens));
  }

  for (int32_t s : held_by_requests) {
    if (s <= 0 || s >= num_slots) {
      return fail("a request holds slot " + std::to_string(s) + " outside [1, " +
                  std::to_string(num_slots) + ")");
    }
    ++held[static_cast<size_t>(s)];
  }
  int free_count = 0;
  for (int32_t s = 1; s < num_slots; ++s) {
    const int is_free = alloc.is_free(s) ? 1 : 0;
    free_count += is_free;
    const int t = tree_owners[static_cast<size_t>(s)];
    const int h = held[static_cast<size_t>(s)];
    if (is_free + t + h != 1) {
      std::string where = "slot " + std::to_string(s) + ": free=" + std::to_string(is_free) +
                          " tree_owners=" + std::to_string(t) +
                          " held_by_requests=" + std::to_string(h);
      return fail(is_free + t + h == 0 ? where + " (leaked: nobody owns it)"
                                       : where + " (owned more than once)");
    }
  }
  if (free_count != alloc.available()) {
    return fail("allocator reports " + std::to_string(alloc.available()) + " free slots but " +
                std::to_string(free_count) + " are marked free");
  }
  return Status::ok();
}

std::string RadixCache::pretty_print() const {
  std::ostringstream os;
  // Depth of each node = number of ancestors; preorder visits parents first.
  std::unordered_map<const RadixNode*, int> depth;
  for (const RadixNode* node : preorder(root_.get())) {
    const int d = node->parent ? depth[node->parent] + 1 : 0;
    depth[node] = d;
    if (node == root_.get()) {
      os << "root";
    } else {
      os << std::string(static_cast<size_t>(2 * d), ' ') << node->key.size() << " [";
      for (size_t i = 0; i < node->key.size() && i < 10; ++i) {
        os << (i ? " " : "") << node->key[i];
      }
      os << (node->key.size() > 10 ? " ...]" : "]") << " lock=" << node->lock_ref;
    }
    os << "\n";
  }
  os << "#tokens: " << total_size() << " (evictable " << evictable_size_ << ", protected "
     << protected_size_ << ")\n";
  return os.str();
}

PrefixGroups group_shared_prefixes(std::span<const RadixNode* const> last_nodes, int min_len) {
  PrefixGroups g;
  g.group_of.assign(last_nodes.size(), -1);
  // Prefix length of every node on the sequences' paths, and how many sequences pass it.
  std::unordered_map<const RadixNode*, int> depth, passes;
  std::function<int(const RadixNode*)> depth_of = [&](const RadixNode* n) -> int {
    if (n == nullptr || n->parent == nullptr) return 0;  // the root
    auto it = depth.find(n);
    if (it != depth.end()) return it->second;
    const int d = depth_of(n->parent) + static_cast<int>(n->key.size());
    depth.emplace(n, d);
    return d;
  };
  for (const RadixNode* n : last_nodes) {
    for (; n != nullptr && n->parent != nullptr; n = n->parent) ++passes[n];
  }
  std::unordered_map<const RadixNode*, std::vector<int32_t>> members;
  std::vector<const RadixNode*> order;  // groups in order of their first member
  for (size_t i = 0; i < last_nodes.size(); ++i) {
    for (const RadixNode* n = last_nodes[i]; n != nullptr && n->parent != nullptr; n = n->parent) {
      if (passes[n] < 2) continue;
      if (depth_of(n) < min_len) break;  // ancestors are shorter still
      auto& m = members[n];
      if (m.empty()) order.push_back(n);
      m.push_back(static_cast<int32_t>(i));
      break;
    }
  }
  for (const RadixNode* n : order) {
    const auto& m = members[n];
    if (m.size() < 2) continue;
    const auto id = static_cast<int32_t>(g.prefix_len.size());
    g.prefix_len.push_back(depth_of(n));
    g.leader.push_back(m.front());
    for (int32_t i : m) g.group_of[static_cast<size_t>(i)] = id;
  }
  return g;
}

}  // namespace radix
