#!/usr/bin/env python3
"""interop.py: Python's websockets library (an independent implementation,
Debian's python3-websockets) against cogo-server's /ws/echo and /ws/chat, over
ws:// and wss://, with and without permessage-deflate. websockets checks every
frame it receives against RFC 6455 and RFC 7692; any violation raises.

Usage: interop.py HTTP_PORT HTTPS_PORT   (prints "ok NAME" per check, then "all ok")
"""
import asyncio
import ssl
import sys

import websockets


async def echo(uri, compression, ssl_ctx, name):
    async with websockets.connect(uri + "/ws/echo", compression=compression, ssl=ssl_ctx,
                                  max_size=8 * 2**20, ping_interval=None) as ws:
        if ssl_ctx is not None:
            # A client that offers only http/1.1 in ALPN gets it, with h2
            # on (cogo-server's default): a WebSocket needs HTTP/1.1.
            alpn = ws.transport.get_extra_info("ssl_object").selected_alpn_protocol()
            assert alpn == "http/1.1", alpn
        ext = ws.response_headers.get("Sec-WebSocket-Extensions") or ""
        assert ("permessage-deflate" in ext) == (compression is not None), ext
        for msg in ["hello", "κόσμε \U0001F600", "", "x" * 100000]:
            await ws.send(msg)
            got = await ws.recv()
            assert got == msg, (len(got), len(msg))
        for msg in [b"\x00\xff" * 10, bytes(range(256)) * 4000]:
            await ws.send(msg)
            assert await ws.recv() == msg
        # A list is sent as fragments (RFC 6455 5.4).
        await ws.send(["frag", "men", "ted"])
        assert await ws.recv() == "fragmented"
        await ws.send([b"\x01" * 70000, b"\x02" * 70000])
        assert await ws.recv() == b"\x01" * 70000 + b"\x02" * 70000
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 10)
        await ws.close(4000, "bye")
        # The server echoes the code (RFC 6455 5.5.1).
        assert ws.close_code == 4000, ws.close_code
    print("ok", name, flush=True)


async def keepalive(uri, name):
    # The server pings every 300 ms (--ws-ping-interval); websockets answers.
    async with websockets.connect(uri + "/ws/echo", ping_interval=None) as ws:
        await asyncio.sleep(1.2)
        await ws.send("still open")
        assert await ws.recv() == "still open"
    print("ok", name, flush=True)


async def chat(uri, ssl_ctx, name):
    clients = [await websockets.connect(uri + "/ws/chat", ssl=ssl_ctx, ping_interval=None)
               for _ in range(3)]
    try:
        # Each hears its own hello: it has joined (the hub saw its join first).
        for i, c in enumerate(clients):
            await c.send(f"hello {i}")
            while await asyncio.wait_for(c.recv(), 10) != f"hello {i}":
                pass
        for i, c in enumerate(clients):
            await c.send(f"message {i}")
        for c in clients:
            seen = set()
            while len(seen) < 3:
                m = await asyncio.wait_for(c.recv(), 10)
                if m.startswith("message "):
                    seen.add(m)
            assert seen == {"message 0", "message 1", "message 2"}, seen
    finally:
        for c in clients:
            await c.close()
    print("ok", name, flush=True)


async def main(port, tls_port):
    plain = f"ws://127.0.0.1:{port}"
    secure = f"wss://127.0.0.1:{tls_port}"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    await echo(plain, "deflate", None, "echo ws deflate")
    await echo(plain, None, None, "echo ws plain")
    await echo(secure, "deflate", ctx, "echo wss deflate")
    await echo(secure, None, ctx, "echo wss plain")
    await keepalive(plain, "keep-alive pings answered")
    await chat(plain, None, "chat ws")
    await chat(secure, ctx, "chat wss")
    print("all ok", flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
