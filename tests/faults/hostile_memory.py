#!/usr/bin/python3
"""hostile_memory.py: the server's memory under input made to exhaust it.

Three phases against one cogo-server (--max-body-bytes B, the default
--max-header-bytes 8K), RSS sampled every 50 ms during each, and again
after it once the clients are gone:
  1. uploads: N connections at once each POST /echo a body of exactly B
     (the body limit), reading the echo as it comes; every echo must be
     whole. /echo streams a large body back as it reads it, so an upload
     costs the server a read buffer, not the body.
  2. heads: N connections each send a request head just under the 8 KiB
     limit and stop before its last CRLF (the server holds N partial
     heads); then finish them: every one answered 200. One head over the
     limit gets 431.
  3. pipelining: K connections each send 10,000 GET / in one write and
     read the 10,000 responses.
Bounds (stated, per phase, over the RSS before it, for 1,000
connections): uploads 96 MiB in the goroutine model, 128 MiB in the thread
model (~100 KiB each with all of them in flight at once, which the test
makes sure of: read buffer, response chunk, /echo's 16 KiB buffer on a
goroutine's stack or a thread's, and the thread's malloc cache; measured
+55 and +99 MiB); heads 64 and 96 MiB (N x 8 KiB heads, 8 MiB, plus the
same per-connection costs; measured +12 and +52..58 MiB); pipelining 64
MiB. After each phase the RSS must come
back within 32 MiB of where the test started: the pooled goroutine stacks
(up to 4,096 keep their pages: ~20 KiB each after /echo's 16 KiB buffer)
and what the allocator keeps (sysmon gives free heap back after a burst).
"""
import os
import select
import socket
import threading
import time

import faultlib as F

p = F.parser(__doc__)
p.add_argument("-n", type=int, default=1000, help="concurrent connections in phases 1 and 2")
p.add_argument("--body", type=int, default=256 * 1024, help="--max-body-bytes, and each upload's size")
p.add_argument("--pipelined", type=int, default=4, help="connections sending 10,000 pipelined requests")
p.add_argument("--workers", type=int, default=8, help="client processes for the uploads")
args = p.parse_args()
F.raise_nofile()
MiB = 1048576


class Sampler(threading.Thread):
    """Sampler: the server's peak RSS while a phase runs."""

    def __init__(self, srv):
        super().__init__(daemon=True)
        self.srv, self.peak, self.stopping = srv, 0, threading.Event()

    def run(self):
        while not self.stopping.is_set():
            self.peak = max(self.peak, self.srv.rss())
            self.stopping.wait(0.05)

    def stop(self):
        self.stopping.set()
        self.join()
        self.peak = max(self.peak, self.srv.rss())
        return self.peak


def upload_worker(port, n, size, w, go):
    """upload_worker() (a forked process) runs n uploads of size bytes at
    once: it sends each head and half of each body, writes "h" to the pipe
    w, waits for a byte on the pipe go, then sends the rest; it writes how
    many came back whole to w."""
    body = b"b" * size
    head = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % size
    conns = {}
    for _ in range(n):
        c = socket.create_connection(("127.0.0.1", port))
        c.setblocking(False)
        conns[c] = [head + body, b""]  # still to send, received
    hold = len(head + body) - size // 2  # each sends this much before go
    holding = False
    whole = 0
    deadline = time.monotonic() + 300
    waiting = True  # for the go byte
    while conns and time.monotonic() < deadline:
        if waiting and not holding and all(len(st[0]) <= hold for st in conns.values()):
            os.write(w, b"h")
            holding = True
        wr = [c for c, st in conns.items() if st[0] and (not waiting or len(st[0]) > hold)]
        r, w_, _ = select.select(list(conns) + ([go] if waiting else []), wr, [], 1)
        if waiting and go in r:
            os.read(go, 1)
            waiting = False
            r.remove(go)
        for c in w_:
            limit = 262144 if not waiting else len(conns[c][0]) - hold
            try:
                sent = c.send(conns[c][0][:limit])
                conns[c][0] = conns[c][0][sent:]
            except BlockingIOError:
                pass
        for c in r:
            try:
                d = c.recv(262144)
            except BlockingIOError:
                continue
            st = conns[c]
            st[1] += d
            done = not d
            if b"\r\n\r\n" in st[1]:
                h, rest = st[1].split(b"\r\n\r\n", 1)
                # The echo comes back chunked: the body is whole when the
                # last chunk arrived (the hex sizes add up to size).
                if rest.endswith(b"0\r\n\r\n"):
                    got, pos = 0, 0
                    while True:
                        e = rest.index(b"\r\n", pos)
                        k = int(rest[pos:e], 16)
                        got += k
                        pos = e + 2 + k + 2
                        if k == 0:
                            break
                    whole += h.startswith(b"HTTP/1.1 200") and got == size
                    done = True
                st[1] = st[1] if not done else b""
            if done:
                c.close()
                del conns[c]
    os.write(w, b"%d\n" % whole)


