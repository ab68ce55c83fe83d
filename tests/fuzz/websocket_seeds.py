#!/usr/bin/env python3
# websocket_seeds.py: writes the seed corpora of the websocket_frame and
# websocket_handshake targets (corpus/websocket_frame/, corpus/websocket_handshake/),
# each seed a payload, "\0CTL\0" and the control bytes its target's header
# describes. Run from anywhere: python3 tests/fuzz/websocket_seeds.py
# (it rewrites the seeds it names; findings' inputs, copied in by hand, stay).
import os, random, struct, sys, zlib
root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')
F = os.path.join(root, 'websocket_frame'); H = os.path.join(root, 'websocket_handshake')
os.makedirs(F, exist_ok=True); os.makedirs(H, exist_ok=True)
CTL = b'\0CTL\0'
def frame(op, payload=b'', fin=True, rsv=0, mask=b'\x37\xfa\x21\x3d', masked=True, length=None, premasked=False):
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    n = len(payload) if length is None else length
    if n < 126: hdr = bytes([b0, (0x80 if masked else 0) | n])
    elif n < 65536: hdr = bytes([b0, (0x80 if masked else 0) | 126]) + struct.pack('>H', n)
    else: hdr = bytes([b0, (0x80 if masked else 0) | 127]) + struct.pack('>Q', n)
    if not masked: return hdr + payload
    body = payload if premasked else bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return hdr + mask + body
def close(code=None, reason=b'', premasked=False):
    return frame(8, b'' if code is None else struct.pack('>H', code) + reason, premasked=premasked)
def deflate(data, z=None):
    z = z or zlib.compressobj(6, zlib.DEFLATED, -15)
    out = z.compress(data) + z.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b'\x00\x00\xff\xff')
    return out[:-4]
def seed(d, name, payload, ctl=None):
    with open(os.path.join(d, name), 'wb') as f:
        f.write(payload + (CTL + bytes(ctl) if ctl is not None else b''))
# control byte 0: limits|read_some 8|echo 16|serve 32|plain 64|ready 128; byte 1 deflate; byte 2 bufsize-1; splits
E = 16
seed(F, 'text_echo_close', frame(1, b'Hello') + close(1000, b'bye'), [E])
seed(F, 'rfc_hello', bytes([0x81,0x85,0x37,0xfa,0x21,0x3d,0x7f,0x9f,0x4d,0x51,0x58]))
seed(F, 'fragmented_ping_between', frame(1, b'Hel', fin=False) + frame(9, b'ping!') + frame(0, b'lo') + close(), [E])
seed(F, 'split_reads', frame(2, bytes(range(200))) + frame(10, b'unsolicited') + close(1001), [E | 128, 0, 0, 1, 2, 3, 5, 7, 11, 13, 127])
seed(F, 'read_some_small', frame(1, 'κόσμε'.encode() * 10, fin=False) + frame(0, b'end') + close(3000, 'ok'.encode()), [8 | E, 0, 4])
seed(F, 'serve_deferred', frame(1, b'deferred') + close(4999), [32 | E])
seed(F, 'len16', frame(2, b'x' * 300) + close(1000), [E])
seed(F, 'len64_truncated', frame(2, b'y' * 20, length=70000))
seed(F, 'len64_top_bit', bytes([0x82, 0xff]) + b'\x80' + b'\0' * 7 + b'\x01\x02\x03\x04')
seed(F, 'len16_not_minimal', bytes([0x82, 0xfe, 0x00, 0x05]) + b'\1\2\3\4' + b'hello')
seed(F, 'unmasked', frame(1, b'Hello', masked=False))
seed(F, 'rsv2', frame(1, b'Hello', rsv=2))
seed(F, 'rsv1_no_deflate', frame(1, b'Hello', rsv=4))
seed(F, 'opcode_3', frame(3, b'x'))
seed(F, 'opcode_b', frame(0xB, b'x'))
seed(F, 'ping_126', frame(9, b'p' * 126))
seed(F, 'ping_fragmented', frame(9, b'p', fin=False))
seed(F, 'continuation_first', frame(0, b'x'))
seed(F, 'text_inside_fragmented', frame(1, b'a', fin=False) + frame(1, b'b'))
seed(F, 'utf8_split_valid', frame(1, b'\xce', fin=False) + frame(0, b'\xba\xe1', fin=False) + frame(0, b'\xbd\xb9\xcf\x83\xce\xbc\xce\xb5') + close(1000), [E])
seed(F, 'utf8_surrogate_split', frame(1, b'a\xed', fin=False) + frame(0, b'\xa0\x80'))
seed(F, 'utf8_truncated_end', frame(1, b'ab\xf0\x9f\x98'))
seed(F, 'utf8_invalid_in_truncated', frame(1, b'ab\xc0\xaf', length=40))
for code in (1004, 1005, 1006, 1015, 999, 2000, 5000, 1016, 2999, 1012):
    seed(F, 'close_%d' % code, close(code))
