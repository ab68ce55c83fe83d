// http1_fuzz: the HTTP/1.1 request path, bytes in to bytes out — llhttp, the
// real Http1Engine (through Http1Session, both of its loops) and the
// server's limits, over a MemoryStream whose reads end at points the fuzzer
// chooses (partial reads, pipelined batches, pauses between readable
// edges, a client that goes quiet or closes).
//
// Input (fuzz_input.h): the payload is what the client sends. Control:
//   byte 0: bit 0 readiness-driven (serve_ready, the goroutine model) or
//           the blocking loop (serve, the thread model); bit 1 the input
//           ends in a timeout rather than a close; bits 2-4 a set of limits
//           (index 0: the server's defaults); bit 5 a graceful shutdown
//           begins during the second request.
//   bytes 1-8: how the handler behaves, per request (round and round).
//   then: one byte per read: bits 0-6 its length (0: all the rest), bit 7
//           a pause after it.
//
// Properties, beyond "no crash, no sanitizer report":
//  - each request the handler sees is the one an independent llhttp reading
//    of the whole input sees at that place (method, target, version,
//    fields) and a body it read to the end is that request's body;
//  - the output is a sequence of well-framed responses (llhttp response
//    mode, HEAD answered without a body): one per handled request with the
//    status and body the handler gave, then at most one error (4xx/5xx,
//    Connection: close); never more responses than requests; nothing after
//    a response that says Connection: close; a 100 Continue only for a
//    request that asked for it; a response cut short only when its handler
//    failed after the head went out (and then never complete-looking);
//  - each handled request, written back as canonical HTTP text, parses (the
//    engine's own RequestParser) to the same request.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cogo/http/error.h"
#include "cogo/http/http1_session.h"
#include "cogo/http/memory_stream.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "fuzz_input.h"
#include "http_reference.h"
#include "request_parser.h"
#include "text.h"

