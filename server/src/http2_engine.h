// http2_engine.h: HTTP/2 (RFC 9113) on one connection, a goroutine per
// stream, over nghttp2 for framing, HPACK and flow control.
//
// Three kinds of goroutine serve an HTTP/2 connection:
//   - the owner (the goroutine that calls serve_http2) owns the
//     nghttp2_session, which is not thread-safe, and is the only writer of
//     the socket. It selects over the reader's chunks, a wake channel the
//     streams poke, and (draining) the shutdown;
//   - the reader reads the socket and hands each chunk to the owner over a
//     bounded channel: a client that sends faster than the owner parses is
//     back-pressured by TCP, not buffered here;
//   - each stream's handler runs in its own goroutine, as an Exchange
//     (exchange.h) of its own, with the same Request/Response/router the
//     HTTP/1.1 engine uses. Its body reads park until DATA arrives; its
//     flushes hand bytes to the owner and park until the owner took them.
// Memory per stream is bounded by flow control: the session does not send
// WINDOW_UPDATE by itself (NGHTTP2_OPT_NO_AUTO_WINDOW_UPDATE); the stream's
// window opens as its handler consumes the body, so at most one window of
// unread body is buffered per stream.
//
// The connection ends when the client ends it (GOAWAY, EOF, a protocol
// error), when it is idle for idle_timeout with no stream open, or after a
// graceful shutdown's GOAWAY once its streams are done. Then every stream's
// context is cancelled, the owner waits for the stream goroutines and the
// reader, and returns; the caller closes the socket.
//
// The thread model serves HTTP/1.1 only (it is the baseline).
#pragma once

#include <string_view>

#include "cogo/http/handler.h"
#include "cogo/http/options.h"
#include "cogo/http/stream.h"

namespace cogo::http::detail {

// kHttp2Preface is the client connection preface (RFC 9113 3.4) that a
// client with prior knowledge sends first on a plain connection (h2c).
inline constexpr std::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// serve_http2() serves stream (TLS after ALPN "h2", or plain with prior
// knowledge) on the calling goroutine until the connection ends; nothing
// of the connection preface has been read. It does not close the socket.
void serve_http2(Stream& stream, const Handler& handler, const HttpOptions& options,
                 std::string_view remote_address);

}  // namespace cogo::http::detail
