// server.cpp: a Boost.Beast WebSocket echo server with asio::spawn — the
// stackful-coroutine peer loadtest/ws_compare.sh runs beside cogo and
// Node's ws. Written after Beast's own example (websocket_server_coro.cpp),
// one io_context on one thread (the server runs on one core).
//
//   beast-ws-server PORT [deflate]
//
// GET /ws/echo (any path): every message back as it came. With "deflate",
// permessage-deflate is accepted with the settings the other servers use:
// zlib level 6, memLevel 8, 15-bit windows, context takeover, every message
// compressed (Beast's defaults are level 8, memLevel 4).
//
// Build (loadtest/ws_compare.sh does): g++ -O3 -DNDEBUG -std=c++20 server.cpp
//   -lboost_context -lz -pthread   (Debian: libboost1.81-dev, libboost-context1.81-dev)
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/spawn.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

static bool g_deflate = false;

void session(websocket::stream<beast::tcp_stream>& ws, net::yield_context yield) {
  beast::error_code ec;
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  if (g_deflate) {
    websocket::permessage_deflate pmd;
    pmd.server_enable = true;
    pmd.client_enable = true;
    pmd.compLevel = 6;
    pmd.memLevel = 8;
    pmd.msg_size_threshold = 0;
    ws.set_option(pmd);
  }
  ws.read_message_max(16 * 1024 * 1024);
  ws.async_accept(yield[ec]);
  if (ec) return;
  for (;;) {
    beast::flat_buffer buffer;
    ws.async_read(buffer, yield[ec]);
    if (ec) return;
    ws.text(ws.got_text());
    ws.async_write(buffer.data(), yield[ec]);
    if (ec) return;
  }
}

void listen(net::io_context& ioc, tcp::endpoint endpoint, net::yield_context yield) {
  beast::error_code ec;
  tcp::acceptor acceptor(ioc);
  acceptor.open(endpoint.protocol(), ec);
  acceptor.set_option(net::socket_base::reuse_address(true), ec);
  acceptor.bind(endpoint, ec);
  if (ec) {
    std::fprintf(stderr, "bind: %s\n", ec.message().c_str());
    std::exit(1);
  }
  acceptor.listen(net::socket_base::max_listen_connections, ec);
  std::printf("beast-ws listening on %s:%d\n", endpoint.address().to_string().c_str(), endpoint.port());
  std::fflush(stdout);
  for (;;) {
    tcp::socket socket(ioc);
    acceptor.async_accept(socket, yield[ec]);
    if (ec) continue;
    socket.set_option(tcp::no_delay(true), ec);
    net::spawn(
        acceptor.get_executor(),
        [s = std::move(socket)](net::yield_context y) mutable {
          websocket::stream<beast::tcp_stream> ws(std::move(s));
          session(ws, y);
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
  }
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PORT [deflate]\n", argv[0]);
    return 2;
  }
  g_deflate = argc > 2 && std::strcmp(argv[2], "deflate") == 0;
  net::io_context ioc(1);
  net::signal_set stop(ioc, SIGTERM, SIGINT);
  stop.async_wait([&](beast::error_code, int) { ioc.stop(); });
  const auto port = static_cast<unsigned short>(std::atoi(argv[1]));
  net::spawn(ioc, [&](net::yield_context yield) { listen(ioc, {net::ip::make_address("127.0.0.1"), port}, yield); },
             [](std::exception_ptr e) {
               if (e) std::rethrow_exception(e);
             });
  ioc.run();
  return 0;
}
