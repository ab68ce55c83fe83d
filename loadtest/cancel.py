#!/usr/bin/python3
"""cancel.py: what cancellation costs and how fast it cleans up (issue 11).

Part 1, disconnects: N clients (default 10,000) each send
GET /sleep?ms=60000 and wait; once the server holds all N handlers, every
client closes at once. Reported per server: the goroutine count before,
while the N wait, and how long after the first close it is back to its
baseline; the RSS before, during and after. cogo-server's handler is the
demo's /sleep (cogo::sleep_for, no mention of cancellation); Go net/http's is
the idiomatic one (select on time.After and r.Context().Done(), /sleepctx in
loadtest/baselines/go-http). Both run with 2 Ps (GOMAXPROCS=2).

Part 2, handler timeout: cogo-server --handler-timeout 100ms under wrk
(-c 1000, 10 s) against GET /sleep?ms=1000: the status mix, the latency
percentiles, and the goroutines and open fds left behind afterwards.

Usage (after cmake --build build; Go and wrk from scripts/setup.sh loadtest):
    /usr/bin/python3 loadtest/cancel.py [--clients N] [--skip-go] [--skip-wrk]
The machine should be otherwise quiet; the figures go to stdout.
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def http_get(url, timeout=5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def wait_listening(port, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"cancel.py: nothing listens on {port}")


class Cogo:
    name = "cogo-server"
    port, admin = 28091, 28092
    path = "/sleep?ms=60000"

    def start(self, extra=()):
        binary = os.path.join(ROOT, "build/bin/cogo-server")
        self.proc = subprocess.Popen(
            [binary, "--listen", f"127.0.0.1:{self.port}", "--admin-listen",
             f"127.0.0.1:{self.admin}", "--procs", "1", "--log-level", "warn",
             *extra],
            env={**os.environ, "COGO_MAXPROCS": "2"})
        wait_listening(self.port)
        wait_listening(self.admin)

    def goroutines(self):
        return json.loads(http_get(f"http://127.0.0.1:{self.admin}/debug/vars"))["goroutines"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class Go:
    name = "Go net/http"
    port = 28093
    path = "/sleepctx?ms=60000"

    def start(self, extra=()):
        src = os.path.join(ROOT, "loadtest/baselines/go-http")
        subprocess.run(["go", "build", "-o", "/tmp/cogo-go-http", "."], cwd=src, check=True,
                       env={**os.environ, "GOFLAGS": "-mod=mod", "GOPROXY": "off",
                            "GOTOOLCHAIN": "local"})
        self.proc = subprocess.Popen(["/tmp/cogo-go-http", "-listen", f"127.0.0.1:{self.port}"],
                                     env={**os.environ, "GOMAXPROCS": "2"})
        wait_listening(self.port)

    def goroutines(self):
        return int(http_get(f"http://127.0.0.1:{self.port}/debug/goroutines"))

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def disconnects(server, n):
    server.start()
    try:
        time.sleep(0.5)
        base = server.goroutines()
        rss0 = rss_mb(server.proc.pid)
        req = f"GET {server.path} HTTP/1.1\r\nHost: t\r\n\r\n".encode()
        socks = []
        for i in range(n):
            s = socket.socket()
            s.connect(("127.0.0.1", server.port))
            s.sendall(req)
            socks.append(s)
            if i % 500 == 499:
                time.sleep(0.02)  # let the accept queue drain
        end = time.time() + 60
        while server.goroutines() < base + n and time.time() < end:
            time.sleep(0.05)
        during = server.goroutines()
        rss1 = rss_mb(server.proc.pid)
        t0 = time.monotonic()
        for s in socks:
            s.close()
        closed = time.monotonic() - t0
        back = None
        while time.monotonic() - t0 < 60:
            if server.goroutines() <= base:
                back = time.monotonic() - t0
                break
            time.sleep(0.01)
        time.sleep(0.5)
        rss2 = rss_mb(server.proc.pid)
        after = server.goroutines()
        back_text = f"{back * 1000:.0f} ms" if back is not None else "not within 60 s"
        print(f"{server.name:12}  goroutines {base} -> {during} -> {after}; "
              f"closing {n} sockets took {closed * 1000:.0f} ms; back to baseline "
              f"{back_text} after the first close; RSS {rss0:.1f} / {rss1:.1f} / {rss2:.1f} MB "
              f"(before / during / after)", flush=True)
    finally:
        server.stop()


def handler_timeout():
    cogo = Cogo()
    cogo.start(["--handler-timeout", "100ms"])
    try:
        time.sleep(0.5)
        base_g, base_fd = cogo.goroutines(), open_fds(cogo.proc.pid)
        out = subprocess.run(
            ["wrk", "-t2", "-c1000", "-d10s", "--latency", "--timeout", "5s",
             f"http://127.0.0.1:{cogo.port}/sleep?ms=1000"],
            capture_output=True, text=True, check=True).stdout
        time.sleep(1.0)
        vars_ = json.loads(http_get(f"http://127.0.0.1:{cogo.admin}/debug/vars"))
        g, fd = vars_["goroutines"], open_fds(cogo.proc.pid)
        print("cogo-server --handler-timeout 100ms, wrk -t2 -c1000 -d10s GET /sleep?ms=1000:")
        for line in out.splitlines():
            if re.search(r"Latency|50%|75%|90%|99%|requests in|Requests/sec|Non-2xx|Socket errors", line):
                print("    " + line.strip())
        print(f"    afterwards: goroutines {base_g} -> {g}, open fds {base_fd} -> {fd}, "
              f"requests_cancelled {vars_['requests_cancelled']}", flush=True)
    finally:
        cogo.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=10000)
    ap.add_argument("--skip-go", action="store_true")
    ap.add_argument("--skip-wrk", action="store_true")
    a = ap.parse_args()
    if a.clients < 1 or a.clients > 15000:
        sys.exit("cancel.py: --clients must be 1..15000 (the fd limit is 20,000 per process)")
    print(f"disconnects: {a.clients} clients of GET /sleep?ms=60000 close at once", flush=True)
    disconnects(Cogo(), a.clients)
    if not a.skip_go:
        disconnects(Go(), a.clients)
    if not a.skip_wrk:
        handler_timeout()


if __name__ == "__main__":
    main()
