// cogo/signal.h: run a function when the process is asked to stop.
//
//   cogo::StopSignalHook hook([&server] { server.shutdown(); });
//   server.serve();   // SIGTERM or SIGINT now shuts the server down
//
// While a StopSignalHook is alive, SIGTERM and SIGINT call its function on a
// watcher thread (never inside the signal handler, so the function may lock,
// allocate and log). The first hook installs the handlers; from then on the
// signals no longer end the process, also once every hook is gone.
#pragma once

#include <cstdint>
#include <functional>

namespace cogo {

class StopSignalHook {
 public:
  // StopSignalHook() registers fn; it runs once per SIGTERM/SIGINT received,
  // on the watcher thread, after the hooks registered before it.
  explicit StopSignalHook(std::function<void()> fn);
  // ~StopSignalHook() unregisters fn and returns only once no call of fn is
  // under way, so fn may refer to an object destroyed right after the hook.
  // Precondition: not called from within fn.
  ~StopSignalHook();
  StopSignalHook(const StopSignalHook&) = delete;
  StopSignalHook& operator=(const StopSignalHook&) = delete;

 private:
  uint64_t id_;
};

}  // namespace cogo
