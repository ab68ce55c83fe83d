#!/usr/bin/python3
"""slowloris.py: thousands of clients that never finish their request head.

cogo-server with --read-header-timeout T. N connections open at once and
each trickles a header line every second, never ending the head. Meanwhile
a normal client keeps sending GET / on a keep-alive connection, and another
on a new connection each time. The test checks that
  - every slow connection is cut off by the server (408, or a close), and
    none before T (the timeout runs from the head's first byte); how long
    after is printed, not asserted (a busy machine delays it): without the
    timeout a trickling head would last until it reached the header limit,
    over 12 minutes, so the test waits up to T + 60 s for all of them;
  - the normal clients get every answer, and are answered while slow heads
    are held: meanwhile the test itself sends GET / on new connections
    between two reads of /debug/vars; the connections active at the second
    read less those accepted since the first (and the probers' own) were
    open throughout that GET, and one GET answered 200 must have had a
    tenth of the slow connections open throughout. A server that made
    normal clients wait behind slow heads could only answer them once the
    heads were cut off. (The normal clients' p50, p99 and max latency are
    printed, before and during the attack, not asserted: a busy machine
    makes them what it likes.)
  - afterwards the server holds no connection and no extra goroutine.
"""
import multiprocessing
import queue
import selectors
import socket
import time

import faultlib as F

p = F.parser(__doc__)
p.add_argument("-n", type=int, default=5000, help="slow connections")
p.add_argument("--timeout", type=float, default=3.0, help="--read-header-timeout, seconds")
args = p.parse_args()
def attack(port, n, timeout, out):
    """attack() runs in a process of its own (so that the normal clients'
    latencies are the server's, not this loop's): opens n connections,
    trickles a header line on each every second, and reports, for each one
    the server cut off, the seconds since its first byte and whether a 408
    came first."""
    sel = selectors.DefaultSelector()
    conns = {}
    t_open = time.monotonic()
    for i in range(n):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        conns[c] = None  # time of the first byte, once sent
        sel.register(c, selectors.EVENT_WRITE)
    opened = time.monotonic() - t_open
    closed = {}  # socket -> (seconds after its first byte, got a 408)
    deadline = time.monotonic() + timeout + 60
    next_trickle = time.monotonic() + 1
    while len(closed) < n and time.monotonic() < deadline:
        for key, ev in sel.select(timeout=0.2):
            c = key.fileobj
            if ev & selectors.EVENT_WRITE and conns[c] is None:
                # The time before the send: the server cannot have read the
                # first byte earlier, however late this process runs next.
                conns[c] = time.monotonic()
                try:
                    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n")
                except OSError:
                    pass
                sel.modify(c, selectors.EVENT_READ)
            elif ev & selectors.EVENT_READ:
                try:
                    data = c.recv(4096)
                except OSError:
                    data = b""
                if not data or b"\r\n\r\n" in data:
                    closed[c] = (time.monotonic() - conns[c], data.startswith(b"HTTP/1.1 408"))
                    sel.unregister(c)
                    c.close()
        if time.monotonic() >= next_trickle:
            next_trickle += 1
            for c, first in conns.items():
                if first is not None and c not in closed:
                    try:
                        c.send(b"X-Slow: a\r\n")
                    except OSError:
                        pass
    for c in conns:
        if c not in closed:
            c.close()
    out.put((opened, list(closed.values())))


# The most connections the two probers can have open at once, left out of
# the slow ones held (the keep-alive one, and the new-connection one's
# current and previous connection).
PROBERS_OPEN = 3

F.raise_nofile()

flags = ["--model", args.model, "--read-header-timeout", "%gs" % args.timeout]
with F.Server(args.server, flags) as srv:
    base_goroutines = srv.vars()["goroutines"]
    calm = F.Prober(srv.port)
    calm.start()
    time.sleep(1.0)
    calm.stop()
    F.log("%s model, baseline: %d requests, p50 %.1f ms, p99 %.1f ms" % (
        args.model, len(calm.latencies), calm.percentile(50) * 1e3, calm.percentile(99) * 1e3))

    keep, fresh = F.Prober(srv.port), F.Prober(srv.port, new_connections=True, interval=0.05)
    keep.start()
    fresh.start()
    results = multiprocessing.Queue()
    attacker = multiprocessing.Process(target=attack, args=(srv.port, args.n, args.timeout, results),
                                       daemon=True)
    attacker.start()
    # Normal requests of the test's own while the attack runs (see the doc).
    held_best, answered, got = -1, 0, None
    while got is None:
        v1 = srv.vars()
        st, _ = srv.get("/")
        v2 = srv.vars()
        if st == 200:
            answered += 1
            held = v2["connections_active"] - (v2["accepted"] - v1["accepted"]) - PROBERS_OPEN
            held_best = max(held_best, held)
        else:
            F.check(False, "a normal GET / during the attack answered %s" % st)
        try:
            got = results.get(timeout=0.05)
        except queue.Empty:
            pass
    opened, cut = got
    attacker.join()
    F.log("%d slow connections opened in %.1fs" % (args.n, opened))
    keep.stop()
    fresh.stop()
    waits = sorted(w for w, _ in cut)
    with408 = sum(1 for _, got in cut if got)
    F.log("%d of %d slow connections cut off (%d with a 408); after %.2f .. %.2f s (p50 %.2f s)" % (
        len(cut), args.n, with408, waits[0] if waits else -1, waits[-1] if waits else -1,
        waits[len(waits) // 2] if waits else -1))
    F.check(len(cut) == args.n, "%d slow connections were never cut off" % (args.n - len(cut)))
    F.check(not waits or waits[0] >= args.timeout - 0.05,
            "a slow connection was cut after %.2f s, before the %.1f s timeout" % (waits[0], args.timeout))
    for name, pr in (("keep-alive", keep), ("new-connection", fresh)):
        F.log("during the attack, %s client: %d requests, %d failures, p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (
            name, len(pr.latencies), pr.failures, pr.percentile(50) * 1e3, pr.percentile(99) * 1e3,
            max(pr.latencies or [0]) * 1e3))
        F.check(pr.failures == 0, "the %s client saw %d failures" % (name, pr.failures))
        F.check(len(pr.latencies) > 0, "the %s client made no request" % name)
    F.log("%d normal GETs of the test's own answered during the attack; the most slow connections "
          "open throughout one: %d" % (answered, held_best))
    F.check(held_best >= args.n // 10,
            "no normal GET was answered while a tenth of the slow connections were open (at most %d "
            "throughout one of %d answered): normal clients wait behind slow heads" % (held_best, answered))
    settled = F.wait_until(lambda: srv.vars()["connections_active"] == 0, 20, step=0.2)
    v = srv.vars()
    F.check(settled, "connections_active is %d after the attack" % v["connections_active"])
    if args.model == "goroutine":
        F.check(F.wait_until(lambda: srv.vars()["goroutines"] <= base_goroutines, 20, step=0.2),
                "goroutines %d after the attack, %d before" % (srv.vars()["goroutines"], base_goroutines))
    F.check(srv.stop() == 0, "cogo-server did not exit 0 on SIGTERM")
F.finish()
