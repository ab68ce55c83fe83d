#include "cogo/http/router.h"

#include <stdexcept>
#include <utility>

#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "text.h"

namespace cogo::http {

// Node is one segment position of the route tree. Children are tried in
// order of specificity: literal segments, then the parameter, then the
// catch-all; a dead end backtracks.
struct Router::Node {
  std::string literal;  // this node's segment text (literal children only)
  std::vector<std::unique_ptr<Node>> literals;
  std::unique_ptr<Node> param;
  std::string param_name;
  std::unique_ptr<Node> catch_all;  // a leaf
  std::string catch_all_name;
  std::vector<std::pair<std::string, Handler>> handlers;  // by method
  std::string pattern;  // the pattern that first ended here (messages)

  const Handler* find(std::string_view method) const {
    for (const auto& [m, h] : handlers) {
      if (m == method) return &h;
    }
    return nullptr;
  }
};

namespace {

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
};

// walk() matches the segments of w.path from pos (the start of a segment;
// npos once all are used) below node; returns the node with handlers it
// ends at, or nullptr.
template <class Node>
const Node* walk(const Node* node, std::size_t pos, Walk& w) {
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

}  // namespace

Router::Router() : root_(std::make_unique<Node>()) {}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

Router& Router::handle(std::string_view method, std::string_view pattern, Handler h) {
  auto bad = [&](const std::string& why) {
    return std::invalid_argument("router: pattern \"" + std::string(pattern) + "\": " + why);
  };
  if (method.empty()) throw bad("empty method");
  for (char c : method) {
    if (!detail::is_token_char(static_cast<unsigned char>(c)))
      throw bad("method \"" + std::string(method) + "\" is not a token");
  }
  if (pattern.empty() || pattern.front() != '/') throw bad("must start with '/'");
  if (!h) throw bad("empty handler");

  Node* node = root_.get();
  std::size_t pos = 1;
  for (;;) {
    const std::size_t slash = pattern.find('/', pos);
    const std::string_view segment =
        pattern.substr(pos, slash == std::string_view::npos ? slash : slash - pos);
    if (!segment.empty() && segment.front() == ':') {
      const std::string_view name = segment.substr(1);
      if (name.empty()) throw bad("parameter without a name");
      if (node->param == nullptr) {
        node->param = std::make_unique<Node>();
        node->param_name = std::string(name);
      } else if (node->param_name != name) {
        throw bad("parameter :" + std::string(name) + " conflicts with :" + node->param_name +
                  " at the same place in another route");
      }
      node = node->param.get();
    } else if (!segment.empty() && segment.front() == '*') {
      const std::string_view name = segment.substr(1);
      if (name.empty()) throw bad("catch-all without a name");
      if (slash != std::string_view::npos)
        throw bad("the catch-all *" + std::string(name) + " must be the last segment");
      if (node->catch_all == nullptr) {
        node->catch_all = std::make_unique<Node>();
        node->catch_all_name = std::string(name);
      } else if (node->catch_all_name != name) {
        throw bad("catch-all *" + std::string(name) + " conflicts with *" + node->catch_all_name);
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
  if (node->find(method) != nullptr) throw bad(std::string(method) + " is already registered");
  if (node->pattern.empty()) node->pattern = std::string(pattern);
  node->handlers.emplace_back(std::string(method), std::move(h));
  return *this;
}

Router& Router::not_found(Handler h) {
  not_found_ = std::move(h);
  return *this;
}

Router::Match Router::match(std::string_view method, std::string_view raw_path,
                            std::vector<Field>& params, std::string& storage) const {
  Match m;
  // Decoded parameters never outgrow the raw path: with this reserve the
  // views into storage stay valid.
  storage.reserve(storage.size() + raw_path.size());
  if (raw_path.empty() || raw_path.front() != '/') return m;
  Walk w{raw_path, params, storage};
  const Node* node = walk(root_.get(), 1, w);
  if (node == nullptr) return m;
  m.pattern = node->pattern;
  m.handler = node->find(method);
  if (m.handler == nullptr && method == "HEAD") m.handler = node->find("GET");
  if (m.handler != nullptr) {
    m.status = 200;
    return m;
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
  return m;
}

void Router::serve(Request& req, Response& res) const {
  req.params_.clear();
  req.param_storage_.clear();
  const Match m = match(req.method(), req.raw_path(), req.params_, req.param_storage_);
  req.route_ = m.pattern;
  if (m.handler != nullptr) {
    (*m.handler)(req, res);
  } else if (m.status == 405) {
    res.set_header("Allow", m.allow);
    res.text(405, "Method Not Allowed\n");
  } else if (not_found_) {
    not_found_(req, res);
  } else {
    res.text(404, "Not Found\n");
  }
}

Handler Router::handler() const {
  return [this](Request& req, Response& res) { serve(req, res); };
}

}  // namespace cogo::http
