#!/usr/bin/python3
"""soak.py: the mixed clients and the sampler of loadtest/soak.sh (run by it).

Clients, each a thread at a steady pace (beside soak.sh's cogo-load, which
holds keep-alive connections):
  fresh      GET / on a new connection, 50/s
  pipelined  16 GET / in one write on a keep-alive connection, 10 batches/s
  upload     POST /echo of 256 KiB (streamed back), 4/s; the echo is checked
  download   GET /bytes?n=4194304 (streamed, chunked), 2/s; the length is checked
  tls        GET / over TLS, a new connection and 4 keep-alive requests, 5/s
  websocket  a new WebSocket on /ws/echo (RFC 6455 handshake, Sec-WebSocket-Accept
             checked), a masked text message echoed back, then the close
             handshake (the server echoes 1000 and closes TCP), 5/s
Every 10 s the sampler records, from the server's processes and its admin
port: RSS, open fds and goroutines (fds and goroutines: the least of five
readings 0.2 s apart, the floor a leak raises, not the requests that
happen to be in flight), the p99 of the request-duration histogram
over those 10 s (the delta of cogo_http_request_duration_seconds: the
handlers' time), the p99 of the fresh client's round trips (connect
included), requests counted, and the clients' errors so far. At the end it fits a least-squares
line to RSS, fds and goroutines over the samples after the warm-up and
fails (exit 1) on any client error or a slope past the stated bounds
(asserted when at least a minute of samples follows the warm-up; a shorter
run prints the slopes but cannot tell a leak from the warm-up, so it checks
for errors only — ctest's SoakShort):
  RSS         2 MiB per minute (runs under 10 minutes: 4 — the server's
              pools and heap still settle for ~5 minutes at this load;
              4 MiB/min is ~55 bytes per request at 1,250 req/s)
  fds         2 per minute
  goroutines  5 per minute
Writes the samples as TSV (for gnuplot) and a JSON summary.
"""
import argparse
import base64
import hashlib
import json
import os
import re
import socket
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "faults"))
import faultlib as F  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--tls-port", type=int, required=True)
p.add_argument("--admin", type=int, required=True)
p.add_argument("--pid", type=int, required=True)
p.add_argument("--seconds", type=float, required=True)
p.add_argument("--warmup", type=float, default=None,
               help="seconds left out of the slopes (default: 45, or a fifth of a run of 10 minutes or more)")
p.add_argument("--tsv", required=True)
p.add_argument("--json", required=True)
args = p.parse_args()

LONG = args.seconds >= 600
BOUNDS = {"rss_mib": 2.0 if LONG else 4.0, "fds": 2.0, "goroutines": 5.0}  # per minute
if args.warmup is None:
    args.warmup = args.seconds / 5 if LONG else 45
stop = threading.Event()
errors = {}
counts = {}
lock = threading.Lock()


def tally(kind, ok, what=""):
    with lock:
        counts[kind] = counts.get(kind, 0) + 1
        if not ok:
            key = "%s: %s" % (kind, what)
            errors[key] = errors.get(key, 0) + 1


def paced(kind, rate, fn):
    """paced() calls fn rate times a second until the end, each call's
    outcome tallied under kind."""
    def run():
        period, nxt = 1.0 / rate, time.monotonic()
        while not stop.is_set():
            try:
                ok, what = fn()
            except Exception as e:  # a failure of the exchange, not of the test
                ok, what = False, type(e).__name__
            tally(kind, ok, what)
            nxt += period
            stop.wait(max(0, nxt - time.monotonic()))
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


fresh_latencies = []  # seconds, since the last sample (under lock)


def fresh():
    t = time.monotonic()
    st, body = F.http_get(args.port, "/", timeout=10)
    with lock:
        fresh_latencies.append(time.monotonic() - t)
    return st == 200 and body == "Hello, World!", "status %s" % st


class Pipelined:
    def __init__(self):
        self.sock = None

    def __call__(self):
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", args.port), timeout=10)
            self.reader = F.Reader(self.sock, 10)
        self.sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n" * 16)
        ok = sum(1 for _ in range(16) if self.reader.response() == (200, b"Hello, World!"))
        if ok != 16:
            self.sock.close()
            self.sock = None
        return ok == 16, "%d of 16 answered" % ok


