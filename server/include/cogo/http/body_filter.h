// cogo/http/body_filter.h: BodyFilter, a transformation of a response body on
// its way out — what middleware::compress is made of.
//
//   struct Upper final : cogo::http::BodyFilter {
//     bool begin(Response& res, bool) override { res.set_header("X-Upper", "1"); return true; }
//     void filter(std::string_view in, std::string& out, Mode) override {
//       for (char c : in) out.push_back(std::toupper(c));
//     }
//   };
//   void upper(Request& req, Response& res, const Next& next) {
//     Upper f;
//     res.set_body_filter(&f);
//     next(req, res);
//     res.finish_body_filter();   // before f dies
//   }
//
// The Response calls the filter; the connection's engine never sees it, so
// a filter works the same over HTTP/1.1 and any other engine:
//   - begin() once, when the body starts to go out: at the first flush()
//     (or a body that outgrew max_buffered_response_bytes), or in
//     finish_body_filter() when the handler left the whole body buffered
//     (whole_body: res.body_bytes() is its length, file pieces included).
//     The head can still change. false: the body goes out as written.
//   - filter() with the bytes written since the last call (file pieces read
//     from the file), appending its output to out; Mode::flush at flush()
//     (what was written must reach the client now), Mode::finish once, at
//     the end. A HEAD request stores no body: begin() runs, filter() never,
//     and the head goes out without Content-Length (RFC 9110 9.3.2).
// The transformed body replaces the original: Content-Length (a whole body)
// or chunked framing follow it.
#pragma once

#include <string>
#include <string_view>

namespace cogo::http {

class Response;

class BodyFilter {
 public:
  enum class Mode { more, flush, finish };

  // begin() decides whether to transform this response and sets its head
  // fields (Content-Encoding, Vary, ...).
  virtual bool begin(Response& res, bool whole_body) = 0;
  // filter() appends the transformation of in to out.
  virtual void filter(std::string_view in, std::string& out, Mode mode) = 0;

 protected:
  ~BodyFilter() = default;
};

}  // namespace cogo::http
