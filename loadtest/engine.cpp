// engine.cpp: the per-connection goroutines of hold and load (see engine.h).
//
// Counting: each connection keeps its own Tally (on its goroutine's stack)
// and adds it to the shared atomics at most every 200 ms or 64 responses,
// and always before it finishes, so the hot path of load mode touches no
// shared cache line per response. Latencies go to one of kShards
// histograms, picked by connection index, under a short std::mutex hold
// (never across a park).
#include "loadtest/engine.h"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

#include "cogo/chan.h"
#include "cogo/net.h"
#include "cogo/runtime.h"
#include "cogo/wait_group.h"
#include "loadtest/response_parser.h"
#include "loadtest/ws_session.h"

namespace cogo::load {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------
// Live and the progress line

Json Live::to_json() const {
  return Json{{"phase", phase},
                         {"open", open},
                         {"established", established},
                         {"failed", failed},
                         {"sent", sent},
                         {"answered", answered}};
}

Live Live::from_json(const Json& j) {
  Live l;
  static const char* const kPhases[] = {"ramp", "hold", "load", "close"};
  const std::string p = json_string(j, "phase", "");
  for (const char* k : kPhases) {
    if (p == k) l.phase = k;
  }
  l.open = json_number<int64_t>(j, "open", 0);
  l.established = json_number<int64_t>(j, "established", 0);
  l.failed = json_number<int64_t>(j, "failed", 0);
  l.sent = json_number<int64_t>(j, "sent", 0);
  l.answered = json_number<int64_t>(j, "answered", 0);
  return l;
}

namespace {

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

std::string progress_line(const Live& live, double elapsed, double rps) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "%6.1fs %-5s open %s  failed %s  sent %s  answered %s  requests/s %s", elapsed,
                live.phase, group_digits(live.open).c_str(), group_digits(live.failed).c_str(),
                group_digits(live.sent).c_str(), group_digits(live.answered).c_str(),
                group_digits(static_cast<int64_t>(rps)).c_str());
  return buf;
}

LocalControl::LocalControl(bool show)
    : show_(show),
      tty_(isatty(STDOUT_FILENO) != 0),
      start_(seconds(Clock::now().time_since_epoch())),
      last_time_(start_) {}

void LocalControl::progress(const Live& live) {
  if (!show_) return;
  const double now = seconds(Clock::now().time_since_epoch());
  const double dt = now - last_time_;
  const double rps = dt > 0 ? static_cast<double>(live.answered - last_answered_) / dt : 0;
  last_answered_ = live.answered;
  last_time_ = now;
  // On a terminal the line rewrites itself; elsewhere (--progress into a
  // log) each sample is a line of its own.
  if (tty_) {
    std::printf("\r%s\033[K", progress_line(live, now - start_, rps).c_str());
    shown_ = true;
  } else {
    std::printf("%s\n", progress_line(live, now - start_, rps).c_str());
  }
  std::fflush(stdout);
}

void LocalControl::finish() {
  if (shown_) std::printf("\n");
  std::fflush(stdout);
}

std::string build_request(const Options& o) {
  std::string r = o.method + " " + o.target.path + " HTTP/1.1\r\n";
  bool has_host = false;
  for (const auto& h : o.headers) {
    if (h.size() >= 5 && strncasecmp(h.c_str(), "host:", 5) == 0) has_host = true;
  }
  if (!has_host) r += "Host: " + o.target.host_header() + "\r\n";
  r += "User-Agent: cogo-load\r\n";
  for (const auto& h : o.headers) r += h + "\r\n";
  if (!o.body.empty() || o.method == "POST" || o.method == "PUT" || o.method == "PATCH") {
    r += "Content-Length: " + std::to_string(o.body.size()) + "\r\n";
  }
  r += "\r\n";
  r += o.body;
  return r;
}

namespace {

// Tally: one connection's counts not yet added to the engine's.
struct Tally {
  int64_t sent = 0;
  int64_t answered = 0;
  int64_t in_window = 0;
  int64_t bytes = 0;
  int64_t status[6] = {};
  std::array<uint64_t, 64> latency{};
  size_t latencies = 0;
  Clock::time_point last_flush{};
};

class Engine {
 public:
  Engine(const Options& o, std::string address, const SourcePlan& plan, Control& control)
      : o_(o),
        address_(std::move(address)),
        plan_(plan),
        control_(control),
        head_(o.method == "HEAD"),
        tokens_(static_cast<size_t>(o.dial_concurrency)) {
    const std::string one = build_request(o);
    request_ = one;
    for (int i = 0; i < o.pipeline; i++) batch_ += one;
  }

