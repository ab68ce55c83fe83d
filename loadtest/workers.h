// workers.h: one cogo-load run spread over worker processes, when it wants
// more connections than one process may open (RLIMIT_NOFILE).
//
// The parent runs itself again (/proc/self/exe) once per Slice, with the
// user's flags plus --worker FIRST,COUNT,TOTAL,FD, where FD is the worker's
// end of a Unix socket pair. Over it each worker sends JSON lines:
//   {"type":"progress","live":{...}}   about once a second
//   {"type":"phase","phase":"ramped"}  and then waits for the line "go"
//   {"type":"report","report":{...}}   its final Report (with histogram buckets)
// The parent answers "go" to a phase once every worker still running has
// reached it — a barrier, so that the hold time starts after every process's
// ramp and no process closes its connections before all have been counted.
// A worker that dies is dropped from the barriers and reported as an error.
#pragma once

#include <string>
#include <vector>

#include "cogo/mutex.h"
#include "cogo/net.h"
#include "loadtest/engine.h"
#include "loadtest/options.h"
#include "loadtest/report.h"

namespace cogo::load {

// run_workers() starts one worker per slice (args: the user's arguments,
// argv[1..]), relays barriers, prints the summed progress line when
// show_progress, and returns the sum of the workers' reports.
Report run_workers(const Options& o, const std::vector<Slice>& slices,
                   const std::vector<std::string>& args, bool show_progress);

// WorkerControl: the worker's side of the socket pair. Used on goroutines.
class WorkerControl : public Control {
 public:
  explicit WorkerControl(int fd) : conn_(net::Conn::adopt(fd)) {}
  void barrier(const char* phase) override;
  void progress(const Live& live) override;
  void report(const Report& r);
  // fail() tells the parent why this worker gives up (it then exits non-zero).
  void fail(const std::string& why);

 private:
  void send(const Json& message);
  net::Conn conn_;
  cogo::Mutex write_mu_;  // one line at a time
  std::string inbuf_;     // read by barrier() only (the main goroutine)
};

}  // namespace cogo::load
