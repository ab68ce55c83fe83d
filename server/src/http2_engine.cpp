// http2_engine.cpp: HTTP/2 connections, a goroutine per stream (see
// http2_engine.h for the goroutines and who owns what).
#include "http2_engine.h"

#include <nghttp2/nghttp2.h>
#include <sys/socket.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <deque>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cogo/cancel.h"
#include "cogo/chan.h"
#include "cogo/http/error.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/runtime.h"
#include "cogo/wait_group.h"
#include "exchange.h"
#include "file_io.h"
#include "handler_run.h"
#include "http_date.h"
#include "text.h"
#include "upgrade_registry.h"

// nghttp2_option_set_max_continuations came with 1.61 (and Debian 12's
// 1.52.0-1+deb12u2 backport); weak, so a libnghttp2 without it still links
// and setup() says what is missing.
extern "C" void nghttp2_option_set_max_continuations(nghttp2_option* option, size_t val)
    __attribute__((weak));

namespace cogo::http::detail {

namespace {

// Streams a client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS):
// 100, Go's net/http and nginx's default. Each open stream is a goroutine
// and up to one flow-control window of buffered body here, so this bounds
// what one connection can make the server hold; 100 is enough for a
// browser's page load and for gRPC clients, which open more connections
// when they need more.
constexpr std::uint32_t kMaxConcurrentStreams = 100;
// Handlers running at once on a connection, counted from start to end: a
// stream the client reset is closed in the session at once, but its
// handler runs until it notices (or never, if it ignores cancellation), so
// the session's stream count alone does not bound them (rapid reset,
// CVE-2023-44487). A stream whose request head arrived while this many run
// waits, open, until one ends; reset while it waits, it never starts.
constexpr int kMaxRunningHandlers = static_cast<int>(kMaxConcurrentStreams);
// RST_STREAM from the client, as a token bucket: kResetBurst at once (every
// stream it may have open, twice over), then kResetsPerSecond. Past that
// the connection ends with GOAWAY ENHANCE_YOUR_CALM (RFC 9113 7): what a
// browser or gRPC client cancels stays far below it, a rapid-reset flood
// does not. nghttp2's own limit (1,000 then 33/s, INTERNAL_ERROR) stays
// behind it.
constexpr double kResetBurst = 2.0 * kMaxConcurrentStreams;
constexpr double kResetsPerSecond = 33.0;
// SETTINGS and PING ACKs nghttp2 may hold unsent: the owner writes what
// the session produced after each chunk it reads, so this bounds the ACKs
// one read's frames ask for. A client sends a SETTINGS or two and a PING
// now and then; a chunk of 16 KiB packed with PINGs (963) or empty SETTINGS
// (1,820) is a flood: the session fails with NGHTTP2_ERR_FLOODED and the
// connection ends (GOAWAY ENHANCE_YOUR_CALM). nghttp2's default, 1,000,
// never fires on a 16 KiB read of PINGs.
constexpr std::size_t kMaxOutboundAck = 100;
// CONTINUATION frames after one HEADERS (CVE-2024-27316, CVE-2024-28182):
// nghttp2 ends the connection past this many. The header list is bounded
// by max_header_bytes anyway; this bounds the frames (and the HPACK work)
// a client may send without ever ending the block.
constexpr std::size_t kMinContinuations = 8;
// The reader's chunk, and how many chunks may wait for the owner: beyond
// that the reader stops reading, and TCP pushes back on the client.
constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::size_t kInputChunks = 4;
// The owner writes what the session produced once this much is pending.
constexpr std::size_t kWriteBatch = 64 * 1024;
// A file body (Response::write_file) is read and handed to the owner this
// much at a time, so a large file never sits in memory whole.
constexpr std::size_t kFilePiece = 64 * 1024;

using Clock = std::chrono::steady_clock;

bool status_has_body(int status) { return status >= 200 && status != 204 && status != 304; }

}  // namespace

class Http2Conn;

// Http2Stream: one request/response exchange, shared by the owner (which
// feeds it DATA and takes its output) and the stream's goroutine (which runs
// the handler). Fields under mu_ are shared; the rest belong to one side, as
// marked.
class Http2Stream final : public Exchange, public std::enable_shared_from_this<Http2Stream> {
 public:
  Http2Stream(Http2Conn* conn, std::int32_t id) : id_(id), conn_(conn) {}

  std::size_t read_body(void* dst, std::size_t size) override;
  void flush_response() override;
  Upgrade upgrade(UpgradeHandler) override {
    throw std::logic_error("http: upgrade() on an HTTP/2 stream: HTTP/2 has no upgrade (RFC 9113 8.6)");
  }
  bool body_timed_out() const noexcept override { return body_timed_out_; }
  bool stream_broken() const noexcept override { return broken_; }

  // The stream's goroutine: the handler, then the response's end.
  void run();

  // Owner side -----------------------------------------------------------
  // Request head, gathered while the header block is decoded.
  std::vector<std::pair<std::string, std::string>> head_fields_;
  std::string method_, path_, authority_, scheme_;
  std::size_t header_bytes_ = 0;  // RFC 9113 6.5.2's size: name + value + 32 each
  bool header_too_large_ = false;
  bool started_ = false;  // the goroutine runs (or ran)

