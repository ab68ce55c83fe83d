#!/usr/bin/python3
"""Frame-level HTTP/2 checks against a cogo server (h2c, prior knowledge),
driven by tests/http2_test.cpp. Python's h2 (python3-h2) is the client: it
checks every frame the server sends against RFC 9113 and HPACK.

  frames.py PORT CASE

Prints "ok" on success; any failure raises (non-zero exit, a traceback).
The routes are http2_test.cpp's.
"""
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.settings
import h2.errors


class Client:
    def __init__(self, port, send_preface=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.events = []
        if send_preface:
            self.conn.initiate_connection()
            self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, method, path, extra=(), end_stream=True):
        sid = self.conn.get_next_available_stream_id()
        headers = [(":method", method), (":path", path), (":scheme", "http"),
                   (":authority", "localhost")] + list(extra)
        self.conn.send_headers(sid, headers, end_stream=end_stream)
        self.flush()
        return sid

    def pump(self):
        """Reads once and returns the events it produced (empty at EOF)."""
        data = self.sock.recv(65536)
        if not data:
            return None
        evs = self.conn.receive_data(data)
        for ev in evs:
            if isinstance(ev, h2.events.DataReceived):
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        self.flush()
        self.events.extend(evs)
        return evs

    def until(self, pred, what):
        deadline = time.monotonic() + 30
        while not pred():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for " + what + "; events: " + repr(self.events))
            if self.pump() is None:
                if pred():
                    return
                raise AssertionError("connection closed waiting for " + what + "; events: " +
                                     repr(self.events))

    def of(self, sid, kind):
        return [e for e in self.events if isinstance(e, kind) and getattr(e, "stream_id", None) == sid]

    def ended(self, sid):
        return bool(self.of(sid, h2.events.StreamEnded) or self.of(sid, h2.events.StreamReset))

    def status(self, sid):
        for e in self.of(sid, h2.events.ResponseReceived):
            return dict(e.headers)[":status"]
        return None

    def body(self, sid):
        return b"".join(e.data for e in self.of(sid, h2.events.DataReceived))


def case_rst_cancels(port):
    # A handler parked in sleep_for under its request context; the client
    # resets the stream: the server cancels the context (the test counts
    # the Cancelled through a side channel). The connection goes on.
    c = Client(port)
    sid = c.request("GET", "/park")
    c.until(lambda: c.conn.remote_settings.max_concurrent_streams == 100, "the server's SETTINGS")
    # Give the handler a moment to park (not required: a reset that comes
    # first cancels the context before the handler waits, the same Cancelled).
    time.sleep(0.2)
    c.conn.reset_stream(sid, error_code=h2.errors.ErrorCodes.CANCEL)
    c.flush()
    sid2 = c.request("GET", "/")
    c.until(lambda: c.ended(sid2), "the second stream's response")
    assert c.status(sid2) == "200", c.events
    assert c.body(sid2) == b"hello", c.body(sid2)
    print("ok")


def case_exception_isolated(port):
    # Two streams on one connection: the handler of one throws (500 on that
    # stream), the other answers 200; the connection stays up for a third.
    c = Client(port)
    bad = c.request("GET", "/throw")
    good = c.request("GET", "/")
    c.until(lambda: c.ended(bad) and c.ended(good), "both responses")
    assert c.status(bad) == "500", c.events
    assert c.status(good) == "200", c.events
    assert c.body(good) == b"hello"
    third = c.request("GET", "/")
    c.until(lambda: c.ended(third), "the third response")
    assert c.status(third) == "200", c.events
    assert not [e for e in c.events if isinstance(e, h2.events.ConnectionTerminated)], c.events
    print("ok")


def case_head_no_data(port):
    # HEAD: the head a GET gets (content-length 5), END_STREAM on HEADERS,
    # no DATA frame (RFC 9110 9.3.2).
    c = Client(port)
    sid = c.request("HEAD", "/")
    c.until(lambda: c.ended(sid), "the HEAD response")
    resp = c.of(sid, h2.events.ResponseReceived)[0]
    headers = dict(resp.headers)
    assert headers[":status"] == "200", headers
    assert headers.get("content-length") == "5", headers
    assert resp.stream_ended is not None, "END_STREAM not on the HEADERS frame"
    assert not c.of(sid, h2.events.DataReceived), c.events
    print("ok")


