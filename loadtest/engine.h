// engine.h: the connections of one cogo-load process — one goroutine each,
// written in blocking style on cogo's dial/read/write.
//
// hold: connect (at most --dial-concurrency dials in flight) and send a
//   first request; when every connection has done so (the ramp), all
//   processes pass the "ramped" barrier and the hold time starts. Each
//   connection sends a request every interval on its own schedule, which
//   starts when it connects (so a long ramp idles no connection past the
//   interval), until the hold time ends; then it checks that its socket is
//   still open and unread (a peek), counts itself held, and waits at the
//   "checked" barrier, so that every held connection of every process is
//   open at the same moment, before all close.
// load: connect, pass the "ramped" barrier, then each connection writes a
//   batch of --pipeline requests, reads that many responses, and repeats
//   (a closed loop, like wrk) until the measuring window ends; a batch in
//   flight at the end is still read, so that sent == answered on a healthy
//   run. Latency is from the batch's write to each response's last byte.
#pragma once

#include <string>

#include "loadtest/options.h"
#include "loadtest/report.h"

namespace cogo::load {

// Live: the running counts, for the progress line.
struct Live {
  const char* phase = "";  // "ramp", "hold", "load", "close"
  int64_t open = 0;
  int64_t established = 0;
  int64_t failed = 0;
  int64_t sent = 0;
  int64_t answered = 0;
  Json to_json() const;
  static Live from_json(const Json& j);  // phase is then one of the literals above
};

// Control: how an engine meets the other processes of its run.
class Control {
 public:
  virtual ~Control() = default;
  // barrier() returns once every process of the run has reached `phase`.
  virtual void barrier(const char* phase) = 0;
  // progress() is called about once a second with this process's counts.
  virtual void progress(const Live& live) = 0;
};

// Control for a run that is this one process: no barriers; the progress
// line on stdout when `show` (by default: stdout is a terminal).
class LocalControl : public Control {
 public:
  explicit LocalControl(bool show);
  void barrier(const char*) override {}
  void progress(const Live& live) override;
  // finish() ends the progress line.
  void finish();

 private:
  bool show_;
  bool tty_;            // stdout is a terminal
  bool shown_ = false;  // a line without its newline is on the terminal
  double start_;        // seconds on the steady clock
  double last_time_;
  int64_t last_answered_ = 0;
};

// progress_line() formats the counts and the request rate.
std::string progress_line(const Live& live, double elapsed_seconds, double requests_per_second);

// run_engine() runs connections [o.first, o.first + o.connections) against
// `dial_address` (numeric "127.0.0.1:8080") and reports. Call on a goroutine
// of a running runtime.
Report run_engine(const Options& o, const std::string& dial_address, const SourcePlan& plan,
                  Control& control);

// build_request() is the bytes of one request as cogo-load sends it.
std::string build_request(const Options& o);

}  // namespace cogo::load