  // Shared (under mu_) -----------------------------------------------------
  std::mutex mu_;
  std::string in_;             // DATA received, not yet read by the handler
  std::size_t in_at_ = 0;      // read up to here
  std::uint64_t received_ = 0;  // body bytes received in all
  bool in_eof_ = false;        // END_STREAM received
  bool aborted_ = false;       // the stream is closed (reset, or the connection ended)
  std::size_t to_consume_ = 0;  // read by the handler, not yet told to the session
  // The response: its head once the handler committed it, body bytes not
  // yet taken by the session's data source, and whether that is all.
  std::vector<std::pair<std::string, std::string>> out_head_;
  bool head_ready_ = false;
  bool head_submitted_ = false;  // owner's, read under mu_
  bool out_has_body_ = false;    // DATA follows the head
  std::string out_;
  std::size_t out_at_ = 0;
  bool out_eof_ = false;
  bool deferred_ = false;  // the data source said NGHTTP2_ERR_DEFERRED
  bool queued_ = false;    // on the connection's ready list
  bool rst_ = false;       // the handler failed after the head, or stalled: RST_STREAM
  std::uint32_t rst_code_ = NGHTTP2_INTERNAL_ERROR;
  std::uint64_t taken_ = 0;  // body bytes the session took, in all (progress for the write deadline)

  const std::int32_t id_;
  std::vector<Field> fields_;   // the request's fields, views into head_fields_
  cogo::Chan<char> signal_{1};  // the owner's nudge: data, drained, aborted
  cogo::Context ctx_;           // the request's context (cancelled on RST_STREAM)

 private:
  void fill_request();
  void run_handler();
  void finish_response();
  void build_head(bool final_length_known);
  void hand_off();
  void wait_drained();
  void send_body(std::string_view bytes, bool wait);

  Http2Conn* conn_;
  Request req_;
  Response res_;
  bool body_timed_out_ = false;
  bool broken_ = false;
  Deadline body_deadline_ = no_deadline;
};

// Http2Conn: the connection's state, owned by the owner goroutine but for mu_'s
// ready list, which the streams fill.
class Http2Conn {
 public:
  Http2Conn(Stream& io, const Handler& handler, const HttpOptions& options, std::string_view remote)
      : handler_(handler), options_(options), remote_(remote), io_(io) {}
  ~Http2Conn() {
    if (session_ != nullptr) nghttp2_session_del(session_);
  }
  void serve();

  // Any goroutine: put s on the ready list and wake the owner.
  void ready(Http2Stream* s) {
    {
      std::lock_guard lock(mu_);
      if (!s->queued_) {
        s->queued_ = true;
        ready_.push_back(s->shared_from_this());
      }
    }
    char c = 0;
    (void)wake_.try_send(c);
  }

  // A stream's goroutine ended: one handler fewer runs; the owner may start
  // a stream that waits.
  void handler_ended() {
    running_.fetch_sub(1, std::memory_order_acq_rel);
    char c = 0;
    (void)wake_.try_send(c);
  }

  const Handler& handler_;
  const HttpOptions& options_;
  std::string_view remote_;
  bool secure() const noexcept { return io_.secure(); }
  cogo::WaitGroup streams_running_;

 private:
  friend struct Http2Callbacks;
  void setup();
  bool write_pending();
  void take_ready();
  void start_stream(Http2Stream* s);
  void start_waiting();
  bool reset_allowed();
  void teardown();
  Http2Stream* find(std::int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
  }

  Stream& io_;
  nghttp2_session* session_ = nullptr;
  cogo::Chan<std::string> input_{kInputChunks};
  cogo::Chan<char> wake_{1};
  std::mutex mu_;
  // Streams that asked the owner for something (guarded by mu_). A stream
  // lives while the session, its goroutine or this list refers to it.
  std::vector<std::shared_ptr<Http2Stream>> ready_;
  std::unordered_map<std::int32_t, std::shared_ptr<Http2Stream>> streams_;  // open in the session
  std::string out_;
  bool goaway_sent_ = false;
  // Handlers running (goroutines started, not yet ended), and the streams
  // whose request head arrived while kMaxRunningHandlers ran, oldest first
  // (at most the session's open streams: a reset one leaves the list).
  std::atomic<int> running_{0};
  std::deque<std::int32_t> waiting_;
  // The RST_STREAM token bucket (reset_allowed()).
  double reset_tokens_ = kResetBurst;
  Clock::time_point reset_at_ = Clock::now();
};

// ---------------------------------------------------------------------------
// nghttp2 callbacks (owner goroutine, inside mem_recv / mem_send)

struct Http2Callbacks {
  static Http2Conn* conn(void* user) { return static_cast<Http2Conn*>(user); }