def case_refuse_over_100(port):
    # 101 streams opened at once, before the client has read the server's
    # SETTINGS: 100 park, the 101st is refused — RST_STREAM REFUSED_STREAM,
    # or a connection error PROTOCOL_ERROR (RFC 9113 5.1.2).
    c = Client(port)
    sids = [c.request("GET", "/park") for _ in range(101)]
    c.flush()
    last = sids[-1]

    def refused():
        for e in c.of(last, h2.events.StreamReset):
            assert e.error_code == h2.errors.ErrorCodes.REFUSED_STREAM, e
            print("101st stream: RST_STREAM REFUSED_STREAM")
            return True
        for e in c.events:
            if isinstance(e, h2.events.ConnectionTerminated):
                assert e.error_code == h2.errors.ErrorCodes.PROTOCOL_ERROR, e
                print("101st stream: GOAWAY PROTOCOL_ERROR")
                return True
        return False

    c.until(refused, "the 101st stream refused")
    # The first 100 are still open (parked), none answered or reset.
    for sid in sids[:-1]:
        assert not c.ended(sid), (sid, c.events)
    print("ok")
    # Closing the connection cancels the 100 parked handlers (the test
    # counts them).
    c.sock.close()


def case_header_too_large(port):
    # A header list over max_header_bytes (8 KiB here): 431 on that stream,
    # or a stream reset; the connection goes on.
    c = Client(port)
    sid = c.request("GET", "/", extra=[("x-big", "a" * 20000)])
    c.until(lambda: c.ended(sid), "the answer to the large header")
    status = c.status(sid)
    assert status == "431" or c.of(sid, h2.events.StreamReset), c.events
    print("large header list: " + ("431" if status == "431" else "stream reset"))
    sid2 = c.request("GET", "/")
    c.until(lambda: c.ended(sid2), "the next stream's response")
    assert c.status(sid2) == "200", c.events
    print("ok")


def case_post_windows(port):
    # A 300,000-byte body, over four times the initial 65,535-byte windows:
    # it only gets through if the server sends WINDOW_UPDATE as the handler
    # reads. The echo comes back byte-exact.
    c = Client(port)
    body = bytes((i * 7 + 3) % 251 for i in range(300000))
    sid = c.request("POST", "/echo", extra=[("content-length", str(len(body)))], end_stream=False)
    sent = 0
    updates = 0
    while sent < len(body):
        window = min(c.conn.local_flow_control_window(sid), c.conn.max_outbound_frame_size)
        if window <= 0:
            evs = c.pump()
            assert evs is not None, "closed while sending"
            updates += len([e for e in evs if isinstance(e, h2.events.WindowUpdated)])
            continue
        n = min(window, len(body) - sent)
        c.conn.send_data(sid, body[sent:sent + n], end_stream=sent + n == len(body))
        c.flush()
        sent += n
    c.until(lambda: c.ended(sid), "the echo")
    assert c.status(sid) == "200", c.events
    got = c.body(sid)
    assert got == body, (len(got), len(body))
    assert updates > 0, "no WINDOW_UPDATE while sending"
    print("ok")


# ---------------------------------------------------------------------------
# Raw frames: the cases below send what no well-behaved client library
# would (floods, self-dependencies, endless header blocks), so they frame
# by hand and read the server's frames with a small reader of their own.

import errno
import select
import struct

