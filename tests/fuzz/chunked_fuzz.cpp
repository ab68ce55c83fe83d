// chunked_fuzz: chunked body decoding (RFC 9112 7.1) through the engine:
// "POST /upload ... Transfer-Encoding: chunked" followed by the payload as
// the body, split into reads at points the fuzzer chooses, read by the
// handler in reads of a chosen size, under a chosen body limit.
//
// Control (fuzz_input.h): byte 0: bit 0 readiness-driven, bit 1 the input
// ends in a timeout, bits 2-4 the body limit; byte 1 the handler's read
// size; bytes 2-9 chunk sizes for the re-encoding; then one byte per read as
// in http1_fuzz (bits 0-6 length, 0: the rest; bit 7 a pause).
//
// Properties:
//  - the engine accepts a body only if a decoder written from RFC 9112's
//    grammar (chunked_grammar.h: chunk-size, chunk-ext with BWS, token and
//    quoted-string values, trailer field lines, CRLFs) accepts the same
//    bytes and decodes the same body: nothing lenient slips through (request
//    smuggling lives in such differences);
//  - a body the grammar accepts within the limit is accepted, with that body
//    (chunked_grammar.h: with the server's framing limits, 4 KiB per
//    chunk-size line, 8 KiB of trailers); one over the body limit is
//    refused with 413; one cut
//    short never completes;
//  - the decoded body chunked again (other chunk sizes, an extension, a
//    trailer) decodes to the same body;
//  - the response is one well-framed response with the expected status.
#include <spdlog/spdlog.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "chunked_grammar.h"
#include "cogo/http/error.h"
#include "cogo/http/http1_session.h"
#include "cogo/http/memory_stream.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "fuzz_input.h"
#include "http_reference.h"
#include "request_parser.h"