UPLOAD = os.urandom(256 * 1024)


def upload():
    # The echo streams back while the body goes out: read it meanwhile.
    with socket.create_connection(("127.0.0.1", args.port), timeout=20) as s:
        reader, out = F.Reader(s, 20), []
        t = threading.Thread(target=lambda: out.append(reader.response()))
        t.start()
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
                  % len(UPLOAD) + UPLOAD)
        t.join()
        st, body = out[0]
        return st == 200 and body == UPLOAD, "status %s, %d bytes back" % (st, len(body))


def download():
    with socket.create_connection(("127.0.0.1", args.port), timeout=20) as s:
        s.sendall(b"GET /bytes?n=4194304 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        st, body = F.Reader(s, 20).response()
        return st == 200 and len(body) == 4194304, "status %s, %d bytes" % (st, len(body))


TLS = ssl.create_default_context()
TLS.check_hostname = False
TLS.verify_mode = ssl.CERT_NONE


def tls():
    with socket.create_connection(("127.0.0.1", args.tls_port), timeout=10) as raw:
        with TLS.wrap_socket(raw, server_hostname="localhost") as s:
            reader = F.Reader(s, 10)
            for _ in range(4):
                s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                st, body = reader.response()
                if (st, body) != (200, b"Hello, World!"):
                    return False, "status %s" % st
    return True, ""


WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def ws_frame(opcode, payload):
    """ws_frame() is a client frame (RFC 6455 5.2: FIN, masked), payload < 126 bytes."""
    mask = os.urandom(4)
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + \
        bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def recv_exact(sock, n):
    """recv_exact() reads n bytes or raises on EOF."""
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise RuntimeError("EOF after %d of %d bytes" % (len(out), n))
        out += chunk
    return out


def ws_read_frame(sock):
    """ws_read_frame() reads one unmasked server frame of < 126 bytes: (opcode, payload)."""
    head = recv_exact(sock, 2)
    n = head[1] & 0x7F
    if head[1] & 0x80 or n >= 126:
        raise RuntimeError("unexpected frame header %r" % head)
    return head[0] & 0x0F, recv_exact(sock, n)


def websocket():
    key = base64.b64encode(os.urandom(16))
    with socket.create_connection(("127.0.0.1", args.port), timeout=10) as s:
        s.sendall(b"GET /ws/echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(1)
            if not chunk:
                return False, "closed during the handshake"
            head += chunk
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
        if not head.startswith(b"HTTP/1.1 101 ") or b"\r\nsec-websocket-accept: " + accept.lower() not in head.lower():
            return False, "handshake answered %r" % head.split(b"\r\n", 1)[0]
        msg = os.urandom(12).hex().encode()
        s.sendall(ws_frame(0x1, msg))
        if ws_read_frame(s) != (0x1, msg):
            return False, "echo differs"
        s.sendall(ws_frame(0x8, (1000).to_bytes(2, "big")))
        op, payload = ws_read_frame(s)
        if op != 0x8 or payload[:2] != (1000).to_bytes(2, "big"):
            return False, "close answered with opcode %d %r" % (op, payload)
        if s.recv(1) != b"":
            return False, "bytes after the close frame"
    return True, ""


def metrics():
    st, text = F.http_get(args.admin, "/metrics", timeout=10)
    if st != 200:
        raise RuntimeError("/metrics answered %s" % st)
    buckets, total = {}, 0.0
    for line in text.splitlines():
        m = re.match(r'cogo_http_request_duration_seconds_bucket\{.*le="([^"]+)"\} (\S+)', line)
        if m:
            le = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
            buckets[le] = buckets.get(le, 0) + float(m.group(2))
        m = re.match(r"cogo_http_requests_total\{.*\} (\S+)", line)
        if m:
            total += float(m.group(1))
    return buckets, total


def quantile(q, now, before):
    """quantile() is histogram_quantile(q) over the delta of two scrapes."""
    d = sorted((le, now.get(le, 0) - before.get(le, 0)) for le in now)
    if not d or d[-1][1] <= 0:
        return float("nan")
    rank, lower, below = q * d[-1][1], 0.0, 0.0
    for le, c in d:
        if c >= rank:
            if le == float("inf"):
                return lower
            return lower + (le - lower) * (rank - below) / (c - below) if c > below else le
        lower, below = le, c
    return lower


def slope(xs, ys):
    n = len(xs)
    if n < 3:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


threads = [paced("fresh", 50, fresh), paced("pipelined", 10, Pipelined()), paced("upload", 4, upload),
           paced("download", 2, download), paced("tls", 5, tls), paced("websocket", 5, websocket)]
samples = []
t0 = time.monotonic()
prev_buckets, prev_total = metrics()
with open(args.tsv, "w") as tsv:
    tsv.write("# minutes rss_mib fds goroutines p99_ms requests_per_s client_errors client_p99_ms\n")
    tick, prev_t = 0, t0
    while time.monotonic() - t0 < args.seconds:
        tick += 1  # every 10 s from the start, however long sampling takes
        time.sleep(max(0, min(t0 + 10 * tick, t0 + args.seconds) - time.monotonic()))
        buckets, total = metrics()
        now_t = time.monotonic()
        floor = {"fds": None, "goroutines": None}
        for i in range(5):
            if i:
                time.sleep(0.2)
            v = json.loads(F.http_get(args.admin, "/debug/vars", timeout=10)[1])
            for key, now in (("fds", F.proc_fds(args.pid)), ("goroutines", v["goroutines"])):
                floor[key] = now if floor[key] is None else min(floor[key], now)
        minute = (time.monotonic() - t0) / 60
        with lock:
            n_err = sum(errors.values())
            lat = sorted(fresh_latencies)
            fresh_latencies.clear()
        s = {"minutes": round(minute, 3), "rss_mib": F.proc_rss(args.pid) / 1048576.0,
             "fds": floor["fds"], "goroutines": floor["goroutines"],
             "p99_ms": quantile(0.99, buckets, prev_buckets) * 1e3,
             "requests_per_s": (total - prev_total) / max(now_t - prev_t, 1e-9), "client_errors": n_err,
             "client_p99_ms": (lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else float("nan")) * 1e3}
        prev_buckets, prev_total, prev_t = buckets, total, now_t
        samples.append(s)
        tsv.write("%.3f %.2f %d %d %.3f %.1f %d %.3f\n" % tuple(s[k] for k in (
            "minutes", "rss_mib", "fds", "goroutines", "p99_ms", "requests_per_s", "client_errors",
            "client_p99_ms")))
        tsv.flush()
        print("soak: %5.1f min  RSS %6.1f MiB  fds %4d  goroutines %5d  p99 server %6.2f ms, client %7.2f ms"
              "  %6.0f req/s  errors %d" % (minute, s["rss_mib"], s["fds"], s["goroutines"], s["p99_ms"],
                                             s["client_p99_ms"], s["requests_per_s"], n_err), flush=True)
stop.set()
for t in threads:
    t.join(30)

steady = [s for s in samples if s["minutes"] * 60 >= args.warmup]
slopes = {k: slope([s["minutes"] for s in steady], [s[k] for s in steady]) for k in BOUNDS}
# The slopes are asserted over a minute of samples or more after the
# warm-up; over less, a few samples' noise makes a slope of any size.
judged = len(steady) >= 3 and steady[-1]["minutes"] - steady[0]["minutes"] >= 1.0
verdict = []
if errors:
    verdict.append("client errors: %s" % errors)
for k, bound in BOUNDS.items():
    if judged and slopes[k] > bound:
        verdict.append("%s grows %.2f per minute (bound %.1f)" % (k, slopes[k], bound))
summary = {"seconds": args.seconds, "warmup_seconds": args.warmup, "samples": samples,
           "slopes_per_minute": slopes, "bounds_per_minute": BOUNDS, "slopes_judged": judged,
           "requests": counts,
           "errors": errors, "verdict": verdict or ["ok"]}
json.dump(summary, open(args.json, "w"), indent=2)
print("soak: exchanges %s" % counts)
print("soak: slopes per minute after %.0f s: RSS %.3f MiB, fds %.3f, goroutines %.3f%s" % (
    args.warmup, slopes["rss_mib"], slopes["fds"], slopes["goroutines"],
    "" if judged else " (not judged: under a minute of samples after the warm-up)"))
print("soak: %s" % ("; ".join(verdict) if verdict else "ok"))
sys.exit(1 if verdict else 0)