with F.Server(args.server, ["--model", args.model, "--max-body-bytes", str(args.body)]) as srv:
    srv.get("/")
    start_rss = srv.rss()
    F.log("%s model, RSS at start %s" % (args.model, F.mib(start_rss)))

    def after(phase):
        """after() waits for the server to let go and checks the RSS."""
        F.wait_until(lambda: srv.vars()["connections_active"] == 0, 30, step=0.1)
        # sysmon gives the freed heap back every 5 s at most: a wait of 30 s
        # (a busy machine delays the clients' last closes and the trim).
        back = F.wait_until(lambda: srv.rss() <= start_rss + 32 * MiB, 30, step=0.2)
        F.log("  after %s: RSS %s" % (phase, F.mib(srv.rss())))
        F.check(back, "RSS %s after %s, %s at start" % (F.mib(srv.rss()), phase, F.mib(start_rss)))

    # 1. Uploads at the body limit.
    before = srv.rss()
    s = Sampler(srv)
    s.start()
    t = time.monotonic()
    pipes = []
    per = args.n // args.workers
    for i in range(args.workers):
        r, w = os.pipe()
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            os.close(go_w)
            try:
                upload_worker(srv.port, per, args.body, w, go_r)
            finally:
                os._exit(0)
        os.close(w)
        os.close(go_r)
        pipes.append((pid, r, go_w))
    # Every upload half sent, then all in their handlers at once: the
    # server's cost of N uploads in flight, however fast the machine runs.
    holding = sum(1 for _, r, _ in pipes if select.select([r], [], [], 120)[0] and os.read(r, 1) == b"h")
    in_flight = F.wait_until(lambda: srv.vars()["requests_in_flight"] >= per * args.workers, 60, step=0.1)
    held_rss = srv.rss()
    F.log("uploads: %d half sent, %d in their handlers at once; RSS %s" % (
        per * holding, srv.vars()["requests_in_flight"], F.mib(held_rss)))
    F.check(holding == args.workers and in_flight,
            "the %d uploads were not all in flight at once" % (per * args.workers))
    for _, _, go_w in pipes:
        os.write(go_w, b"g")
        os.close(go_w)
    whole = 0
    for pid, r, _ in pipes:
        out = b""
        while not out.endswith(b"\n"):
            d = os.read(r, 64)
            if not d:
                break
            out += d
        whole += int(out or b"0")
        os.waitpid(pid, 0)
    peak = s.stop()
    F.log("uploads: %d x %d KiB at once, %d echoed whole in %.1f s; RSS peak %s (+%s)" % (
        per * args.workers, args.body // 1024, whole, time.monotonic() - t, F.mib(peak), F.mib(peak - before)))
    F.check(whole == per * args.workers, "%d of %d uploads echoed whole" % (whole, per * args.workers))
    bound = (96 if args.model == "goroutine" else 128) * MiB * args.n / 1000
    F.check(peak - before <= bound, "uploads took RSS up by %s (bound %s)" % (F.mib(peak - before), F.mib(bound)))
    after("the uploads")

    # 2. Heads at the header limit, held open, then finished.
    before = srv.rss()
    s = Sampler(srv)
    s.start()
    head = b"GET / HTTP/1.1\r\nHost: t\r\n"
    filler = 8 * 1024 - len(head) - 40
    head += b"X-Fill: " + b"f" * filler + b"\r\n"  # the final CRLF comes later
    conns = []
    for _ in range(args.n):
        c = socket.create_connection(("127.0.0.1", srv.port))
        c.sendall(head)
        conns.append(c)
    time.sleep(1)
    held = srv.rss()
    for c in conns:
        c.sendall(b"\r\n")
    ok = sum(1 for c in conns if F.read_response(c)[0] == 200)
    for c in conns:
        c.close()
    peak = s.stop()
    F.log("heads: %d heads of %d bytes held (RSS %s), then finished: %d answered 200; RSS peak %s (+%s)" % (
        args.n, len(head) + 2, F.mib(held), ok, F.mib(peak), F.mib(peak - before)))
    F.check(ok == args.n, "%d of %d heads at the limit answered 200" % (ok, args.n))
    bound = (64 if args.model == "goroutine" else 96) * MiB * max(1, args.n / 1000)
    F.check(peak - before <= bound, "heads took RSS up by %s (bound %s)" % (F.mib(peak - before), F.mib(bound)))
    c = socket.create_connection(("127.0.0.1", srv.port))
    c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX-Fill: " + b"f" * 9000 + b"\r\n\r\n")
    F.check(F.read_response(c)[0] == 431, "a head over the limit was not answered 431")
    c.close()
    after("the heads")

    # 3. 10,000 pipelined requests in one write, on a few connections at once.
    before = srv.rss()
    s = Sampler(srv)
    s.start()
    batch = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n" * 10000
    counts = []

    def pipelined():
        c = socket.create_connection(("127.0.0.1", srv.port))
        c.sendall(batch)
        rd = F.Reader(c, 60)
        counts.append(sum(1 for _ in range(10000) if rd.response()[0] == 200))
        c.close()

    ts = [threading.Thread(target=pipelined) for _ in range(args.pipelined)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    peak = s.stop()
    F.log("pipelining: %d connections x 10,000 requests in one write: %s answered; RSS peak %s (+%s)" % (
        args.pipelined, counts, F.mib(peak), F.mib(peak - before)))
    F.check(counts == [10000] * args.pipelined, "pipelined answers: %s" % counts)
    F.check(peak - before <= 64 * MiB, "pipelining took RSS up by %s" % F.mib(peak - before))
    after("the pipelining")
    F.check(srv.stop() == 0, "cogo-server did not exit 0 on SIGTERM")
F.finish()