namespace {

using namespace cogo::http;
using cogo_fuzz::Decoded;
using cogo_fuzz::printable;

constexpr std::string_view kHead =
    "POST /upload HTTP/1.1\r\nHost: fuzz\r\nTransfer-Encoding: chunked\r\n\r\n";
constexpr std::size_t kBodyLimits[8] = {8 * 1024 * 1024, 0, 1, 16, 100, 1000, 4096, 65536};

// ---------------------------------------------------------------- the run

struct Outcome {
  bool handled = false;
  bool body_done = false;
  std::string body;
  int error_status = 0;  // what read() threw (HttpError's status, 408)
  std::string input;     // everything the client sent: the head and the payload
};

// serve() sends head + payload through a fresh session and returns what the
// first handler call saw, and the output.
Outcome serve(std::string_view payload, std::size_t body_limit, std::size_t read_size,
              bool readiness, bool timeout, cogo_fuzz::FuzzInput* splits, std::string* output) {
  Outcome o;
  HttpOptions options;
  options.max_body_bytes = body_limit;
  Handler handler = [&](Request& req, Response& res) {
    if (o.handled) {
      res.text(200, "next\n");
      return;
    }
    o.handled = true;
    std::string buf(read_size, '\0');
    try {
      for (;;) {
        const std::size_t n = req.read(buf.data(), buf.size());
        if (n == 0) break;
        o.body.append(buf.data(), n);
      }
      o.body_done = true;
    } catch (const HttpError& e) {
      o.error_status = e.status();
      throw;
    } catch (const TimeoutError&) {
      o.error_status = 408;
      throw;
    }
    res.text(200, "got " + std::to_string(o.body.size()) + "\n");
  };
  MemoryStream stream;
  stream.set_end(timeout ? MemoryStream::End::timeout : MemoryStream::End::eof);
  o.input.assign(kHead).append(payload);
  const std::string& input = o.input;
  std::size_t at = 0;
  while (at < input.size()) {
    const std::uint8_t b = splits != nullptr ? splits->next() : 0;
    const std::size_t len =
        (b & 0x7f) == 0 ? input.size() - at : std::min<std::size_t>(b & 0x7f, input.size() - at);
    stream.add(std::string_view(input).substr(at, len), (b & 0x80) != 0);
    at += len;
  }
  Http1Session session(handler, options, "192.0.2.1:1234");
  if (!readiness) {
    session.serve(stream);
  } else {
    while (session.serve_ready(stream) == Http1Session::State::idle && stream.paused()) {
      stream.resume();
    }
  }
  if (output != nullptr) *output = stream.output();
  return o;
}

// chunk() writes body in chunks whose sizes cycle through sizes, with an
// extension on the first and a trailer field.
std::string chunk(std::string_view body, cogo_fuzz::Cycle sizes) {
  std::string out;
  bool first = true;
  while (!body.empty()) {
    const std::size_t n = std::min<std::size_t>(body.size(), 1 + sizes.next());
    char line[32];
    std::snprintf(line, sizeof line, "%zx", n);
    out.append(line);
    if (first) out.append(";e1 ; ext = \"a \\\" b\";e2=t");
    first = false;
    out.append("\r\n").append(body.substr(0, n)).append("\r\n");
    body.remove_prefix(n);
  }
  out.append("0\r\nX-Trailer: t\r\n\r\n");
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cogo_fuzz::FuzzInput in(data, size);
  const std::uint8_t config = in.next();
  const std::size_t read_size = 1 + in.next();
  std::string sizes;
  for (int i = 0; i < 8; ++i) sizes.push_back(static_cast<char>(in.next()));
  const bool readiness = (config & 1) != 0;
  const bool timeout = (config & 2) != 0;
  const std::size_t limit = kBodyLimits[(config >> 2) & 7];
  const std::string_view payload = in.payload();

  std::string output;
  const Outcome o = serve(payload, limit, read_size, readiness, timeout, &in, &output);
  const Decoded ref = cogo_fuzz::decode_chunked(payload);
  FUZZ_CHECK(o.handled, "the head was not dispatched");

  if (o.body_done) {
    FUZZ_CHECK(ref.state == Decoded::complete,
               "the engine accepted a body RFC 9112's grammar %s: %s",
               ref.state == Decoded::malformed ? "refuses" : "finds incomplete",
               printable(payload).c_str());
    FUZZ_CHECK(o.body == ref.body, "decoded %s, the grammar says %s", printable(o.body).c_str(),
               printable(ref.body).c_str());
    FUZZ_CHECK(o.body.size() <= limit, "a body over the limit was accepted");
  }
  if (ref.state == Decoded::complete) {
    if (ref.body.size() > limit) {
      FUZZ_CHECK(o.error_status == 413, "a body over the limit got %d", o.error_status);
    } else {
      FUZZ_CHECK(o.body_done, "a valid body was refused (%d): %s", o.error_status,
                 printable(payload).c_str());
    }
  } else if (ref.state == Decoded::incomplete && !o.body_done) {
    // Cut short: the client closed (400) or went quiet (408); or a limit.
    FUZZ_CHECK(o.error_status == (timeout ? 408 : 400) || o.error_status == 413,
               "a truncated body got %d", o.error_status);
  }

  // The response to the upload is well framed and says what happened.
  // Bytes after the body are more requests (a finding: a malformed "HEAD "
  // after it gets a 400 without content, as a response to HEAD has none).
  const cogo_fuzz::RefRequests sent = cogo_fuzz::parse_requests(o.input);
  const cogo_fuzz::RefResponses out = cogo_fuzz::parse_responses(
      output, [&sent](std::size_t k) { return cogo_fuzz::answers_head(sent, k); });
  FUZZ_CHECK(!out.error && !out.truncated && !out.messages.empty(), "bad output: %s",
             printable(output, 2000).c_str());
  FUZZ_CHECK(out.messages[0].status == (o.body_done ? 200 : o.error_status),
             "status %d for an upload that %s", out.messages[0].status,
             o.body_done ? "was read" : "failed");

  // The body, chunked again, reads back the same.
  if (o.body_done) {
    const std::string again = chunk(o.body, cogo_fuzz::Cycle(sizes));
    const Outcome o2 = serve(again, limit, read_size, readiness, false, nullptr, nullptr);
    FUZZ_CHECK(o2.body_done && o2.body == o.body, "re-chunked body read back differently");
    const Decoded ref2 = cogo_fuzz::decode_chunked(again);
    FUZZ_CHECK(ref2.state == Decoded::complete && ref2.body == o.body, "the re-encoding is wrong");
  }
  return 0;
}