  static int on_begin_headers(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    Http2Conn* c = conn(user);
    auto s = std::make_shared<Http2Stream>(c, frame->hd.stream_id);
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, s.get());
    c->streams_.emplace(frame->hd.stream_id, std::move(s));
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                       std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                       std::uint8_t, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    Http2Stream* s = conn(user)->find(frame->hd.stream_id);
    if (s == nullptr) return 0;
    // The header list's size as RFC 9113 6.5.2 counts it; past
    // max_header_bytes the fields are dropped and the stream answered 431.
    s->header_bytes_ += namelen + valuelen + 32;
    if (s->header_bytes_ > conn(user)->options_.max_header_bytes) {
      s->header_too_large_ = true;
      return 0;
    }
    const std::string_view n(reinterpret_cast<const char*>(name), namelen);
    std::string v(reinterpret_cast<const char*>(value), valuelen);
    if (!n.empty() && n.front() == ':') {
      if (n == ":method") s->method_ = std::move(v);
      else if (n == ":path") s->path_ = std::move(v);
      else if (n == ":authority") s->authority_ = std::move(v);
      else if (n == ":scheme") s->scheme_ = std::move(v);
      return 0;
    }
    s->head_fields_.emplace_back(std::string(n), std::move(v));
    return 0;
  }

  static int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    Http2Conn* c = conn(user);
    if (frame->hd.type == NGHTTP2_RST_STREAM && !c->reset_allowed()) {
      // Rapid reset (CVE-2023-44487): GOAWAY ENHANCE_YOUR_CALM with the
      // last stream processed; nghttp2 closes once it is sent.
      spdlog::debug("http2: connection from {}: too many RST_STREAM, GOAWAY ENHANCE_YOUR_CALM", c->remote_);
      nghttp2_session_terminate_session(session, NGHTTP2_ENHANCE_YOUR_CALM);
      return 0;
    }
    Http2Stream* s = frame->hd.stream_id != 0 ? c->find(frame->hd.stream_id) : nullptr;
    if (s == nullptr) return 0;
    const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (end_stream) {
      std::lock_guard lock(s->mu_);
      s->in_eof_ = true;
    }
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST &&
        !s->started_) {
      c->waiting_.push_back(s->id_);
      c->start_waiting();
    } else if (end_stream) {
      char x = 0;
      (void)s->signal_.try_send(x);
    }
    return 0;
  }

  static int on_data_chunk(nghttp2_session* session, std::uint8_t, std::int32_t id,
                           const std::uint8_t* data, std::size_t len, void* user) {
    // The connection's window opens at once: it is shared by every stream,
    // and one handler that does not read must not stall the others. The
    // stream's window opens as its handler reads (read_body), so at most
    // one stream window of body waits here per stream.
    nghttp2_session_consume_connection(session, len);
    Http2Stream* s = conn(user)->find(id);
    bool taken = false;
    if (s != nullptr) {
      std::lock_guard lock(s->mu_);
      if (!s->aborted_) {
        s->in_.append(reinterpret_cast<const char*>(data), len);
        s->received_ += len;
        taken = true;
      }
    }
    if (!taken) {
      nghttp2_session_consume_stream(session, id, len);
      return 0;
    }
    char x = 0;
    (void)s->signal_.try_send(x);
    return 0;
  }

  static int on_frame_send(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    // The response is complete but the request is not (the handler did
    // not read the whole body): RFC 9113 8.1 asks for RST_STREAM NO_ERROR
    // so the client stops sending it.
    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) {
      return 0;
    }
    Http2Stream* s = conn(user)->find(frame->hd.stream_id);
    if (s == nullptr) return 0;
    bool in_eof;
    {
      std::lock_guard lock(s->mu_);
      in_eof = s->in_eof_;
    }
    if (!in_eof) nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
    return 0;
  }

  static int on_stream_close(nghttp2_session*, std::int32_t id, std::uint32_t error_code, void* user) {
    Http2Conn* c = conn(user);
    auto it = c->streams_.find(id);
    if (it == c->streams_.end()) return 0;
    std::shared_ptr<Http2Stream> s = std::move(it->second);
    c->streams_.erase(it);
    if (!s->started_) {
      // Closed (reset, most likely) before its handler started: it never will.
      auto w = std::find(c->waiting_.begin(), c->waiting_.end(), id);
      if (w != c->waiting_.end()) c->waiting_.erase(w);
      return 0;
    }
    bool complete;
    {
      std::lock_guard lock(s->mu_);
      complete = s->out_eof_ && s->out_at_ == s->out_.size() && error_code == NGHTTP2_NO_ERROR;
      s->aborted_ = true;
    }
    // A stream closed before its response was complete (RST_STREAM from the
    // client, or a protocol error): its handler's waits throw Cancelled.
    if (!complete) s->ctx_.cancel(cogo::CancelReason::client_gone);
    char x = 0;
    (void)s->signal_.try_send(x);
    return 0;
  }

  static ssize_t read_data(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length,
                           std::uint32_t* flags, nghttp2_data_source* source, void*) {
    auto* s = static_cast<Http2Stream*>(source->ptr);
    std::size_t n;
    bool drained;
    {
      std::lock_guard lock(s->mu_);
      const std::size_t avail = s->out_.size() - s->out_at_;
      n = std::min(length, avail);
      std::memcpy(buf, s->out_.data() + s->out_at_, n);
      s->out_at_ += n;
      s->taken_ += n;
      drained = s->out_at_ == s->out_.size();
      if (drained) {
        s->out_.clear();
        s->out_at_ = 0;
      }
      if (drained && s->out_eof_) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
      } else if (n == 0) {
        s->deferred_ = true;
        return NGHTTP2_ERR_DEFERRED;
      }
    }
    if (drained) {
      char x = 0;
      (void)s->signal_.try_send(x);  // a flush waiting for the owner to take its bytes
    }
    return static_cast<ssize_t>(n);
  }
};