import hpack

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PRIO = 0x1, 0x1, 0x4, 0x20
PROTOCOL_ERROR, CANCEL, ENHANCE_YOUR_CALM = 0x1, 0x8, 0xb
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def settings(*pairs):
    return frame(SETTINGS, 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def request_block(path, method=b"GET"):
    # :method, :scheme http (static 6), :path, :authority, literal without
    # indexing so the dynamic table stays as the case wants it.
    return hpack.Encoder().encode([(b":method", method), (b":scheme", b"http"), (b":path", path),
                                   (b":authority", b"localhost")])


class Raw:
    """A socket, the frames read so far (type, flags, sid, payload) and the
    responses' headers decoded with one HPACK decoder."""

    def __init__(self, port, initial=(), timeout=30, trickle=0.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.frames = []
        self.decoder = hpack.Decoder()
        self.headers = {}  # sid -> [(name, value)]
        self.closed = False
        if trickle:
            # The preface a byte at a time, `trickle` seconds apart.
            for b in PREFACE:
                self.sock.sendall(bytes([b]))
                time.sleep(trickle)
            self.sock.sendall(settings(*initial))
        else:
            self.sock.sendall(PREFACE + settings(*initial))

    def send(self, data):
        """False once the server closed the connection."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            self.closed = True
            return False

    def _parse(self):
        while len(self.buf) >= 9:
            n = int.from_bytes(self.buf[:3], "big")
            if len(self.buf) < 9 + n:
                return
            ftype, flags = self.buf[3], self.buf[4]
            sid = int.from_bytes(self.buf[5:9], "big") & 0x7fffffff
            payload = self.buf[9:9 + n]
            self.buf = self.buf[9 + n:]
            if ftype == HEADERS:
                block = payload
                if flags & 0x8:  # PADDED
                    block = block[1:len(block) - block[0]]
                if flags & PRIO:
                    block = block[5:]
                self.headers.setdefault(sid, []).extend(self.decoder.decode(block))
            if ftype == SETTINGS and not flags & ACK:
                self.sock.sendall(frame(SETTINGS, ACK, 0))
            self.frames.append((ftype, flags, sid, payload))

    def read_some(self, wait):
        """Reads what is there within `wait` seconds; False at EOF or reset."""
        if self.closed:
            return False
        r, _, _ = select.select([self.sock], [], [], wait)
        if not r:
            return True
        try:
            data = self.sock.recv(1 << 20)
        except (ConnectionResetError, BrokenPipeError):
            self.closed = True
            return False
        if not data:
            self.closed = True
            return False
        self.buf += data
        self._parse()
        return True

    def until(self, pred, what, seconds=30):
        deadline = time.monotonic() + seconds
        while not pred():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for " + what + "; frames: " + self.summary())
            if not self.read_some(0.2) and not pred():
                raise AssertionError("connection closed waiting for " + what + "; frames: " +
                                     self.summary())

    def read_to_end(self, seconds):
        """Reads until EOF or reset; True if that came within `seconds`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self.read_some(0.2):
                return True
        return False

    def of(self, ftype, sid=None):
        return [f for f in self.frames if f[0] == ftype and (sid is None or f[2] == sid)]

    def goaway(self):
        for f in self.of(GOAWAY):
            last, code = struct.unpack(">II", f[3][:8])
            return last & 0x7fffffff, code
        return None

    def rst(self, sid):
        for f in self.of(RST_STREAM, sid):
            return struct.unpack(">I", f[3])[0]
        return None

    def status(self, sid):
        for n, v in self.headers.get(sid, []):
            if n == ":status":
                return v
        return None

    def ended(self, sid):
        return any(f[1] & END_STREAM for f in self.frames if f[2] == sid and f[0] in (HEADERS, DATA)) \
            or self.rst(sid) is not None

    def body(self, sid):
        return b"".join(f[3] for f in self.of(DATA, sid))

    def summary(self):
        return repr([(t, fl, sid, len(p)) for t, fl, sid, p in self.frames[-20:]]) + \
            (" (closed)" if self.closed else "")

    def get(self, sid, path, end_stream=True):
        flags = END_HEADERS | (END_STREAM if end_stream else 0)
        return self.send(frame(HEADERS, flags, sid, request_block(path)))


def case_rapid_reset(port):
    # CVE-2023-44487: open a stream and reset it at once, over and over, to
    # a handler that ignores cancellation (/stubborn). The server bounds the
    # handlers that run at once (the test counts them) and ends the
    # connection with GOAWAY ENHANCE_YOUR_CALM once the resets pass its rate.
    c = Raw(port)
    sid = 1
    sent = 0
    total = 5000
    while sent < total:
        batch = b"".join(frame(HEADERS, END_HEADERS | END_STREAM, sid + 2 * i, request_block(b"/stubborn?ms=300")) +
                         frame(RST_STREAM, 0, sid + 2 * i, struct.pack(">I", CANCEL)) for i in range(50))
        sid += 100
        if not c.send(batch):
            break
        sent += 50
        if not c.read_some(0):
            break
        if c.goaway():
            break
    ended = c.read_to_end(60)
    print("pairs sent:", sent, "goaway:", c.goaway(), "closed:", ended)
    assert ended, "the connection did not end after %d resets" % sent
    assert sent < total, "all %d resets went through" % total
    ga = c.goaway()
    # The GOAWAY may be lost to a reset of a connection the client still
    # writes to; if it came, it says ENHANCE_YOUR_CALM.
    assert ga is None or ga[1] == ENHANCE_YOUR_CALM, ga
    print("ok")


def case_reset_handlers_bounded(port):
    # Handlers cancelled by a reset still count until they end: 100 streams
    # to /stubborn (it ignores cancellation for 1.5 s), all reset, then 100
    # more: the server runs at most 100 handlers at once (the test counts),
    # and the second 100 are all answered once the first end. 100 resets
    # stay under the reset rate.
    c = Raw(port)
    first = [1 + 2 * i for i in range(100)]
    second = [201 + 2 * i for i in range(100)]
    c.send(b"".join(frame(HEADERS, END_HEADERS | END_STREAM, s, request_block(b"/stubborn?ms=1500")) for s in first))
    c.until(lambda: c.of(SETTINGS), "the server's SETTINGS")
    time.sleep(0.3)
    c.send(b"".join(frame(RST_STREAM, 0, s, struct.pack(">I", CANCEL)) for s in first))
    c.send(b"".join(frame(HEADERS, END_HEADERS | END_STREAM, s, request_block(b"/stubborn?ms=10")) for s in second))
    c.until(lambda: all(c.ended(s) for s in second), "the second hundred's answers", 90)
    statuses = [c.status(s) for s in second]
    assert statuses == ["200"] * 100, statuses
    assert c.goaway() is None, c.goaway()
    print("ok")


def case_continuation_flood(port):
    # CVE-2024-27316 / CVE-2024-28182: HEADERS without END_HEADERS, then
    # CONTINUATION frames that never end the block. The server ends the
    # connection (a connection error) after a few, long before 10,000.
    c = Raw(port)
    c.until(lambda: c.of(SETTINGS), "the server's SETTINGS")
    c.send(frame(HEADERS, END_STREAM, 1, request_block(b"/")))
    # Literal without indexing, new name; value length 1000 in a 7-bit
    # prefix: 127, then 873 as 0xe9 0x06.
    field = b"\x00\x05x-pad\x7f\xe9\x06" + b"a" * 1000
    sent = 0
    while sent < 10000:
        if not c.send(b"".join(frame(CONTINUATION, 0, 1, field) for _ in range(10))):
            break
        sent += 10
        if not c.read_some(0) or c.goaway():
            break
    ended = c.read_to_end(60)
    print("CONTINUATION frames sent:", sent, "goaway:", c.goaway(), "closed:", ended)
    assert ended and sent < 10000, (sent, c.summary())
    ga = c.goaway()
    assert ga is None or ga[1] != 0, ga
    print("ok")


def flood(port, one, what):
    # `one` over and over, 1,000 at a time, never reading: the server ends
    # the connection well within 60 s (the test's write_timeout is 120 s, so
    # only the flood bound can); until then TCP holds the client back. Whole
    # frames only: a send that took part of a batch goes on from there. The
    # end shows as a send that fails (the server reset a connection whose
    # bytes it left unread, or answers our next bytes with a reset).
    c = Raw(port)
    c.sock.setblocking(False)
    batch = one * 1000
    start = time.monotonic()
    sent = 0
    pending = b""
    closed = False
    while time.monotonic() - start < 60:
        if not pending:
            pending = batch
        _, w, _ = select.select([], [c.sock], [], 1)
        if not w:
            continue  # the server stopped reading: back-pressure
        try:
            n = c.sock.send(pending)
        except BlockingIOError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        sent += n
        pending = pending[n:]
    took = time.monotonic() - start
    print(what, "bytes sent:", sent, "closed:", closed, "after %.1f s" % took)
    assert closed, "the server kept the %s flood's connection open for 60 s" % what
    print("ok")


def case_ping_flood(port):
    flood(port, frame(PING, 0, 0, b"12345678"), "PING")


def case_settings_flood(port):
    flood(port, frame(SETTINGS, 0, 0), "SETTINGS")


def case_hpack_bomb(port):
    # One 4,000-byte field put in the dynamic table, then referenced 4,000
    # times by its index (one byte each): a 12 KB header block that decodes
    # to 16 MB. The header list limit (8 KiB here) stops it: 431 on that
    # stream, or a stream reset, or the connection's end, never the list.
    c = Raw(port)
    c.until(lambda: c.of(SETTINGS), "the server's SETTINGS")
    enc = request_block(b"/")  # no dynamic table entry
    value = b"b" * 4000
    # Literal with incremental indexing, new name (0x40); value length 4000
    # in a 7-bit prefix: 127, then 3873 as 0xa1 0x1e.
    add = b"\x40\x05x-big\x7f\xa1\x1e" + value
    block = enc + add + b"\xbe" * 4000  # 0xbe: indexed, dynamic entry 62 (the newest)
    c.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, block))
    c.until(lambda: c.ended(1) or c.goaway(), "the answer to the bomb")
    status, rst, ga = c.status(1), c.rst(1), c.goaway()
    print("bomb: status", status, "rst", rst, "goaway", ga)
    assert status == "431" or rst is not None or (ga is not None and ga[1] != 0), c.summary()
    if ga is None:
        # The connection goes on: the table entry is still there, and a
        # stream that uses it once is fine.
        c.get(3, b"/")
        c.until(lambda: c.ended(3), "the next stream's answer")
        assert c.status(3) == "200", c.summary()
    print("ok")


