// outcome.cpp: answered_status() (cogo/http/outcome.h). It restates the
// decisions of Http1Engine::run_handler (http1_engine.cpp) from what a
// middleware can see and what the Exchange tells (exchange.h);
// mw_metrics_test checks the two agree, case by case, against the status
// the client actually received.
#include "cogo/http/outcome.h"

#include "cogo/cancel.h"
#include "cogo/http/error.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "exchange.h"

namespace cogo::http {

int answered_status(const Request& req, const Response& res, std::exception_ptr escaped) noexcept {
  using cogo::CancelReason;
  const detail::Exchange* engine = detail::Exchange::of(req);
  int status = 500;
  CancelReason thrown = CancelReason::none;
  if (escaped) {
    try {
      std::rethrow_exception(escaped);
    } catch (const cogo::Cancelled& e) {
      thrown = e.reason();
    } catch (const HttpError& e) {
      status = e.status();
    } catch (const TimeoutError&) {
      status = engine != nullptr && engine->body_timed_out() ? 408 : 500;
    } catch (...) {
    }
  }
  const cogo::Context* own_context = engine != nullptr ? engine->request_context() : nullptr;
  const CancelReason own = (own_context != nullptr ? *own_context : req.context()).reason();
  const CancelReason reason = own != CancelReason::none ? own : thrown;
  const CancelReason cancelled =
      !escaped || thrown != CancelReason::none ? reason : CancelReason::none;
  if (!escaped) {
    const bool answered = res.headers_sent() || res.status() != 200 || res.body_bytes() > 0;
    if (cancelled == CancelReason::none || (answered && cancelled != CancelReason::client_gone)) {
      return res.status();
    }
  }
  if ((engine != nullptr && engine->stream_broken()) || cancelled == CancelReason::client_gone) {
    return 499;
  }
  if (cancelled != CancelReason::none) status = 503;
  if (res.headers_sent()) return res.status();
  return status < 100 || status > 999 ? 500 : status;
}

int answered_status(const Request& req, const Response& res) noexcept {
  const detail::Exchange* engine = detail::Exchange::of(req);
  const cogo::Context* own_context = engine != nullptr ? engine->request_context() : nullptr;
  const cogo::CancelReason own = (own_context != nullptr ? *own_context : req.context()).reason();
  if (own == cogo::CancelReason::none) return res.status();
  return answered_status(req, res, nullptr);
}

}  // namespace cogo::http
