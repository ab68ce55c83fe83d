#include "http1_engine.h"

#include "hangup_watch.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <ctime>
#include <exception>
#include <stdexcept>
#include <utility>

#include "coarse_clock.h"
#include "cogo/detail/opaque.h"
#include "cogo/detail/os.h"
#include "cogo/http/error.h"
#include "file_io.h"
#include "handler_run.h"
#include "http_date.h"
#include "text.h"

namespace cogo::http::detail {

namespace {

using Clock = std::chrono::steady_clock;

// A read buffer that has to grow gets at least this much room per read.
constexpr std::size_t kReadChunk = 4096;
// The smallest read buffer of a readiness-driven connection.
constexpr std::size_t kMinBuffer = 1024;
// Room for body reads behind a request head.
constexpr std::size_t kBodyRoom = 8192;
// Responses are written once this much output is pending, even mid-batch.
constexpr std::size_t kFlushBytes = 64 * 1024;
// Bodies at least this large are written from the Response, not copied.
constexpr std::size_t kCopyBodyBytes = 16 * 1024;
// A body at least this large, with no pipelined request behind it, is
// written from the Response too (finish_response() says why).
constexpr std::size_t kDirectBodyBytes = 4 * 1024;
// Buffers up to this size stay with a pooled Http1Engine.
constexpr std::size_t kKeepBytes = 4096;
// Unread input discarded at most while lingering before a close.
constexpr std::size_t kLingerBytes = 1024 * 1024;
// Non-blocking reads at a request boundary land here first: a connection
// copies only what arrived into its own buffer, so a handler that parks holds
// a buffer the size of its request, not of a read.
constexpr std::size_t kScratchBytes = 16 * 1024;

// Taken after the last park and used before the next: try_read never parks.
COGO_OPAQUE char* thread_scratch() {
  thread_local char scratch[kScratchBytes];
  return cogo::detail::opaque(scratch + 0);
}

Deadline deadline_after(std::chrono::milliseconds timeout) {
  return timeout.count() > 0 ? coarse_now() + timeout : no_deadline;
}

bool status_has_body(int status) {
  return status >= 200 && status != 204 && status != 304;
}

void append_status_line(OutputBuffer& out, int status) {
  if (status == 200) {
    out.append("HTTP/1.1 200 OK\r\n");
    return;
  }
  char code[4] = {static_cast<char>('0' + status / 100 % 10),
                  static_cast<char>('0' + status / 10 % 10), static_cast<char>('0' + status % 10),
                  ' '};
  out.append("HTTP/1.1 ");
  out.append(code, 4);
  out.append(reason_phrase(status));
  out.append("\r\n");
}

// chunk_size_line() writes a chunk's size line ("1a2b\r\n") into line, which
// has room for kChunkSizeLineBytes, and returns its length. The one place a
// chunk's framing is built.
constexpr std::size_t kChunkSizeLineBytes = 24;
std::size_t chunk_size_line(char* line, std::size_t size) {
  auto [end, ec] = std::to_chars(line, line + 16, size, 16);
  (void)ec;
  end[0] = '\r';
  end[1] = '\n';
  return static_cast<std::size_t>(end + 2 - line);
}

void append_decimal(OutputBuffer& out, std::uint64_t value) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  (void)ec;
  out.append(digits, static_cast<std::size_t>(end - digits));
}

}  // namespace

void Http1Engine::attach(Stream& stream, const Handler& handler, const HttpOptions& options,
                      std::string_view remote_address, bool readiness) {
  stream_ = &stream;
  handler_ = &handler;
  options_ = &options;
  remote_address_ = remote_address;
  readiness_ = readiness;
  // An Http1Engine that went idle left its parser between messages, ready for
  // the next one; only one that stopped elsewhere needs llhttp_init again.
  if (phase_ != RequestPhase::idle) parser_.reset();
  phase_ = RequestPhase::head;
  got_input_ = false;
  in_.reset_to(0);
  out_.clear();
  head_deadline_ = body_deadline_ = no_deadline;
  close_ = CloseReason::none;
}

void Http1Engine::detach() noexcept {
  stream_ = nullptr;
  handler_ = nullptr;
  upgrade_later_ = nullptr;
  // A pooled Http1Engine keeps small buffers (they make the next request free
  // of allocations) and gives big ones back: whatever it keeps is memory a
  // connection holds while its handler is parked mid-request.
  if (in_.capacity() > kKeepBytes) in_.release();
  if (out_.capacity() > kKeepBytes) out_.release();
  if (response_.unusual_ != 0) response_.close_file();
  if (response_.body_.capacity() > kKeepBytes) std::string().swap(response_.body_);
  if (response_.fields_.capacity() > kKeepBytes) std::string().swap(response_.fields_);
  if (request_.query_storage_.capacity() > kKeepBytes) std::string().swap(request_.query_storage_);
  if (request_.path_storage_.capacity() > kKeepBytes) std::string().swap(request_.path_storage_);
  if (request_.param_storage_.capacity() > kKeepBytes) std::string().swap(request_.param_storage_);
  RequestHead& head = parser_.head();
  if (head.fields.capacity() > 64) std::vector<Field>().swap(head.fields);
}

