#!/usr/bin/python3
"""graceful_shutdown.py: SIGTERM under load loses no accepted request.

cogo-server (--access-log, --shutdown-grace G, optionally --procs N) is
loaded by wrk at C connections — plain GET /, then uploads (POST /echo of
64 KiB each) — and gets SIGTERM a few seconds in. The access log has one
line per request whose handler ran: each of those requests was accepted by
the server, so each must have reached wrk as a complete response. wrk
counts complete responses only; the test requires
    complete responses counted by wrk == requests in the access log
(not one accepted request cut off), and exit status 0 with wrk still
running: wrk's run is far longer than the grace, and the test stops it
only once the server has exited (or after grace + 60 s), so a server that
ignored SIGTERM, or waited for its clients to leave, would still be
running then. How long the exit took is printed (well under a
second here), not asserted: a busy machine makes it what it likes.
Requests wrk sends after the listeners
closed are refused, and do not count on either side.
"""
import os
import re
import signal
import subprocess
import tempfile
import time

import faultlib as F

p = F.parser(__doc__)
p.add_argument("-c", type=int, default=1000, help="wrk connections")
p.add_argument("--procs", type=int, default=1)
p.add_argument("--grace", type=float, default=10.0, help="--shutdown-grace, seconds")
p.add_argument("--after", type=float, default=3.0, help="seconds of load before SIGTERM")
args = p.parse_args()
F.raise_nofile()

UPLOAD = b"""
wrk.method = "POST"
wrk.body = string.rep("u", 65536)
wrk.headers["Content-Type"] = "application/octet-stream"
"""


def run(kind):
    flags = ["--model", args.model, "--access-log", "--shutdown-grace", "%gs" % args.grace]
    if args.procs > 1:
        flags += ["--procs", str(args.procs)]
    with F.Server(args.server, flags, admin=False, procs=args.procs) as srv:
        path, script = "/", []
        if kind == "uploads":
            f = tempfile.NamedTemporaryFile(suffix=".lua", delete=False)
            f.write(UPLOAD)
            f.close()
            path, script = "/echo", ["-s", f.name]
        wrk = subprocess.Popen(["wrk", "-t2", "-c%d" % args.c, "-d%ds" % int(args.after + args.grace + 120),
                                "--timeout", "%ds" % int(args.grace + 5)] + script +
                               ["http://127.0.0.1:%d%s" % (srv.port, path)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            time.sleep(args.after)
            t = time.monotonic()
            code = srv.stop(signal.SIGTERM, timeout=args.grace + 60)
            took = time.monotonic() - t
            loaded = wrk.poll() is None  # wrk was still sending when the server exited
            time.sleep(1)
            wrk.send_signal(signal.SIGINT)  # wrk stops and reports what it counted
            out = wrk.communicate(timeout=60)[0].decode()
        finally:
            if wrk.poll() is None:
                wrk.kill()
                wrk.wait()
        if script:
            os.unlink(script[1])
        m = re.search(r"(\d+) requests in", out)
        completed = int(m.group(1)) if m else -1
        pattern = '"GET / HTTP/1.1" 200 ' if kind == "plain" else '"POST /echo HTTP/1.1" 200 65536 '
        log = srv.output()
        logged = log.count(pattern)
        other = len(re.findall(r'" [0-9]{3} ', log)) - logged
        errors = re.search(r"Socket errors: .*", out)
        F.log("%s, %s model, --procs %d, c=%d: SIGTERM after %.1fs, exit %s after %.2f s; wrk: %d complete "
              "responses (%s); access log: %d requests (%d other)" % (
                  kind, args.model, args.procs, args.c, args.after, code, took, completed,
                  errors.group(0) if errors else "no socket errors", logged, other))
        F.check(code == 0, "%s: exit status %s, not 0" % (kind, code))
        F.check(loaded, "%s: wrk had stopped before the server exited" % kind)
        F.check(completed > 0, "%s: wrk completed nothing: %s" % (kind, out[-400:]))
        F.check(other == 0, "%s: %d requests logged with another status" % (kind, other))
        F.check(completed == logged, "%s: the server handled %d requests, wrk got %d complete responses" % (
            kind, logged, completed))


run("plain")
run("uploads")
F.finish()
