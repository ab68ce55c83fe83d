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


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}

if __name__ == "__main__":
    CASES[sys.argv[2]](int(sys.argv[1]))
