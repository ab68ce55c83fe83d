// router.cpp: the route tree (cogo/http/router.h). A Router is a handle on
// a Tree shared with its inline views (with(), group(fn)) and with the
// handlers handler() returns; a sub-router (group(prefix), mount(prefix,
// Router)) is a Tree of its own, reached through a mount node and kept
// alive by the mount's handler.
#include "cogo/http/router.h"

#include <stdexcept>
#include <utility>

#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "text.h"

namespace cogo::http {

namespace {

// Node is one segment position of the route tree. Children are tried in
// order of specificity: literal segments, then the parameter, then the
// catch-all; a dead end backtracks. A mount node has no children: it takes
// the path from its position on.
struct Node {
  std::string literal;  // this node's segment text (literal children only)
  std::vector<std::unique_ptr<Node>> literals;
  std::unique_ptr<Node> param;
  std::string param_name;
  std::unique_ptr<Node> catch_all;  // a leaf
  std::string catch_all_name;
  std::vector<std::pair<std::string, Handler>> handlers;  // by method
  std::string pattern;       // the pattern that first ended here; a mount's is "<prefix>/*"
  Handler mount;             // set: every request at or below this node goes here
  std::string mount_prefix;  // the mount's pattern without "/*" ("" for "/")

  const Handler* find(std::string_view method) const {
    for (const auto& [m, h] : handlers) {
      if (m == method) return &h;
    }
    return nullptr;
  }
  bool empty() const {
    return handlers.empty() && literals.empty() && param == nullptr && catch_all == nullptr &&
           !mount;
  }
};

}  // namespace

// Tree: the routes of one Router and what wraps them. Set up before
// serving, read-only while serving.
struct Router::Tree {
  Node root;
  Handler not_found;
  std::weak_ptr<const Tree> parent;  // a sub-router's: 404s fall back to its not_found
  std::vector<Middleware> middlewares;
  Handler entry;  // middlewares around dispatch(); empty when there are none
};

namespace {

using Tree = Router::Tree;

// decode_into() appends the decoding of raw to storage and returns a view of
// it; raw itself when it has no escapes. An invalid escape stays as sent.
std::string_view decode_into(std::string_view raw, std::string& storage) {
  if (!detail::needs_decoding(raw, false)) return raw;
  const std::size_t from = storage.size();
  detail::percent_decode(raw, storage, false, true);
  return std::string_view(storage.data() + from, storage.size() - from);
}

bool segment_equals(std::string_view literal, std::string_view raw) {
  if (!detail::needs_decoding(raw, false)) return literal == raw;
  std::string decoded;
  detail::percent_decode(raw, decoded, false, true);
  return literal == decoded;
}

struct Walk {
  std::string_view path;
  std::vector<Field>& params;
  std::string& storage;
  std::size_t rest = 0;  // at a mount node: where the rest of the path starts
};

// walk() matches the segments of w.path from pos (the start of a segment;
// npos once all are used) below node; returns the node with handlers (or
// the mount) it ends at, or nullptr.
const Node* walk(const Node* node, std::size_t pos, Walk& w) {
  if (node->mount) {
    // The rest keeps its leading '/': "/static/a" under /static is "/a".
    w.rest = pos == std::string_view::npos ? w.path.size() : pos - 1;
    return node;
  }
  if (pos == std::string_view::npos) return node->handlers.empty() ? nullptr : node;
  const std::size_t slash = w.path.find('/', pos);
  const std::string_view segment =
      w.path.substr(pos, slash == std::string_view::npos ? slash : slash - pos);
  const std::size_t next = slash == std::string_view::npos ? slash : slash + 1;

  for (const auto& child : node->literals) {
    if (segment_equals(child->literal, segment)) {
      if (const Node* found = walk(child.get(), next, w)) return found;
    }
  }
  if (node->param != nullptr && !segment.empty()) {
    const std::size_t stored = w.storage.size();
    w.params.push_back(Field{node->param_name, decode_into(segment, w.storage)});
    if (const Node* found = walk(node->param.get(), next, w)) return found;
    w.params.pop_back();
    w.storage.resize(stored);
  }
  if (node->catch_all != nullptr) {
    w.params.push_back(Field{node->catch_all_name, decode_into(w.path.substr(pos), w.storage)});
    return node->catch_all.get();
  }
  return nullptr;
}

std::invalid_argument bad_pattern(std::string_view pattern, const std::string& why) {
  return std::invalid_argument("router: pattern \"" + std::string(pattern) + "\": " + why);
}

// insert() finds or makes the node pattern ends at. Throws for a malformed
// pattern and for one at or under a mount.
Node* insert(Node* root, std::string_view pattern) {
  if (pattern.empty() || pattern.front() != '/') throw bad_pattern(pattern, "must start with '/'");
  Node* node = root;
  std::size_t pos = 1;
  auto check_mount = [&] {
    if (node->mount) {
      throw bad_pattern(pattern, "is under the mount at \"" + node->pattern +
                                     "\", which owns every path below it");
    }
  };
  for (;;) {
    check_mount();
    const std::size_t slash = pattern.find('/', pos);
    const std::string_view segment =
        pattern.substr(pos, slash == std::string_view::npos ? slash : slash - pos);
    if (!segment.empty() && segment.front() == ':') {
      const std::string_view name = segment.substr(1);
      if (name.empty()) throw bad_pattern(pattern, "parameter without a name");
      if (node->param == nullptr) {
        node->param = std::make_unique<Node>();
        node->param_name = std::string(name);
      } else if (node->param_name != name) {
        throw bad_pattern(pattern, "parameter :" + std::string(name) + " conflicts with :" +
                                       node->param_name + " at the same place in another route");
      }
      node = node->param.get();
    } else if (!segment.empty() && segment.front() == '*') {
      const std::string_view name = segment.substr(1);
      if (name.empty()) throw bad_pattern(pattern, "catch-all without a name");
      if (slash != std::string_view::npos)
        throw bad_pattern(pattern,
                          "the catch-all *" + std::string(name) + " must be the last segment");
      if (node->catch_all == nullptr) {
        node->catch_all = std::make_unique<Node>();
        node->catch_all_name = std::string(name);
      } else if (node->catch_all_name != name) {
        throw bad_pattern(pattern, "catch-all *" + std::string(name) + " conflicts with *" +
                                       node->catch_all_name);
      }
      node = node->catch_all.get();
    } else {
      Node* child = nullptr;
      for (auto& c : node->literals) {
        if (c->literal == segment) child = c.get();
      }
      if (child == nullptr) {
        node->literals.push_back(std::make_unique<Node>());
        child = node->literals.back().get();
        child->literal = std::string(segment);
      }
      node = child;
    }
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  check_mount();
  return node;
}

// InternalMatch: match()'s outcome with the node it ended at.
struct InternalMatch {
  Router::Match match;
  const Node* node = nullptr;
};

InternalMatch match_tree(const Node& root, std::string_view method, std::string_view raw_path,
                         std::vector<Field>& params, std::string& storage) {
  InternalMatch im;
  Router::Match& m = im.match;
  // Decoded parameters never outgrow the raw path: with this reserve the
  // views into storage stay valid (a mounted router's match reserves
  // nothing more: the outer one reserved for the whole path).
  storage.reserve(storage.size() + raw_path.size());
  if (raw_path.empty() || raw_path.front() != '/') return im;
  Walk w{raw_path, params, storage};
  const Node* node = walk(&root, 1, w);
  if (node == nullptr) return im;
  im.node = node;
  m.pattern = node->pattern;
  if (node->mount) {
    m.handler = &node->mount;
    m.status = 200;
    m.mounted = true;
    m.prefix_length = w.rest;
    return im;
  }
  m.handler = node->find(method);
  if (m.handler == nullptr && method == "HEAD") m.handler = node->find("GET");
  if (m.handler != nullptr) {
    m.status = 200;
    return im;
  }
  m.status = 405;
  bool get = false;
  bool head = false;
  for (const auto& [name, handler] : node->handlers) {
    if (!m.allow.empty()) m.allow.append(", ");
    m.allow.append(name);
    get = get || name == "GET";
    head = head || name == "HEAD";
  }
  if (get && !head) m.allow.append(", HEAD");
  return im;
}

// normalize_prefix() is a mount prefix without its trailing '/' ("/" is "").
std::string normalize_prefix(std::string_view prefix) {
  if (prefix.empty() || prefix.front() != '/')
    throw std::invalid_argument("router: mount prefix \"" + std::string(prefix) +
                                "\" must start with '/'");
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  if (prefix.find('*') != std::string_view::npos)
    throw std::invalid_argument("router: mount prefix \"" + std::string(prefix) +
                                "\" may not hold a catch-all: the mount takes the rest");
  return std::string(prefix);
}

}  // namespace

// MountScope: what a mount changes in the request while its handler runs
// (the path loses the prefix, the route gains it), restored on the way out.
class Router::MountScope {
 public:
  MountScope(Request& req, const Node& mount, std::size_t prefix_length)
      : req_(req),
        raw_path_(req.raw_path_),
        path_(req.path_),
        mount_prefix_(req.mount_prefix_),
        route_prefix_size_(req.route_prefix_.size()) {
    const std::string_view taken = req.raw_path_.substr(0, prefix_length);
    // The prefix ends at a literal '/' and every escape of a routed path
    // is valid (prepare_request refused others), so the decoded path loses
    // the prefix's length less two characters per escape.
    std::size_t escapes = 0;
    for (char c : taken) escapes += c == '%';
    const char* start = req.mount_depth_ == 0 ? taken.data() : req.mount_prefix_.data();
    req.mount_prefix_ =
        std::string_view(start, static_cast<std::size_t>(taken.data() + taken.size() - start));
    req.raw_path_ = req.raw_path_.substr(prefix_length);
    req.path_ = req.path_.substr(std::min(req.path_.size(), prefix_length - 2 * escapes));
    req.route_prefix_.append(mount.mount_prefix);
    req.route_storage_.assign(req.route_prefix_).append("/*");
    req.route_ = req.route_storage_;
    ++req.mount_depth_;
  }
  ~MountScope() {
    req_.raw_path_ = raw_path_;
    req_.path_ = path_;
    req_.mount_prefix_ = mount_prefix_;
    req_.route_prefix_.resize(route_prefix_size_);
    --req_.mount_depth_;
  }
  MountScope(const MountScope&) = delete;
  MountScope& operator=(const MountScope&) = delete;

