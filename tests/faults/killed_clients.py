#!/usr/bin/python3
"""killed_clients.py: clients killed with SIGKILL in the middle of a request.

Client processes (real ones, so that the kernel closes their sockets as it
does for a crashed client) are killed while
  - uploading: POST /echo declared 8 MB, 1 MB sent;
  - downloading: GET /bytes?n=1G, 1 MB read, then nothing read;
  - waiting for a response they never read: POST /echo of 1 MB, complete;
  - between pipelined requests: 16 GET / sent, none read.
Then, within a grace for a loaded machine, the server must have let go of
all of it: no connection open, no handler running, as many goroutines as
before; and it serves the next client. Twice: the RSS the first round
leaves behind is bounded, and the second adds nothing to it (no leak).
"""
import atexit
import os
import select
import signal
import socket
import time

import faultlib as F

p = F.parser(__doc__)
p.add_argument("--each", type=int, default=25, help="client processes of each kind")
p.add_argument("--rounds", type=int, default=2)
args = p.parse_args()

def client(port, kind, ready_fd):
    """client() is one client process (forked): it gets into the middle of
    its request, says so on ready_fd, and waits to be killed."""
    s = socket.create_connection(("127.0.0.1", port))
    if kind == "upload":
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 8000000\r\n\r\n" + b"u" * 1000000)
    elif kind == "download":
        s.sendall(b"GET /bytes?n=1000000000 HTTP/1.1\r\nHost: t\r\n\r\n")
        got = 0
        while got < 1000000:
            got += len(s.recv(65536))
    elif kind == "unread":
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n" + b"u" * 1000000)
    elif kind == "pipelined":
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n" * 16)
    os.write(ready_fd, b"r")
    time.sleep(3600)


ALIVE = set()  # client processes not yet reaped


@atexit.register
def kill_alive():
    """kill_alive() ends the clients left when the test stops early."""
    for pid in ALIVE:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except OSError:
            pass


def spawn(port, kind):
    """spawn() forks a client; its pid and the read end of its ready pipe."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            client(port, kind, w)
        finally:
            os._exit(0)
    os.close(w)
    ALIVE.add(pid)
    return pid, r


with F.Server(args.server, ["--model", args.model]) as srv:
    for _ in range(5):
        srv.get("/")
    base = srv.vars()
    base_rss = srv.rss()
    F.log("%s model: before, %d goroutines, RSS %s" % (args.model, base["goroutines"], F.mib(base_rss)))
    rss_after = []
    for round_ in range(args.rounds):
        procs = [spawn(srv.port, kind) for kind in ("upload", "download", "unread", "pipelined")
                 for _ in range(args.each)]
        ready = 0
        for pid, r in procs:
            if select.select([r], [], [], 60)[0] and os.read(r, 1) == b"r":
                ready += 1
            os.close(r)
        F.check(ready == len(procs), "%d of %d clients got into their request" % (ready, len(procs)))
        active = srv.vars()["connections_active"]
        peak_rss = srv.rss()
        F.log("round %d: %d clients mid-request, %d connections active, RSS %s" % (
            round_ + 1, len(procs), active, F.mib(peak_rss)))
        F.check(active == len(procs), "%d connections active, %d clients" % (active, len(procs)))
        for pid, _ in procs:
            os.kill(pid, signal.SIGKILL)
        for pid, _ in procs:
            os.waitpid(pid, 0)
            ALIVE.discard(pid)
        t = time.monotonic()
        settled = srv.let_go(base, args.model, 30)
        v = srv.vars()
        F.log("killed; after %.2f s: %d connections, %d handlers, %d goroutines; cancelled %s" % (
            time.monotonic() - t, v["connections_active"], v["requests_in_flight"], v["goroutines"],
            v["requests_cancelled"]))
        F.check(settled, "the server still holds %d connections, %d handlers, %d goroutines (before: %d)" % (
            v["connections_active"], v["requests_in_flight"], v["goroutines"], base["goroutines"]))
        F.check(srv.get("/")[0] == 200, "the server does not answer after the killed clients")
        time.sleep(1)
        rss_after.append(srv.rss())
        F.log("RSS %s after the round (before any: %s)" % (F.mib(rss_after[-1]), F.mib(base_rss)))
    # Memory: what a round leaves behind (the engine pool, the allocator's
    # arenas; in the thread model one per thread) stays within 32 MiB, and a
    # second round adds no more than 4 MiB to it: nothing leaks per client.
    F.check(rss_after[0] <= base_rss + 32 * 1048576,
            "RSS %s after the clients, %s before" % (F.mib(rss_after[0]), F.mib(base_rss)))
    for i in range(1, len(rss_after)):
        F.check(rss_after[i] <= rss_after[0] + 4 * 1048576,
                "RSS grew from %s to %s in round %d: a leak" % (F.mib(rss_after[0]), F.mib(rss_after[i]), i + 1))
    F.check(srv.stop() == 0, "cogo-server did not exit 0 on SIGTERM")
F.finish()
