// websocket.cpp: cogo/websocket.h's handles (WebSocket, Sender, Writer),
// its errors, and accept(): the handshake answered, the connection taken
// over (cogo/http/upgrade.h) and handed to a Connection.
#include "cogo/websocket.h"

#include <atomic>
#include <exception>
#include <stdexcept>

#include "cogo/cancel.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/http/upgrade.h"
#include "upgraded_access.h"
#include "websocket_connection.h"
#include "websocket_handshake.h"

namespace cogo::websocket {

namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "cogo.websocket"; }
  std::string message(int code) const override { return "close code " + std::to_string(code); }
};

detail::Connection& conn(const std::shared_ptr<detail::Connection>& c) {
  if (!c)
    throw std::logic_error("websocket: use of an empty WebSocket (was the handshake refused?)");
  return *c;
}

}  // namespace

const std::error_category& websocket_category() noexcept {
  static const Category category;
  return category;
}

Error::Error(std::uint16_t code, std::string what)
    : cogo::Error(std::error_code(code, websocket_category()), std::move(what)) {}

// ---------------------------------------------------------------------------
// Sender

void Sender::write_text(std::string_view text) {
  conn(c_).write_message(Kind::text, text);
}
void Sender::write_binary(std::string_view data) {
  conn(c_).write_message(Kind::binary, data);
}
void Sender::write(Kind kind, std::string_view data) {
  conn(c_).write_message(kind, data);
}
void Sender::ping(std::string_view payload) {
  conn(c_).ping(payload);
}
void Sender::close(std::uint16_t code, std::string_view reason) {
  conn(c_).close(code, reason);
}
bool Sender::open() const noexcept {
  return c_ != nullptr && c_->open();
}

Writer Sender::writer(Kind kind) {
  if (kind == Kind::close)
    throw std::invalid_argument("websocket: writer() of a close; use close()");
  return Writer(c_, kind);
}

// ---------------------------------------------------------------------------
// WebSocket

WebSocket& WebSocket::operator=(WebSocket&& o) noexcept {
  if (this != &o) {
    release();
    c_ = std::move(o.c_);
    exceptions_ = o.exceptions_;
  }
  return *this;
}

WebSocket::WebSocket(std::shared_ptr<detail::Connection> c) noexcept
    : exceptions_(std::uncaught_exceptions()) {
  c_ = std::move(c);
}

WebSocket::~WebSocket() {
  release();
}

void WebSocket::release() noexcept {
  if (!c_) return;
  // An open connection is closed: 1000 when the handler is done with it,
  // 1001 when its request was cancelled (the server is going away), 1011
  // when the handler fails.
  std::uint16_t code = close_code::normal;
  if (cogo::current_context().done()) {
    code = close_code::going_away;
  } else if (std::uncaught_exceptions() > exceptions_) {
    code = close_code::internal_error;
  }
  c_->close_on_release(code);
  c_->detach();
  c_.reset();
}

bool WebSocket::read(Message& m) {
  return conn(c_).read(m);
}

Message WebSocket::read() {
  Message m;
  conn(c_).read(m);
  return m;
}

WebSocket::Piece WebSocket::read_some(void* buf, std::size_t size) {
  return conn(c_).read_some(buf, size);
}

std::string_view WebSocket::subprotocol() const noexcept {
  return c_ ? std::string_view(c_->subprotocol()) : std::string_view();
}

bool WebSocket::compressed() const noexcept {
  return c_ && c_->compressed();
}

// ---------------------------------------------------------------------------
// Writer

Writer::Writer(std::shared_ptr<detail::Connection> c, Kind kind) : c_(std::move(c)), kind_(kind) {
  conn(c_).begin_message();
}

Writer::Writer(Writer&& o) noexcept
    : c_(std::move(o.c_)), kind_(o.kind_), started_(o.started_), finished_(o.finished_) {
  o.finished_ = true;
}

Writer::~Writer() {
  if (!c_ || finished_) return;
  try {
    cogo::CancelShield shield;
    c_->write_part(kind_, {}, true);
  } catch (...) {
  }
  c_->end_message();
}

void Writer::write(std::string_view data) {
  if (finished_) throw std::logic_error("websocket: Writer::write() after finish()");
  c_->write_part(kind_, data, false);
  started_ = true;
}

void Writer::finish(std::string_view data) {
  if (finished_) throw std::logic_error("websocket: Writer::finish() called twice");
  finished_ = true;
  struct Unlock {
    detail::Connection& c;
    ~Unlock() { c.end_message(); }
  } unlock{*c_};
  c_->write_part(kind_, data, true);
}

// ---------------------------------------------------------------------------
// accept and serve

namespace {

// DeflateSlot: a place under Deflate::max_connections, taken before the
// handshake is answered and held until the Connection counts itself in
// compressing_connections(), so that two handshakes at once cannot both
// take the last place (for that moment the connection counts twice: the
// cap may refuse early, never exceed).
class DeflateSlot {
 public:
  DeflateSlot() = default;
  DeflateSlot(const DeflateSlot&) = delete;
  DeflateSlot& operator=(const DeflateSlot&) = delete;
  ~DeflateSlot() {
    if (held_) detail::compressing_connections().fetch_sub(1, std::memory_order_relaxed);
  }

