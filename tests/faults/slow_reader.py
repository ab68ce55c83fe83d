#!/usr/bin/python3
"""slow_reader.py: clients that ask for a large response and read nothing.

cogo-server with --write-timeout T. N clients each ask for GET /bytes of
1 GiB and never read. The server's writes stall once the socket buffers are
full; each must be given up after T (the connection closed), and memory
must stay bounded while they stall: the response is streamed, so a stalled
connection holds a chunk, not the gigabyte (bound: 64 MiB over the start,
for 200 stalled connections). A normal client is served all along, and
afterwards nothing is left: no connection, no handler, no extra goroutine.
"""
import socket
import time

import faultlib as F

p = F.parser(__doc__)
p.add_argument("-n", type=int, default=200, help="clients that read nothing")
p.add_argument("--timeout", type=float, default=2.0, help="--write-timeout, seconds")
args = p.parse_args()
F.raise_nofile()

with F.Server(args.server, ["--model", args.model, "--write-timeout", "%gs" % args.timeout]) as srv:
    srv.get("/")
    base, base_rss = srv.vars(), srv.rss()
    probe = F.Prober(srv.port, interval=0.05)
    probe.start()
    clients = []
    t0 = time.monotonic()
    for _ in range(args.n):
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)  # stall soon
        c.connect(("127.0.0.1", srv.port))
        c.sendall(b"GET /bytes?n=1073741824 HTTP/1.1\r\nHost: t\r\n\r\n")
        clients.append(c)
    # Their connections accepted first (and the prober's): until then the
    # server holds none of them, which is not "dropped".
    accepted = F.wait_until(lambda: srv.vars()["accepted"] - base["accepted"] >= args.n + 1, 30, step=0.05)
    F.check(accepted, "the server did not accept the %d clients' connections" % args.n)
    peak = 0
    gone = False
    while time.monotonic() - t0 < args.timeout + 30:
        peak = max(peak, srv.rss())
        v = srv.vars()
        if v["connections_active"] <= 1 and v["requests_in_flight"] == 0:  # the prober's, at most
            gone = True
            break
        time.sleep(0.1)
    took = time.monotonic() - t0
    probe.stop()
    F.log("%s model: %d stalled downloads dropped after %.1f s (write timeout %.1f s); RSS peak %s, start %s" % (
        args.model, args.n, took, args.timeout, F.mib(peak), F.mib(base_rss)))
    F.check(gone, "the server still writes to %d stalled connections after %.0f s" % (
        srv.vars()["connections_active"], took))
    F.check(took >= args.timeout, "the stalled connections were dropped before the write timeout")
    F.check(peak <= base_rss + 64 * 1048576, "RSS peaked at %s with %d stalled downloads (start %s)" % (
        F.mib(peak), args.n, F.mib(base_rss)))
    for c in clients:
        c.close()
    F.log("normal client meanwhile: %d requests, %d failures, p99 %.1f ms" % (
        len(probe.latencies), probe.failures, probe.percentile(99) * 1e3))
    F.check(probe.failures == 0 and probe.latencies, "the normal client was not served meanwhile")
    settled = srv.let_go(base, args.model, 20)
    F.check(settled, "the server holds something after the slow readers: %s" % srv.vars())
    F.check(srv.stop() == 0, "cogo-server did not exit 0 on SIGTERM")
F.finish()