// ---------------------------------------------------------------------------
// Conn (owner goroutine)

void Http2Conn::setup() {
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &Http2Callbacks::on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, &Http2Callbacks::on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &Http2Callbacks::on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &Http2Callbacks::on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, &Http2Callbacks::on_frame_send);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &Http2Callbacks::on_stream_close);
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_max_outbound_ack(opt, kMaxOutboundAck);
  if (&nghttp2_option_set_max_continuations != nullptr) {
    nghttp2_option_set_max_continuations(
        opt, std::max(kMinContinuations, options_.max_header_bytes / 16384 + 2));
  } else {
    static std::once_flag warned;
    std::call_once(warned, [] {
      spdlog::warn("http2: this libnghttp2 has no nghttp2_option_set_max_continuations: "
                   "CONTINUATION floods (CVE-2024-28182) are not bounded; use 1.61 or a patched build");
    });
  }
  const int rv = nghttp2_session_server_new2(&session_, cbs, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) throw std::bad_alloc();
  // SETTINGS_MAX_HEADER_LIST_SIZE tells the client the limit; a client
  // that goes past it anyway gets 431 on that stream (on_header).
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<std::uint32_t>(options_.max_header_bytes)},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 2);
}

// write_pending() writes every frame the session has ready, in batches;
// false when the socket failed.
bool Http2Conn::write_pending() {
  for (;;) {
    const std::uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) return false;
    if (n > 0) out_.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
    if (out_.empty()) return true;
    if (n == 0 || out_.size() >= kWriteBatch) {
      try {
        io_.set_write_deadline(options_.write_timeout.count() > 0
                                   ? Clock::now() + options_.write_timeout
                                   : no_deadline);
        io_.write_all(out_.data(), out_.size());
      } catch (...) {
        out_.clear();
        return false;
      }
      out_.clear();
      if (n == 0) return true;
    }
  }
}

void Http2Conn::start_stream(Http2Stream* s) {
  s->started_ = true;
  // The request's context, made here so that the owner's cancel (on
  // RST_STREAM) never races its making: a child of the server's root, so a
  // shutdown whose grace ran out cancels it too.
  const cogo::Context parent =
      options_.root_context != nullptr ? *options_.root_context : cogo::Context();
  s->ctx_ = options_.handler_timeout.count() > 0
                ? cogo::Context::with_deadline(Clock::now() + options_.handler_timeout, parent)
                : cogo::Context::with_cancel(parent);
  streams_running_.add(1);
  running_.fetch_add(1, std::memory_order_acq_rel);
  std::shared_ptr<Http2Stream> ref = streams_.at(s->id_);
  cogo::go_detached([this, ref]() mutable {
    ref->run();
    ref.reset();
    handler_ended();
    streams_running_.done();
  });
}

// start_waiting() starts the waiting streams, oldest first, while fewer
// than kMaxRunningHandlers handlers run.
void Http2Conn::start_waiting() {
  while (!waiting_.empty() && running_.load(std::memory_order_acquire) < kMaxRunningHandlers) {
    const std::int32_t id = waiting_.front();
    waiting_.pop_front();
    Http2Stream* s = find(id);
    if (s != nullptr && !s->started_) start_stream(s);
  }
}

// reset_allowed() takes a token for one RST_STREAM from the client.
bool Http2Conn::reset_allowed() {
  const Clock::time_point now = Clock::now();
  reset_tokens_ = std::min(kResetBurst, reset_tokens_ + std::chrono::duration<double>(now - reset_at_).count() *
                                                           kResetsPerSecond);
  reset_at_ = now;
  if (reset_tokens_ < 1.0) return false;
  reset_tokens_ -= 1.0;
  return true;
}

