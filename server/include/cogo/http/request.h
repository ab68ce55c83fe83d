// cogo/http/request.h: the request a handler sees.
//
// Every string_view a Request hands out points into the connection's buffers
// and is valid until the handler returns; copy what must live longer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cogo/cancel.h"
#include "cogo/http/field.h"
#include "cogo/http/request_values.h"

namespace cogo::http {

class Router;
class Response;
class Upgraded;
namespace detail {
class Exchange;
class Http1Engine;
class Http2Stream;
// JsonSupport<void> is defined by cogo/http/json.h (nlohmann-json), which
// Request::json() and Response::json(status, value) need.
template <class Tag>
struct JsonSupport;
}  // namespace detail

class Request {
 public:
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;

  // method() is the request method as sent ("GET"); is_head() says "HEAD".
  std::string_view method() const noexcept { return method_; }
  bool is_head() const noexcept { return is_head_; }
  // target() is the raw request-target ("/a%20b?x=1").
  std::string_view target() const noexcept { return target_; }
  // path() is the target's path, percent-decoded ("/a b").
  std::string_view path() const noexcept { return path_; }
  // raw_path() is the target's path as sent ("/a%20b"); the Router matches
  // it segment by segment, so an escaped '/' stays inside a parameter.
  // Inside a handler mounted with Router::mount(), both lack the mount's
  // prefix: mount_prefix() + raw_path() is the raw path that came in.
  std::string_view raw_path() const noexcept { return raw_path_; }
  // mount_prefix() is the raw path prefix the mounts this request went
  // through took off ("/static"); empty outside a mount.
  std::string_view mount_prefix() const noexcept { return mount_prefix_; }
  // raw_query() is the target's query, undecoded, without the '?' ("x=1").
  std::string_view raw_query() const noexcept { return raw_query_; }

  // query() is the first value of the query parameter name, percent-decoded
  // with '+' as a space; empty when absent (has_query() tells the two apart).
  std::string_view query(std::string_view name) const;
  bool has_query(std::string_view name) const;
  // query_params() are all decoded query parameters, in order, repeats kept.
  std::span<const Field> query_params() const;

  // header() is the first value of header name (case-insensitive), empty
  // when absent; headers() are all of its values in order.
  std::string_view header(std::string_view name) const noexcept;
  bool has_header(std::string_view name) const noexcept;
  std::vector<std::string_view> headers(std::string_view name) const;
  // header_fields() are all header fields, in order, as received.
  std::span<const Field> header_fields() const noexcept { return {fields_, field_count_}; }

  // param() is the path parameter name set by the Router ("/users/:id"),
  // percent-decoded; empty when absent.
  std::string_view param(std::string_view name) const noexcept;
  std::span<const Field> params() const noexcept { return params_; }
  // route() is the pattern the router matched ("/users/:id"): a name for
  // logs and metrics with the bounded cardinality the raw path lacks. Empty
  // before the router ran (in a middleware, read it after next()) and when
  // nothing matched (404); set for a 405 (the path matched).
  std::string_view route() const noexcept { return route_; }

  // host() is whom the request is for: the Host field's value, or the
  // authority of an absolute-form target ("example.com:8080"); always a
  // valid RFC 3986 authority (anything else was answered 400).
  std::string_view host() const noexcept { return host_; }

  // remote_address() is the client: the peer ("192.0.2.1:51234") as the
  // server gave it, unless a middleware that knows better (real_ip, behind
  // trusted proxies) replaced it with set_remote_address(); the access log
  // and rate_limit read it. peer_address() is always the socket's peer.
  std::string_view remote_address() const noexcept { return remote_address_; }
  std::string_view peer_address() const noexcept { return peer_address_; }
  // set_remote_address() replaces remote_address() for the rest of this
  // request (copied; an IP with or without a port).
  void set_remote_address(std::string_view address);
  // secure() tells whether the request came over TLS (its scheme is https).
  bool secure() const noexcept { return secure_; }
  int version_major() const noexcept { return version_major_; }
  int version_minor() const noexcept { return version_minor_; }
  // keep_alive() tells whether the client lets the connection stay open
  // after this request (HTTP/1.1 unless "Connection: close"; HTTP/1.0 only
  // with "Connection: keep-alive").
  bool keep_alive() const noexcept { return keep_alive_; }

  // content_length() is the declared body length, if any; chunked() says the
  // body comes with chunked transfer coding. has_body() is either.
  std::optional<std::uint64_t> content_length() const noexcept;
  bool chunked() const noexcept { return chunked_; }
  bool has_body() const noexcept { return chunked_ || content_length_ > 0; }

