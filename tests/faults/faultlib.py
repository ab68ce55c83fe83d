# faultlib.py: what the fault tests (tests/faults/*.py) share — a real
# cogo-server process started with flags and torn down on every exit path,
# its ports read from the start-up line, its /debug/vars, and the /proc
# figures they assert on (RSS, open fds, CPU seconds). Standard library
# only; run with /usr/bin/python3.
#
#   srv = Server(args.server, ["--model", "goroutine"], admin=True)
#   srv.get("/")                -> (status, body) over a new connection
#   srv.vars()["goroutines"]    -> /debug/vars
#   srv.rss(), srv.fds(), srv.cpu()
#   check(cond, "what went wrong")   # records a failure, goes on
#   finish()                          # prints the verdict, exits 0 or 1
import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

FAILURES = []
T0 = time.monotonic()


def log(msg):
    print("[%6.1fs] %s" % (time.monotonic() - T0, msg), flush=True)


def check(cond, msg):
    """check() records a failure (the test goes on, so one run shows all)."""
    if not cond:
        FAILURES.append(msg)
        log("FAIL: " + msg)
    return cond


def finish():
    name = os.path.basename(sys.argv[0])
    if FAILURES:
        print("%s: FAILED (%d): %s" % (name, len(FAILURES), "; ".join(FAILURES)), flush=True)
        sys.exit(1)
    print("%s: passed in %.1fs" % (name, time.monotonic() - T0), flush=True)
    sys.exit(0)


def parser(doc):
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    p.add_argument("--server", default=os.path.join(here, "..", "..", "build", "bin", "cogo-server"),
                   help="the cogo-server binary (default build/bin/cogo-server)")
    p.add_argument("--model", default="goroutine", choices=["goroutine", "thread"])
    return p


def free_ports(n):
    """free_ports() is a port P in 20000..60000 such that P..P+n-1 could all
    be bound a moment ago."""
    import random
    for _ in range(500):
        base = random.randint(20000, 60000 - n)
        socks = []
        try:
            for i in range(n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            pass
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no %d free consecutive ports" % n)


def wait_until(pred, timeout, step=0.05):
    """wait_until() polls pred until it holds or timeout seconds pass; its last value."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= end:
            return v
        time.sleep(step)


def proc_rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def proc_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def proc_cpu(pid):
    """proc_cpu() is the process's utime+stime, seconds."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def sample_runnable(pids, seconds, samples=100, step=0.01):
    """sample_runnable() reads the state of every thread of pids every step
    seconds, for the given time or until it has taken that many samples
    (with hundreds of threads a sample takes a while):
    {(pid, tid): samples in which it was
    runnable (R: running or waiting for a CPU)} and "samples": how many
    were taken. A thread that spins is R in nearly every sample however
    loaded the machine is; one that sleeps between events, in few."""
    counts, n = {}, 0
    end = time.monotonic() + seconds
    while time.monotonic() < end and n < samples:
        for pid in pids:
            try:
                tids = os.listdir("/proc/%d/task" % pid)
            except OSError:
                continue
            for tid in tids:
                try:
                    with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                        state = f.read().rsplit(")", 1)[1].split()[0]
                except OSError:
                    continue
                key = (pid, int(tid))
                counts[key] = counts.get(key, 0) + (state == "R")
        n += 1
        time.sleep(step)
    counts["samples"] = n
    return counts


def children_of(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


class Server:
    """Server: cogo-server started with flags; stdout and stderr go to a
    log file read for the start-up line(s). admin=True adds --admin-listen
    127.0.0.1:0 (or the given admin flag value). prefix runs it under a
    command (["prlimit", "--nofile=256:256"])."""

    def __init__(self, binary, flags, admin=True, prefix=(), procs=1, env=None, log_path=None):
        # --procs N: the processes share one port, so it cannot be port 0
        # (each would pick its own).
        listen = "127.0.0.1:%d" % free_ports(1) if procs > 1 else "127.0.0.1:0"
        self.flags = ([] if "--listen" in flags else ["--listen", listen]) + list(flags)
        if admin is True:
            self.flags += ["--admin-listen", "127.0.0.1:0"]
        elif admin:
            self.flags += ["--admin-listen", admin]
        self.log_path = log_path or "/tmp/cogo-fault-%d-%d.log" % (os.getpid(), id(self))
        self.log_file = open(self.log_path, "w+b")
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen(list(prefix) + [binary] + self.flags, stdout=self.log_file,
                                     stderr=subprocess.STDOUT, env=e, start_new_session=True)
        self.pid = self.proc.pid
        lines = wait_until(lambda: self._listening_lines() if len(self._listening_lines()) >= procs else None, 30)
        if not lines:
            self.kill()
            raise RuntimeError("cogo-server did not start: " + self.output()[-2000:])
        ports = re.findall(r":(\d+) \((http|https|admin|echo)\)", lines[0])
        self.port = int(next(p for p, k in ports if k in ("http", "https")))
        admins = [int(p) for line in lines for p, k in re.findall(r":(\d+) \((admin)\)", line)]
        self.admin = admins[0] if admins else None
        self.admins = sorted(admins)

    def _listening_lines(self):
        return [l for l in self.output().splitlines() if "listening on" in l]

    def output(self):
        self.log_file.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def serving_pids(self):
        """The processes serving: the server itself, or its --procs children."""
        kids = children_of(self.pid)
        return kids if kids else [self.pid]

    def rss(self):
        return sum(proc_rss(p) for p in self.serving_pids())

    def fds(self):
        return sum(proc_fds(p) for p in self.serving_pids())

    def cpu(self):
        return sum(proc_cpu(p) for p in [self.pid] + children_of(self.pid))

    def vars(self, admin=None):
        s, body = http_get(admin or self.admin, "/debug/vars", timeout=20)
        if s != 200:
            raise RuntimeError("/debug/vars answered %s" % s)
        return json.loads(body)

    def let_go(self, base, model, timeout=30):
        """let_go() waits until the server holds nothing of the clients that
        left: no connection, no handler running and (goroutine model) no more
        goroutines than base["goroutines"]. Whether it got there."""
        def empty():
            v = self.vars()
            return (v["connections_active"] == 0 and v["requests_in_flight"] == 0 and
                    (model == "thread" or v["goroutines"] <= base["goroutines"]))
        return wait_until(empty, timeout, step=0.1)

    def get(self, path, timeout=20):
        return http_get(self.port, path, timeout=timeout)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """stop() sends sig and returns the exit code (None if it did not exit)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        self.log_file.close()
        if not FAILURES and exc[0] is None:
            os.unlink(self.log_path)
        else:
            log("server log kept: " + self.log_path)


class Reader:
    """Reader: HTTP/1.1 responses off one socket, in order — bytes that
    arrive past a response stay for the next one (pipelining)."""

    def __init__(self, sock, timeout=20):
        self.sock, self.buf = sock, b""
        sock.settimeout(timeout)

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise ConnectionError("closed")
        self.buf += d

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def response(self):
        """response() is the next (status, body); (0, b"") if the connection
        ends or times out first, or what arrives is not a response."""
        try:
            while b"\r\n\r\n" not in self.buf:
                self._fill()
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            parts = head.split(b" ", 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
                return 0, b""
            status, lower = int(parts[1]), head.lower()
            m = re.search(rb"\r\ncontent-length: *(\d+)", lower)
            if m:
                return status, self._take(int(m.group(1)))
            if b"transfer-encoding: chunked" in lower:
                body = b""
                while True:
                    size = int(self._line().split(b";")[0], 16)
                    body += self._take(size)
                    self._take(2)
                    if size == 0:
                        return status, body
            if status in (204, 304) or status < 200:
                return status, b""
            while True:  # until the close
                try:
                    self._fill()
                except ConnectionError:
                    body, self.buf = self.buf, b""
                    return status, body
        except (socket.timeout, ConnectionError, OSError, ValueError):
            return 0, b""


def read_response(sock, timeout=20):
    """read_response() reads one response from sock (no pipelining: bytes
    past it are dropped)."""
    return Reader(sock, timeout).response()


def http_get(port, path, timeout=20, host="127.0.0.1"):
    """http_get() is one GET on a new connection: (status, body), (0, b"")
    when it fails."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(("GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % path).encode())
            st, body = read_response(s, timeout)
            return st, body.decode("utf-8", "replace")
    except OSError:
        return 0, ""


