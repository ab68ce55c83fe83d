// websocket_unit_test: the WebSocket layer's pure functions on bytes alone
// (no sockets): the incremental UTF-8 validator against a reference decoder
// over every sequence of up to three bytes (RFC 3629 / Unicode table 3-7),
// frame headers read and written (RFC 6455 5.2), the Receiver fed the same
// frames whole and cut at every byte (the result must not depend on how
// input arrives), the handshake's accept key (RFC 6455 1.3) and key check,
// and the permessage-deflate negotiation table (RFC 7692 7.1).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "websocket_deflate.h"
#include "websocket_frame.h"
#include "websocket_handshake.h"
#include "websocket_receiver.h"
#include "websocket_test_util.h"
#include "websocket_utf8.h"

namespace {

using namespace cogo::websocket::detail;

// reference_valid() decodes UTF-8 the slow, obvious way.
bool reference_valid(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    int len;
    std::uint32_t cp;
    if (b < 0x80) {
      len = 1;
      cp = b;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4;
      cp = b & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (int k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    const std::uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

TEST(Utf8, AgreesWithAReferenceOnEverySequenceUpToThreeBytes) {
  std::string s;
  for (int a = 0; a < 256; ++a) {
    for (int b = -1; b < 256; ++b) {
      for (int c = -1; c < 256; ++c) {
        if (b < 0 && c >= 0) continue;
        s.assign(1, static_cast<char>(a));
        if (b >= 0) s.push_back(static_cast<char>(b));
        if (c >= 0) s.push_back(static_cast<char>(c));
        ASSERT_EQ(valid_utf8(s.data(), s.size()), reference_valid(s))
            << ::testing::PrintToString(s);
      }
    }
  }
}

TEST(Utf8, FourByteSequencesAndSplitsAnywhere) {
  std::mt19937 rng(7);
  for (int n = 0; n < 200000; ++n) {
    std::string s(4 + rng() % 8, '\0');
    for (char& ch : s)
      ch = static_cast<char>(rng() % 3 == 0 ? 0xF0 + rng() % 6 : 0x80 + rng() % 64);
    if (n % 2) s[0] = static_cast<char>(0xF0 + rng() % 5);
    const bool want = reference_valid(s);
    ASSERT_EQ(valid_utf8(s.data(), s.size()), want);
    // The same bytes fed in two calls, cut anywhere (RFC 6455 8.1: across
    // fragments).
    const std::size_t cut = rng() % (s.size() + 1);
    Utf8Validator v;
    const bool ok = v.feed(s.data(), cut) && v.feed(s.data() + cut, s.size() - cut) && v.complete();
    ASSERT_EQ(ok, want);
  }
}

TEST(Frame, HeadersRoundTripInTheShortestForm_5_2) {
  for (std::uint64_t len : {0ull, 125ull, 126ull, 65535ull, 65536ull, (1ull << 40)}) {
    unsigned char buf[kMaxHeaderBytes];
    const std::size_t n = write_frame_header(buf, 0x2, true, true, len);
    EXPECT_EQ(n, len < 126 ? 2u : len <= 0xFFFF ? 4u : 10u);
    FrameHeader h;
    ASSERT_EQ(parse_frame_header(buf, n, h), HeaderStatus::ok);
    EXPECT_EQ(h.length, len);
    EXPECT_TRUE(h.fin);
    EXPECT_TRUE(h.rsv1);
    EXPECT_FALSE(h.masked);  // 5.1: the server never masks
    EXPECT_EQ(h.opcode, 0x2);
    for (std::size_t k = 0; k < n; ++k)
      EXPECT_EQ(parse_frame_header(buf, k, h), HeaderStatus::need_more);
  }
}

TEST(Frame, UnmaskAtAnyOffset_5_3) {
  const unsigned char mask[4] = {0x11, 0x22, 0x33, 0x44};
  std::string plain(100, '\0');
  for (std::size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<char>(i);
  std::string masked = plain;
  for (std::size_t i = 0; i < masked.size(); ++i)
    masked[i] = static_cast<char>(masked[i] ^ mask[i % 4]);
  for (std::size_t from = 0; from < 20; ++from) {
    std::string out(masked.size() - from, '\0');
    unmask(reinterpret_cast<unsigned char*>(out.data()),
           reinterpret_cast<const unsigned char*>(masked.data()) + from, out.size(), mask, from);
    EXPECT_EQ(out, plain.substr(from));
  }
}

// Events of a Receiver run: what it produced, in order, as text.
std::string run_receiver(const std::string& wire, const std::vector<std::size_t>& cuts,
                         bool deflate) {
  Receiver::Config cfg;
  cfg.max_frame = 1 << 20;
  cfg.deflate.enabled = deflate;
  Receiver rx(cfg);
  std::string log;
  std::string pending;  // unconsumed input, passed again first
  std::string msg;
  std::size_t at = 0;
  std::vector<std::size_t> points = cuts;
  points.push_back(wire.size());
  for (std::size_t p : points) {
    pending += wire.substr(at, p - at);
    at = p;
    for (;;) {
      char out[7];  // a tiny output: many data steps
      const Receiver::Step st = rx.step(reinterpret_cast<unsigned char*>(pending.data()),
                                        pending.size(), out, sizeof out, 1 << 20);
      pending.erase(0, st.consumed);
      msg.append(out, st.produced);
      if (st.event == Receiver::Event::need_more) break;
      if (st.event == Receiver::Event::data) continue;
      if (st.event == Receiver::Event::message_end) {
        log += (rx.message_kind() == cogo::websocket::Kind::text ? "T:" : "B:") + msg + "|";
        msg.clear();
      } else if (st.event == Receiver::Event::ping) {
        log += "ping:" + std::string(rx.control_payload()) + "|";
      } else if (st.event == Receiver::Event::pong) {
        log += "pong|";
      } else if (st.event == Receiver::Event::close) {
        return log + "close:" + std::to_string(rx.close_code()) + "|";
      } else {
        return log + "fail:" + std::to_string(rx.fail_code()) + "|";
      }
    }
  }
  return log;
}

TEST(Receiver, TheSameEventsHoweverTheInputIsCut) {
  ws_test::Deflate z;
  const std::string wire =
      ws_test::build_frame(0x1, "hello") + ws_test::build_frame(0x2, std::string(300, 'b')) +
      ws_test::build_frame(0x1, "fr", false) + ws_test::build_frame(0x9, "p1") +
      ws_test::build_frame(0x0, "ag\xCE", false) + ws_test::build_frame(0x0, "\xBA") +
      ws_test::build_frame(0x1, z.compress(std::string(5000, 'q') + "end"), true, true) +
      ws_test::build_frame(0xA, "") + ws_test::build_frame(0x8, ws_test::close_payload(1000));
  const std::string whole = run_receiver(wire, {}, true);
  EXPECT_EQ(whole, "T:hello|B:" + std::string(300, 'b') + "|ping:p1|T:frag\xCE\xBA|T:" +
                       std::string(5000, 'q') + "end|pong|close:1000|");
  for (std::size_t cut = 1; cut < wire.size(); ++cut) {
    ASSERT_EQ(run_receiver(wire, {cut}, true), whole) << cut;
  }
  std::vector<std::size_t> every;
  for (std::size_t k = 1; k < wire.size(); ++k) every.push_back(k);
  EXPECT_EQ(run_receiver(wire, every, true), whole);
}

TEST(Handshake, AcceptKeyOfTheRfcExample_1_3) {
  EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_TRUE(valid_key("dGhlIHNhbXBsZSBub25jZQ=="));
  EXPECT_FALSE(valid_key("dGhlIHNhbXBsZSBub25jZQ="));
  EXPECT_FALSE(valid_key("dGhlIHNhbXBsZSBub25jZQ=A"));
  EXPECT_FALSE(valid_key("dGhlIHNhbXBsZSBub25j*Q=="));
}

// Sec-WebSocket-Accept for keys of all-zero and all-one bits (SHA-1 and
// base64 of Python's hashlib and base64 modules).
TEST(Handshake, AcceptKeysOfAllZeroAndAllOneBits) {
  EXPECT_EQ(accept_key("AAAAAAAAAAAAAAAAAAAAAA=="), "ICX+Yqv66kxgM0FcWaLWlFLwTAI=");
  EXPECT_EQ(accept_key("/////////////////////w=="), "XXpj4jYzLM2yUE0C7TIgMwTQh2g=");
}

TEST(Deflate, NegotiationTable_7_1) {
  cogo::websocket::Deflate opts;
  opts.enabled = true;
  struct Row {
    const char* offer;
    const char* answer;  // "" declined
    int server_bits;
    int client_bits;
  };
  const Row rows[] = {
      {"permessage-deflate", "permessage-deflate", 15, 15},
      // 7.1.2.2: the offer's 10 is a hint; the server inflating with 10 says so.
      {"permessage-deflate; client_max_window_bits=10",
       "permessage-deflate; client_max_window_bits=10", 15, 10},
      {"permessage-deflate; server_max_window_bits=12",
       "permessage-deflate; server_max_window_bits=12", 12, 15},
      {"permessage-deflate;server_no_context_takeover ;  client_max_window_bits",
       "permessage-deflate; server_no_context_takeover", 15, 15},
      {"PerMessage-Deflate; Server_Max_Window_Bits=9",
       "permessage-deflate; server_max_window_bits=9", 9, 15},
      {"permessage-deflate; client_max_window_bits=16", "", 0, 0},
      {"permessage-deflate; server_max_window_bits=8", "", 0, 0},
      {"foo, bar; baz=1", "", 0, 0},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.offer);
    const DeflateNegotiation n = negotiate_deflate({r.offer}, opts);
    EXPECT_FALSE(n.malformed);
    EXPECT_EQ(n.response, r.answer);
    EXPECT_EQ(n.params.enabled, *r.answer != '\0');
    if (n.params.enabled) {
      EXPECT_EQ(n.params.server_window_bits, r.server_bits);
      EXPECT_EQ(n.params.client_window_bits, r.client_bits);
    }
  }
  // RFC 6455 9.1: a quoted value is a token once unescaped; 1#extension
  // needs one at least.
  for (const char* bad :
       {"permessage-deflate;", "; x", "permessage-deflate; a=\"unterminated", "a b",
        "foo; bar=\"a b\"", "permessage-deflate; client_max_window_bits=\"\"", ",", ""}) {
    EXPECT_TRUE(negotiate_deflate({bad}, opts).malformed) << bad;
  }
  EXPECT_FALSE(negotiate_deflate({"foo; bar=\"b\\az\"", ", permessage-deflate ,"}, opts).malformed);
  EXPECT_FALSE(negotiate_deflate({}, opts).malformed);
}

}  // namespace
