// websocket_routes.h: cogo-server's WebSocket demo routes.
#pragma once

#include "cogo/http/router.h"
#include "cogo/websocket.h"

namespace cogo::cli {

// add_websocket_routes() adds GET /ws/echo (every message back, as it came:
// text or binary) and GET /ws/chat (every message to every connected
// client, the sender included), both accepting with options. The chat room
// is a hub goroutine started on the first join; each member has a queue and
// a writer goroutine, so a slow member (its queue full) is closed with 1008
// instead of holding the others back.
void add_websocket_routes(http::Router& router, const websocket::Options& options);

}  // namespace cogo::cli