  Report run();

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    std::mutex mu;
    Histogram hist;
  };

  void hold_conn(int64_t index);
  void load_conn(int64_t index);
  void ws_load(net::Conn& c, WsSession& s, int64_t index);
  // connect() dials connection `index`; with has_token the caller already
  // took a dial token (the ramp), else connect() takes one itself.
  bool connect(int64_t index, net::Conn& c, bool has_token);
  bool exchange(net::Conn& c, ResponseParser& parser, int n, Tally& t, int64_t index);
  // WebSocket connections (a ws:// target): the handshake after connect(),
  // and one round trip, a message echoed or a ping answered, checked.
  bool ws_open(net::Conn& c, WsSession& s);
  bool ws_exchange(net::Conn& c, WsSession& s, bool ping, Tally& t, int64_t index);
  bool still_open(net::Conn& c);
  void flush(Tally& t, int64_t index);
  void maybe_flush(Tally& t, int64_t index, Clock::time_point now) {
    if (t.latencies == t.latency.size() || now - t.last_flush > 200ms) flush(t, index);
  }
  void error(const std::string& op, const std::string& message);
  void closed(net::Conn& c) {
    c.close();
    open_.fetch_sub(1, std::memory_order_relaxed);
  }
  Live live() const;

  const Options& o_;
  const std::string address_;
  const SourcePlan& plan_;
  Control& control_;
  const bool head_;
  std::string request_;
  std::string batch_;  // o.pipeline requests back to back

  // Phases: ramped counts connections through their ramp; started is closed
  // when the hold time (or the measuring window) starts, release when held
  // connections may close; finished counts goroutines still running.
  cogo::WaitGroup ramped_, checked_, finished_;
  cogo::Chan<int> started_{0}, release_{0};
  cogo::Chan<int> tokens_;  // dial tokens: o.dial_concurrency of them
  std::atomic<bool> stop_{false};
  std::atomic<const char*> phase_{"ramp"};
  // Written before started_ is closed; read after a receive on it.
  Clock::time_point start_{}, end_{};

  std::atomic<int64_t> established_{0}, failed_{0}, open_{0}, peak_{0}, held_{0}, lost_{0},
      reconnects_{0};
  std::atomic<int64_t> sent_{0}, answered_{0}, in_window_{0}, bytes_{0};
  std::array<std::atomic<int64_t>, 6> status_{};
  std::array<Shard, kShards> shards_;
  std::mutex errors_mu_;
  std::map<std::string, int64_t> errors_;  // guarded by errors_mu_
};

void Engine::error(const std::string& op, const std::string& message) {
  std::lock_guard<std::mutex> g(errors_mu_);
  errors_[error_kind(op, message)]++;
}

void Engine::flush(Tally& t, int64_t index) {
  if (t.latencies) {
    Shard& s = shards_[static_cast<size_t>(index) % kShards];
    std::lock_guard<std::mutex> g(s.mu);
    for (size_t i = 0; i < t.latencies; i++) s.hist.record(t.latency[i]);
  }
  t.latencies = 0;
  if (t.sent) sent_.fetch_add(t.sent, std::memory_order_relaxed);
  if (t.answered) answered_.fetch_add(t.answered, std::memory_order_relaxed);
  if (t.in_window) in_window_.fetch_add(t.in_window, std::memory_order_relaxed);
  if (t.bytes) bytes_.fetch_add(t.bytes, std::memory_order_relaxed);
  for (size_t i = 0; i < 6; i++) {
    if (t.status[i]) status_[i].fetch_add(t.status[i], std::memory_order_relaxed);
    t.status[i] = 0;
  }
  t.sent = t.answered = t.in_window = t.bytes = 0;
  t.last_flush = Clock::now();
}

bool Engine::connect(int64_t index, net::Conn& c, bool has_token) {
  const std::string source = plan_.source_for(index);
  std::error_code ec;
  if (!has_token) tokens_.recv();
  c = net::dial(address_, net::DialOptions{o_.timeout, source}, ec);
  tokens_.send(0);
  if (ec) {
    error("connect", ec.message());
    return false;
  }
  const int64_t open = open_.fetch_add(1, std::memory_order_relaxed) + 1;
  int64_t peak = peak_.load(std::memory_order_relaxed);
  while (open > peak && !peak_.compare_exchange_weak(peak, open, std::memory_order_relaxed)) {
  }
  return true;
}