// take_ready() does what the streams asked for since the last time: submit
// a response head, resume a deferred body, open a window as a handler read.
void Http2Conn::take_ready() {
  start_waiting();
  std::vector<std::shared_ptr<Http2Stream>> ready;
  {
    std::lock_guard lock(mu_);
    ready.swap(ready_);
    for (auto& s : ready) s->queued_ = false;
  }
  for (auto& ref : ready) {
    Http2Stream* s = ref.get();
    // A stream the session closed since it queued: nothing more goes out.
    if (find(s->id_) != s) continue;
    std::vector<nghttp2_nv> nv;
    bool submit = false, resume = false, rst = false;
    std::uint32_t rst_code = NGHTTP2_INTERNAL_ERROR;
    std::size_t consume;
    {
      std::lock_guard lock(s->mu_);
      consume = std::exchange(s->to_consume_, 0);
      rst = s->rst_;
      rst_code = s->rst_code_;
      if (s->head_ready_ && !s->head_submitted_ && !rst) {
        s->head_submitted_ = true;
        submit = true;
        nv.reserve(s->out_head_.size());
        for (auto& [n, v] : s->out_head_) {
          nv.push_back({reinterpret_cast<std::uint8_t*>(n.data()), reinterpret_cast<std::uint8_t*>(v.data()),
                        n.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
        }
      } else if (s->deferred_ && (s->out_at_ < s->out_.size() || s->out_eof_)) {
        s->deferred_ = false;
        resume = true;
      }
      if (submit) {
        // nghttp2 copies the fields: out_head_ may go once this returns.
        nghttp2_data_provider provider{};
        provider.source.ptr = s;
        provider.read_callback = &Http2Callbacks::read_data;
        nghttp2_submit_response(session_, s->id_, nv.data(), nv.size(),
                                s->out_has_body_ ? &provider : nullptr);
      }
    }
    if (consume > 0) nghttp2_session_consume_stream(session_, s->id_, consume);
    if (resume) nghttp2_session_resume_data(session_, s->id_);
    if (rst) nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s->id_, rst_code);
  }
}

void Http2Conn::serve() {
  setup();
  // The reader: a goroutine of its own, so the owner can take the streams'
  // output while a read waits. It ends at end of input or a failed read,
  // and closes input_ either way.
  cogo::WaitGroup reader;
  reader.add(1);
  io_.set_read_deadline(no_deadline);
  cogo::go([this, &reader] {
    try {
      for (;;) {
        std::string chunk(kReadChunk, '\0');
        const std::size_t n = io_.read(chunk.data(), chunk.size());
        if (n == 0) break;
        chunk.resize(n);
        input_.send(std::move(chunk));
      }
    } catch (...) {
      // EOF, reset, or input_ closed under a blocked send: the same end.
    }
    try {
      input_.close();
    } catch (const cogo::ChannelClosed&) {
    }
    reader.done();
  });

  // A graceful shutdown reaches the connection through the upgrade
  // registry: its drain cancels drain_ (a context of the connection's own),
  // and the owner answers with GOAWAY.
  UpgradeRegistry::Entry entry;
  cogo::Context drain = cogo::Context::with_cancel(cogo::Context());
  cogo::Chan<cogo::Done> drained = drain.done_channel();
  bool watching_drain = options_.upgrades != nullptr;
  if (watching_drain) {
    entry.context = drain;
    entry.fd = io_.native_fd();
    options_.upgrades->add(entry);
  }

  try {
    bool open = true;
    while (open) {
      take_ready();
      if (!write_pending()) break;
      if (nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0) break;
      std::optional<std::string> chunk;
      bool got_chunk = false;
      auto on_input = [&](std::optional<std::string> c) {
        got_chunk = true;
        chunk = std::move(c);
      };
      auto on_wake = [](std::optional<char>) {};
      auto on_drain = [&](std::optional<cogo::Done>) {
        watching_drain = false;
        if (!goaway_sent_) {
          goaway_sent_ = true;
          nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                                nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                                nullptr, 0);
        }
      };
      bool idle_out = false;
      if (streams_.empty() && options_.idle_timeout.count() > 0) {
        if (watching_drain) {
          cogo::select(cogo::on_recv(input_, on_input), cogo::on_recv(wake_, on_wake),
                       cogo::on_recv(drained, on_drain),
                       cogo::on_timeout(options_.idle_timeout, [&] { idle_out = true; }));
        } else {
          cogo::select(cogo::on_recv(input_, on_input), cogo::on_recv(wake_, on_wake),
                       cogo::on_timeout(options_.idle_timeout, [&] { idle_out = true; }));
        }
      } else if (watching_drain) {
        cogo::select(cogo::on_recv(input_, on_input), cogo::on_recv(wake_, on_wake),
                     cogo::on_recv(drained, on_drain));
      } else {
        cogo::select(cogo::on_recv(input_, on_input), cogo::on_recv(wake_, on_wake));
      }
      if (idle_out) {
        // Idle with no stream open: GOAWAY, then close (RFC 9113 9.1).
        nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                              nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                              nullptr, 0);
        write_pending();
        break;
      }
      if (!got_chunk) continue;
      if (!chunk) break;  // end of input
      const ssize_t rv = nghttp2_session_mem_recv(
          session_, reinterpret_cast<const std::uint8_t*>(chunk->data()), chunk->size());
      if (rv < 0) {
        // A connection error: nghttp2 queued its GOAWAY; send it, then end.
        spdlog::debug("http2: connection from {}: {}", remote_, nghttp2_strerror(static_cast<int>(rv)));
        // A PING or SETTINGS flood (kMaxOutboundAck): nghttp2 queued no
        // GOAWAY for it; say ENHANCE_YOUR_CALM before closing.
        if (rv == NGHTTP2_ERR_FLOODED) nghttp2_session_terminate_session(session_, NGHTTP2_ENHANCE_YOUR_CALM);
        open = false;
        take_ready();
        write_pending();
      }
    }
  } catch (const std::exception& e) {
    // Cancelled at the end of a shutdown's grace, or the socket failed.
    spdlog::debug("http2: connection from {} ended: {}", remote_, e.what());
  }
  if (options_.upgrades != nullptr) options_.upgrades->remove(entry);
  teardown();
  reader.wait();
}

