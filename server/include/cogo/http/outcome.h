// cogo/http/outcome.h: the status a request's client gets, as a middleware
// sees it once next() returned or threw — so that logs and metrics count
// what went on the wire, not what the handler set before it failed.
//
//   try {
//     next(req, res);
//   } catch (...) {
//     record(cogo::http::answered_status(req, res, std::current_exception()));
//     throw;
//   }
//   record(cogo::http::answered_status(req, res));
#pragma once

#include <exception>

namespace cogo::http {

class Request;
class Response;

// answered_status() is the status the server answers req with when the
// handler chain inside the caller ended by returning (escaped null) or by
// throwing escaped; the server's own rules, in order:
//   - returned, request not cancelled: res.status();
//   - cancelled because the client left (client_gone), or the connection
//     broke under the handler: 499 (nginx's "client closed request"; the
//     server writes nothing);
//   - returned after a cancel without an answer of its own (status 200, no
//     body, nothing sent), or threw cogo::Cancelled: 503;
//   - threw HttpError: its status; TimeoutError: 408 if the request body
//     timed out, else 500; anything else: 500;
//   - but once the head went out (res.headers_sent()) the client got
//     res.status() and then a close: that is the answer.
// Call it only from inside the handler chain, before the request ends.
int answered_status(const Request& req, const Response& res, std::exception_ptr escaped) noexcept;
// answered_status(req, res) is the same for a chain that returned (the
// common case, without an exception_ptr to pass around).
int answered_status(const Request& req, const Response& res) noexcept;

}  // namespace cogo::http
