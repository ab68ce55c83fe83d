// websocket_handshake_fuzz: the WebSocket opening handshake — an HTTP
// request, through llhttp, the real Http1Engine (Http1Session over a
// MemoryStream, reads split where the fuzzer chooses) and a handler that
// calls cogo::websocket::accept() (or serve()), under server options the
// control bytes choose (permessage-deflate and its parameters,
// subprotocols, allowed origins).
//
// Input (fuzz_input.h): the payload is what the client sends. Control:
//   byte 0: permessage-deflate: bit 0 enabled, bit 1 server_no_context_
//           takeover, bit 2 client_no_context_takeover, bits 3-5
//           server_max_window_bits 8 + v, bits 6-7 client_max_window_bits
//           (15, 8, 10, 12).
//   byte 1: bits 0-1 the server's subprotocols (a table), bit 2 origins
//           restricted to a list, bit 3 serve() instead of accept(), bit 4
//           the handler reads the body first, bit 5 serve_ready().
//   then: one byte per read (bits 0-6 its length, 0: all the rest).
//
// Properties, against RFC 6455 4.2.1-4.2.2, 4.4, 9.1 and RFC 7692 7.1
// written again in the target (websocket_reference.h), reading the request
// with an independent llhttp (http_reference.h):
//  - 101 only when every rule holds: GET, HTTP/1.1 or later, an Upgrade
//    listing "websocket" and a Connection listing "upgrade" (any case),
//    exactly one Sec-WebSocket-Key that is base64 of 16 bytes, exactly one
//    Sec-WebSocket-Version, 13, an allowed Origin when origins are
//    restricted, Sec-WebSocket-Extensions in 9.1's grammar, a body read to
//    its end; and a 101 whenever they all hold;
//  - otherwise the status of a rule that failed: 426 (with
//    Sec-WebSocket-Version: 13) for one version field that is not 13, 403
//    for the origin, 400 for the rest; Connection: close and nothing after;
//  - a 101 says Upgrade: websocket, Connection: upgrade, Sec-WebSocket-
//    Accept = base64(SHA-1(key + GUID)) computed here (OpenSSL's SHA-1,
//    the target's base64); the subprotocol is the first of the server's
//    that the client offered, none if none; Sec-WebSocket-Extensions is
//    absent unless the server enables compression and the client made an
//    offer it can honour, and then accepts the first such offer as RFC
//    7692 7.1 allows (and says the context takeover the server wants);
//  - after the 101, the handler's return closes the WebSocket: the close
//    frame 1000, and nothing else.
#include <spdlog/spdlog.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "cogo/http/error.h"
#include "cogo/http/http1_session.h"
#include "cogo/http/memory_stream.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/websocket.h"
#include "fuzz_input.h"
#include "http_reference.h"
#include "websocket_reference.h"