seed(F, 'close_one_byte', frame(8, b'\x03'))
seed(F, 'close_bad_reason', close(1000, b'\xff'))
seed(F, 'too_big_message', frame(2, b'z' * 200) + close(1000), [1])
seed(F, 'too_big_fragments', frame(2, b'z' * 40, fin=False) + frame(0, b'z' * 40) + close(1000), [2])
seed(F, 'too_big_frame_read_some', frame(2, b'z' * 20) + close(1000), [2 | 8, 0, 9])
seed(F, 'max_message_1', frame(1, b'a') + frame(1, b'') + frame(1, b'ab'), [3])
# permessage-deflate (plain: the target masks; byte 1 bit 0 offers it)
P = 64
hello = deflate(b'Hello')
seed(F, 'deflate_hello', frame(1, hello, rsv=4, premasked=True) + close(1000, premasked=True), [P | E, 1])
z = zlib.compressobj(6, zlib.DEFLATED, -15)
m1 = deflate(b'Hello', z); m2 = deflate(b'Hello', z)
seed(F, 'deflate_context_takeover', frame(1, m1, rsv=4, premasked=True) + frame(1, m2, rsv=4, premasked=True) + close(1000, premasked=True), [P | E, 1])
seed(F, 'deflate_no_context_takeover', frame(1, hello, rsv=4, premasked=True) + frame(1, hello, rsv=4, premasked=True) + close(1000, premasked=True), [P | E, 1 | 2 | 8])
seed(F, 'deflate_fragmented', frame(1, hello[:3], rsv=4, fin=False, premasked=True) + frame(9, b'p', premasked=True) + frame(0, hello[3:], premasked=True) + close(1000, premasked=True), [P | E, 1])
seed(F, 'deflate_bfinal', frame(1, bytes([0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]), rsv=4, premasked=True) + frame(1, hello, rsv=4, premasked=True) + close(1000, premasked=True), [P | E, 1])
seed(F, 'deflate_stored', frame(1, bytes([0x00, 0x05, 0x00, 0xfa, 0xff]) + b'Hello', rsv=4, premasked=True) + close(1000, premasked=True), [P | E, 1])
bomb = deflate(b'\0' * 200000)
seed(F, 'deflate_bomb', frame(2, bomb, rsv=4, premasked=True) + close(1000, premasked=True), [P | 5, 1])
seed(F, 'deflate_bomb_read_some', frame(2, bomb, rsv=4, premasked=True) + close(1000, premasked=True), [P | 8, 1, 255])
seed(F, 'deflate_rsv1_continuation', frame(1, hello[:2], rsv=4, fin=False, premasked=True) + frame(0, hello[2:], rsv=4, premasked=True), [P, 1])
seed(F, 'deflate_rsv1_ping', frame(9, b'x', rsv=4, premasked=True), [P, 1])
seed(F, 'deflate_garbage', frame(1, b'\xff\xff\xff\xff', rsv=4, premasked=True), [P, 1])
seed(F, 'deflate_bad_utf8', frame(1, deflate(b'ok \xed\xa0\x80'), rsv=4, premasked=True), [P, 1])
seed(F, 'deflate_uncompressed_message', frame(1, b'plain', premasked=True) + frame(1, hello, rsv=4, premasked=True) + close(1000, premasked=True), [P | E, 1])
z9 = zlib.compressobj(6, zlib.DEFLATED, -9)
w9 = deflate(b'abcdefgh' * 100 + b'abcdefgh', z9)
seed(F, 'deflate_window_9', frame(1, w9, rsv=4, premasked=True) + close(1000, premasked=True), [P | E, 1 | (9 << 4)])
far = deflate(bytes(range(256)) * 8 + bytes(range(256)))
seed(F, 'deflate_window_hint_10', frame(2, far, rsv=4, premasked=True) + close(1000, premasked=True), [P | E, 1 | (10 << 4)])
seed(F, 'deflate_server_asks_8', frame(2, hello, rsv=4, premasked=True) + close(1000, premasked=True), [P | E, 1 | (2 << 4)])
seed(F, 'deflate_echo_no_context', frame(2, deflate(b'abc' * 100), rsv=4, premasked=True) + frame(2, deflate(b'abc' * 100), rsv=4, premasked=True) + close(1000, premasked=True), [P | E | 4, 1 | 8])
seed(F, 'echo_fragments', frame(2, b'q' * 100) + close(1000), [E | 7])