class Prober(threading.Thread):
    """Prober: a normal client beside the fault — a keep-alive connection
    (reopened if the server closes it) sending GET path every interval;
    records each latency and each failure."""

    def __init__(self, port, path="/", interval=0.02, new_connections=False):
        super().__init__(daemon=True)
        self.port, self.path, self.interval, self.new = port, path, interval, new_connections
        self.latencies, self.failures, self.answered_at = [], 0, []
        self.stopping = threading.Event()

    def run(self):
        sock = None
        while not self.stopping.is_set():
            t = time.monotonic()
            try:
                if sock is None or self.new:
                    if sock:
                        sock.close()
                    sock = socket.create_connection(("127.0.0.1", self.port), timeout=20)
                sock.sendall(("GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % self.path).encode())
                st, _ = read_response(sock)
                if st != 200:
                    raise ConnectionError("status %s" % st)
                self.latencies.append(time.monotonic() - t)
                self.answered_at.append(time.monotonic())
            except OSError:
                self.failures += 1
                if sock:
                    sock.close()
                sock = None
            self.stopping.wait(self.interval)
        if sock:
            sock.close()

    def stop(self):
        self.stopping.set()
        self.join()

    def longest_gap(self):
        """longest_gap() is the longest time between two answers, seconds."""
        a = self.answered_at
        return max((y - x for x, y in zip(a, a[1:])), default=float("inf"))

    def percentile(self, q):
        if not self.latencies:
            return float("nan")
        v = sorted(self.latencies)
        return v[min(len(v) - 1, int(q / 100.0 * len(v)))]


def read_line(pipe, timeout):
    """read_line() is the next line of a child's stdout pipe, stripped; b""
    at its end or after timeout seconds."""
    import select
    buf = b""
    end = time.monotonic() + timeout
    while not buf.endswith(b"\n"):
        left = end - time.monotonic()
        if left <= 0 or not select.select([pipe], [], [], left)[0]:
            return buf.strip()
        d = os.read(pipe.fileno(), 1)
        if not d:
            break
        buf += d
    return buf.strip()


def raise_nofile():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def mib(n):
    return "%.1f MiB" % (n / 1048576.0)