  // take() tells whether compression may be negotiated: always with no cap
  // (max 0), else when a place is free, which it then holds.
  bool take(std::size_t max) noexcept {
    if (max == 0) return true;
    std::atomic<std::size_t>& n = detail::compressing_connections();
    std::size_t cur = n.load(std::memory_order_relaxed);
    while (cur < max) {
      if (n.compare_exchange_weak(cur, cur + 1, std::memory_order_relaxed)) {
        held_ = true;
        return true;
      }
    }
    return false;
  }

 private:
  bool held_ = false;
};

// answer() checks the handshake and sets res up for the 101 (true), or
// answers the refusal (false). slot holds compression's place, if taken.
bool answer(http::Request& req, http::Response& res, const Options& options, detail::Handshake& h,
            DeflateSlot& slot) {
  const Deflate& d = options.deflate;
  const bool allow_deflate = d.enabled && slot.take(d.max_connections);
  h = detail::check_handshake(req.method(), req.version_major(), req.version_minor(),
                              req.header_fields(), options, allow_deflate);
  if (h.status != 101) {
    // RFC 6455 4.2.2, 4.4: an HTTP error, and for a version this server
    // does not speak, the versions it does. The request is served no
    // further: the connection closes after the answer.
    if (h.status == 426) res.set_header("Sec-WebSocket-Version", "13");
    res.set_header("Connection", "close");
    res.text(h.status, h.error + "\n");
    return false;
  }
  res.set_status(101);
  res.set_header("Upgrade", "websocket");
  res.set_header("Sec-WebSocket-Accept", h.accept);
  if (!h.subprotocol.empty()) res.set_header("Sec-WebSocket-Protocol", h.subprotocol);
  if (!h.extensions.empty()) res.set_header("Sec-WebSocket-Extensions", h.extensions);
  return true;
}

detail::Settings settings_of(const Options& options) {
  detail::Settings s;
  s.max_message = options.max_message_bytes;
  s.max_frame = options.max_frame_bytes > 0 ? options.max_frame_bytes : options.max_message_bytes;
  s.write_frame = options.write_frame_bytes;
  s.read_timeout = options.read_timeout;
  s.write_timeout = options.write_timeout;
  s.ping_interval = options.ping_interval;
  s.pong_timeout = options.pong_timeout;
  s.close_timeout = options.close_timeout;
  s.deflate_min_size = options.deflate.min_size;
  return s;
}

}  // namespace

WebSocket accept(http::Request& req, http::Response& res, const Options& options) {
  detail::Handshake h;
  DeflateSlot slot;  // given back when accept() returns: the Connection counts itself by then
  if (!answer(req, res, options, h, slot)) return WebSocket();
  http::Upgraded up = http::upgrade(req, res);
  return WebSocket(std::make_shared<detail::Connection>(
      http::detail::UpgradedAccess::stream(up), http::detail::UpgradedAccess::buffered(up),
      settings_of(options), h.deflate, std::move(h.subprotocol)));
}

namespace {

// Handover: what serve() passes from the request to its upgraded connection,
// one allocation. The upgrade handler on the connection's goroutine builds
// the Connection from it, moves fn onto its stack and frees it before fn
// runs: fn runs for the connection's life, and the copied settings, the
// subprotocol and a closure holding them would stay on the heap as long
// (176 bytes per idle WebSocket, issue 14). The handler's own closure is
// the shared_ptr alone.
struct Handover {
  detail::Settings settings;
  detail::DeflateParams deflate;
  std::string subprotocol;
  Serve fn;
  // The place under the compression cap, held until the Connection exists,
  // after the request (or given back if the upgrade never runs).
  DeflateSlot slot;
};

}  // namespace

bool serve(http::Request& req, http::Response& res, const Options& options, Serve fn) {
  if (!fn) throw std::invalid_argument("websocket: serve() with an empty function");
  detail::Handshake h;
  auto handover = std::make_shared<Handover>();
  if (!answer(req, res, options, h, handover->slot)) return false;
  handover->settings = settings_of(options);
  handover->deflate = h.deflate;
  handover->subprotocol = std::move(h.subprotocol);
  handover->fn = std::move(fn);
  http::upgrade(req, res, [handover](http::Upgraded& up) mutable {
    // The handler runs once: its reference moves here and goes below.
    std::shared_ptr<Handover> p = std::move(handover);
    Serve fn = std::move(p->fn);
    WebSocket ws(std::make_shared<detail::Connection>(
        http::detail::UpgradedAccess::stream(up), http::detail::UpgradedAccess::buffered(up),
        p->settings, p->deflate, std::move(p->subprotocol)));
    p.reset();  // the Connection counts itself under the cap now: the slot is given back
    fn(ws);
  });
  return true;
}

}  // namespace cogo::websocket