// teardown(): every stream still open is cancelled and its goroutine waited
// for; then the socket is shut down and input_ closed, which ends the reader.
void Http2Conn::teardown() {
  cogo::CancelShield shield;  // this must finish even after the grace ran out
  for (auto& [id, s] : streams_) {
    {
      std::lock_guard lock(s->mu_);
      s->aborted_ = true;
    }
    s->ctx_.cancel(cogo::CancelReason::client_gone);
    char x = 0;
    (void)s->signal_.try_send(x);
  }
  streams_running_.wait();
  streams_.clear();
  {
    std::lock_guard lock(mu_);
    ready_.clear();
  }
  try {
    io_.shutdown_write();
  } catch (...) {
  }
  if (io_.native_fd() >= 0) ::shutdown(io_.native_fd(), SHUT_RDWR);
  // The reader ends at its next send: closing input_ here, not draining it
  // until the reader sees end of input, because a shut-down socket still
  // takes what the client sends (Linux answers no reset until close), and
  // a client that keeps sending (a PING flood) never let it see the end:
  // the connection stayed, shut down but open, for as long as it sent.
  try {
    input_.close();
  } catch (const cogo::ChannelClosed&) {
  }
}

// ---------------------------------------------------------------------------
// Http2Stream (its own goroutine)

void Http2Stream::fill_request() {
  Request& r = req_;
  r.exchange_ = this;
  r.method_ = method_;
  r.is_head_ = method_ == "HEAD";
  r.target_ = path_;
  r.remote_address_ = conn_->remote_;
  r.peer_address_ = conn_->remote_;
  r.secure_ = conn_->secure();
  r.version_major_ = 2;
  r.version_minor_ = 0;
  r.keep_alive_ = true;
  std::string_view host = authority_;
  // Fields as the handler sees them: views into head_fields_, which no
  // longer changes once the stream's goroutine starts.
  static_assert(sizeof(Field) == 2 * sizeof(std::string_view));
  fields_.clear();
  fields_.reserve(head_fields_.size() + 1);
  if (!authority_.empty()) fields_.push_back(Field{"host", authority_});
  for (auto& [n, v] : head_fields_) {
    if (n == "host" && host.empty()) host = v;
    if (n == "host" && !authority_.empty()) continue;
    fields_.push_back(Field{n, v});
    if (n == "content-length") {
      std::uint64_t len = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), len);
      if (ec == std::errc() && end == v.data() + v.size()) {
        r.content_length_ = len;
        r.has_content_length_ = true;
      }
    }
  }
  r.host_ = host;
  r.fields_ = fields_.data();
  r.field_count_ = fields_.size();
  // A body without a content-length has an unknown length, like a chunked
  // one in HTTP/1.1: Request::has_body() says so.
  bool in_eof;
  {
    std::lock_guard lock(mu_);
    in_eof = in_eof_;
  }
  r.chunked_ = !r.has_content_length_ && !in_eof;
  const std::string_view target = path_;
  const std::size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  r.raw_path_ = path;
  r.raw_query_ = question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
  r.path_ = path;
  if (needs_decoding(path, false)) {
    r.path_storage_.clear();
    if (!percent_decode(path, r.path_storage_, false, false)) {
      throw HttpError(400, "malformed percent-encoding in the path");
    }
    r.path_ = r.path_storage_;
  }
}

std::size_t Http2Stream::read_body(void* dst, std::size_t size) {
  if (size == 0) return 0;
  for (;;) {
    std::size_t n = 0;
    {
      std::lock_guard lock(mu_);
      if (received_ > body_limit_) throw HttpError(413, "request body too large");
      if (in_at_ < in_.size()) {
        n = std::min(size, in_.size() - in_at_);
        std::memcpy(dst, in_.data() + in_at_, n);
        in_at_ += n;
        if (in_at_ == in_.size()) {
          in_.clear();
          in_at_ = 0;
        }
        to_consume_ += n;
      } else if (in_eof_) {
        return 0;
      } else if (aborted_) {
        broken_ = true;
        throw std::system_error(std::make_error_code(std::errc::connection_reset),
                                "http2: stream closed while reading the request body");
      }
    }
    if (n > 0) {
      conn_->ready(this);  // the owner opens the stream's window by n
      return n;
    }
    // Wait for the owner's nudge (DATA, END_STREAM, a reset): a
    // cancellation point of the request's context.
    const auto timeout = conn_->options_.body_read_timeout;
    if (timeout.count() <= 0) {
      signal_.recv();
      continue;
    }
    if (body_deadline_ == no_deadline) body_deadline_ = Clock::now() + timeout;
    bool timed_out = false;
    cogo::select(cogo::on_recv(signal_, [](std::optional<char>) {}),
                 cogo::on_timeout(body_deadline_ - Clock::now(), [&] { timed_out = true; }));
    if (timed_out) {
      body_timed_out_ = true;
      throw TimeoutError("http2: timed out reading the request body");
    }
  }
}