// exchange() writes n requests and reads n responses. False (the error
// recorded) when the connection failed; true with !parser.keep_alive() when
// the server answered and announced a close.
bool Engine::exchange(net::Conn& c, ResponseParser& parser, int n, Tally& t, int64_t index) {
  const std::string& bytes = n == 1 ? request_ : batch_;
  std::error_code ec;
  const Clock::time_point t0 = Clock::now();
  c.set_deadline(t0 + o_.timeout);
  c.write_all(bytes.data(), bytes.size(), ec);
  if (ec) {
    error("write", ec.message());
    return false;
  }
  t.sent += n;
  int got = 0;
  char buf[4096];
  while (got < n) {
    const size_t r = c.read(buf, sizeof buf, ec);
    int done;
    if (ec) {
      if (!net::is_eof(ec)) {
        error("read", ec.message());
        return false;
      }
      done = parser.finish();
      if (done <= 0) {
        error("read", got == 0 && parser.idle() ? "the server closed the connection"
                                                : "the server closed the connection mid-response");
        return false;
      }
    } else {
      t.bytes += static_cast<int64_t>(r);
      done = parser.feed(buf, r);
      if (done < 0) {
        error("response", parser.error());
        return false;
      }
    }
    if (done == 0) continue;
    if (got + done > n) {
      error("response", "more responses than requests");
      return false;
    }
    const Clock::time_point now = Clock::now();
    const uint64_t ns = static_cast<uint64_t>((now - t0).count());
    for (int i = 0; i < done; i++) {
      if (t.latencies == t.latency.size()) flush(t, index);
      t.latency[t.latencies++] = ns;
    }
    got += done;
    t.answered += done;
    if (o_.mode == Mode::hold || now <= end_) t.in_window += done;
    if (ec) break;  // the stream ended right after the last response
  }
  return true;
}

bool Engine::ws_open(net::Conn& c, WsSession& s) {
  c.set_deadline(Clock::now() + o_.timeout);
  std::string why;
  if (s.handshake(c, why)) return true;
  error("handshake", why);
  closed(c);
  return false;
}

bool Engine::ws_exchange(net::Conn& c, WsSession& s, bool ping, Tally& t, int64_t index) {
  const Clock::time_point t0 = Clock::now();
  c.set_deadline(t0 + o_.timeout);
  t.sent += 1;
  const int64_t before = s.bytes_read();
  std::string why;
  const bool ok = s.round_trip(c, ping, why);
  t.bytes += s.bytes_read() - before;
  if (!ok) {
    error("websocket", why);
    return false;
  }
  const Clock::time_point now = Clock::now();
  if (t.latencies == t.latency.size()) flush(t, index);
  t.latency[t.latencies++] = static_cast<uint64_t>((now - t0).count());
  t.answered += 1;
  t.status[2] += 1;  // a checked answer: counted where HTTP counts a 2xx
  if (o_.mode == Mode::hold || now <= end_) t.in_window += 1;
  return true;
}

