// websocket_test: RFC 6455 through a real cogo::http::Server and real
// sockets, in the three connection models, grouped like the
// Autobahn|Testsuite: handshake, framing, pings/pongs, reserved bits,
// opcodes, fragmentation, UTF-8, close codes and reasons, limits. Each case
// names the RFC section whose rule it checks. The client is a raw one
// (websocket_test_util.h) so that it can break each rule on purpose.
// Compression is websocket_deflate_test, the API (writers, cancellation,
// shutdown, TLS) websocket_api_test, interoperability websocket_interop_test.
//
// Waits are hang guards, never assertions about time.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cogo/http.h"
#include "cogo/websocket.h"
#include "websocket_test_util.h"

namespace {

using namespace ws_test;
using cogo::http::Request;
using cogo::http::Response;
using cogo::http::Server;

class Ws : public ServerTest {};
INSTANTIATE_TEST_SUITE_P(Models, Ws, kModels, model_name);

// ---------------------------------------------------------------------------
// 1. Opening handshake (RFC 6455 4.2)

TEST_P(Ws, Handshake_4_2_2_AcceptsWithTheRfcExampleKey) {
  run([](int port, Server&) {
    Client c;
    c.connect(port);
    c.handshake(Client::request("/echo"));
    EXPECT_EQ(c.status(), 101);
    // RFC 6455 1.3 / 4.2.2 item 5.4: the example key's accept value.
    EXPECT_EQ(c.header("Sec-WebSocket-Accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    EXPECT_TRUE(cogo::http::iequals(c.header("Upgrade"), "websocket"));
    EXPECT_TRUE(cogo::http::iequals(c.header("Connection"), "Upgrade"));
    EXPECT_FALSE(c.has_header("Sec-WebSocket-Protocol"));
    EXPECT_FALSE(c.has_header("Sec-WebSocket-Extensions"));  // none offered
    EXPECT_FALSE(c.has_header("Content-Length"));
    c.text("hi");
    auto m = c.read_message();
    ASSERT_TRUE(m);
    EXPECT_EQ(m->payload, "hi");
    EXPECT_FALSE(m->masked);  // 5.1: a server never masks
  });
}

TEST_P(Ws, Handshake_4_2_1_CaseAndListsInUpgradeAndConnection) {
  run([](int port, Server&) {
    Client c;
    c.connect(port);
    c.handshake(
        "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: WebSocket\r\nConnection: keep-alive, UPGRADE\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    EXPECT_EQ(c.status(), 101);
  });
}

struct BadHandshake {
  const char* name;
  std::string request;
  int status;
};

TEST_P(Ws, Handshake_4_2_1_MalformedRequestsAre400AndClosed) {
  const std::string key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
  const std::vector<BadHandshake> cases = {
      {"no Upgrade (4.2.1 item 3)",
       "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\n" + key +
           "Sec-WebSocket-Version: 13\r\n\r\n",
       400},
      {"Upgrade not websocket (item 3)",
       "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n" + key +
           "Sec-WebSocket-Version: 13\r\n\r\n",
       400},
      {"no Connection: Upgrade (item 4)",
       "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n" + key +
           "Sec-WebSocket-Version: 13\r\n\r\n",
       400},
      {"no key (item 5)",
       "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Version: 13\r\n\r\n",
       400},
      {"key of 15 bytes (item 5)",
       "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\nSec-WebSocket-Version: 13\r\n\r\n",
       400},
      {"key not base64 (item 5)",
       "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\nSec-WebSocket-Version: 13\r\n\r\n",
       400},
      {"two keys (item 5)",
       "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + key +
           key + "Sec-WebSocket-Version: 13\r\n\r\n",
       400},
      {"no version (item 6)",
       "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + key +
           "\r\n",
       400},
      {"HTTP/1.0 (4.1 item 1)",
       "GET /echo HTTP/1.0\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + key +
           "Sec-WebSocket-Version: 13\r\n\r\n",
       400},
      {"malformed Sec-WebSocket-Extensions (9.1)",
       "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + key +
           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; =x\r\n\r\n",
       400},
  };
  run([&](int port, Server& s) {
    for (const BadHandshake& bad : cases) {
      SCOPED_TRACE(bad.name);
      Client c;
      c.connect(port);
      c.handshake(bad.request);
      EXPECT_EQ(c.status(), bad.status);
      EXPECT_TRUE(cogo::http::iequals(c.header("Connection"), "close"));
      EXPECT_FALSE(c.body().empty());
      EXPECT_TRUE(c.eof());  // served no further
    }
    EXPECT_EQ(s.counters().upgraded, 0u);
  });
}

TEST_P(Ws, Handshake_4_4_OtherVersionIs426WithTheVersionSpoken) {
  run([](int port, Server&) {
    Client c;
    c.connect(port);
    c.handshake(
        "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n");
    EXPECT_EQ(c.status(), 426);
    EXPECT_EQ(c.header("Sec-WebSocket-Version"), "13");
    EXPECT_TRUE(c.eof());
  });
}

TEST_P(Ws, Handshake_4_1_NotGetIs400) {
  run(
      [](int port, Server&) {
        Client c;
        c.connect(port);
        c.handshake(
            "POST /any HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            "Content-Length: 0\r\n\r\n");
        EXPECT_EQ(c.status(), 400);
      },
      [](Server& s) {
        s.router().post("/any", [](Request& req, Response& res) {
          auto ws = cogo::websocket::accept(req, res);
          EXPECT_FALSE(ws);
        });
      });
}

TEST_P(Ws, Handshake_4_2_2_OriginNotAllowedIs403) {
  options_.origins = {"https://good.example"};
  run([](int port, Server&) {
    {
      Client c;
      c.connect(port);
      c.handshake(Client::request("/echo", "Origin: https://evil.example\r\n"));
      EXPECT_EQ(c.status(), 403);
      EXPECT_TRUE(c.eof());
    }
    {
      Client c;
      c.connect(port);
      c.handshake(Client::request("/echo", "Origin: https://GOOD.example\r\n"));
      EXPECT_EQ(c.status(), 101);
    }
  });
}

TEST_P(Ws, Handshake_4_2_2_SubprotocolIsTheServersFirstThatTheClientOffers) {
  options_.subprotocols = {"v2.chat", "v1.chat"};
  run([](int port, Server&) {
    {
      Client c;
      c.connect(port);
      c.handshake(Client::request("/echo", "Sec-WebSocket-Protocol: v1.chat, v2.chat\r\n"));
      EXPECT_EQ(c.status(), 101);
      EXPECT_EQ(c.header("Sec-WebSocket-Protocol"), "v2.chat");
    }
    {
      Client c;
      c.connect(port);
      c.handshake(Client::request("/echo", "Sec-WebSocket-Protocol: v1.chat\r\n"));
      EXPECT_EQ(c.header("Sec-WebSocket-Protocol"), "v1.chat");
    }
    {
      // Case-sensitive, and none when nothing matches (the client decides).
      Client c;
      c.connect(port);
      c.handshake(Client::request("/echo", "Sec-WebSocket-Protocol: V1.CHAT, mqtt\r\n"));
      EXPECT_EQ(c.status(), 101);
      EXPECT_FALSE(c.has_header("Sec-WebSocket-Protocol"));
    }
  });
}

TEST_P(Ws, Handshake_FramesSentRightBehindTheRequestAreRead) {
  run([](int port, Server&) {
    Client c;
    c.connect(port);
    // The first frames travel in the same write as the handshake.
    c.handshake(Client::request("/echo") + build_frame(0x1, "early") + build_frame(0x2, "bird"));
    ASSERT_EQ(c.status(), 101);
    EXPECT_EQ(c.read_message()->payload, "early");
    EXPECT_EQ(c.read_message()->payload, "bird");
  });
}

// ---------------------------------------------------------------------------
// 2. Framing (5.2)

TEST_P(Ws, Framing_5_2_PayloadLengthsAcrossEveryEncoding) {
  run([](int port, Server&) {
    Client c;
    c.open(port);
    for (std::size_t n : {0u, 1u, 125u, 126u, 127u, 65535u, 65536u, 300000u}) {
      SCOPED_TRACE(n);
      std::string payload(n, 'x');
      for (std::size_t i = 0; i < n; ++i) payload[i] = static_cast<char>(i * 7);
      c.binary(payload);
      auto m = c.read_message();
      ASSERT_TRUE(m);
      EXPECT_EQ(m->opcode, 0x2);
      EXPECT_EQ(m->payload, payload);
    }
  });
}

TEST_P(Ws, Framing_ManyConnectionsAtOnceEachGetsItsOwnBytes) {
  // Goroutines move between threads whenever they wait: nothing a
  // connection reads may land in a buffer another one uses.
  run([](int port, Server&) {
    std::atomic<int> wrong{0};
    std::vector<std::thread> clients;
    for (int k = 0; k < 16; ++k) {
      clients.emplace_back([&, k] {
        Client c;
        c.open(port);
        for (int i = 0; i < 300; ++i) {
          std::string msg = "client ";
          msg += std::to_string(k);
          msg += " message ";
          msg += std::to_string(i);
          msg.append(static_cast<std::size_t>(i % 40), static_cast<char>('a' + k));
          c.text(msg);
          auto m = c.read_message();
          if (!m || m->payload != msg) ++wrong;
        }
      });
    }
    for (auto& t : clients) t.join();
    EXPECT_EQ(wrong.load(), 0);
  });
}

TEST_P(Ws, Framing_5_2_BytesArrivingOneAtATime) {
  run([](int port, Server&) {
    Client c;
    c.open(port);
    const std::string f = build_frame(0x1, std::string(300, 'a')) + build_frame(0x9, "p") +
                          build_frame(0x1, "é", false) + build_frame(0x0, "!");
    for (char b : f) c.send(std::string(1, b));
    EXPECT_EQ(c.read_message()->payload, std::string(300, 'a'));
    auto pong = c.read_frame();
    ASSERT_TRUE(pong);
    EXPECT_EQ(pong->opcode, 0xA);
    EXPECT_EQ(c.read_message()->payload, "é!");
  });
}

TEST_P(Ws, Framing_5_1_UnmaskedClientFrameIs1002) {
  run([](int port, Server&) {
    Client c;
    c.open(port);
    c.send(build_frame(0x1, "hello", true, false, /*mask=*/false));
    EXPECT_EQ(c.expect_close(), 1002);
    EXPECT_TRUE(c.eof());
  });
}

TEST_P(Ws, Framing_5_2_LengthNotInShortestFormIs1002) {
  run([](int port, Server&) {
    for (int form : {16, 64}) {
      Client c;
      c.open(port);
      c.send(build_frame(0x1, "short", true, false, true, form));
      EXPECT_EQ(c.expect_close(), 1002) << form;
    }
  });
}

TEST_P(Ws, Framing_5_2_SixtyFourBitLengthWithTheTopBitSetIs1002) {
  run([](int port, Server&) {
    Client c;
    c.open(port);
    std::string f = "\x82\xFF";
    f += std::string("\x80\x00\x00\x00\x00\x00\x00\x01", 8);
    f += std::string("\x01\x02\x03\x04", 4);
    c.send(f);
    EXPECT_EQ(c.expect_close(), 1002);
  });
}

// ---------------------------------------------------------------------------
// 3. Pings and pongs (5.5.2, 5.5.3)

TEST_P(Ws, Ping_5_5_2_AnsweredWithThePayload) {
  run([](int port, Server&) {
    Client c;
    c.open(port);
    for (std::size_t n : {0u, 10u, 125u}) {
      const std::string payload(n, 'p');
      c.send_frame(0x9, payload);
      auto f = c.read_frame();
      ASSERT_TRUE(f);
      EXPECT_EQ(f->opcode, 0xA);
      EXPECT_EQ(f->payload, payload);
      EXPECT_TRUE(f->fin);
    }
  });
}

TEST_P(Ws, Ping_5_5_PayloadOver125Is1002) {
  run([](int port, Server&) {
    Client c;
    c.open(port);
    c.send_frame(0x9, std::string(126, 'p'));
    EXPECT_EQ(c.expect_close(), 1002);
  });
}

TEST_P(Ws, Ping_5_5_FragmentedControlFrameIs1002) {
  run([](int port, Server&) {
    Client c;
    c.open(port);
    c.send_frame(0x9, "frag", /*fin=*/false);
    EXPECT_EQ(c.expect_close(), 1002);
  });
}

TEST_P(Ws, Pong_5_5_3_UnsolicitedPongIsIgnored) {
  run([](int port, Server&) {
    Client c;
    c.open(port);
    c.send_frame(0xA, "unasked");
    c.text("after");
    auto m = c.read_message();
    ASSERT_TRUE(m);
    EXPECT_EQ(m->payload, "after");
  });
}

TEST_P(Ws, Ping_AnsweredWhileTheHandlerWaitsInRead) {
  // The handler only reads: pings are answered inside read().
  run(
      [](int port, Server&) {
        Client c;
        c.open(port, "/sink");
        for (int i = 0; i < 20; ++i) {
          const std::string payload = std::to_string(i * 1000);
          c.send_frame(0x9, payload);
          auto f = c.read_frame();
          ASSERT_TRUE(f);
          EXPECT_EQ(f->opcode, 0xA);
          EXPECT_EQ(f->payload, payload);
        }
      },
      [](Server& s) {
        s.router().get("/sink", [](Request& req, Response& res) {
          auto ws = cogo::websocket::accept(req, res);
          cogo::websocket::Message m;
          while (ws.read(m)) {
          }
        });
      });
}

TEST_P(Ws, KeepAlive_PingAfterSilenceAndCloseWithoutPong) {
  options_.ping_interval = 150ms;
  options_.pong_timeout = 150ms;
  run([](int port, Server&) {
    {
      // Answering keeps the connection: three pings answered, still echoing.
      Client c;
      c.open(port);
      for (int i = 0; i < 3; ++i) {
        auto f = c.read_frame();
        ASSERT_TRUE(f);
        ASSERT_EQ(f->opcode, 0x9);
        c.send_frame(0xA, f->payload);
      }
      c.text("alive");
      EXPECT_EQ(c.read_message()->payload, "alive");
    }
    {
      // Silence after the ping: the server ends the connection.
      Client c;
      c.open(port);
      auto f = c.read_frame();
      ASSERT_TRUE(f);
      EXPECT_EQ(f->opcode, 0x9);
      EXPECT_TRUE(c.eof());
    }
  });
}

// ---------------------------------------------------------------------------
// 4. Reserved bits (5.2)

TEST_P(Ws, ReservedBits_5_2_WithoutAnExtensionAre1002) {
  run([](int port, Server&) {
    for (std::uint8_t bits : {0x40, 0x20, 0x10, 0x70}) {
      SCOPED_TRACE(int(bits));
      Client c;
      c.open(port);
      c.send(build_frame(0x1, "x", true, bits == 0x40, true, 0, bits == 0x40 ? 0 : bits));
      EXPECT_EQ(c.expect_close(), 1002);
    }
    // On a control frame too.
    Client c;
    c.open(port);
    c.send(build_frame(0x9, "x", true, true));
    EXPECT_EQ(c.expect_close(), 1002);
  });
}

// ---------------------------------------------------------------------------
// 5. Opcodes (5.2)

TEST_P(Ws, Opcodes_5_2_ReservedOpcodesAre1002) {
  run([](int port, Server&) {
    for (std::uint8_t op : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15}) {
      SCOPED_TRACE(int(op));
      Client c;
      c.open(port);
      c.text("before");
      EXPECT_EQ(c.read_message()->payload, "before");
      c.send_frame(op, "x");
      EXPECT_EQ(c.expect_close(), 1002);
    }
  });
}

// ---------------------------------------------------------------------------
// 6. Fragmentation (5.4)

TEST_P(Ws, Fragmentation_5_4_FragmentsMakeOneMessage) {
  run([](int port, Server&) {
    Client c;
    c.open(port);
    c.send_frame(0x1, "frag", false);
    c.send_frame(0x0, "men", false);
    c.send_frame(0x0, "", false);
    c.send_frame(0x0, "ted");
    auto m = c.read_message();
    ASSERT_TRUE(m);
    EXPECT_EQ(m->opcode, 0x1);
    EXPECT_EQ(m->payload, "fragmented");
  });
}

TEST_P(Ws, Fragmentation_5_4_ControlFramesBetweenFragments) {
  run([](int port, Server&) {
    Client c;
    c.open(port);
    c.send_frame(0x2, "a", false);
    c.send_frame(0x9, "ping1");
    c.send_frame(0x0, "b", false);
    c.send_frame(0xA, "unsolicited");
    c.send_frame(0x9, "ping2");
    c.send_frame(0x0, "c");
    auto p1 = c.read_frame();
    ASSERT_TRUE(p1);
    EXPECT_EQ(p1->opcode, 0xA);
    EXPECT_EQ(p1->payload, "ping1");
    auto p2 = c.read_frame();
    ASSERT_TRUE(p2);
    EXPECT_EQ(p2->payload, "ping2");
    auto m = c.read_message();
    ASSERT_TRUE(m);
    EXPECT_EQ(m->payload, "abc");
  });
}

TEST_P(Ws, Fragmentation_5_4_ContinuationWithNothingToContinueIs1002) {
  run([](int port, Server&) {
    Client c;
    c.open(port);
    c.send_frame(0x0, "orphan");
    EXPECT_EQ(c.expect_close(), 1002);
  });
}

TEST_P(Ws, Fragmentation_5_4_NewMessageInsideAFragmentedOneIs1002) {
  run([](int port, Server&) {
    Client c;
    c.open(port);
    c.send_frame(0x1, "start", false);
    c.send_frame(0x1, "again");
    EXPECT_EQ(c.expect_close(), 1002);
  });
}

// ---------------------------------------------------------------------------
// 7. UTF-8 (5.6, 8.1)

TEST_P(Ws, Utf8_8_1_ValidTextRoundTrips) {
  run([](int port, Server&) {
    Client c;
    c.open(port);
    const std::vector<std::string> texts = {"",
                                            "ascii",
                                            "κόσμε",
                                            "\xF0\x9F\x98\x80 emoji",
                                            "\xEF\xBB\xBF BOM",
                                            "\xF4\x8F\xBF\xBF max",
                                            "\xED\x9F\xBF below surrogates",
                                            "\xEE\x80\x80 above surrogates"};
    for (const std::string& t : texts) {
      c.text(t);
      auto m = c.read_message();
      ASSERT_TRUE(m) << t;
      EXPECT_EQ(m->payload, t);
    }
  });
}

TEST_P(Ws, Utf8_8_1_CodePointsSplitAcrossFragmentsAndWrites) {
  run([](int port, Server&) {
    Client c;
    c.open(port);
    // "κόσμε" split inside each multi-byte sequence.
    const std::string t = "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5";
    c.send_frame(0x1, t.substr(0, 1), false);
    c.send_frame(0x0, t.substr(1, 3), false);
    c.send_frame(0x0, t.substr(4, 4), false);
    c.send_frame(0x0, t.substr(8));
    EXPECT_EQ(c.read_message()->payload, t);
    // A 4-byte sequence across two TCP writes inside one frame.
    const std::string f = build_frame(0x1, "\xF0\x9F\x98\x80");
    c.send(f.substr(0, f.size() - 2));
    std::this_thread::sleep_for(20ms);
    c.send(f.substr(f.size() - 2));
    EXPECT_EQ(c.read_message()->payload, "\xF0\x9F\x98\x80");
  });
}

TEST_P(Ws, Utf8_8_1_InvalidSequencesAre1007) {
  const std::vector<std::string> bad = {
      "\x80",              // a lone continuation byte
      "\xC0\xAF",          // overlong '/'
      "\xE0\x80\xAF",      // overlong, 3 bytes
      "\xF0\x80\x80\xAF",  // overlong, 4 bytes
      "\xED\xA0\x80",      // a surrogate (U+D800)
      "\xED\xBF\xBF",      // a surrogate (U+DFFF)
      "\xF4\x90\x80\x80",  // above U+10FFFF
      "\xF5\x80\x80\x80",  // no such lead byte
      "\xFE",              // never in UTF-8
      "\xCE\xBA\xE1\xBD",  // cut short at the message's end
      "ab\xC3(",           // a lead without its continuation
  };
  run([&](int port, Server&) {
    for (const std::string& b : bad) {
      SCOPED_TRACE(::testing::PrintToString(b));
      Client c;
      c.open(port);
      c.text(b);
      EXPECT_EQ(c.expect_close(), 1007);
      EXPECT_TRUE(c.eof());
    }
  });
}

TEST_P(Ws, Utf8_8_1_FailsFastAtTheFirstBadByte) {
  run([](int port, Server&) {
    {
      // The first fragment is already invalid: 1007 without the rest.
      Client c;
      c.open(port);
      c.send_frame(0x1, "good \xFF then", false);
      EXPECT_EQ(c.expect_close(), 1007);
    }
    {
      // Inside one frame whose payload has not all arrived: the header
      // promises 1000 bytes, 10 come, and the tenth is bad.
      Client c;
      c.open(port);
      const std::string f = build_frame(0x1, std::string(9, 'a') + "\xFF" + std::string(990, 'b'));
      c.send(f.substr(0, 2 + 2 + 4 + 10));
      EXPECT_EQ(c.expect_close(), 1007);
    }
  });
}

// ---------------------------------------------------------------------------
// 8. Close (5.5.1, 7.4)

TEST_P(Ws, Close_5_5_1_EchoesTheCodeAndClosesTcp) {
  run([](int port, Server& s) {
    Client c;
    c.open(port);
    c.close(1000, "bye");
    auto f = c.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->opcode, 0x8);
    EXPECT_EQ(f->close_code(), 1000);
    EXPECT_TRUE(c.eof());  // 7.1.1: the server closes TCP first
    EXPECT_TRUE(wait_until([&] { return s.counters().upgraded == 0 && s.counters().active == 0; }));
  });
}

TEST_P(Ws, Close_5_5_1_EmptyCloseIsAnsweredEmpty) {
  run([](int port, Server&) {
    Client c;
    c.open(port);
    c.send_frame(0x8, "");
    auto f = c.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->opcode, 0x8);
    EXPECT_TRUE(f->payload.empty());  // 1005 is never sent (7.4.1)
  });
}

TEST_P(Ws, Close_7_4_1_CodesThatMayBeSentAreEchoed) {
  run([](int port, Server&) {
    for (std::uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013,
                               1014, 3000, 3999, 4000, 4999}) {
      SCOPED_TRACE(code);
      Client c;
      c.open(port);
      c.close(code, "r");
      EXPECT_EQ(c.expect_close(), code);
    }
  });
}

TEST_P(Ws, Close_7_4_CodesThatMayNotBeSentAre1002) {
  run([](int port, Server&) {
    for (std::uint16_t code :
         {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
      SCOPED_TRACE(code);
      Client c;
      c.open(port);
      c.close(code);
      EXPECT_EQ(c.expect_close(), 1002);
    }
  });
}

TEST_P(Ws, Close_5_5_1_OneBytePayloadIs1002_InvalidReasonIs1007) {
  run([](int port, Server&) {
    {
      Client c;
      c.open(port);
      c.send_frame(0x8, "\x03");
      EXPECT_EQ(c.expect_close(), 1002);
    }
    {
      Client c;
      c.open(port);
      c.close(1000, "\xCE\xBA\xFF");
      EXPECT_EQ(c.expect_close(), 1007);
    }
  });
}

TEST_P(Ws, Close_5_5_1_NothingIsReadAfterTheClose) {
  run([](int port, Server&) {
    Client c;
    c.open(port);
    c.send(build_frame(0x8, close_payload(1000)) + build_frame(0x1, "too late"));
    auto f = c.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->opcode, 0x8);
    EXPECT_TRUE(c.eof());  // and no echo of "too late" before it
  });
}

TEST_P(Ws, Close_7_1_ServerInitiatedCloseWaitsForThePeer) {
  // The handler closes; read() then reports the peer's answer.
  std::atomic<int> code{0};
  std::atomic<bool> by_peer{false};
  run(
      [&](int port, Server&) {
        Client c;
        c.open(port, "/bye");
        auto f = c.read_frame();
        ASSERT_TRUE(f);
        EXPECT_EQ(f->opcode, 0x8);
        EXPECT_EQ(f->close_code(), 4001);
        EXPECT_EQ(f->close_reason(), "done here");
        c.close(4001);
        EXPECT_TRUE(c.eof());
        EXPECT_TRUE(wait_until([&] { return code.load() != 0; }));
      },
      [&](Server& s) {
        s.router().get("/bye", [&](Request& req, Response& res) {
          auto ws = cogo::websocket::accept(req, res);
          ws.close(4001, "done here");  // waits for the peer here: nobody else reads
          cogo::websocket::Message m;
          EXPECT_FALSE(ws.read(m));
          by_peer = m.by_peer;
          code = m.code;
        });
      });
  EXPECT_EQ(code.load(), 4001);
  EXPECT_TRUE(by_peer.load());
}

TEST_P(Ws, Close_7_1_1_PeerThatNeverAnswersIsCutAfterTheCloseTimeout) {
  options_.close_timeout = 200ms;
  run(
      [&](int port, Server&) {
        Client c;
        c.open(port, "/bye");
        auto f = c.read_frame();
        ASSERT_TRUE(f);
        EXPECT_EQ(f->opcode, 0x8);
        // No answer: the server closes TCP on its own.
        EXPECT_TRUE(c.eof());
      },
      [&](Server& s) {
        s.router().get("/bye", [&](Request& req, Response& res) {
          auto ws = cogo::websocket::accept(req, res, options_);
          ws.close(1000);
        });
      });
}

TEST_P(Ws, Close_ReadReportsTheEndWithoutACloseAs1006) {
  std::atomic<int> code{0};
  run(
      [&](int port, Server&) {
        Client c;
        c.open(port, "/report");
        c.text("x");
        ::shutdown(c.fd(), SHUT_RDWR);
        EXPECT_TRUE(wait_until([&] { return code.load() != 0; }));
      },
      [&](Server& s) {
        s.router().get("/report", [&](Request& req, Response& res) {
          auto ws = cogo::websocket::accept(req, res);
          cogo::websocket::Message m;
          while (ws.read(m)) {
          }
          code = m.code;
        });
      });
  EXPECT_EQ(code.load(), 1006);
}

// ---------------------------------------------------------------------------
// 9. Limits (10.4)

TEST_P(Ws, Limits_10_4_FrameOverTheLimitIs1009BeforeItsPayload) {
  options_.max_message_bytes = 1000;
  run([](int port, Server&) {
    Client c;
    c.open(port);
    const std::string f = build_frame(0x2, std::string(1001, 'x'));
    c.send(f.substr(0, 8));  // the header only
    EXPECT_EQ(c.expect_close(), 1009);
  });
}

TEST_P(Ws, Limits_10_4_MessageOverTheLimitAcrossFragmentsIs1009) {
  options_.max_message_bytes = 1000;
  run([](int port, Server&) {
    Client c;
    c.open(port);
    c.binary(std::string(1000, 'x'));  // exactly the limit: fine
    EXPECT_EQ(c.read_message()->payload.size(), 1000u);
    c.send_frame(0x2, std::string(600, 'a'), false);
    c.send_frame(0x0, std::string(401, 'b'));
    EXPECT_EQ(c.expect_close(), 1009);
  });
}

// A frame's announced length reserves nothing: the message buffer grows
// with the payload that arrives (a header announcing 8 MiB made read()
// size its message to 8 MiB at once, held while the client sent nothing).
TEST_P(Ws, Limits_AnAnnouncedPayloadReservesNoMemoryBeforeItArrives) {
  std::atomic<std::size_t> capacity{0};
  std::atomic<int> code{0};
  run(
      [&](int port, Server&) {
        Client c;
        c.open(port, "/hold");
        const std::string f = build_frame(0x2, std::string(8 * 1024 * 1024, 'x'));
        c.send(f.substr(0, 14 + 100));  // the header and 100 bytes of payload
        c.shutdown_write();
        EXPECT_TRUE(c.eof());
        EXPECT_TRUE(wait_until([&] { return code.load() != 0; }));
      },
      [&](Server& server) {
        server.router().get("/hold", [&](cogo::http::Request& req, cogo::http::Response& res) {
          auto ws = cogo::websocket::accept(req, res, options_);
          cogo::websocket::Message m;
          EXPECT_FALSE(ws.read(m));
          capacity = m.data.capacity();  // report() assigns the reason: capacity stays
          code = m.code;
        });
      });
  EXPECT_EQ(code.load(), 1006);
  EXPECT_LT(capacity.load(), 64u * 1024) << "the message buffer followed the announced length";
}

TEST_P(Ws, Limits_MaxFrameBelowMaxMessage) {
  options_.max_message_bytes = 10000;
  options_.max_frame_bytes = 100;
  run([](int port, Server&) {
    Client c;
    c.open(port);
    for (int i = 0; i < 50; ++i) c.send_frame(i == 0 ? 0x2 : 0x0, std::string(100, 'z'), i == 49);
    EXPECT_EQ(c.read_message()->payload.size(), 5000u);
    c.binary(std::string(101, 'z'));
    EXPECT_EQ(c.expect_close(), 1009);
  });
}

}  // namespace