// build_head() fills out_head_ from the response: :status, the handler's
// fields (names lower-cased, connection-specific ones left out: RFC 9113
// 8.2.2), server, date, and content-length when length_known.
void Http2Stream::build_head(bool length_known) {
  Response& res = res_;
  out_head_.clear();
  out_head_.emplace_back(":status", std::to_string(res.status_));
  const std::string_view fields = res.fields_;
  for (std::size_t begin = 0; begin < fields.size();) {
    const std::size_t end = fields.find("\r\n", begin);
    const std::size_t colon = fields.find(':', begin);
    std::string name(fields.substr(begin, colon - begin));
    for (char& ch : name) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    std::string value(fields.substr(colon + 2, end - colon - 2));
    begin = end + 2;
    if (name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
        name == "transfer-encoding" || name == "upgrade") {
      continue;
    }
    out_head_.emplace_back(std::move(name), std::move(value));
  }
  if (!res.has_server_) out_head_.emplace_back("server", "cogo");
  if (!res.has_date_) out_head_.emplace_back("date", std::string(http_date_now()));
  if (length_known && status_has_body(res.status_)) {
    out_head_.emplace_back("content-length", std::to_string(res.body_bytes_));
  }
}

// hand_off() tells the owner there is something to send.
void Http2Stream::hand_off() { conn_->ready(this); }

// wait_drained() parks until the owner's data source took every byte
// handed off (or the stream closed: the bytes have nowhere to go). The
// stream's write deadline: write_timeout without the session taking a byte
// (a client that keeps its window shut, or does not read the socket) ends
// the stream with RST_STREAM CANCEL and throws, so neither the handler nor
// its buffered body stays for the connection's life.
void Http2Stream::wait_drained() {
  const auto timeout = conn_->options_.write_timeout;
  std::uint64_t taken = 0;
  Clock::time_point deadline{};
  for (;;) {
    {
      std::lock_guard lock(mu_);
      // All taken: done, even if the stream closed since (its end).
      if (out_at_ == out_.size() && !rst_) return;
      if (aborted_ || rst_) {
        broken_ = true;
        throw std::system_error(std::make_error_code(std::errc::connection_reset),
                                "http2: stream closed while sending the response");
      }
      if (deadline == Clock::time_point{} || taken_ != taken) {
        taken = taken_;
        deadline = Clock::now() + timeout;
      }
    }
    if (timeout.count() <= 0) {
      signal_.recv();
      continue;
    }
    bool timed_out = false;
    cogo::select(cogo::on_recv(signal_, [](std::optional<char>) {}),
                 cogo::on_timeout(deadline - Clock::now(), [&] { timed_out = true; }));
    if (!timed_out) continue;
    {
      std::lock_guard lock(mu_);
      if (taken_ != taken || out_at_ == out_.size() || aborted_) continue;  // progress after all
      rst_ = true;
      rst_code_ = NGHTTP2_CANCEL;
      broken_ = true;
    }
    // The client takes nothing: its request is over (logged as 499, the
    // client gone), the owner resets the stream.
    ctx_.cancel(cogo::CancelReason::client_gone);
    hand_off();
    throw TimeoutError("http2: the client took no response bytes for write_timeout");
  }
}

// send_body() hands bytes of the body to the owner; with wait, it parks
// until the owner took them, so a streamed body holds at most one flush.
void Http2Stream::send_body(std::string_view bytes, bool wait) {
  {
    std::lock_guard lock(mu_);
    if (aborted_) {
      broken_ = true;
      throw std::system_error(std::make_error_code(std::errc::connection_reset),
                              "http2: stream closed while sending the response");
    }
    out_.append(bytes);
  }
  hand_off();
  if (wait) wait_drained();
}

void Http2Stream::flush_response() {
  Response& res = res_;
  const bool send = !res.discard_body_ && status_has_body(res.status_);
  if (!res.committed_) {
    res.committed_ = true;
    build_head(false);
    std::lock_guard lock(mu_);
    out_has_body_ = send;
    out_eof_ = !send;
    head_ready_ = true;
  }
  std::string body;
  body.swap(res.body_);
  if (!send) {
    hand_off();
    return;
  }
  send_body(body, true);
}

