#!/usr/bin/python3
"""fd_exhaustion.py: cogo-server out of file descriptors.

cogo-server runs under `prlimit --nofile=N:N` (the runtime raises the soft
limit to the hard one, so both are lowered). 20 keep-alive clients connect
and are served; then a flood of connections well past N: the server accepts
until accept() fails with EMFILE, and the rest wait in the listen backlog.
While it is out of descriptors the test checks that
  - the 20 old clients are still served, request after request;
  - the back-off is logged once for the episode, not once per accept;
  - the server does not spin: over the same 2 s, a reference busy loop
    (a process of this test's own, spinning) runs beside it, and the
    server's CPU time must stay under a quarter of the loop's. A server
    retrying accept() in a loop is runnable all the time, as the reference
    is, and gets about as much CPU as it on a machine however busy; an
    idle one takes a small fraction of it. (The CPU in cores is printed;
    it is not asserted, since what a core-share means depends on the load
    beside the test.)
then the flood disconnects, and a new client must be served again (the
back-off is at most 1 s).
"""
import socket
import subprocess
import sys
import time

import faultlib as F

p = F.parser(__doc__)
p.add_argument("--limit", type=int, default=256, help="the server's open-files limit")
p.add_argument("--flood", type=int, default=600, help="connections opened past the limit")
args = p.parse_args()
F.raise_nofile()

with F.Server(args.server, ["--model", args.model, "--log-level", "info"],
              admin=False, prefix=["prlimit", "--nofile=%d:%d" % (args.limit, args.limit)]) as srv:
    F.log("cogo-server (%s model) with nofile %d on port %d" % (args.model, args.limit, srv.port))
    old = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        F.check(F.read_response(s)[0] == 200, "an old client was not served before the flood")
        old.append(s)

    flood = []
    for _ in range(args.flood):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", srv.port))  # completes in the backlog
        flood.append(c)
    F.log("%d connections opened past the limit; server fds: %d" % (args.flood, srv.fds()))
    exhausted = F.wait_until(lambda: "Too many open files" in srv.output(), 20)
    F.check(exhausted, "the server never logged running out of descriptors")
    F.check(srv.fds() >= args.limit - 2, "the server holds %d fds, not its limit %d" % (srv.fds(), args.limit))

    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    cpu0, ref0, t0 = srv.cpu(), F.proc_cpu(spinner.pid), time.monotonic()
    served = 0
    for round_ in range(4):
        for s in old:
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            if F.read_response(s)[0] == 200:
                served += 1
        time.sleep(0.5)
    used, ref, wall = srv.cpu() - cpu0, F.proc_cpu(spinner.pid) - ref0, time.monotonic() - t0
    spinner.kill()
    spinner.wait()
    F.log("while exhausted: %d of %d requests on old connections served; over %.1f s the server used "
          "%.3f CPU s (%.3f cores), a busy loop beside it %.3f CPU s: %.1f%% of it"
          % (served, 4 * len(old), wall, used, used / wall, ref, 100 * used / max(ref, 1e-9)))
    F.check(served == 4 * len(old), "old clients served %d of %d requests while fds ran out" % (served, 4 * len(old)))
    F.check(ref > 0, "the reference busy loop got no CPU in %.1f s" % wall)
    F.check(used < 0.25 * ref, "the server used %.3f CPU s while out of fds, a busy loop beside it %.3f: "
            "it spins" % (used, ref))
    logs = srv.output().count("Too many open files")
    F.check(logs == 1, "the back-off was logged %d times, not once" % logs)

    for c in flood:
        c.close()
    F.log("flood closed; server fds %d" % srv.fds())
    st = F.wait_until(lambda: srv.get("/", timeout=5)[0] == 200, 30, step=0.2)
    F.check(st, "a new client was not served after descriptors came free")
    for s in old:
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        F.check(F.read_response(s)[0] == 200, "an old client lost its connection")
        s.close()
    if args.model == "goroutine":
        F.check(F.wait_until(lambda: "available again" in srv.output(), 10),
                "no 'available again' line after recovery")
    F.check(srv.stop() == 0, "cogo-server did not exit 0 on SIGTERM")
F.finish()