def case_zero_window(port):
    # The client's stream window is 0 (SETTINGS_INITIAL_WINDOW_SIZE) and it
    # never opens it: a handler that flushes a body, and one whose whole
    # body is buffered, both stall. After write_timeout (1 s in this test)
    # each stream is reset with CANCEL (the flushing handler's flush throws;
    # the test counts it); HEAD, which sends no DATA, is still answered.
    c = Raw(port, initial=[(0x4, 0)])
    c.get(1, b"/big?n=1000000")
    c.get(3, b"/")
    c.until(lambda: c.ended(1) and c.ended(3), "both stalled streams to end", 60)
    assert c.rst(1) == CANCEL, c.summary()
    assert c.rst(3) == CANCEL, c.summary()
    assert c.status(1) == "200" and c.status(3) == "200", c.summary()
    assert not c.of(DATA), c.summary()
    c.send(frame(HEADERS, END_HEADERS | END_STREAM, 5, request_block(b"/", b"HEAD")))
    c.until(lambda: c.ended(5), "the HEAD answer")
    assert c.status(5) == "200", c.summary()
    print("ok")


def case_never_reads(port):
    # Windows wide open, 10 streams of 4 MB each asked for, and the socket
    # never read: the server's writes block, and its write deadline (1 s in
    # this test) closes the connection. Read afterwards, the responses stop
    # short: the socket buffers held a few MB, not 40.
    big = (1 << 31) - 1
    c = Raw(port, initial=[(0x4, big)])
    c.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", big - 65535)))
    for i in range(10):
        c.get(1 + 2 * i, b"/big?n=4000000")
    time.sleep(5)
    ended = c.read_to_end(60)
    got = sum(len(f[3]) for f in c.of(DATA))
    print("never read: closed", ended, "DATA bytes", got, "of", 40000000)
    assert ended, c.summary()
    assert got < 40000000, got
    print("ok")