namespace {

using namespace cogo::http;
namespace ws = cogo::websocket;
namespace ref = cogo_fuzz::ws;
using cogo_fuzz::ascii_iequals;
using cogo_fuzz::printable;

const std::vector<std::string> kSubprotocols[4] = {
    {}, {"chat"}, {"v2.chat", "chat"}, {"mqtt", "wamp", "soap"}};
const std::vector<std::string> kOrigins = {"https://example.com", "http://a.test"};
constexpr int kClientWindow[4] = {15, 8, 10, 12};

bool lists(const cogo_fuzz::FieldList& fields, std::string_view name, std::string_view token) {
  for (const auto& [n, v] : fields) {
    if (!ascii_iequals(n, name)) continue;
    for (const std::string& e : ref::list_elements(v)) {
      if (ascii_iequals(e, token)) return true;
    }
  }
  return false;
}

std::vector<std::string> values(const cogo_fuzz::FieldList& fields, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [n, v] : fields) {
    if (ascii_iequals(n, name)) out.push_back(v);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cogo_fuzz::FuzzInput in(data, size);
  const std::uint8_t b0 = in.next();
  const std::uint8_t b1 = in.next();
  ws::Options options;
  options.deflate.enabled = (b0 & 1) != 0;
  options.deflate.server_no_context_takeover = (b0 & 2) != 0;
  options.deflate.client_no_context_takeover = (b0 & 4) != 0;
  options.deflate.server_max_window_bits = 8 + ((b0 >> 3) & 7);
  options.deflate.client_max_window_bits = kClientWindow[b0 >> 6];
  options.subprotocols = kSubprotocols[b1 & 3];
  const bool restricted = (b1 & 4) != 0;
  if (restricted) options.origins = kOrigins;
  const bool deferred = (b1 & 8) != 0;
  const bool read_body = (b1 & 16) != 0;
  const bool readiness = (b1 & 32) != 0;

  int calls = 0;
  bool body_read = false;
  bool accepted = false;
  Handler handler = [&](Request& req, Response& res) {
    if (++calls > 1) {
      res.text(200, "not a handshake\n");
      return;
    }
    if (read_body) {
      (void)req.body();
      body_read = true;
    }
    if (deferred) {
      accepted = ws::serve(req, res, options, [](ws::WebSocket&) {});
    } else {
      ws::WebSocket sock = ws::accept(req, res, options);
      accepted = static_cast<bool>(sock);
    }
  };

  const std::string_view payload = in.payload();
  MemoryStream stream;
  std::size_t at = 0;
  while (at < payload.size()) {
    const std::uint8_t b = in.next();
    const std::size_t len = (b & 0x7f) == 0 ? payload.size() - at
                                            : std::min<std::size_t>(b & 0x7f, payload.size() - at);
    stream.add(payload.substr(at, len));
    at += len;
  }
  HttpOptions http_options;
  Http1Session session(handler, http_options, "192.0.2.1:1234");
  if (readiness) {
    if (session.serve_ready(stream) == Http1Session::State::upgraded) session.run_upgrade(stream);
  } else {
    session.serve(stream);
    if (session.upgraded()) session.run_upgrade(stream);
  }

  const std::string& out = stream.output();
  const ref::ResponseHead rh = ref::split_response_head(out);
  if (std::getenv("COGO_FUZZ_DEBUG") != nullptr) {
    std::fprintf(stderr, "handler calls %d, status %d\n", calls, rh.found ? rh.response.status : 0);
  }
  if (calls == 0) {
    // The engine answered without the handler (a malformed request):
    // never a 101.
    FUZZ_CHECK(!rh.found || rh.response.status != 101, "a 101 without the handler");
    return 0;
  }
  FUZZ_CHECK(calls == 1, "%d handler calls after a handshake", calls);
  const cogo_fuzz::RefRequests reqs = cogo_fuzz::parse_requests(payload);
  FUZZ_CHECK(!reqs.messages.empty() && reqs.messages[0].head_complete,
             "the handler ran for a request llhttp did not read");
  const cogo_fuzz::RefRequest& m = reqs.messages[0];

  // RFC 6455 4.2.1: each rule, and the status its failure gets.
  std::set<int> failures;
  if (m.method != "GET") failures.insert(400);                                 // item 1
  if (!(m.major > 1 || (m.major == 1 && m.minor >= 1))) failures.insert(400);  // item 1
  if (!lists(m.fields, "Upgrade", "websocket")) failures.insert(400);          // item 3
  if (!lists(m.fields, "Connection", "upgrade")) failures.insert(400);         // item 4
  const std::vector<std::string> keys = values(m.fields, "Sec-WebSocket-Key");
  const bool key_ok = keys.size() == 1 && ref::base64_decode(keys[0]).value_or("").size() == 16;
  if (!key_ok) failures.insert(400);  // item 5; 11.3.1: at most once
  const std::vector<std::string> versions = values(m.fields, "Sec-WebSocket-Version");
  if (versions.size() != 1) {
    failures.insert(400);  // item 6; 11.3.5: at most once
  } else if (versions[0] != "13") {
    failures.insert(426);  // 4.2.2 item 4 / 4.4
  }
  const std::vector<std::string> origins = values(m.fields, "Origin");
  bool origin_unclear = false;
  if (restricted) {
    if (origins.size() > 1) {
      origin_unclear = true;  // several Origin lines: either answer
    } else {
      bool allowed = false;
      for (const std::string& o : kOrigins)
        allowed = allowed || (origins.size() == 1 && ascii_iequals(o, origins[0]));
      if (!allowed) failures.insert(403);  // 4.2.2 item 4: 403 Forbidden
    }
  }
  std::vector<ref::Extension> exts;
  const std::vector<std::string> ext_values = values(m.fields, "Sec-WebSocket-Extensions");
  bool ext_ok = true;
  for (const std::string& v : ext_values) ext_ok = ext_ok && ref::parse_extension_list(v, exts);
  if (!ext_values.empty() && exts.empty()) ext_ok = false;  // 1#extension: one at least
  if (!ext_ok) failures.insert(400);                        // item 9: 9.1's grammar
  const bool has_body = !m.complete || !m.body.empty();
  if (has_body && !body_read) failures.insert(400);  // RFC 9110 7.8: the request is whole first

  const bool ok = failures.empty();
  FUZZ_CHECK(rh.found, "no response: %s", printable(out, 400).c_str());
  const cogo_fuzz::RefResponse& r = rh.response;
  if (std::getenv("COGO_FUZZ_DEBUG") != nullptr) {
    std::fprintf(stderr, "request: %s\noutput: %s\nfailures:", printable(payload, 600).c_str(),
                 printable(out, 600).c_str());
    for (int f : failures) std::fprintf(stderr, " %d", f);
    std::fprintf(stderr, "\n");
  }
  if (ok && !origin_unclear) {
    FUZZ_CHECK(r.status == 101, "a valid handshake answered %d: %s", r.status,
               printable(payload, 600).c_str());
  }
  if (r.status != 101) {
    FUZZ_CHECK(!accepted, "accept() returned an open WebSocket with %d", r.status);
    FUZZ_CHECK(failures.count(r.status) == 1 || (origin_unclear && r.status == 403),
               "status %d for a handshake whose failures are not that: %s", r.status,
               printable(payload, 600).c_str());
    if (r.status == 426) {
      bool says_13 = false;
      for (const std::string& v : values(r.fields, "Sec-WebSocket-Version"))
        for (const std::string& e : ref::list_elements(v)) says_13 = says_13 || e == "13";
      FUZZ_CHECK(says_13, "426 without Sec-WebSocket-Version: 13");
    }
    FUZZ_CHECK(lists(r.fields, "Connection", "close"), "a refused handshake keeps the connection");
    const cogo_fuzz::RefResponses all = cogo_fuzz::parse_responses(
        std::string_view(out).substr(rh.head_begin),
        [&reqs](std::size_t k) { return cogo_fuzz::answers_head(reqs, k); });
    FUZZ_CHECK(!all.error && !all.truncated && all.messages.size() == 1,
               "the refusal is not one whole response: %s", printable(out, 600).c_str());
    return 0;
  }

  // A 101.
  FUZZ_CHECK(ok, "101 for a handshake that breaks a rule (%d): %s", *failures.begin(),
             printable(payload, 600).c_str());
  FUZZ_CHECK(accepted, "101 sent, accept() returned no WebSocket");
  FUZZ_CHECK(ascii_iequals(r.field("Upgrade"), "websocket"), "101 without Upgrade: websocket");
  FUZZ_CHECK(lists(r.fields, "Connection", "upgrade"), "101 without Connection: upgrade");
  FUZZ_CHECK(r.field("Sec-WebSocket-Accept") == ref::accept_key(keys[0]),
             "Sec-WebSocket-Accept %s for the key %s, expected %s",
             r.field("Sec-WebSocket-Accept").c_str(), keys[0].c_str(),
             ref::accept_key(keys[0]).c_str());

  // 4.2.2 item 5.3: the subprotocol, the first of the server's the client offers.
  std::set<std::string> offered;
  for (const std::string& v : values(m.fields, "Sec-WebSocket-Protocol"))
    for (const std::string& e : ref::list_elements(v)) offered.insert(e);
  std::string want;
  for (const std::string& p : options.subprotocols) {
    if (offered.count(p) != 0) {
      want = p;
      break;
    }
  }
  FUZZ_CHECK(r.field("Sec-WebSocket-Protocol") == want &&
                 r.has_field("Sec-WebSocket-Protocol") == !want.empty(),
             "subprotocol %s, expected %s", r.field("Sec-WebSocket-Protocol").c_str(),
             want.c_str());

  // RFC 7692 7.1: the first offer the server can honour (valid, and not
  // asking for an 8-bit server window, which zlib cannot make).
  const ref::DeflateParams* first = nullptr;
  std::vector<ref::DeflateParams> offers;
  for (const ref::Extension& e : exts) {
    if (ascii_iequals(e.name, "permessage-deflate"))
      offers.push_back(ref::read_deflate_params(e, false));
  }
  for (const ref::DeflateParams& o : offers) {
    if (o.valid && (o.server_max_window_bits == 0 || o.server_max_window_bits >= 9)) {
      first = &o;
      break;
    }
  }
  const std::vector<std::string> answers = values(r.fields, "Sec-WebSocket-Extensions");
  if (!options.deflate.enabled || first == nullptr) {
    FUZZ_CHECK(answers.empty(), "extensions answered without an offer to accept: %s",
               answers.empty() ? "" : answers[0].c_str());
  } else {
    FUZZ_CHECK(answers.size() == 1, "%zu extension answers to a deflate offer", answers.size());
    std::vector<ref::Extension> answered;
    FUZZ_CHECK(ref::parse_extension_list(answers[0], answered) && answered.size() == 1 &&
                   answered[0].name == "permessage-deflate",
               "extension answer %s", answers[0].c_str());
    const ref::DeflateParams a = ref::read_deflate_params(answered[0], true);
    FUZZ_CHECK(ref::response_accepts(*first, a),
               "answer %s does not accept the first offer it can (RFC 7692 7.1): %s",
               answers[0].c_str(), printable(payload, 600).c_str());
    FUZZ_CHECK(!options.deflate.server_no_context_takeover || a.server_no_context_takeover,
               "server_no_context_takeover not said");
    FUZZ_CHECK(!options.deflate.client_no_context_takeover || a.client_no_context_takeover,
               "client_no_context_takeover not said");
  }

  // The handler returned: the WebSocket closed with 1000, and said nothing else.
  FUZZ_CHECK(std::string_view(out).substr(rh.head_end) == std::string_view("\x88\x02\x03\xe8", 4),
             "after the 101: %s", printable(std::string_view(out).substr(rh.head_end)).c_str());
  return 0;
}