  // read() reads up to size bytes of the body, blocking until some arrive;
  // returns 0 at its end. The first read that has to wait for the client
  // answers "Expect: 100-continue". Throws HttpError (413 over the body
  // limit, 400 malformed or truncated) or TimeoutError (body read timeout).
  std::size_t read(void* buf, std::size_t size);
  // body() reads the rest of the body whole (bounded by max_body_bytes).
  std::string body();
  // json() reads the body whole and parses it as JSON (nlohmann::json),
  // after checking that Content-Type is application/json or another
  // "+json" type. Needs #include <cogo/http/json.h>, which says what it
  // answers on failure (415, 400).
  template <class Tag = void>
  typename detail::JsonSupport<Tag>::value_type json() {
    return detail::JsonSupport<Tag>::parse(*this);
  }
  // limit_body() lowers this request's body limit below
  // HttpOptions::max_body_bytes (never raises it): a read past n bytes
  // throws HttpError 413 and the connection closes after the answer.
  // middleware::body_limit(n) uses it per route.
  void limit_body(std::uint64_t n) noexcept;

  // context() is the request's cancellation context (cogo/cancel.h), already
  // current while the handler runs: every wait of the handler (and of the
  // goroutines it spawns) throws cogo::Cancelled once it is done. It is done
  // when the client leaves (client_gone: no response is written), when
  // HttpOptions::handler_timeout passes (deadline: 503, or a close if the
  // response had begun), when the graceful shutdown runs out of grace
  // (shutdown: 503 and close), and when the request is over (cancelled).
  // Keep a copy to hand to code that runs elsewhere; let Cancelled unwind.
  const cogo::Context& context() const noexcept { return *context_; }
  // with_context() runs fn with c as the request's context (context() and
  // the current context) and restores the previous one after: for a
  // middleware that narrows the request, as middleware::timeout does. c
  // should be a child of context() (Context::with_timeout(d, req.context())).
  template <class F>
  void with_context(const cogo::Context& c, F&& fn) {
    struct Restore {
      Request& req;
      const cogo::Context* previous;
      ~Restore() { req.context_ = previous; }
    } restore{*this, context_};
    context_ = &c;
    cogo::ContextScope scope(c);
    fn();
  }

  // set_value<T>() attaches a T built from args to this request, replacing
  // one already there; value<T>() is it, or nullptr. For a middleware to
  // hand something to a later one or to the handler (the request id, the
  // authenticated user); cogo/http/request_values.h says how they live.
  template <class T, class... Args>
  T& set_value(Args&&... args) {
    return values_.emplace<T>(std::forward<Args>(args)...);
  }
  template <class T>
  T* value() noexcept {
    return values_.get<T>();
  }
  template <class T>
  const T* value() const noexcept {
    return values_.get<T>();
  }
  RequestValues& values() noexcept { return values_; }

 private:
  // The engines fill a Request (server/src/exchange.h).
  friend class detail::Http1Engine;
  friend class detail::Http2Stream;
  friend class detail::Exchange;  // Exchange::of()
  friend class Router;
  friend Upgraded upgrade(Request& req, Response& res);
  friend void upgrade(Request& req, Response& res, std::function<void(Upgraded&)> fn);
  Request() = default;
  void parse_query() const;

  detail::Exchange* exchange_ = nullptr;  // what carries it (never null in a handler)
  const cogo::Context* context_ = &background_context_;
  static const cogo::Context background_context_;
  std::string_view method_;
  std::string_view target_;
  std::string_view host_;
  std::string_view path_;
  std::string_view raw_path_;
  std::string_view raw_query_;
  std::string_view remote_address_;
  std::string_view peer_address_;
  std::string remote_storage_;  // set_remote_address()'s copy
  // Routing (router.cpp): the matched pattern (in the Router, or composed
  // in route_storage_ under a mount), and while a mount's handler runs,
  // the raw prefix taken off, the route patterns of the mounts around it
  // and how many there are.
  std::string_view route_;
  std::string_view mount_prefix_;
  std::string route_prefix_;
  std::string route_storage_;
  int mount_depth_ = 0;
  RequestValues values_;
  const Field* fields_ = nullptr;
  std::size_t field_count_ = 0;
  std::vector<Field> params_;
  std::string path_storage_;   // decoded path, when it had escapes
  std::string param_storage_;  // decoded path parameters
  mutable std::vector<Field> query_;
  mutable std::string query_storage_;
  mutable bool query_parsed_ = false;
  std::uint64_t content_length_ = 0;
  bool has_content_length_ = false;
  bool chunked_ = false;
  bool keep_alive_ = false;
  bool is_head_ = false;
  bool secure_ = false;
  std::uint8_t version_major_ = 1;
  std::uint8_t version_minor_ = 1;
};

}  // namespace cogo::http