def self_dependency_error(c, sid, what):
    # RFC 7540 5.3.1 (the priority scheme RFC 9113 5.3.2 deprecates): a
    # stream error PROTOCOL_ERROR, which RFC 9113 5.4.1 lets an endpoint
    # treat as a connection error: RST_STREAM or GOAWAY, PROTOCOL_ERROR.
    c.until(lambda: c.rst(sid) is not None or c.goaway(), what)
    got = ("RST_STREAM", c.rst(sid)) if c.rst(sid) is not None else ("GOAWAY", c.goaway()[1])
    print(what + ":", got[0], got[1])
    assert got[1] == PROTOCOL_ERROR, c.summary()


def case_priority(port):
    # PRIORITY frames are handled safely: 1,000 on idle streams (a chain
    # through each other) and one on an open stream change nothing the
    # client sees; a stream that depends on itself, by PRIORITY or by the
    # priority of its HEADERS, is a PROTOCOL_ERROR.
    c = Raw(port)
    c.until(lambda: c.of(SETTINGS), "the server's SETTINGS")
    c.send(b"".join(frame(PRIORITY, 0, 1001 + 2 * i, struct.pack(">IB", 1001 + 2 * ((i + 1) % 1000), 15))
                    for i in range(1000)))
    c.get(1, b"/", end_stream=False)
    c.send(frame(PRIORITY, 0, 1, struct.pack(">IB", 0x80000000 | 1001, 200)))
    c.send(frame(DATA, END_STREAM, 1))
    c.until(lambda: c.ended(1), "the first answer")
    assert c.status(1) == "200", c.summary()
    c.get(3001, b"/")
    c.until(lambda: c.ended(3001), "the answer after the PRIORITY frames")
    assert c.status(3001) == "200", c.summary()
    assert c.goaway() is None, c.goaway()
    c.send(frame(PRIORITY, 0, 3003, struct.pack(">IB", 3003, 15)))
    self_dependency_error(c, 3003, "PRIORITY on idle stream 3003 depending on itself")
    d = Raw(port)
    d.until(lambda: d.of(SETTINGS), "the server's SETTINGS")
    d.send(frame(HEADERS, END_HEADERS | END_STREAM | PRIO, 1, struct.pack(">IB", 1, 15) + request_block(b"/")))
    self_dependency_error(d, 1, "HEADERS whose priority depends on its own stream")
    print("ok")