namespace {

using namespace cogo::http;
using cogo_fuzz::FieldList;
using cogo_fuzz::printable;

struct Limits {
  std::size_t header, body, drain, buffered, read_buffer;
};
constexpr Limits kLimits[8] = {
    {8 * 1024, 8 * 1024 * 1024, 256 * 1024, 1024 * 1024, 16 * 1024},  // the server's defaults
    {64, 16, 8, 8, 16},
    {128, 64, 0, 32, 64},
    {256, 1024, 32, 64, 1024},
    {1024, 100, 1000, 16, 256},
    {40, 8 * 1024 * 1024, 256 * 1024, 1, 1},
    {200, 0, 0, 1, 1},
    {512, 512, 512, 512, 512},
};

constexpr int kStatuses[8] = {200, 201, 204, 304, 404, 500, 206, 200};

bool status_has_body(int status) {
  return status >= 200 && status != 204 && status != 304;
}

// Invocation: what one handler call saw and did.
struct Invocation {
  std::string method, target;
  int major = 0, minor = 0;
  FieldList fields;
  std::string raw_path, path;
  std::string body;
  bool body_done = false;  // read() returned 0: the whole body was read
  int status = 0;          // what the client should get
  std::string response_body;
  bool threw = false;  // the body read failed: the engine's error answer
  std::string echo;    // X-Echo sent back, when the request had one
  bool has_echo = false;
  bool aborted = false;  // failed after the head went out
};

struct Run {
  cogo_fuzz::Cycle behaviour;
  std::vector<Invocation> calls;
  std::atomic<bool> draining{false};
  bool drain_on_second = false;
};

void handle(Run& run, Request& req, Response& res) {
  Invocation& inv = run.calls.emplace_back();
  inv.method = req.method();
  inv.target = req.target();
  inv.major = req.version_major();
  inv.minor = req.version_minor();
  for (const Field& f : req.header_fields()) inv.fields.emplace_back(f.name, f.value);
  inv.raw_path = req.raw_path();
  inv.path = req.path();
  if (run.drain_on_second && run.calls.size() == 2) run.draining = true;

  const std::uint8_t b1 = run.behaviour.next();
  const std::uint8_t b2 = run.behaviour.next();
  // Reading the body: none, all of it in reads of a chosen size, one small
  // read, or body().
  try {
    switch (b1 & 3) {
      case 0:
        break;
      case 1: {
        const std::size_t size = 1 + (b2 & 31) * 7;
        char buf[256];
        for (;;) {
          const std::size_t n = req.read(buf, size);
          if (n == 0) break;
          inv.body.append(buf, n);
        }
        inv.body_done = true;
        break;
      }
      case 2: {
        char buf[7];
        inv.body.append(buf, req.read(buf, sizeof buf));
        break;
      }
      case 3:
        inv.body = req.body();
        inv.body_done = true;
        break;
    }
  } catch (const HttpError& e) {
    inv.status = e.status();
    inv.threw = true;
    throw;
  } catch (const TimeoutError&) {
    inv.status = 408;
    inv.threw = true;
    throw;
  }

  if ((b2 & 0x80) != 0) (void)req.query_params();
  const int status = kStatuses[b1 >> 5];
  inv.status = status;
  if ((b1 & 0x10) != 0) res.set_header("Connection", "close");
  if (req.has_header("X-Echo")) {
    inv.has_echo = true;
    inv.echo = req.header("X-Echo");
    res.set_header("X-Echo", inv.echo);
  }
  std::string written;
  switch ((b1 >> 2) & 3) {
    case 0:
      written = "body " + std::to_string(run.calls.size()) + " " + inv.body;
      res.text(status, written);
      break;
    case 1:  // streamed: the head goes out with the first flush
      res.set_status(status);
      res.write("first;");
      res.flush();
      if ((b2 & 0x20) != 0) {
        inv.aborted = true;
        throw HttpError(500, "failed after the head went out");
      }
      res.write("second");
      written = "first;second";
      break;
    case 2:
      res.set_status(status);
      break;
    case 3:  // more than max_buffered_response_bytes: streams on its own
      res.set_status(status);
      written.assign(std::min<std::size_t>(5000, 3 + (b2 & 0x1f) * 97), 'x');
      res.write(written);
      break;
  }
  inv.response_body = req.is_head() || !status_has_body(status) ? "" : written;
}

// round_trip() checks that inv, written back as HTTP text, parses to the
// same request through the engine's parser.
void round_trip(const Invocation& inv) {
  const std::string body = inv.body_done ? inv.body : std::string();
  std::string text =
      cogo_fuzz::serialize_request(inv.method, inv.target, inv.minor, inv.fields, body);
  cogo::http::detail::RequestParser parser;
  auto r = parser.parse(text.data(), text.size());
  FUZZ_CHECK(r.event != decltype(r.event)::error && r.event != decltype(r.event)::need_more,
             "the re-serialised request does not parse (%d %s): %s", parser.error_status(),
             parser.error_reason() ? parser.error_reason() : "", printable(text).c_str());
  const auto& head = parser.head();
  FUZZ_CHECK(head.method == inv.method && head.target == inv.target && head.http_minor == inv.minor,
             "request line changed: %s", printable(text).c_str());
  FieldList fields;
  for (const Field& f : head.fields) fields.emplace_back(f.name, f.value);
  FUZZ_CHECK(cogo_fuzz::without_framing(fields) == cogo_fuzz::without_framing(inv.fields),
             "fields changed in the round trip: %s", printable(text).c_str());
  std::string parsed_body;
  std::size_t at = r.consumed;
  while (r.event == decltype(r.event)::head_complete || at < text.size()) {
    r = parser.parse(text.data() + at, text.size() - at);
    parsed_body.append(text.data() + at, r.body_bytes);
    at += r.consumed;
    FUZZ_CHECK(r.event != decltype(r.event)::error, "body of the round trip failed");
    if (r.event == decltype(r.event)::message_complete || r.consumed == 0) break;
  }
  FUZZ_CHECK(parsed_body == body, "body changed in the round trip");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // handler failures are expected here
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cogo_fuzz::FuzzInput in(data, size);
  const std::uint8_t config = in.next();
  std::string behaviour_bytes;
  for (int i = 0; i < 8 && in.control_left(); ++i)
    behaviour_bytes.push_back(static_cast<char>(in.next()));

  const Limits& limits = kLimits[(config >> 2) & 7];
  HttpOptions options;
  options.max_header_bytes = limits.header;
  options.max_body_bytes = limits.body;
  options.max_drain_bytes = limits.drain;
  options.max_buffered_response_bytes = limits.buffered;
  options.read_buffer_bytes = limits.read_buffer;

  Run run;
  run.behaviour = cogo_fuzz::Cycle(behaviour_bytes);
  run.drain_on_second = (config & 0x20) != 0;
  options.draining = &run.draining;
  Handler handler = [&run](Request& req, Response& res) { handle(run, req, res); };

  const std::string_view payload = in.payload();
  MemoryStream stream;
  stream.set_end((config & 2) != 0 ? MemoryStream::End::timeout : MemoryStream::End::eof);
  std::size_t at = 0;
  while (at < payload.size()) {
    const std::uint8_t b = in.next();
    const std::size_t len = (b & 0x7f) == 0 ? payload.size() - at
                                            : std::min<std::size_t>(b & 0x7f, payload.size() - at);
    stream.add(payload.substr(at, len), (b & 0x80) != 0);
    at += len;
  }

  Http1Session session(handler, options, "192.0.2.1:1234");
  if ((config & 1) == 0) {
    session.serve(stream);
  } else {
    for (int edges = 0;; ++edges) {
      if (session.serve_ready(stream) == Http1Session::State::closed) break;
      // Idle: only at a pause, or at the end of an input that times out
      // (the idle timeout then closes the connection).
      FUZZ_CHECK(stream.paused() || (stream.exhausted() && (config & 2) != 0),
                 "went idle with input ready");
      if (!stream.paused()) break;
      stream.resume();
      FUZZ_CHECK(edges < 100000, "no progress");
    }
  }

  // The requests, read independently.
  const cogo_fuzz::RefRequests ref = cogo_fuzz::parse_requests(payload);
  FUZZ_CHECK(run.calls.size() <= ref.messages.size(), "%zu requests handled, %zu sent",
             run.calls.size(), ref.messages.size());
  for (std::size_t i = 0; i < run.calls.size(); ++i) {
    const Invocation& inv = run.calls[i];
    const cogo_fuzz::RefRequest& m = ref.messages[i];
    FUZZ_CHECK(m.head_complete, "request %zu handled before its head was complete", i);
    FUZZ_CHECK(inv.method == m.method && inv.target == m.target,
               "request %zu: %s %s, llhttp: %s %s", i, printable(inv.method).c_str(),
               printable(inv.target).c_str(), printable(m.method).c_str(),
               printable(m.target).c_str());
    FUZZ_CHECK(inv.major == 1 && m.major == 1 && inv.minor == std::min(m.minor, 1),
               "request %zu: version %d.%d, llhttp %d.%d", i, inv.major, inv.minor, m.major,
               m.minor);
    FUZZ_CHECK(inv.fields == m.fields, "request %zu: the fields differ from llhttp's", i);
    if (inv.body_done) {
      FUZZ_CHECK(m.complete && inv.body == m.body, "request %zu: body read %s, llhttp %s%s", i,
                 printable(inv.body).c_str(), printable(m.body).c_str(),
                 m.complete ? "" : " (incomplete)");
    }
    if (inv.raw_path.find('%') == std::string::npos) {
      FUZZ_CHECK(inv.path == inv.raw_path, "path() differs from an unescaped raw_path()");
    } else {
      std::string decoded;
      FUZZ_CHECK(cogo::http::detail::percent_decode(inv.raw_path, decoded, false, false) &&
                     decoded == inv.path,
                 "path() is not raw_path() decoded");
    }
    round_trip(inv);
  }

  // The responses.
  auto is_head = [&ref](std::size_t k) { return cogo_fuzz::answers_head(ref, k); };
  const cogo_fuzz::RefResponses out = cogo_fuzz::parse_responses(stream.output(), is_head);
  if (std::getenv("COGO_FUZZ_DEBUG") != nullptr) {
    std::fprintf(stderr, "input: %s\noutput: %s\n", printable(payload, 4000).c_str(),
                 printable(stream.output(), 4000).c_str());
  }
  FUZZ_CHECK(!out.error, "the output is not a sequence of responses (%s): %s",
             out.error_reason.c_str(), printable(stream.output(), 2000).c_str());
  std::vector<const cogo_fuzz::RefResponse*> finals;
  for (const cogo_fuzz::RefResponse& r : out.messages) {
    if (r.interim()) {
      const std::size_t k = finals.size();
      FUZZ_CHECK(r.status == 100, "interim response %d", r.status);
      FUZZ_CHECK(k < ref.messages.size() && ref.messages[k].minor >= 1,
                 "100 Continue for no request");
      bool asked = false;
      for (const auto& [name, value] : ref.messages[k].fields) {
        asked = asked || (cogo_fuzz::ascii_iequals(name, "expect") &&
                          cogo_fuzz::ascii_iequals(value, "100-continue"));
      }
      FUZZ_CHECK(asked, "100 Continue for request %zu, which did not ask for it", k);
      continue;
    }
    finals.push_back(&r);
  }
  FUZZ_CHECK(finals.size() <= ref.messages.size(), "%zu responses to %zu requests", finals.size(),
             ref.messages.size());
  FUZZ_CHECK(finals.size() >= run.calls.size() && finals.size() <= run.calls.size() + 1,
             "%zu responses for %zu handled requests", finals.size(), run.calls.size());
  for (std::size_t k = 0; k < finals.size(); ++k) {
    const cogo_fuzz::RefResponse& r = *finals[k];
    const bool last = k + 1 == finals.size();
    FUZZ_CHECK(last || !cogo_fuzz::ascii_iequals(r.field("Connection"), "close"),
               "response %zu says Connection: close and another follows", k);
    if (k < run.calls.size()) {
      const Invocation& inv = run.calls[k];
      FUZZ_CHECK(r.status == inv.status, "response %zu: status %d, the handler's %d", k, r.status,
                 inv.status);
      if (inv.aborted) {
        FUZZ_CHECK(last, "a response follows an aborted one");
        const bool must_look_cut = !r.head && inv.minor >= 1 && status_has_body(inv.status);
        FUZZ_CHECK(!must_look_cut || !r.complete, "aborted response %zu looks complete", k);
        continue;
      }
      FUZZ_CHECK(r.complete, "response %zu incomplete", k);
      FUZZ_CHECK(inv.threw || r.body == inv.response_body,
                 "response %zu: body %s, the handler wrote %s", k, printable(r.body).c_str(),
                 printable(inv.response_body).c_str());
      if (inv.has_echo) FUZZ_CHECK(r.field("X-Echo") == inv.echo, "X-Echo changed on its way back");
    } else {
      FUZZ_CHECK(r.complete, "error response incomplete");
      FUZZ_CHECK(r.status >= 400 && r.status < 600, "unhandled request answered %d", r.status);
      FUZZ_CHECK(cogo_fuzz::ascii_iequals(r.field("Connection"), "close"),
                 "error response %d without Connection: close", r.status);
    }
  }
  FUZZ_CHECK(!out.truncated || (!run.calls.empty() && run.calls.back().aborted &&
                                finals.size() == run.calls.size()),
             "the output ends inside a response: %s", printable(stream.output(), 2000).c_str());
  return 0;
}