bool Http1Engine::draining() const noexcept {
  return options_->draining != nullptr && options_->draining->load(std::memory_order_relaxed);
}

Http1Session::State Http1Engine::serve() {
  try {
    for (;;) {
      if (!process_input()) {
        // A deferred upgrade whose handler returned: the connection goes on
        // without HTTP (the session runs the upgrade's handler).
        if (upgrade_ == UpgradeMode::later && !broken()) return Http1Session::State::upgraded;
        close_connection(!broken());
        return Http1Session::State::closed;
      }
      // Everything buffered is parsed. The responses so far go out in one
      // write before any wait for more input.
      if (parser_.in_message()) {
        flush_output();
        if (!read_more_head()) {
          close_connection(closing());
          return Http1Session::State::closed;
        }
        continue;
      }
      flush_output();
      if (draining()) return Http1Session::State::closed;
      switch (fill_at_boundary()) {
        case Fill::got:
          break;
        case Fill::idle:
          phase_ = RequestPhase::idle;
          return Http1Session::State::idle;
        case Fill::eof:
          return Http1Session::State::closed;
      }
    }
  } catch (const std::system_error&) {
    // The stream failed (reset, broken pipe, write timeout): nothing more
    // can be said on this connection.
  } catch (const std::exception& e) {
    spdlog::error("http: connection from {} failed: {}", remote_address_, e.what());
  }
  return Http1Session::State::closed;
}

Http1Engine::Fill Http1Engine::fill_at_boundary() {
  head_deadline_ = no_deadline;
  if (readiness_) {
    // A short read took all there was: the poller tells of more.
    if (stream_->input_drained()) return Fill::idle;
    char* scratch = thread_scratch();
    const std::ptrdiff_t n = stream_->try_read(scratch, kScratchBytes);
    if (n == Stream::would_block) return Fill::idle;
    if (n == 0) return Fill::eof;
    const auto size = static_cast<std::size_t>(n);
    in_.reserve_empty(std::max(size, kMinBuffer));
    std::memcpy(in_.tail(), scratch, size);
    in_.commit(size);
    got_input_ = true;
    return Fill::got;
  }
  in_.reserve_empty(std::max(options_->read_buffer_bytes, kMinBuffer));
  stream_->set_read_deadline(deadline_after(options_->idle_timeout));
  std::size_t n;
  try {
    n = stream_->read(in_.tail(), in_.tail_room());
  } catch (const TimeoutError&) {
    return Fill::eof;  // idle keep-alive connection: close silently
  }
  if (n == 0) return Fill::eof;
  in_.commit(n);
  return Fill::got;
}

bool Http1Engine::read_more_head() {
  RequestHead& head = parser_.head();
  const std::size_t keep_from = head.start != nullptr ? in_.offset_of(head.start) : in_.end();
  const std::size_t room =
      std::max(kReadChunk, readiness_ ? std::size_t{0} : options_->read_buffer_bytes / 4);
  head.rebase(in_.make_room(keep_from, room));
  if (head_deadline_ == no_deadline) head_deadline_ = deadline_after(options_->read_header_timeout);
  stream_->set_read_deadline(head_deadline_);
  std::size_t n;
  try {
    n = stream_->read(in_.tail(), in_.tail_room());
  } catch (const TimeoutError&) {
    send_error(408, "timed out reading the request head", in_head_request());
    return false;
  }
  if (n == 0) return false;  // the client gave up mid-head
  in_.commit(n);
  return true;
}

bool Http1Engine::process_input() {
  while (in_.unparsed_size() > 0) {
    const RequestParser::Result r = parser_.parse(in_.unparsed(), in_.unparsed_size());
    in_.consume(r.consumed);
    switch (r.event) {
      case RequestParser::Event::need_more: {
        const RequestHead& head = parser_.head();
        if (parser_.in_head() && head.start != nullptr &&
            in_.end() - in_.offset_of(head.start) > options_->max_header_bytes) {
          send_error(431, "request head too large", in_head_request());
          return false;
        }
        return true;
      }
      case RequestParser::Event::error:
        send_error(parser_.error_status(), parser_.error_reason(), in_head_request());
        return false;
      case RequestParser::Event::head_complete:
      case RequestParser::Event::message_complete:
        if (!dispatch(r.event)) return false;
        break;
    }
  }
  return true;
}

