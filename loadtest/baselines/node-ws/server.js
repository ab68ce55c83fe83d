// server.js: Node's ws (the most used WebSocket server on npm), the
// baseline loadtest/ws_compare.sh runs beside cogo and Boost.Beast.
//
//   node server.js PORT [deflate]
//
// GET /ws/echo: every message back as it came (text or binary), like
// cogo-server's route. With "deflate", permessage-deflate is accepted with
// the same settings as the other servers: zlib level 6, memLevel 8, 15-bit
// windows, context takeover, and no size threshold (ws's default skips
// messages under 1 KiB; the others compress every message).
'use strict';
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2] || 8080);
const deflate = process.argv[3] === 'deflate';

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port,
  path: '/ws/echo',
  maxPayload: 16 * 1024 * 1024,
  perMessageDeflate: deflate
    ? { threshold: 0, zlibDeflateOptions: { level: 6, memLevel: 8 }, serverMaxWindowBits: 15 }
    : false,
});

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('listening', () => console.log(`node-ws listening on 127.0.0.1:${port}`));
process.on('SIGTERM', () => process.exit(0));
