// websocket_deflate_test: permessage-deflate (RFC 7692) through a real
// cogo::http::Server and real sockets, in the three connection models:
// the negotiation of its four parameters, compressed messages both ways
// with and without context takeover, fragmented compressed messages, the
// RSV1 rules, data that does not inflate, and zip bombs against the
// message limit. The client compresses with zlib on its own
// (websocket_test_util.h), so what is checked is the wire format.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "cogo/http.h"
#include "cogo/websocket.h"
#include "websocket_test_util.h"

namespace {

using namespace ws_test;
using cogo::http::Server;

class Deflate : public ServerTest {
 protected:
  void SetUp() override { options_.deflate.enabled = true; }
  // negotiate() is the Sec-WebSocket-Extensions answer to an offer ("" when
  // declined), checking that the handshake itself succeeded.
  static std::string negotiate(int port, const std::string& offer) {
    Client c;
    c.connect(port);
    c.handshake(Client::request("/echo", "Sec-WebSocket-Extensions: " + offer + "\r\n"));
    EXPECT_EQ(c.status(), 101) << offer;
    return c.header("Sec-WebSocket-Extensions");
  }
};
INSTANTIATE_TEST_SUITE_P(Models, Deflate, kModels, model_name);

// sample() is text of words drawn at random (seeded by i): it compresses,
// but not to nothing, so a repeat of it compresses far better with the
// earlier one in the window.
std::string sample(int i, std::size_t size = 2000) {
  static const char* const kWords[] = {
      "alpha",  "bravo", "charlie", "delta", "echo",     "foxtrot", "golf", "hotel",  "india",
      "juliet", "kilo",  "lima",    "mike",  "november", "oscar",   "papa", "quebec", "romeo"};
  std::mt19937 rng(static_cast<unsigned>(i));
  std::string s;
  while (s.size() < size) {
    s += kWords[rng() % 18];
    s += ' ';
  }
  s.resize(size);
  return s;
}

// ---------------------------------------------------------------------------
// Negotiation (RFC 7692 5, 7.1)

TEST_P(Deflate, Negotiation_7_1_ParametersAnswered) {
  run([](int port, Server&) {
    EXPECT_EQ(negotiate(port, "permessage-deflate"), "permessage-deflate");
    // 7.1.2.2: client_max_window_bits without a value: nothing to answer
    // while the server is content with 15.
    EXPECT_EQ(negotiate(port, "permessage-deflate; client_max_window_bits"), "permessage-deflate");
    // 7.1.1.1: a client's server_no_context_takeover is accepted by echoing it.
    EXPECT_EQ(negotiate(port, "permessage-deflate; server_no_context_takeover"),
              "permessage-deflate; server_no_context_takeover");
    // 7.1.1.2: the client's hint is confirmed.
    EXPECT_EQ(negotiate(port, "permessage-deflate; client_no_context_takeover"),
              "permessage-deflate; client_no_context_takeover");
    // 7.1.2.1: server_max_window_bits is accepted with the same (or less).
    EXPECT_EQ(negotiate(port, "permessage-deflate; server_max_window_bits=10"),
              "permessage-deflate; server_max_window_bits=10");
    // Quoted values are values too (RFC 6455 9.1).
    EXPECT_EQ(negotiate(port, "permessage-deflate; server_max_window_bits=\"12\""),
              "permessage-deflate; server_max_window_bits=12");
    // Other extensions are declined, permessage-deflate found among them.
    EXPECT_EQ(negotiate(port, "x-webkit-deflate-frame, permessage-deflate"), "permessage-deflate");
  });
}

TEST_P(Deflate, Negotiation_5_1_InvalidOffersAreDeclined) {
  run([](int port, Server&) {
    for (
        const char* offer : {
            "permessage-deflate; unknown_param",  // unknown parameter
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",  // duplicate
            "permessage-deflate; server_no_context_takeover=1",  // a value where none goes
            "permessage-deflate; server_max_window_bits",        // a value is required
            "permessage-deflate; server_max_window_bits=16",     // out of 8..15
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=09",  // leading zero
            "permessage-deflate; client_max_window_bits=abc",
            "permessage-deflate; server_max_window_bits=8",  // zlib: no 8-bit window
        }) {
      SCOPED_TRACE(offer);
      EXPECT_EQ(negotiate(port, offer), "");
    }
  });
}

TEST_P(Deflate, Negotiation_5_1_FirstAcceptableOfferWins) {
  run([](int port, Server&) {
    EXPECT_EQ(negotiate(port,
                        "permessage-deflate; bogus, permessage-deflate; server_max_window_bits=11, "
                        "permessage-deflate"),
              "permessage-deflate; server_max_window_bits=11");
  });
}

TEST_P(Deflate, Negotiation_ServerOptionsShapeTheAnswer) {
  options_.deflate.server_no_context_takeover = true;
  options_.deflate.client_no_context_takeover = true;
  options_.deflate.server_max_window_bits = 11;
  options_.deflate.client_max_window_bits = 10;
  run([](int port, Server&) {
    // client_max_window_bits may be answered only when offered (7.1.2.2);
    // server_max_window_bits only when offered (the server still uses 11).
    EXPECT_EQ(negotiate(port, "permessage-deflate"),
              "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
    EXPECT_EQ(
        negotiate(port, "permessage-deflate; client_max_window_bits; server_max_window_bits=13"),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
        "server_max_window_bits=11; client_max_window_bits=10");
  });
}

TEST_P(Deflate, Negotiation_DisabledServerAnswersNoExtension) {
  options_.deflate.enabled = false;
  run([](int port, Server&) {
    Client c;
    c.open(port, "/echo", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    EXPECT_FALSE(c.has_header("Sec-WebSocket-Extensions"));
    // And RSV1 is then a protocol error (RFC 6455 5.2).
    ws_test::Deflate d;
    c.send_frame(0x1, d.compress("hello"), true, true);
    EXPECT_EQ(c.expect_close(), 1002);
  });
}

// ---------------------------------------------------------------------------
// Messages (RFC 7692 6, 7.2)

TEST_P(Deflate, Messages_7_2_CompressedBothWaysWithContextTakeover) {
  run([](int port, Server&) {
    Client c;
    c.open(port, "/echo", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    ASSERT_EQ(c.header("Sec-WebSocket-Extensions"), "permessage-deflate");
    ws_test::Deflate out;  // one context for the connection (takeover)
    ws_test::Inflate in;
    std::vector<std::size_t> sizes;
    for (int i = 0; i < 5; ++i) {
      const std::string text = sample(i % 2);
      c.send_frame(0x1, out.compress(text), true, true);
      auto f = c.read_frame();
      ASSERT_TRUE(f);
      EXPECT_TRUE(f->rsv1);  // 6.1: compressed, RSV1 on the first frame
      EXPECT_EQ(f->opcode, 0x1);
      sizes.push_back(f->payload.size());
      auto got = in.decompress(f->payload);
      ASSERT_TRUE(got);
      EXPECT_EQ(*got, text);
    }
    // With context takeover the server refers back to earlier messages:
    // the third message (same text as the first) is far smaller.
    EXPECT_LT(sizes[2], sizes[0] / 4);
  });
}

TEST_P(Deflate, Messages_7_1_1_NoContextTakeoverEachMessageStandsAlone) {
  run([](int port, Server&) {
    Client c;
    c.open(port, "/echo",
           "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
           "client_no_context_takeover\r\n");
    ws_test::Deflate out(15, /*context_takeover=*/false);
    for (int i = 0; i < 4; ++i) {
      const std::string text = sample(0);
      c.send_frame(0x1, out.compress(text), true, true);
      auto f = c.read_frame();
      ASSERT_TRUE(f);
      ws_test::Inflate fresh;  // a new decompressor per message must do
      auto got = fresh.decompress(f->payload);
      ASSERT_TRUE(got);
      EXPECT_EQ(*got, text);
    }
  });
}

TEST_P(Deflate, Messages_7_1_2_SmallWindowsBothWays) {
  options_.deflate.client_max_window_bits = 9;
  run([](int port, Server&) {
    Client c;
    c.open(port, "/echo",
           "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9; "
           "client_max_window_bits\r\n");
    EXPECT_EQ(c.header("Sec-WebSocket-Extensions"),
              "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9");
    ws_test::Deflate out(9);
    ws_test::Inflate in;
    const std::string text = sample(3, 100000);
    c.send_frame(0x2, out.compress(text), true, true);
    auto f = c.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(in.decompress(f->payload).value_or(""), text);
  });
}

TEST_P(Deflate, Messages_6_1_FragmentedCompressedMessage) {
  run([](int port, Server&) {
    Client c;
    c.open(port, "/echo", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    ws_test::Deflate out;
    ws_test::Inflate in;
    const std::string text = sample(7, 50000);
    const std::string z = out.compress(text);
    // RSV1 on the first frame only; the compressed bytes cut anywhere.
    const std::size_t a = z.size() / 3;
    const std::size_t b = 2 * z.size() / 3;
    c.send_frame(0x1, z.substr(0, a), false, true);
    c.send_frame(0x9, "mid");  // a control frame in between
    c.send_frame(0x0, z.substr(a, b - a), false, false);
    c.send_frame(0x0, z.substr(b), true, false);
    auto pong = c.read_frame();
    ASSERT_TRUE(pong);
    EXPECT_EQ(pong->opcode, 0xA);
    auto f = c.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(in.decompress(f->payload).value_or(""), text);
  });
}

TEST_P(Deflate, Messages_7_2_3_6_EmptyAndUncompressedMessagesMix) {
  run([](int port, Server&) {
    Client c;
    c.open(port, "/echo", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    ws_test::Deflate out;
    ws_test::Inflate in;
    // An empty compressed message (7.2.3.6: 0x00) and uncompressed ones
    // (RSV1 clear) are both allowed from the client.
    c.send_frame(0x1, std::string(1, '\0'), true, true);
    auto f = c.read_frame();
    ASSERT_TRUE(f);
    EXPECT_TRUE(f->payload.empty() || in.decompress(f->payload).value_or("x").empty());
    c.send_frame(0x1, "plain text");
    f = c.read_frame();
    ASSERT_TRUE(f);
    const std::string got = f->rsv1 ? in.decompress(f->payload).value_or("") : f->payload;
    EXPECT_EQ(got, "plain text");
    c.send_frame(0x1, out.compress("after"), true, true);
    f = c.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(in.decompress(f->payload).value_or(""), "after");
  });
}

TEST_P(Deflate, Messages_6_1_Rsv1OnAContinuationIs1002) {
  run([](int port, Server&) {
    Client c;
    c.open(port, "/echo", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    ws_test::Deflate out;
    const std::string z = out.compress(sample(1));
    c.send_frame(0x1, z.substr(0, 10), false, true);
    c.send_frame(0x0, z.substr(10), true, true);
    EXPECT_EQ(c.expect_close(), 1002);
  });
}

TEST_P(Deflate, Messages_DataThatDoesNotInflateIs1007) {
  run([](int port, Server&) {
    Client c;
    c.open(port, "/echo", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    c.send_frame(0x2, std::string("\xFF\xFF\xFF\xFF\xFF\xFF", 6), true, true);
    EXPECT_EQ(c.expect_close(), 1007);
  });
}

TEST_P(Deflate, Messages_InflatedTextIsCheckedForUtf8) {
  run([](int port, Server&) {
    Client c;
    c.open(port, "/echo", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    ws_test::Deflate out;
    c.send_frame(0x1, out.compress("valid then \xC0\xAF overlong"), true, true);
    EXPECT_EQ(c.expect_close(), 1007);
  });
}

TEST_P(Deflate, Limits_ZipBombIs1009) {
  options_.max_message_bytes = 1 << 20;
  run([](int port, Server& s) {
    Client c;
    c.open(port, "/echo", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    // 64 MiB of zeros compress to ~64 KiB: far under the limit on the wire,
    // 64 times over it inflated.
    ws_test::Deflate out;
    const std::string z = out.compress(std::string(64 << 20, '\0'));
    ASSERT_LT(z.size(), std::size_t{1} << 20);
    c.send_frame(0x2, z, true, true);
    EXPECT_EQ(c.expect_close(), 1009);
    EXPECT_TRUE(c.eof());
    EXPECT_TRUE(wait_until([&] { return s.counters().upgraded == 0; }));
  });
}

TEST_P(Deflate, Limits_ExactlyTheLimitInflatedIsAccepted) {
  options_.max_message_bytes = 100000;
  run([](int port, Server&) {
    Client c;
    c.open(port, "/echo", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    ws_test::Deflate out;
    ws_test::Inflate in;
    c.send_frame(0x2, out.compress(std::string(100000, 'a')), true, true);
    auto f = c.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(in.decompress(f->payload).value_or("").size(), 100000u);
    c.send_frame(0x2, out.compress(std::string(100001, 'a')), true, true);
    EXPECT_EQ(c.expect_close(), 1009);
  });
}

TEST_P(Deflate, Limits_MaxConnectionsServesTheRestUncompressed) {
  options_.deflate.max_connections = 1;
  run([](int port, Server&) {
    Client a;
    a.open(port, "/echo", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    EXPECT_EQ(a.header("Sec-WebSocket-Extensions"), "permessage-deflate");
    Client b;
    b.open(port, "/echo", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    EXPECT_FALSE(b.has_header("Sec-WebSocket-Extensions"));
    b.text("uncompressed");
    EXPECT_EQ(b.read_message()->payload, "uncompressed");
  });
}

}  // namespace
