#!/usr/bin/python3
# thread_model_clients.py: the clients of thread_model_test's server tests,
# speaking HTTP/1.1 over plain TCP and TLS (Python's ssl: a real handshake).
#
#   retire PLAIN_PORT TLS_PORT ROUNDS
#       Each round: one TLS and one plain connection, one GET /retire with
#       "Connection: close", read to the end. Prints per connection
#       "<tls|plain> <client port> <status line> <body>".
#   churn PLAIN_PORT TLS_PORT
#       Many TLS (and some plain) keep-alive connections opening and closing
#       while the test shuts the server down gracefully, idle keep-alive
#       ones, and requests in flight at the shutdown (GET /slow). Prints
#       "ready" once the idle and slow connections are set up and every
#       churner went through three connections; stops once new connections
#       are refused; prints "counts" and each count (below) as "name N",
#       then "details" and what went wrong as JSON, and exits 0.
import json
import socket
import ssl
import sys
import threading

CTX = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE
GUARD_S = 60  # a hang guard for every socket wait, never a timing


def body_of(n):
    """body_of() is what GET /body/N answers: N bytes of a fixed pattern."""
    unit = b"0123456789abcdef"
    return (unit * (n // len(unit) + 1))[:n]


def connect(port, tls):
    raw = socket.create_connection(("127.0.0.1", port), timeout=GUARD_S)
    local = raw.getsockname()[1]
    if not tls:
        return raw, local
    try:
        return CTX.wrap_socket(raw, server_hostname="localhost"), local
    except BaseException:
        raw.close()
        raise


class Reader:
    """Reader: responses off one connection; `got` counts bytes of the
    response being read, so an end inside one is told from an end between
    two."""

    def __init__(self, s):
        self.s = s
        self.buf = b""
        self.got = 0

    def fill(self):
        try:
            chunk = self.s.recv(65536)
        except (ssl.SSLEOFError, ConnectionResetError, BrokenPipeError):
            chunk = b""
        self.buf += chunk
        self.got += len(chunk)
        return bool(chunk)

    def response(self):
        """response() -> (status, fields, body), or None if the connection
        ended before any byte of it; raises Cut if it ended inside it."""
        self.got = len(self.buf)
        while b"\r\n\r\n" not in self.buf:
            if not self.fill():
                if self.got == 0:
                    return None
                raise Cut("ended inside a head after %d bytes" % self.got)
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        length = int(fields.get("content-length", "0"))
        while len(self.buf) < length:
            if not self.fill():
                raise Cut("%s: ended after %d of %d body bytes" % (lines[0], len(self.buf), length))
        body, self.buf = self.buf[:length], self.buf[length:]
        return lines[0], fields, body


class Cut(Exception):
    pass


def retire(plain_port, tls_port, rounds):
    for _ in range(rounds):
        for tls, port in ((True, tls_port), (False, plain_port)):
            s, local = connect(port, tls)
            s.sendall(b"GET /retire HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            r = Reader(s).response()
            s.close()
            status, _, body = r if r else ("none", {}, b"")
            print("tls" if tls else "plain", local, status.replace(" ", "_"), body.decode(), flush=True)


def churn(plain_port, tls_port):
    lock = threading.Lock()
    counts = {
        "responses": 0,       # complete responses with the right body
        "bad": [],            # responses complete but wrong (status, body)
        "cut": [],            # connections that ended inside a response
        "closed_between": 0,  # ended before any byte of a next response
        "refused": 0,         # connects or handshakes refused at the shutdown
        "idle_closed": 0,     # idle keep-alive connections the shutdown closed
        "idle_not_closed": [],
        "slow_ok": 0,         # in flight at the shutdown, answered whole with close
        "slow_bad": [],
    }

    def note(key, value=1):
        with lock:
            if isinstance(counts[key], list):
                counts[key].append(value)
            else:
                counts[key] += value

    def check(r, n):
        status, fields, body = r
        if status != "HTTP/1.1 200 OK" or body != body_of(n):
            note("bad", "%s, %d body bytes for %d" % (status, len(body), n))
            return False
        note("responses")
        return fields.get("connection", "").lower() != "close"

    stop = threading.Event()
    warm = threading.Barrier(9)  # 8 churners + the main thread

    def churner(i):
        tls = i % 4 != 3  # three TLS churners for each plain one
        port = tls_port if tls else plain_port
        conns = 0
        k = 0
        while not stop.is_set():
            try:
                s, _ = connect(port, tls)
            except (OSError, ssl.SSLError):
                note("refused")
                stop.set()  # the listeners are gone: the shutdown began
                if conns < 3:
                    warm.abort()  # refused before the shutdown: not warm
                break
            reader = Reader(s)
            try:
                for _ in range(1 + k % 3):
                    n = (k * 7919) % 65536
                    k += 1
                    try:
                        s.sendall(b"GET /body/%d HTTP/1.1\r\nHost: t\r\n\r\n" % n)
                    except OSError:
                        note("closed_between")
                        break
                    r = reader.response()
                    if r is None:
                        note("closed_between")
                        break
                    if not check(r, n):
                        break
            except Cut as e:
                note("cut", str(e))
            except OSError as e:
                note("cut", "error inside a response: %s" % e)
            finally:
                s.close()
            conns += 1
            if conns == 3:
                try:
                    warm.wait()
                except threading.BrokenBarrierError:
                    break

    def idle(tls, port, n):
        s, _ = connect(port, tls)
        reader = Reader(s)
        s.sendall(b"GET /body/%d HTTP/1.1\r\nHost: t\r\n\r\n" % n)
        r = reader.response()
        if r is None or not check(r, n):
            note("idle_not_closed", "no first response")
            return s, None
        return s, reader

    def slow(tls, port):
        s, _ = connect(port, tls)
        s.sendall(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        return s

    threads = [threading.Thread(target=churner, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    try:
        warm.wait()  # every churner went through three connections
    except threading.BrokenBarrierError:
        print("not warm: a connection was refused before the shutdown", flush=True)
        stop.set()
        for t in threads:
            t.join()
        sys.exit(1)
    # Opened amid the churn: their server fds are numbers just freed by
    # churned connections.
    idles = [idle(j % 2 == 0, tls_port if j % 2 == 0 else plain_port, 100 + j) for j in range(6)]
    slows = [slow(j % 2 == 0, tls_port if j % 2 == 0 else plain_port) for j in range(2)]
    print("ready", flush=True)
    for s, reader in idles:
        if reader is None:
            continue
        try:
            r = reader.response()
        except (Cut, OSError) as e:
            r = e
        if r is None:
            note("idle_closed")
        else:
            note("idle_not_closed", str(r))
        s.close()
    for s in slows:
        try:
            r = Reader(s).response()
            if r and r[0] == "HTTP/1.1 200 OK" and r[2] == b"slow" and r[1].get("connection") == "close":
                note("slow_ok")
            else:
                note("slow_bad", str(r))
        except (Cut, OSError) as e:
            note("slow_bad", str(e))
        s.close()
    for t in threads:
        t.join()
    print("counts", " ".join("%s %d" % (k, len(v) if isinstance(v, list) else v)
                             for k, v in counts.items()), flush=True)
    print("details", json.dumps({k: v for k, v in counts.items() if isinstance(v, list)}), flush=True)


if __name__ == "__main__":
    socket.setdefaulttimeout(GUARD_S)
    if sys.argv[1] == "retire":
        retire(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        churn(int(sys.argv[2]), int(sys.argv[3]))