bool Http1Engine::dispatch(RequestParser::Event event) {
  RequestHead& head = parser_.head();
  const bool head_request = head.method == "HEAD";
  if (static_cast<std::size_t>(head.end - head.start) > options_->max_header_bytes) {
    send_error(431, "request head too large", head_request);
    return false;
  }
  if (head.content_length > options_->max_body_bytes) {
    send_error(413, "request body too large", head_request);
    return false;
  }
  head_deadline_ = body_deadline_ = no_deadline;
  // Body bytes an earlier handler left unread are gone with its request.
  pending_begin_ = pending_end_ = 0;
  const bool body_done = event == RequestParser::Event::message_complete;
  phase_ = body_done             ? RequestPhase::body_complete
           : head.expect_continue ? RequestPhase::body_expect_continue
                                  : RequestPhase::body;
  response_phase_ = ResponsePhase::buffered;
  upgrade_ = UpgradeMode::none;
  body_received_ = 0;
  body_limit_ = options_->max_body_bytes;
  close_ = !head.keep_alive || head.upgrade ? CloseReason::client_asked
           : draining()                     ? CloseReason::draining
                                            : CloseReason::none;
  if (!body_done) {
    // Body reads reuse the space behind the head: make sure there is some
    // before the handler sees views into the buffer.
    const std::size_t head_start = in_.offset_of(head.start);
    if (in_.capacity() - in_.offset_of(head.end) < kBodyRoom) {
      head.rebase(in_.make_room(head_start, kBodyRoom + (in_.end() - in_.offset_of(head.end))));
    }
    head_end_ = in_.offset_of(head.end);
    pending_begin_ = pending_end_ = head_end_;
  }
  if (!prepare_request()) {
    send_error(400, "malformed percent-encoding in the path", head_request);
    return false;
  }
  response_.reset(this, request_.is_head_, options_->max_buffered_response_bytes);

  run_handler();
  if (broken()) return false;
  finish_body_before_response();
  finish_response();
  // The response is queued before an unread body is drained: the client
  // gets its answer even if it waits for one before sending the rest.
  finish_body_after_response();
  if (closing()) return false;
  if (out_.size() >= kFlushBytes) flush_output();
  return true;
}

bool Http1Engine::prepare_request() {
  const RequestHead& head = parser_.head();
  Request& r = request_;
  r.exchange_ = this;
  r.method_ = head.method;
  r.is_head_ = head.method == "HEAD";
  r.target_ = head.target;
  r.host_ = head.host;
  r.remote_address_ = remote_address_;
  r.peer_address_ = remote_address_;
  r.secure_ = stream_->secure();
  r.fields_ = head.fields.data();
  r.field_count_ = head.fields.size();
  r.content_length_ = head.content_length;
  r.has_content_length_ = head.has_content_length;
  r.chunked_ = head.chunked;
  r.keep_alive_ = head.keep_alive;
  r.version_major_ = head.http_major;
  r.version_minor_ = head.http_minor;
  r.params_.clear();
  r.param_storage_.clear();
  r.route_ = {};
  r.mount_prefix_ = {};
  r.mount_depth_ = 0;
  r.route_prefix_.clear();
  r.query_parsed_ = false;

  // origin-form "/p?q", absolute-form "http://h/p?q", asterisk-form "*",
  // authority-form "h:443" (CONNECT).
  std::string_view target = head.target;
  std::string_view path;
  std::string_view query;
  if (const std::size_t hash = target.find('#'); hash != std::string_view::npos)
    target = target.substr(0, hash);
  if (!target.empty() && target.front() != '/' && target != "*") {
    if (const std::size_t scheme = target.find("://"); scheme != std::string_view::npos) {
      const std::size_t slash = target.find('/', scheme + 3);
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    } else {
      target = {};
    }
  }
  const std::size_t question = target.find('?');
  path = target.substr(0, question);
  if (question != std::string_view::npos) query = target.substr(question + 1);
  r.raw_path_ = path;
  r.raw_query_ = query;
  r.path_ = path;
  if (needs_decoding(path, false)) {
    r.path_storage_.clear();
    if (!percent_decode(path, r.path_storage_, false, false)) return false;
    r.path_ = r.path_storage_;
  }
  return true;
}