// finish_response() sends what is left of the response once the handler
// is done: the whole response (head with content-length, body, file pieces)
// or, after flushes, the rest of the body and END_STREAM.
void Http2Stream::finish_response() {
  Response& res = res_;
  const bool send = !res.discard_body_ && status_has_body(res.status_);
  struct CloseFile {
    Response& res;
    ~CloseFile() { res.close_file(); }
  } close_file{res};
  if (!res.committed_) {
    res.committed_ = true;
    const bool length_known = (res.unusual_ & Response::kLengthUnknown) == 0;
    build_head(length_known);
    const bool has_data = send && res.body_bytes_ > 0;
    std::string body;
    if (has_data && res.file_fd_ < 0) body.swap(res.body_);
    {
      std::lock_guard lock(mu_);
      out_has_body_ = has_data;
      head_ready_ = true;
      if (res.file_fd_ < 0 || !has_data) {
        out_.append(body);
        out_eof_ = true;
      }
    }
    hand_off();
    if (res.file_fd_ < 0 || !has_data) {
      if (has_data) wait_drained();
      return;
    }
    // A file body: text and file pieces in order, a piece at a time.
    const std::string text = std::move(res.body_);
    std::size_t text_at = 0;
    std::string buf;
    for (const Response::FilePiece& piece : res.files_) {
      send_body(std::string_view(text).substr(text_at, piece.text_end - text_at), false);
      text_at = piece.text_end;
      for (std::uint64_t done = 0; done < piece.length;) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kFilePiece, piece.length - done));
        buf.resize(n);
        read_file_exact(res.file_fd_, buf.data(), n, piece.offset + done);
        send_body(buf, true);
        done += n;
      }
    }
    {
      std::lock_guard lock(mu_);
      out_.append(std::string_view(text).substr(text_at));
      out_eof_ = true;
    }
    hand_off();
    wait_drained();
    return;
  }
  // Streamed: the rest of the body, then END_STREAM.
  std::string body;
  if (send) body.swap(res.body_);
  {
    std::lock_guard lock(mu_);
    out_.append(body);
    out_eof_ = true;
  }
  hand_off();
  if (send) wait_drained();
}

void Http2Stream::run_handler() {
  const HttpOptions& options = conn_->options_;
  if (RequestCounters* c = options.request_counters) c->in_flight.fetch_add(1, std::memory_order_relaxed);
  HandlerRun run = run_caught(
      [&] {
        fill_request();
        if (req_.has_content_length_ && req_.content_length_ > options.max_body_bytes) {
          throw HttpError(413, "request body too large");
        }
        cogo::ContextScope scope(ctx_);
        req_.context_ = &ctx_;
        conn_->handler_(req_, res_);
      },
      [&] { return body_timed_out_; });
  req_.values_.clear();
  const cogo::CancelReason own = ctx_.reason();
  const cogo::CancelReason reason = own != cogo::CancelReason::none ? own : run.escaped;
  if (RequestCounters* c = options.request_counters) {
    c->in_flight.fetch_sub(1, std::memory_order_relaxed);
    if (reason != cogo::CancelReason::none)
      c->cancelled[static_cast<int>(reason)].fetch_add(1, std::memory_order_relaxed);
  }
  const cogo::CancelReason cancelled = cancelled_by(run, reason);
  const bool answered = res_.committed_ || res_.status_ != 200 || res_.body_bytes_ > 0;
  if (keeps_own_answer(run, cancelled, answered)) {
    finish_response();
    return;
  }
  if (broken_ || cancelled == cogo::CancelReason::client_gone) return;  // nobody to answer
  if (cancelled != cogo::CancelReason::none) answer_cancelled(run, cancelled);
  int& status = run.status;
  std::string& message = run.message;
  if (run.failed) {
    spdlog::error("http2: handler for {} {} from {} threw: {}", req_.method_, req_.path_,
                  conn_->remote_, message);
    message = "Internal Server Error";
  }
  if (res_.committed_) {
    // Part of the response went out: this stream alone ends, with
    // RST_STREAM INTERNAL_ERROR; the connection and its other streams go on.
    {
      std::lock_guard lock(mu_);
      rst_ = true;
    }
    hand_off();
    return;
  }
  if (status < 100 || status > 999) status = 500;
  res_.reset(this, req_.is_head_, options.max_buffered_response_bytes);
  message.push_back('\n');
  res_.text(status, message);
  finish_response();
}

void Http2Stream::run() {
  const HttpOptions& options = conn_->options_;
  body_limit_ = options.max_body_bytes;
  request_context_ = &ctx_;
  res_.reset(this, method_ == "HEAD", options.max_buffered_response_bytes);
  try {
    if (header_too_large_) {
      res_.text(431, "Request Header Fields Too Large: request head too large\n");
      finish_response();
    } else {
      run_handler();
    }
  } catch (const std::exception& e) {
    // The stream closed under the response: nothing more to say on it.
    spdlog::debug("http2: stream {} from {}: {}", id_, conn_->remote_, e.what());
  }
  // The request is over: its helpers stop.
  ctx_.cancel(cogo::CancelReason::cancelled);
}

void serve_http2(Stream& stream, const Handler& handler, const HttpOptions& options,
                 std::string_view remote_address) {
  Http2Conn conn(stream, handler, options, remote_address);
  conn.serve();
}

}  // namespace cogo::http::detail