# handshake seeds: control byte 0 deflate options, byte 1 subprotocols|origins 4|serve 8|read body 16|ready 32
def req(lines, method='GET', target='/chat', version='HTTP/1.1', body=b''):
    return ('%s %s %s\r\n' % (method, target, version)).encode() + b''.join(l.encode() + b'\r\n' for l in lines) + b'\r\n' + body
base = ['Host: server.example.com', 'Upgrade: websocket', 'Connection: Upgrade',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13']
def without(name): return [l for l in base if not l.lower().startswith(name.lower() + ':')]
seed(H, 'rfc_example', req(base + ['Origin: http://example.com', 'Sec-WebSocket-Protocol: chat, superchat']), [0, 1])
seed(H, 'deflate_offer', req(base + ['Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits']), [1])
seed(H, 'deflate_offers', req(base + ['Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=10; client_max_window_bits=12; server_no_context_takeover, x-webkit-deflate-frame']), [1 | (5 << 3) | (2 << 6)])
seed(H, 'deflate_bad_param', req(base + ['Sec-WebSocket-Extensions: permessage-deflate; foo, permessage-deflate; client_max_window_bits="10"']), [1 | 4])
seed(H, 'deflate_duplicate', req(base + ['Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; client_no_context_takeover', 'Sec-WebSocket-Extensions: permessage-deflate']), [1 | 2])
seed(H, 'extensions_malformed', req(base + ['Sec-WebSocket-Extensions: permessage-deflate; =1']), [1])
seed(H, 'finding_extensions_quoted_not_token', req(base + ['Sec-WebSocket-Extensions: foo; bar="a b"']), [1])
seed(H, 'finding_extensions_empty', req(base + ['Sec-WebSocket-Extensions: ,']), [1])
seed(H, 'version_8', req(without('Sec-WebSocket-Version') + ['Sec-WebSocket-Version: 8']))
seed(H, 'version_twice', req(base + ['Sec-WebSocket-Version: 13']))
seed(H, 'no_key', req(without('Sec-WebSocket-Key')))
seed(H, 'key_15_bytes', req(without('Sec-WebSocket-Key') + ['Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA']))
seed(H, 'key_pad_bits', req(without('Sec-WebSocket-Key') + ['Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==']))
seed(H, 'two_keys', req(base + ['Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==']))
seed(H, 'post', req(base, method='POST'))
seed(H, 'http10', req(base, version='HTTP/1.0'))
seed(H, 'no_upgrade', req(without('Upgrade')))
seed(H, 'connection_list', req(without('Connection') + ['Connection: keep-alive, Upgrade'] + ['upgrade: WebSocket']))
seed(H, 'origin_refused', req(base + ['Origin: https://evil.test']), [0, 4])
seed(H, 'origin_allowed', req(base + ['Origin: HTTPS://EXAMPLE.COM']), [0, 4])
seed(H, 'body_unread', req(base + ['Content-Length: 3'], body=b'abc'))
seed(H, 'body_read', req(base + ['Content-Length: 3'], body=b'abc'), [0, 16])
seed(H, 'expect_continue', req(base + ['Content-Length: 2', 'Expect: 100-continue'], body=b'hi'), [0, 16 | 8])
seed(H, 'subprotocol_pick', req(base + ['Sec-WebSocket-Protocol: soap', 'Sec-WebSocket-Protocol: wamp, mqtt']), [0, 3 | 32])
seed(H, 'frames_after', req(base) + frame(1, b'hi') + close(1000), [0, 8, 7, 1, 100])
rnd = random.Random(7)
blob = bytes(rnd.randrange(256) for _ in range(2000))
seed(F, 'finding_window_hint_not_binding', frame(2, deflate(blob + blob), rsv=4, premasked=True) + close(1000, premasked=True), [P, 1 | (10 << 4)])