def case_graceful(port):
    # A request in flight when the server shuts down: GOAWAY NO_ERROR whose
    # last stream id covers it, then its whole response (the handler sleeps
    # 1 s; the grace is 5 s). The test starts the shutdown once the handler
    # is in.
    c = Raw(port)
    c.get(1, b"/slow?ms=1000")
    print("sent", flush=True)
    c.until(lambda: c.ended(1), "the in-flight response", 60)
    assert c.status(1) == "200", c.summary()
    assert c.body(1) == b"slept", c.body(1)
    ga = c.goaway()
    assert ga is not None and ga[1] == 0 and ga[0] >= 1, (ga, c.summary())
    assert c.read_to_end(30), "the connection stayed open after its last stream"
    print("ok")


def case_trickled_preface(port):
    # The h2c preface sent a byte at a time, 30 ms apart: the server parks
    # until it has 4 bytes ("PRI " is no HTTP/1.1 method), then serves
    # HTTP/2; the request that follows is answered.
    c = Raw(port, trickle=0.03)
    c.get(1, b"/")
    c.until(lambda: c.ended(1), "the answer after a trickled preface")
    assert c.status(1) == "200", c.summary()
    assert c.body(1) == b"hello", c.body(1)
    print("ok")


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}

if __name__ == "__main__":
    CASES[sys.argv[2]](int(sys.argv[1]))
