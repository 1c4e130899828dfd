#!/usr/bin/env python3
"""Writes the seed corpus (corpus/<target>/*): packets as Linux hands them to the engine, built here byte by
byte from the RFC layouts (like the tests' Wire helpers), so afl-fuzz starts from inputs that reach deep
into each decoder. Run it again after changing a layout; the files are committed."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
COOKIE = struct.pack(">II", 0x1CA7F00D, 0x00010002)


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(">%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def icmp(type_, code, rest, body):
    message = struct.pack(">BBH", type_, code, 0) + rest + body
    return message[:2] + struct.pack(">H", checksum(message)) + message[4:]


def echo(type_, ident=4242, seq=7, payload=56):
    # iputils' fill (byte i = i) with the cookie over its first 8 bytes, as the engine writes its probes.
    body = (COOKIE + bytes(range(payload))[8:])[:payload]
    return icmp(type_, 0, struct.pack(">HH", ident, seq), body)


def ipv4(payload, src, dst, ttl=64, options=b""):
    ihl = 5 + len(options) // 4
    header = struct.pack(">BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(options) + len(payload), 1, 0, ttl, 1, 0,
                         bytes(src), bytes(dst)) + options
    header = header[:10] + struct.pack(">H", checksum(header)) + header[12:]
    return header + payload


def ipv6(payload, src, dst, hop=64, next_header=58):
    return struct.pack(">IHBB16s16s", 0x60000000, len(payload), next_header, hop, bytes(src), bytes(dst)) + payload


US, TARGET, ROUTER = [198, 18, 1, 2], [198, 19, 7, 7], [198, 18, 2, 2]
US6 = [0x20, 0x01, 0x0d, 0xb8, 0, 1] + [0] * 9 + [2]
TARGET6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0x12] + [0] * 9 + [7]
ROUTER6 = [0x20, 0x01, 0x0d, 0xb8, 0, 2] + [0] * 9 + [2]

request4 = ipv4(echo(8), US, TARGET, ttl=1)
request6 = ipv6(echo(128), US6, TARGET6, hop=1)
# A quoted IPv6 request behind a hop-by-hop options header (8 bytes: next header ICMPv6, PadN).
request6_ext = ipv6(bytes([58, 0, 1, 4, 0, 0, 0, 0]) + echo(128), US6, TARGET6, hop=1, next_header=0)

v4 = {
    "echo-reply": ipv4(echo(0), TARGET, US),
    "echo-reply-options": ipv4(echo(0), TARGET, US, options=bytes([1, 1, 1, 0])),
    "echo-reply-short": ipv4(echo(0, payload=4), TARGET, US),
    "time-exceeded": ipv4(icmp(11, 0, bytes(4), request4), ROUTER, US),
    "unreachable": ipv4(icmp(3, 1, bytes(4), request4), ROUTER, US),
    "frag-needed": ipv4(icmp(3, 4, struct.pack(">HH", 0, 1400), request4), ROUTER, US),
    "parameter-problem": ipv4(icmp(12, 0, bytes([20, 0, 0, 0]), request4), ROUTER, US),
    "time-exceeded-short-quote": ipv4(icmp(11, 0, bytes(4), request4[:28]), ROUTER, US),
}
v6 = {
    "echo-reply": echo(129),
    "time-exceeded": icmp(3, 0, bytes(4), request6),
    "time-exceeded-ext": icmp(3, 0, bytes(4), request6_ext),
    "unreachable": icmp(1, 4, bytes(4), request6),
    "packet-too-big": icmp(2, 0, struct.pack(">I", 1280), request6),
    "parameter-problem": icmp(4, 0, struct.pack(">I", 40), request6),
}


def cmsg(level, type_, data):
    # x86-64 cmsghdr: size_t length, int level, int type, then data padded to 8 bytes.
    block = struct.pack("<QII", 16 + len(data), level, type_) + data
    return block + bytes((-len(block)) % 8)


def sockaddr4(address):
    return struct.pack("<H", 2) + bytes(2) + bytes(address) + bytes(8)


def sockaddr6(address):
    return struct.pack("<H", 10) + bytes(6) + bytes(address) + bytes(4)


def extended_error(origin, type_, code, info, offender):
    return struct.pack("<IBBBBII", 113, origin, type_, code, 0, info, 0) + offender


errqueue = {
    "v4-time-exceeded": (0, cmsg(0, 11, extended_error(2, 11, 0, 0, sockaddr4(ROUTER))) + cmsg(0, 2, struct.pack("<i", 63))
                         + cmsg(1, 35, struct.pack("<qq", 1_700_000_000, 5)), sockaddr4(TARGET), echo(8)),
    "v4-frag-needed": (0, cmsg(0, 11, extended_error(2, 3, 4, 1400, sockaddr4(ROUTER))), sockaddr4(TARGET), echo(8)),
    "v6-packet-too-big": (1, cmsg(41, 25, extended_error(3, 2, 0, 1280, sockaddr6(ROUTER6))), sockaddr6(TARGET6), echo(128)),
    "v6-time-exceeded": (1, cmsg(41, 25, extended_error(3, 3, 0, 0, sockaddr6(ROUTER6))) + cmsg(41, 52, struct.pack("<i", 60)),
                         sockaddr6(TARGET6), echo(128)),
    "local-error": (0, cmsg(0, 11, extended_error(1, 0, 0, 1500, sockaddr4(US))), sockaddr4(TARGET), echo(8)),
}


def write(target, name, data):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


for name, datagram in v4.items():
    write("parser", "v4-" + name, bytes([0]) + datagram)
    write("parser", "v4icmp-" + name, bytes([2]) + datagram[(datagram[0] & 15) * 4:])
    write("raw", "v4-" + name, bytes([0, 64, 0]) + datagram)
    write("prober", "v4-" + name, bytes([3, 1]) + datagram)
for name, message in v6.items():
    write("parser", "v6-" + name, bytes([1]) + message)
    write("raw", "v6-" + name, bytes([1, 64, 0]) + message)
    write("prober", "v6-" + name, bytes([7, 1]) + message)
write("raw", "v4-cut", bytes([0, 64, 40]) + v4["echo-reply"][:40])
write("datagram", "v4-echo-reply", bytes([0, 64, 0]) + echo(0))
write("datagram", "v6-echo-reply", bytes([1, 64, 0]) + echo(129))
write("datagram", "v4-echo-reply-short", bytes([0, 64, 0]) + echo(0, payload=3))
for name, (family, control, address, request) in errqueue.items():
    write("errqueue", name, bytes([family, len(control)]) + control + bytes([len(address)]) + address + request)
