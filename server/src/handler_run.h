// handler_run.h: how a handler's run ended, the same for every engine
// (Http1Engine::run_handler, Http2Stream::run_handler).
//
// run_caught() calls the handler chain and sorts what escaped it:
//   - returned: it returned (whatever it answered);
//   - a Cancelled: its reason (escaped), the answer decided by the
//     request's context (answer_cancelled);
//   - an HttpError: its status and message, for the client;
//   - a TimeoutError of the body read (body_timed_out() true then): 408;
//     any other TimeoutError or exception: a handler bug (failed), 500,
//     logged by the engine, never shown to the client.
// Inlined into each engine: no call, no allocation until something throws.
#pragma once

#include <exception>
#include <string>
#include <utility>

#include "cogo/cancel.h"
#include "cogo/http/error.h"

namespace cogo::http::detail {

struct HandlerRun {
  bool returned = false;  // the handler returned (did not throw)
  cogo::CancelReason escaped = cogo::CancelReason::none;  // a Cancelled it threw
  int status = 500;
  std::string message;
  bool failed = false;  // a handler bug (logged), rather than an HttpError
};

template <class Call, class BodyTimedOut>
HandlerRun run_caught(Call&& call, BodyTimedOut&& body_timed_out) {
  HandlerRun r;
  try {
    std::forward<Call>(call)();
    r.returned = true;
  } catch (const cogo::Cancelled& e) {
    r.escaped = e.reason();
  } catch (const HttpError& e) {
    r.status = e.status();
    r.message = e.what();
  } catch (const TimeoutError& e) {
    if (body_timed_out()) {
      r.status = 408;
      r.message = "timed out reading the request body";
    } else {
      r.failed = true;
      r.message = e.what();
    }
  } catch (const std::exception& e) {
    r.failed = true;
    r.message = e.what();
  } catch (...) {
    r.failed = true;
    r.message = "an exception not derived from std::exception";
  }
  return r;
}

// cancelled_by() is why the request ended cancelled, given reason (its
// context's, else a Cancelled's from a tighter context): none when the
// handler failed otherwise (another exception keeps its own answer).
inline cogo::CancelReason cancelled_by(const HandlerRun& r, cogo::CancelReason reason) noexcept {
  return r.returned || r.escaped != cogo::CancelReason::none ? reason : cogo::CancelReason::none;
}

// keeps_own_answer(): a handler that returned keeps its answer unless it
// was cancelled and gave none of its own (a status or a body) — then it
// still gets the 503 it would have got — or the client is gone (nobody to
// tell).
inline bool keeps_own_answer(const HandlerRun& r, cogo::CancelReason cancelled,
                             bool answered) noexcept {
  return r.returned && (cancelled == cogo::CancelReason::none ||
                        (answered && cancelled != cogo::CancelReason::client_gone));
}

// answer_cancelled() turns r into the 503 of a cancelled request.
inline void answer_cancelled(HandlerRun& r, cogo::CancelReason cancelled) {
  r.status = 503;
  r.message = cancelled == cogo::CancelReason::deadline   ? "handler timed out"
              : cancelled == cogo::CancelReason::shutdown ? "server shutting down"
                                                          : "request cancelled";
}

}  // namespace cogo::http::detail