bool Engine::still_open(net::Conn& c) {
  char b;
  const ssize_t r = ::recv(c.native_handle(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
  if (r == 0) {
    error("idle", "the server closed the connection");
  } else if (r > 0) {
    error("idle", "bytes from the server that no request asked for");
  } else {
    error("idle", std::strerror(errno));
  }
  return false;
}

void Engine::hold_conn(int64_t index) {
  net::Conn c;
  std::unique_ptr<WsSession> ws;
  if (o_.target.websocket) ws = std::make_unique<WsSession>(o_, static_cast<uint64_t>(index));
  if (!connect(index, c, true) || (ws && !ws_open(c, *ws))) {
    failed_.fetch_add(1, std::memory_order_relaxed);
    ramped_.done();
    checked_.done();
    finished_.done();
    return;
  }
  established_.fetch_add(1, std::memory_order_relaxed);
  ResponseParser parser(head_);
  Tally t;
  uint64_t counted[6] = {};
  auto count_status = [&] {
    for (size_t i = 0; i < 6; i++) {
      t.status[i] += static_cast<int64_t>(parser.by_class()[i] - counted[i]);
      counted[i] = parser.by_class()[i];
    }
  };
  // request() is one exchange; false (the error recorded) when the
  // connection failed or the server announced it would close it.
  auto request = [&] {
    if (ws) {
      const bool ok = ws_exchange(c, *ws, o_.ws_ping, t, index);
      flush(t, index);
      return ok;
    }
    bool ok = exchange(c, parser, 1, t, index);
    if (ok && !parser.keep_alive()) {
      error("read", "the server announced Connection: close");
      ok = false;
    }
    count_status();
    flush(t, index);
    return ok;
  };
  const Clock::time_point connected_at = Clock::now();
  bool ok = request();
  ramped_.done();

  // Every connection keeps its own schedule from the moment it connected: a
  // request at connected_at + (share + k) * interval, share = index/total
  // spreading the connections evenly over an interval. It starts during the
  // ramp, so that no connection idles longer than the interval however long
  // the ramp takes (a server's idle timeout would close it), and a hold time
  // that is a multiple of the interval sees exactly hold/interval requests on
  // every connection.
  const auto interval = std::chrono::duration_cast<Clock::duration>(o_.interval);
  const double share =
      o_.total > 0 ? static_cast<double>(index) / static_cast<double>(o_.total) : 0.0;
  Clock::time_point next =
      connected_at + std::chrono::duration_cast<Clock::duration>(o_.interval * share);
  if (next <= connected_at) next += interval;
  for (;;) {  // the ramp: until started_ is closed
    bool started = false;
    if (ok) {
      cogo::select(cogo::on_recv(started_, [&](std::optional<int>) { started = true; }),
                   cogo::on_timeout(next - Clock::now(), [] {}));
    } else {
      started_.recv();
      started = true;
    }
    if (started) break;
    ok = request();
    next += interval;
  }
  while (ok && next < end_) {  // the hold
    cogo::sleep_until(next);
    ok = request();
    next += interval;
  }
  if (ok) {
    cogo::sleep_until(end_);
    c.set_deadline(net::kNoDeadline);
    ok = still_open(c);
  }
  if (ok) {
    held_.fetch_add(1, std::memory_order_relaxed);
  } else {
    lost_.fetch_add(1, std::memory_order_relaxed);
    closed(c);
  }
  checked_.done();
  release_.recv();  // closed once every process counted its held connections
  if (ok) closed(c);
  finished_.done();
}

void Engine::load_conn(int64_t index) {
  net::Conn c;
  std::unique_ptr<WsSession> ws;
  if (o_.target.websocket) ws = std::make_unique<WsSession>(o_, static_cast<uint64_t>(index));
  if (!connect(index, c, true) || (ws && !ws_open(c, *ws))) {
    failed_.fetch_add(1, std::memory_order_relaxed);
    ramped_.done();
    finished_.done();
    return;
  }
  established_.fetch_add(1, std::memory_order_relaxed);
  ramped_.done();
  started_.recv();  // closed when the measuring window starts
  if (ws) {
    ws_load(c, *ws, index);
    return;
  }

  Tally t;
  t.last_flush = Clock::now();
  ResponseParser parser(head_);
  uint64_t counted[6] = {};
  auto count_status = [&] {
    for (size_t i = 0; i < 6; i++) {
      t.status[i] += static_cast<int64_t>(parser.by_class()[i] - counted[i]);
      counted[i] = parser.by_class()[i];
    }
  };
  bool connected = true;
  while (!stop_.load(std::memory_order_relaxed)) {
    if (!connected) {
      if (!connect(index, c, false)) {
        lost_.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      connected = true;
      reconnects_.fetch_add(1, std::memory_order_relaxed);
      parser = ResponseParser(head_);
      std::fill(std::begin(counted), std::end(counted), 0);
    }
    const bool ok = exchange(c, parser, o_.pipeline, t, index);
    count_status();
    maybe_flush(t, index, Clock::now());
    if (!ok || !parser.keep_alive()) {
      // A broken connection is counted lost, one the server closed after
      // answering is not; either way a new one takes its place, so that C
      // connections stay busy (wrk does the same).
      if (!ok) lost_.fetch_add(1, std::memory_order_relaxed);
      closed(c);
      connected = false;
    }
  }
  flush(t, index);
  if (connected) closed(c);
  finished_.done();
}

// ws_load() is load_conn() for a WebSocket: message after message until the
// window ends; a broken connection is lost (a WebSocket is not reopened:
// its echo is part of what is measured).
void Engine::ws_load(net::Conn& c, WsSession& s, int64_t index) {
  Tally t;
  t.last_flush = Clock::now();
  bool ok = true;
  while (ok && !stop_.load(std::memory_order_relaxed)) {
    ok = ws_exchange(c, s, false, t, index);
    maybe_flush(t, index, Clock::now());
  }
  flush(t, index);
  if (!ok) lost_.fetch_add(1, std::memory_order_relaxed);
  closed(c);
  finished_.done();
}

Live Engine::live() const {
  Live l;
  l.phase = phase_.load(std::memory_order_relaxed);
  l.open = open_.load(std::memory_order_relaxed);
  l.established = established_.load(std::memory_order_relaxed);
  l.failed = failed_.load(std::memory_order_relaxed);
  l.sent = sent_.load(std::memory_order_relaxed);
  l.answered = answered_.load(std::memory_order_relaxed);
  return l;
}

Report Engine::run() {
  const bool hold = o_.mode == Mode::hold;
  const int64_t n = o_.connections;
  // A stop-and-sample progress goroutine; ends with the run.
  std::atomic<bool> done{false};
  cogo::WaitGroup progress_done;
  progress_done.add(1);
  cogo::go([&] {
    Clock::time_point next = Clock::now() + 1s;
    while (!done.load(std::memory_order_relaxed)) {
      cogo::sleep_for(100ms);
      if (Clock::now() >= next) {
        control_.progress(live());
        next += 1s;
      }
    }
    progress_done.done();
  });

  // Ramp: at most dial_concurrency connects in flight. The main goroutine
  // takes a token before it starts a connection, which gives it back once
  // its connect is over (connect(..., true)).
  const Clock::time_point ramp_start = Clock::now();
  ramped_.add(static_cast<int32_t>(n));
  finished_.add(static_cast<int32_t>(n));
  if (hold) checked_.add(static_cast<int32_t>(n));
  for (int i = 0; i < o_.dial_concurrency; i++) tokens_.send(0);
  for (int64_t i = o_.first; i < o_.first + n; i++) {
    tokens_.recv();
    cogo::go([this, i, hold] {
      if (hold) {
        hold_conn(i);
      } else {
        load_conn(i);
      }
    });
  }
  ramped_.wait();
  const double ramp_seconds = seconds(Clock::now() - ramp_start);

  control_.barrier("ramped");
  start_ = Clock::now();
  end_ = start_ + std::chrono::duration_cast<Clock::duration>(o_.duration);
  phase_.store(hold ? "hold" : "load", std::memory_order_relaxed);
  started_.close();

  cogo::sleep_until(end_);
  if (hold) {
    checked_.wait();
    control_.barrier("checked");
    phase_.store("close", std::memory_order_relaxed);
    release_.close();
  } else {
    stop_.store(true, std::memory_order_relaxed);
    phase_.store("close", std::memory_order_relaxed);
  }
  finished_.wait();
  done.store(true);
  progress_done.wait();

  Report r;
  r.mode = hold ? "hold" : o_.mode == Mode::ws ? "ws" : "load";
  r.websocket = o_.target.websocket;
  r.url = o_.target.url();
  r.processes = 1;
  r.sources = static_cast<int>(plan_.addresses.size());
  r.connections = n;
  r.established = established_.load();
  r.failed = failed_.load();
  r.held = held_.load();
  r.peak_open = peak_.load();
  r.lost = lost_.load();
  r.reconnects = reconnects_.load();
  r.sent = sent_.load();
  r.answered = answered_.load();
  r.answered_in_window = in_window_.load();
  r.bytes_read = bytes_.load();
  for (size_t i = 0; i < 6; i++) r.status[i] = status_[i].load();
  {
    std::lock_guard<std::mutex> g(errors_mu_);
    r.errors = errors_;
  }
  r.ramp_seconds = ramp_seconds;
  r.duration_seconds = seconds(end_ - start_);
  if (!hold && r.duration_seconds > 0) {
    r.requests_per_second = static_cast<double>(r.answered_in_window) / r.duration_seconds;
  }
  for (Shard& s : shards_) {
    std::lock_guard<std::mutex> g(s.mu);
    r.latency.merge(s.hist);
  }
  return r;
}

}  // namespace

Report run_engine(const Options& o, const std::string& dial_address, const SourcePlan& plan,
                  Control& control) {
  auto engine = std::make_unique<Engine>(o, dial_address, plan, control);
  return engine->run();
}

}  // namespace cogo::load
