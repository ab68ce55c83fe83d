#!/usr/bin/python3
"""pipeline_resets.py: connections reset in the middle of pipelined batches.

Client threads send batches of 16 pipelined requests (GET /, GET /bytes of
100 KB, POST /echo, GET /sleep?ms=5, mixed), read a random part of the
answers (nothing, a few bytes, some responses) and reset the connection
(SO_LINGER 0: an RST, as a crashed or impatient client sends), over and
over. Then the server must hold nothing of it — no connection open, no
handler running, as many goroutines as before — and keep serving, and
every batch read to the end in between must have had every response.
"""
import random
import socket
import struct
import threading
import time

import faultlib as F

p = F.parser(__doc__)
p.add_argument("--batches", type=int, default=1500, help="batches in all")
p.add_argument("--threads", type=int, default=8)
args = p.parse_args()

REQUESTS = [
    b"GET / HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /bytes?n=100000 HTTP/1.1\r\nHost: t\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
    b"GET /sleep?ms=5 HTTP/1.1\r\nHost: t\r\n\r\n",
]


def reset(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def worker(port, n, seed, stats):
    try:
        batches(port, n, seed, stats)
    except Exception as e:  # a thread's failure is the test's
        stats["crashed"] += 1
        F.log("client thread failed: %r" % e)


def batches(port, n, seed, stats):
    rnd = random.Random(seed)
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        batch = [rnd.choice(REQUESTS) for _ in range(16)]
        s.sendall(b"".join(batch))
        how = rnd.random()
        rd = F.Reader(s, 30)
        try:
            if how < 0.25:
                pass  # reset at once: the server may still be parsing
            elif how < 0.5:
                s.recv(rnd.randint(1, 300))  # a few bytes of the first response
            elif how < 0.75:
                for _ in range(rnd.randint(1, 15)):  # some of the responses
                    if rd.response()[0] != 200:
                        stats["bad"] += 1
                        break
            else:
                ok = sum(1 for _ in batch if rd.response()[0] == 200)  # all of them, then reset
                stats["complete"] += 1
                if ok != len(batch):
                    stats["bad"] += 1
        except OSError:
            stats["bad"] += 1
        reset(s)
        stats["batches"] += 1


F.raise_nofile()
with F.Server(args.server, ["--model", args.model]) as srv:
    srv.get("/")
    base = srv.vars()
    per_thread = [{"batches": 0, "complete": 0, "bad": 0, "crashed": 0} for _ in range(args.threads)]
    t = time.monotonic()
    ts = [threading.Thread(target=worker, args=(srv.port, args.batches // args.threads, i, per_thread[i]))
          for i in range(args.threads)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    stats = {k: sum(d[k] for d in per_thread) for k in per_thread[0]}
    F.log("%s model: %d batches of 16 reset (%d read to the end first) in %.1f s; %d read errors" % (
        args.model, stats["batches"], stats["complete"], time.monotonic() - t, stats["bad"]))
    F.check(stats["crashed"] == 0, "%d client threads failed" % stats["crashed"])
    F.check(stats["batches"] == args.batches // args.threads * args.threads, "only %d batches ran" % stats["batches"])
    F.check(stats["bad"] == 0, "%d batches lost responses before the client reset" % stats["bad"])
    settled = srv.let_go(base, args.model, 30)
    v = srv.vars()
    F.log("after: %d connections, %d handlers, %d goroutines (before %d), accepted %d" % (
        v["connections_active"], v["requests_in_flight"], v["goroutines"], base["goroutines"], v["accepted"]))
    F.check(settled, "the server still holds %d connections, %d handlers, %d goroutines" % (
        v["connections_active"], v["requests_in_flight"], v["goroutines"]))
    F.check(v["accepted"] >= stats["batches"], "accepted %d < %d batches" % (v["accepted"], stats["batches"]))
    F.check(srv.get("/")[0] == 200, "the server does not answer after the resets")
    F.check(srv.stop() == 0, "cogo-server did not exit 0 on SIGTERM")
F.finish()