 private:
  Request& req_;
  std::string_view raw_path_;
  std::string_view path_;
  std::string_view mount_prefix_;
  std::size_t route_prefix_size_;
};

// dispatch() is one router's routing: the handler, a mount, 405 or 404.
void Router::dispatch(const Tree& t, Request& req, Response& res) {
  if (req.mount_depth_ == 0) {
    // (Inside a mount the parameters of the prefix stay, and the storage
    // was reserved for the whole path when the outer router matched.)
    req.params_.clear();
    req.param_storage_.clear();
  }
  // The rest of a mount's path may be "" (the prefix itself): a sub-router
  // sees it as its "/".
  const std::string_view path =
      req.raw_path_.empty() && req.mount_depth_ > 0 ? std::string_view("/") : req.raw_path_;
  const InternalMatch im = match_tree(t.root, req.method(), path, req.params_, req.param_storage_);
  const Match& m = im.match;
  if (req.mount_depth_ == 0 || m.pattern.empty()) {
    req.route_ = m.pattern;
  } else {
    req.route_storage_.assign(req.route_prefix_).append(m.pattern);
    req.route_ = req.route_storage_;
  }
  if (m.mounted) {
    MountScope scope(req, *im.node, m.prefix_length);
    (*m.handler)(req, res);
  } else if (m.handler != nullptr) {
    (*m.handler)(req, res);
  } else if (m.status == 405) {
    res.set_header("Allow", m.allow);
    res.text(405, "Method Not Allowed\n");
  } else {
    // A sub-router without a 404 of its own uses the nearest parent's.
    std::shared_ptr<const Tree> keep;
    const Tree* p = &t;
    while (p != nullptr && !p->not_found) {
      keep = p->parent.lock();
      p = keep.get();
    }
    if (p != nullptr) {
      p->not_found(req, res);
    } else {
      res.text(404, "Not Found\n");
    }
  }
}

void Router::serve_tree(const Tree& t, Request& req, Response& res) {
  if (t.entry) {
    t.entry(req, res);
  } else {
    dispatch(t, req, res);
  }
}

Router::Router() : tree_(std::make_shared<Tree>()) {}
Router::Router(std::shared_ptr<Tree> tree, std::vector<Middleware> chain)
    : tree_(std::move(tree)), chain_(std::move(chain)), view_(true) {}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

Handler Router::wrap(Handler h) {
  added_ = true;
  if (chain_.empty()) return h;
  MiddlewareChain chain;
  for (const Middleware& m : chain_) chain.use(m);
  return chain.then(std::move(h));
}

Router& Router::handle(std::string_view method, std::string_view pattern, Handler h) {
  if (method.empty()) throw bad_pattern(pattern, "empty method");
  for (char c : method) {
    if (!detail::is_token_char(static_cast<unsigned char>(c)))
      throw bad_pattern(pattern, "method \"" + std::string(method) + "\" is not a token");
  }
  if (!h) throw bad_pattern(pattern, "empty handler");
  Node* node = insert(&tree_->root, pattern);
  if (node->find(method) != nullptr)
    throw bad_pattern(pattern, std::string(method) + " is already registered");
  if (node->pattern.empty()) node->pattern = std::string(pattern);
  node->handlers.emplace_back(std::string(method), wrap(std::move(h)));
  return *this;
}

Router& Router::use(Middleware middleware) {
  if (!middleware) throw std::invalid_argument("router: use() of an empty middleware");
  if (view_) {
    if (added_) {
      throw std::logic_error(
          "router: use() on a group or with() view after it added a route; add its middlewares "
          "first (a route's chain is fixed when it is added)");
    }
    chain_.push_back(std::move(middleware));
    return *this;
  }
  Tree& t = *tree_;
  t.middlewares.push_back(std::move(middleware));
  MiddlewareChain chain;
  for (const Middleware& m : t.middlewares) chain.use(m);
  const Tree* tp = &t;
  t.entry = chain.then([tp](Request& req, Response& res) { dispatch(*tp, req, res); });
  return *this;
}

Router Router::with(Middleware middleware) {
  if (!middleware) throw std::invalid_argument("router: with() of an empty middleware");
  std::vector<Middleware> chain = chain_;
  chain.push_back(std::move(middleware));
  return Router(tree_, std::move(chain));
}

Router& Router::group(const std::function<void(Router&)>& fn) {
  Router view(tree_, chain_);
  fn(view);
  return *this;
}

Router& Router::group(std::string_view prefix, const std::function<void(Router&)>& fn) {
  Router sub;
  fn(sub);
  return mount(prefix, std::move(sub));
}

Router& Router::mount(std::string_view prefix, Handler h) {
  if (!h)
    throw std::invalid_argument("router: mount \"" + std::string(prefix) + "\": empty handler");
  const std::string normalized = normalize_prefix(prefix);
  Node* node = normalized.empty() ? &tree_->root : insert(&tree_->root, normalized);
  if (!node->empty()) {
    throw std::invalid_argument("router: mount \"" + std::string(prefix) +
                                "\": routes already live at or under it; a mount owns every path "
                                "below its prefix");
  }
  node->mount = wrap(std::move(h));
  node->mount_prefix = normalized;
  node->pattern = normalized + "/*";
  return *this;
}

Router& Router::mount(std::string_view prefix, Router sub) {
  sub.tree_->parent = tree_;
  return mount(prefix, sub.handler());
}

Router& Router::not_found(Handler h) {
  tree_->not_found = std::move(h);
  return *this;
}

Router::Match Router::match(std::string_view method, std::string_view raw_path,
                            std::vector<Field>& params, std::string& storage) const {
  return match_tree(tree_->root, method, raw_path, params, storage).match;
}

void Router::serve(Request& req, Response& res) const {
  serve_tree(*tree_, req, res);
}

Handler Router::handler() const {
  return [tree = tree_](Request& req, Response& res) { serve_tree(*tree, req, res); };
}

}  // namespace cogo::http