// The request context's life, and what it costs a request that never waits:
// the state is reused from request to request (no allocation) and its
// first-wait hook stays installed while no wait used it, so begin and end
// are a few plain stores and one atomic load (state_unshared). A handler
// that waits, a handler timeout, or a helper still holding the context
// take the slower paths below.
void Http1Engine::begin_request_context() {
  // Compared by state, not by handle: a pooled engine outlives its server,
  // and a new server's root handle may sit at the old one's address. ctx_
  // holds a reference to its parent's state, so that state's address is
  // not reused while the comparison matters.
  const cogo::Context* parent = options_->root_context;
  cogo::detail::CancelState* parent_state = parent ? parent->state() : nullptr;
  cogo::detail::CancelState* s = ctx_.state();
  if (s == nullptr || ctx_parent_ != parent_state || ctx_.done()) {
    // (Reused states were checked unshared when their last request ended,
    // and nobody could reach them since.)
    ctx_ = cogo::Context::with_cancel(parent ? *parent : cogo::Context());
    ctx_parent_ = parent_state;
    s = ctx_.state();
    first_wait_armed_ = false;
  }
  // What the first wait's hang-up watch needs, fixed now: on_first_wait may
  // run on a helper goroutine's thread while the handler reads the body.
  // Bytes of a next request behind this one: the client is pipelining, and
  // its FIN says nothing about this request; only a reset counts then.
  watch_fd_ = stream_->native_fd();
  watch_half_close_ = options_->cancel_on_half_close &&
                      !(phase_ == RequestPhase::body_complete && in_.unparsed_size() > 0);
  if (options_->handler_timeout.count() > 0) {
    const int64_t deadline =
        cogo::detail::nanotime() +
        std::chrono::duration_cast<std::chrono::nanoseconds>(options_->handler_timeout).count();
    cogo::detail::state_rearm(s, deadline, &Http1Engine::on_first_wait, this);
    first_wait_armed_ = true;
    deadline_armed_ = true;
  } else if (!first_wait_armed_) {
    cogo::detail::state_rearm(s, 0, &Http1Engine::on_first_wait, this);
    first_wait_armed_ = true;
  }
  request_.context_ = &ctx_;
  if (RequestCounters* c = options_->request_counters) {
    c->in_flight.fetch_add(1, std::memory_order_relaxed);
  }
}

void Http1Engine::on_first_wait(cogo::detail::CancelState*, void* self) {
  // Runs inside the first wait under the request's context (see
  // cogo/detail/cancel.h), under the state's lock: the handler's, or a
  // helper goroutine's on another thread. It reads only what begin fixed.
  auto* e = static_cast<Http1Engine*>(self);
  e->first_wait_armed_ = false;  // consumed
  if (e->watch_fd_ < 0) return;
  e->hangup_watch_ = watch_hangup(e->watch_fd_, e->ctx_, e->watch_half_close_, e->options_->draining);
}

