#!/usr/bin/python3
"""fd_exhaustion.py: cogo-server out of file descriptors.

cogo-server runs under `prlimit --nofile=N:N` (the runtime raises the soft
limit to the hard one, so both are lowered). 20 keep-alive clients connect
and are served; then a flood of connections well past N: the server accepts
until accept() fails with EMFILE, and the rest wait in the listen backlog.
While it is out of descriptors the test checks that
  - the 20 old clients are still served, request after request;
  - the back-off is logged once for the episode, not once per accept;
  - the server does not spin: with no request, the state of each of its
    threads is sampled (/proc/PID/task/TID/stat) 100 times, about every
    10 ms (for at most 5 s: the thread model has a thread per connection),
    and none may be runnable (R) in more than half of the samples. A thread
    retrying accept() in a loop is runnable all the time however busy the
    machine is (running or waiting for a CPU, it is R either way); one that
    backs off sleeps (S) but for a moment per retry. A busy loop of the
    test's own is sampled the same way beside it and must be seen R in
    most samples: the sampler can see a spin. (The server's CPU time over
    that time is printed; it is not asserted: what a CPU share means
    depends on the load beside the test.)
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

    served = 0
    for round_ in range(4):
        for s in old:
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            if F.read_response(s)[0] == 200:
                served += 1
        time.sleep(0.5)
    F.log("while exhausted: %d of %d requests on old connections served" % (served, 4 * len(old)))
    F.check(served == 4 * len(old), "old clients served %d of %d requests while fds ran out" % (served, 4 * len(old)))

    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)  # past its start-up
        cpu0, t0 = srv.cpu(), time.monotonic()
        runnable = F.sample_runnable([srv.pid, spinner.pid], 5.0, samples=100)
        used, wall = srv.cpu() - cpu0, time.monotonic() - t0
    finally:
        spinner.kill()
        spinner.wait()
    samples = runnable.pop("samples")
    busiest = max(((n, key[1]) for key, n in runnable.items() if key[0] == srv.pid), default=(0, None))
    spun = runnable.get((spinner.pid, spinner.pid), 0)
    F.log("idle while exhausted, %d samples of %d threads over %.1f s: the busiest server thread (%s) runnable in %d, "
          "the busy loop in %d; the server used %.3f CPU s (%.3f cores; printed, not asserted)"
          % (samples, len(runnable), wall, busiest[1], busiest[0], spun, used, used / wall))
    F.check(samples >= 20, "only %d samples of the threads' states in %.1f s" % (samples, wall))
    F.check(spun > samples / 2, "the sampler saw the busy loop runnable in only %d of %d samples" % (spun, samples))
    F.check(busiest[0] <= samples / 2, "server thread %s was runnable in %d of %d samples while out of fds "
            "and idle: it spins" % (busiest[1], busiest[0], samples))
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