cogo::CancelReason Http1Engine::end_request_context(cogo::CancelReason escaped) noexcept {
  const bool upgraded_now = upgrade_ == UpgradeMode::now;
  if (upgraded_now && options_->upgrades != nullptr) options_->upgrades->remove(upgrade_entry_);
  cogo::detail::CancelState* s = ctx_.state();
  const cogo::CancelReason own = ctx_.reason();
  const cogo::CancelReason reason = own != cogo::CancelReason::none ? own : escaped;
  if (RequestCounters* c = options_->request_counters) {
    (upgraded_now ? c->upgraded : c->in_flight).fetch_sub(1, std::memory_order_relaxed);
    if (reason != cogo::CancelReason::none) {
      c->cancelled[static_cast<int>(reason)].fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (cogo::detail::state_unshared(s) && !deadline_armed_) {
    // Nothing else holds the state (a watch would: so there is none), the
    // hook either ran on this goroutine or is still installed: keep both.
    return reason;
  }
  stop_request_watch();
  if (!cogo::detail::state_alone(s)) {
    ctx_.cancel(cogo::CancelReason::cancelled);  // the request is over: its helpers stop
    ctx_ = cogo::Context();
  }
  return reason;
}

void Http1Engine::stop_request_watch() noexcept {
  // Stop the hook and the timer first: under the state's lock, so a first
  // wait that ran (on whatever thread) is complete and its watch id visible,
  // and none runs after.
  cogo::detail::state_rearm(ctx_.state(), 0, nullptr, nullptr);
  first_wait_armed_ = false;
  deadline_armed_ = false;
  if (hangup_watch_ != 0) {
    unwatch_hangup(hangup_watch_, watch_fd_);
    hangup_watch_ = 0;
  }
}

Http1Engine::Upgrade Http1Engine::upgrade(UpgradeHandler later) {
  Response& res = response_;
  if (upgrade_ != UpgradeMode::none)
    throw std::logic_error("http: upgrade() called twice for one request");
  if (res.committed_) throw std::logic_error("http: upgrade() after the response head was sent");
  if (res.body_bytes_ > 0) throw std::logic_error("http: upgrade() after a body was written");
  const bool connect = request_.method_ == "CONNECT";
  if (connect) {
    if (res.status_ < 200 || res.status_ > 299) {
      throw std::logic_error("http: upgrade() of a CONNECT needs a 2xx status; call set_status() first");
    }
  } else {
    if (res.status_ != 101) {
      throw std::logic_error(
          "http: upgrade() needs status 101 (Switching Protocols); call set_status(101) first");
    }
    if (!parser_.head().upgrade || request_.version_minor_ == 0) {
      throw std::logic_error(
          "http: upgrade(): the request asked for no upgrade (HTTP/1.1 with Upgrade and "
          "Connection: upgrade)");
    }
  }
  if (phase_ != RequestPhase::body_complete) {
    throw HttpError(400, "a request body must be read to its end before the connection is upgraded");
  }
  // From here the connection is the handler's: no handler timeout (it
  // would cut a long-lived protocol), no hang-up watch (the protocol tells
  // a leaving peer), and the request no longer counts as in flight.
  stop_request_watch();
  close_ = CloseReason::upgraded;
  response_phase_ = ResponsePhase::upgraded;
  res.committed_ = true;
  if (later) {
    upgrade_ = UpgradeMode::later;
    upgrade_later_ = std::move(later);
  } else {
    upgrade_ = UpgradeMode::now;
    if (RequestCounters* c = options_->request_counters) {
      c->in_flight.fetch_sub(1, std::memory_order_relaxed);
      c->upgraded.fetch_add(1, std::memory_order_relaxed);
    }
    if (options_->upgrades != nullptr) {
      upgrade_entry_.context = ctx_;
      upgrade_entry_.fd = stream_->native_fd();
      options_->upgrades->add(upgrade_entry_);
    }
  }
  append_head(Framing::none, 0);
  flush_output();
  // What only HTTP needed goes back now: an upgraded connection may live
  // for hours. (The request's head stays: the handler may still read it.)
  out_.release();
  std::string().swap(res.body_);
  std::string().swap(res.fields_);
  return Upgrade{stream_, std::string_view(in_.unparsed(), in_.unparsed_size())};
}

UpgradeHandler Http1Engine::take_upgrade(std::string& buffered) {
  buffered.assign(in_.unparsed(), in_.unparsed_size());
  upgrade_ = UpgradeMode::none;
  return std::move(upgrade_later_);
}

void Http1Engine::run_handler() {
  begin_request_context();
  HandlerRun run = run_caught(
      [&] {
        // ContextScope without its reference counting: ctx_ outlives the run.
        struct Bind {
          cogo::detail::CancelState*& slot;
          cogo::detail::CancelState* previous;
          ~Bind() { slot = previous; }
        } bind{cogo::detail::cancel_slot(), nullptr};
        bind.previous = std::exchange(bind.slot, ctx_.state());
        (*handler_)(request_, response_);
      },
      [&] { return phase_ == RequestPhase::body_timed_out; });
  if (!run.returned && upgrade_ == UpgradeMode::later) {
    // A handler that failed after a deferred upgrade: nothing of it runs.
    upgrade_ = UpgradeMode::none;  // close_ is upgraded: the connection closes
    upgrade_later_ = nullptr;
  }
  // Why the request ended cancelled, if it did: its context's reason, else
  // that of a Cancelled from a tighter context of the handler's own
  // (middleware::timeout, a timeout around an upstream call). Another
  // exception keeps its own answer.
  // The request's values end with the handler chain (their destructors may
  // still wait: the context is not over yet).
  request_.values_.clear();
  const cogo::CancelReason cancelled = cancelled_by(run, end_request_context(run.escaped));
  const bool answered =
      response_.committed_ || response_.status_ != 200 || response_.body_bytes_ > 0;
  if (keeps_own_answer(run, cancelled, answered)) return;
  if (broken()) return;  // our own stream failed under the handler
  if (cancelled == cogo::CancelReason::client_gone) {
    raise(CloseReason::broken);  // nobody is there to read an answer
    return;
  }
  if (cancelled != cogo::CancelReason::none) {
    answer_cancelled(run, cancelled);
    if (cancelled == cogo::CancelReason::shutdown) raise(CloseReason::draining);
  }
  int& status = run.status;
  std::string& message = run.message;
  if (run.failed) {
    spdlog::error("http: handler for {} {} from {} threw: {}", request_.method_, request_.path_,
                  remote_address_, message);
    message = "Internal Server Error";
  }
  if (response_.committed_) {
    // Part of the response is on the wire: the only honest end is a close.
    response_phase_ = ResponsePhase::aborted;
    raise(CloseReason::handler_aborted);
    return;
  }
  if (status < 100 || status > 999) status = 500;
  response_.reset(this, request_.is_head_, options_->max_buffered_response_bytes);
  if (status == 408 || status == 413) raise(CloseReason::request_error);
  message.push_back('\n');
  response_.text(status, message);
}

std::size_t Http1Engine::read_body(void* dst, std::size_t size) {
  if (size == 0 || !pull_body()) return 0;
  const std::size_t n = std::min(size, pending_end_ - pending_begin_);
  std::memcpy(dst, in_.data() + pending_begin_, n);
  pending_begin_ += n;
  return n;
}

bool Http1Engine::pull_body() {
  while (pending_begin_ == pending_end_) {
    if (phase_ == RequestPhase::body_failed) {
      throw HttpError(body_failure_status_, body_failure_status_ == 413 ? "request body too large"
                                                                        : "malformed request body");
    }
    if (phase_ == RequestPhase::body_complete) return false;
    if (in_.unparsed_size() == 0) {
      if (phase_ == RequestPhase::body_expect_continue) {
        phase_ = RequestPhase::body;
        out_.append("HTTP/1.1 100 Continue\r\n\r\n");
        flush_output();
      }
      flush_output();  // earlier responses must not wait for this body
      in_.reset_to(head_end_);
      if (body_deadline_ == no_deadline)
        body_deadline_ = deadline_after(options_->body_read_timeout);
      stream_->set_read_deadline(body_deadline_);
      std::size_t n;
      try {
        n = stream_->read(in_.tail(), in_.tail_room());
      } catch (const cogo::Cancelled&) {
        throw;  // nothing was read: the connection is as it was
      } catch (const TimeoutError&) {
        phase_ = RequestPhase::body_timed_out;
        raise(CloseReason::request_error);
        throw;
      } catch (...) {
        raise(CloseReason::broken);
        throw;
      }
      if (n == 0) {
        raise(CloseReason::request_error);
        phase_ = RequestPhase::body_failed;
        body_failure_status_ = 400;
        throw HttpError(400, "request body truncated: the client closed the connection");
      }
      in_.commit(n);
    }
    char* data = in_.unparsed();
    const RequestParser::Result r = parser_.parse(data, in_.unparsed_size());
    pending_begin_ = in_.offset_of(data);
    pending_end_ = pending_begin_ + r.body_bytes;
    in_.consume(r.consumed);
    body_received_ += r.body_bytes;
    if (body_received_ > body_limit_) {
      raise(CloseReason::request_error);
      phase_ = RequestPhase::body_failed;
      body_failure_status_ = 413;
      pending_begin_ = pending_end_;
      throw HttpError(413, "request body too large");
    }
    if (r.event == RequestParser::Event::message_complete) {
      phase_ = RequestPhase::body_complete;
    } else if (r.event == RequestParser::Event::error) {
      raise(CloseReason::request_error);
      phase_ = RequestPhase::body_failed;
      body_failure_status_ = parser_.error_status();
      pending_begin_ = pending_end_;
      throw HttpError(body_failure_status_, parser_.error_reason());
    }
  }
  return true;
}

void Http1Engine::finish_body_before_response() {
  if (phase_ == RequestPhase::body_complete || closing()) return;
  const RequestHead& head = parser_.head();
  // The client waits for "100 Continue" before it sends the body; without
  // it, whether a body follows is unknowable.
  if (phase_ == RequestPhase::body_expect_continue) {
    raise(CloseReason::body_unread);
    return;
  }
  if (head.has_content_length && head.content_length - body_received_ > options_->max_drain_bytes) {
    raise(CloseReason::body_unread);
  }
}

void Http1Engine::finish_body_after_response() {
  if (phase_ == RequestPhase::body_complete || closing()) return;
  // Read and drop the rest of the body (at most max_drain_bytes) so the
  // connection can carry the next request. Failing that, close it: the
  // response may have said keep-alive, but a server may close any idle
  // connection.
  const std::uint64_t limit = body_received_ + options_->max_drain_bytes;
  try {
    while (pull_body()) {
      pending_begin_ = pending_end_;
      if (body_received_ > limit) {
        raise(CloseReason::body_unread);
        return;
      }
    }
  } catch (...) {
    raise(CloseReason::body_unread);
  }
}

void Http1Engine::append_head(Framing framing, std::uint64_t content_length) {
  Response& res = response_;
  if (res.close_) {
    raise(CloseReason::handler_asked);
  } else if (draining()) {
    raise(CloseReason::draining);
  }
  append_status_line(out_, res.status_);
  if (!res.has_server_ && !res.has_date_) {
    out_.append("Server: cogo\r\nDate: ");
    out_.append(http_date_now());
    out_.append("\r\n");
  } else {
    if (!res.has_server_) out_.append("Server: cogo\r\n");
    if (!res.has_date_) {
      out_.append("Date: ");
      out_.append(http_date_now());
      out_.append("\r\n");
    }
  }
  out_.append(res.fields_);
  if (close_ == CloseReason::upgraded) {
    // RFC 9110 7.8: a 101 names the upgrade in Connection; a CONNECT's 2xx
    // has no framing at all (RFC 9110 9.3.6).
    out_.append(res.status_ == 101 ? "Connection: Upgrade\r\n\r\n" : "\r\n");
    return;
  }
  switch (framing) {
    case Framing::length:
      out_.append("Content-Length: ");
      append_decimal(out_, content_length);
      out_.append("\r\n");
      break;
    case Framing::chunked:
      out_.append("Transfer-Encoding: chunked\r\n");
      break;
    case Framing::until_close:
    case Framing::none:
      break;
  }
  if (closing()) {
    out_.append("Connection: close\r\n\r\n");
  } else if (request_.version_minor_ == 0) {
    out_.append("Connection: keep-alive\r\n\r\n");
  } else {
    out_.append("\r\n");
  }
}

void Http1Engine::flush_response() {
  Response& res = response_;
  if (!res.committed_) {
    res.committed_ = true;
    if (!status_has_body(res.status_)) {
      response_phase_ = ResponsePhase::no_body;
      append_head(Framing::none, 0);
    } else if (request_.version_minor_ >= 1) {
      response_phase_ = ResponsePhase::chunked;
      append_head(Framing::chunked, 0);
    } else {
      response_phase_ = ResponsePhase::until_close;
      raise(CloseReason::until_close);
      append_head(Framing::until_close, 0);
    }
  }
  const bool send =
      !res.body_.empty() && !res.discard_body_ && response_phase_ != ResponsePhase::no_body;
  if (send && response_phase_ == ResponsePhase::chunked) {
    char size_line[kChunkSizeLineBytes];
    const ConstBuffer pieces[3] = {{size_line, chunk_size_line(size_line, res.body_.size())},
                                   {res.body_.data(), res.body_.size()},
                                   {"\r\n", 2}};
    write_out(pieces, 3);
  } else if (send) {
    const ConstBuffer piece{res.body_.data(), res.body_.size()};
    write_out(&piece, 1);
  } else {
    write_out(nullptr, 0);
  }
  res.body_.clear();
}

void Http1Engine::finish_response() {
  Response& res = response_;
  if (response_phase_ == ResponsePhase::aborted || response_phase_ == ResponsePhase::upgraded) return;
  const bool send_body = !res.discard_body_ && status_has_body(res.status_);
  if (res.committed_) {
    if (response_phase_ == ResponsePhase::chunked && send_body) {
      if (!res.body_.empty()) {
        char size_line[kChunkSizeLineBytes];
        out_.append(size_line, chunk_size_line(size_line, res.body_.size()));
        out_.append(res.body_);
        out_.append("\r\n");
      }
      out_.append("0\r\n\r\n");
    } else if (response_phase_ == ResponsePhase::until_close && send_body) {
      out_.append(res.body_);
    }
    res.body_.clear();
    return;
  }
  if (res.unusual_ != 0) [[unlikely]] {
    finish_unusual_response(send_body);
    return;
  }
  append_head(status_has_body(res.status_) ? Framing::length : Framing::none, res.body_bytes_);
  if (!send_body || res.body_.empty()) return;
  // A small body is copied behind its head, so a pipelined batch leaves in
  // one write. With nothing more buffered to parse, out_ is written next
  // anyway: head and body go out now in one writev, without copying the
  // body (a gzip64k answer's 8.8 KB: 8,500 instructions a request under
  // loadtest/gzip_ir.sh, memcpy's rep movsb). Over TLS the pieces are
  // gathered into a record either way (TlsStream::writev_all): copy.
  const std::size_t size = res.body_.size();
  if (size >= kCopyBodyBytes ||
      (size >= kDirectBodyBytes && in_.unparsed_size() == 0 && !request_.secure_)) {
    const ConstBuffer piece{res.body_.data(), res.body_.size()};
    write_out(&piece, 1);
  } else {
    out_.append(res.body_);
  }
}

bool Http1Engine::in_head_request() const noexcept {
  // in_message(): the head's views belong to the request being read (a
  // parse error at the first byte of a message may precede its begin). The
  // method is HEAD once the SP after it has arrived ("HEAD" may be a prefix,
  // "HEADX" is another method): a fact of the bytes received, however they
  // were split into reads (was: once llhttp had reported a piece of the
  // target, which it does at the end of a read and not before an error in
  // the same read, so "HEAD HTTP/1.1\r\n" got a body or not depending on
  // where a read ended; found by tests/fuzz/http1_fuzz).
  const RequestHead& head = parser_.head();
  if (!parser_.in_message() || head.method != "HEAD") return false;
  const char* after = head.method.data() + head.method.size();
  return after < in_.data() + in_.end() && *after == ' ';
}

// finish_unusual_response() is finish_response() for a response the common
// path does not cover (Response::unusual_): a HEAD without Content-Length,
// a body with file pieces.
void Http1Engine::finish_unusual_response(bool send_body) {
  Response& res = response_;
  struct CloseFile {
    Response& res;
    ~CloseFile() { res.close_file(); }
  } close_file{res};
  const std::size_t head_start = out_.size();
  const bool length_known = (res.unusual_ & Response::kLengthUnknown) == 0;
  append_head(status_has_body(res.status_) && length_known ? Framing::length : Framing::none,
              res.body_bytes_);
  if (res.file_fd_ >= 0) {
    if (send_body) send_file_body(head_start);
  } else if (send_body && !res.body_.empty()) {
    out_.append(res.body_);
  }
}

// send_file_body() sends a body with file pieces (Response::write_file)
// after its head, which starts at head_start in out_. A small body is read
// into out_ and leaves with the head (and the rest of a pipelined batch) in
// one write; a larger one goes out piece by piece, the file's bytes through
// Stream::send_file (sendfile(2) on a plain socket). A file that fails to
// read before anything of the response was written loses only this
// response: what came before it is written and the connection closes.
void Http1Engine::send_file_body(std::size_t head_start) {
  Response& res = response_;
  const std::string_view text = res.body_;
  std::uint64_t total = text.size();
  for (const Response::FilePiece& piece : res.files_) total += piece.length;
  std::size_t text_at = 0;
  if (total <= kCopyBodyBytes) {
    try {
      for (const Response::FilePiece& piece : res.files_) {
        out_.append(text.substr(text_at, piece.text_end - text_at));
        text_at = piece.text_end;
        const auto n = static_cast<std::size_t>(piece.length);
        read_file_exact(res.file_fd_, out_.extend(n), n, piece.offset);
      }
    } catch (const std::system_error& e) {
      spdlog::error("http: file body for {} {} from {}: {}", request_.method_, request_.path_,
                    remote_address_, e.what());
      out_.truncate(head_start);
      flush_output();
      raise(CloseReason::broken);
      return;
    }
    out_.append(text.substr(text_at));
    return;
  }
  for (const Response::FilePiece& piece : res.files_) {
    out_.append(text.substr(text_at, piece.text_end - text_at));
    text_at = piece.text_end;
    flush_output();
    try {
      stream_->set_write_deadline(deadline_after(options_->write_timeout));
      stream_->send_file(res.file_fd_, piece.offset, piece.length);
    } catch (...) {
      raise(CloseReason::broken);
      throw;
    }
  }
  out_.append(text.substr(text_at));
}

void Http1Engine::send_error(int status, std::string_view detail, bool head_request) {
  // Used before (or instead of) a handler: the request may be half parsed.
  // A HEAD request gets the head a GET would get and no content (RFC 9110
  // 9.3.2), even when it is refused.
  raise(CloseReason::request_error);
  response_phase_ = ResponsePhase::buffered;
  response_.reset(this, head_request, options_->max_buffered_response_bytes);
  std::string body(reason_phrase(status));
  if (!detail.empty()) {
    body.append(": ");
    body.append(detail);
  }
  body.push_back('\n');
  response_.text(status, body);
  finish_response();
}

void Http1Engine::flush_output() {
  if (!out_.empty()) write_out(nullptr, 0);
}

void Http1Engine::write_out(const ConstBuffer* extra, int count) {
  ConstBuffer pieces[4];
  int n = 0;
  if (!out_.empty()) pieces[n++] = ConstBuffer{out_.data(), out_.size()};
  for (int i = 0; i < count; ++i) pieces[n++] = extra[i];
  if (n == 0) return;
  try {
    stream_->set_write_deadline(deadline_after(options_->write_timeout));
    stream_->writev_all(std::span<const ConstBuffer>(pieces, static_cast<std::size_t>(n)));
  } catch (...) {
    raise(CloseReason::broken);
    throw;
  }
  out_.clear();
}

void Http1Engine::close_connection(bool linger) noexcept {
  if (broken()) return;
  try {
    flush_output();
    if (!linger) return;
    // Closing with unread input makes the kernel reset the connection, which
    // can destroy the response before the client reads it: send FIN first,
    // then read and drop what the client still sends, for a little while.
    stream_->shutdown_write();
    if (options_->linger_timeout.count() <= 0) return;
    stream_->set_read_deadline(deadline_after(options_->linger_timeout));
    in_.reset_to(0);
    if (in_.capacity() < kReadChunk) in_.reserve_empty(kReadChunk);
    std::size_t drained = 0;
    while (drained < kLingerBytes) {
      const std::size_t n = stream_->read(in_.data(), in_.capacity());
      if (n == 0) break;
      drained += n;
    }
  } catch (...) {
    // Best effort: the connection closes either way.
  }
}

}  // namespace cogo::http::detail
