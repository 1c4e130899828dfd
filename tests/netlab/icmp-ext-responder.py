#!/usr/bin/python3
"""icmp-ext-responder.py: an MPLS router's ICMP errors, crafted, for the IcmpTools lab (netlab.sh ext).

Runs in a router namespace (r2). The lab drops every packet to the extension targets in r2's prerouting, so the
kernel answers none of them; this script sees them first (a packet socket taps them before netfilter) and answers
as a router on an MPLS path would, per target address:

  198.18.18.1 / 2001:db8:18::1  RFC 4884 compliant: length attribute set, the original datagram padded to 128 bytes,
                                then an MPLS label stack (RFC 4950) and interface information (RFC 5837)
  198.18.18.2 / 2001:db8:18::2  non-compliant (RFC 4884 section 5, as older MPLS routers send): no length attribute,
                                exactly 128 bytes of original datagram, then the label stack
  198.18.18.3 / 2001:db8:18::3  a label stack whose extension checksum is wrong: the hop must survive, without labels

A probe that arrives with TTL (hop limit) 1 gets a Time Exceeded from r2's address; any other gets the echo reply
the target would send. Nothing else is answered. The script ends by itself after --seconds or --packets.
Traffic never leaves the lab: every reply goes to the probe's source, inside the lab's namespaces.
"""
import argparse
import os
import struct
import sys
import time

from scapy.all import IP, ICMP, IPv6, ICMPv6TimeExceeded, ICMPv6EchoRequest, ICMPv6EchoReply, Raw, AsyncSniffer, send, conf

ROUTER4 = "198.18.2.2"
ROUTER6 = "2001:db8:2::2"
TARGETS4 = {"198.18.18.1": "compliant", "198.18.18.2": "noncompliant", "198.18.18.3": "badsum"}
TARGETS6 = {"2001:db8:18::1": "compliant", "2001:db8:18::2": "noncompliant", "2001:db8:18::3": "badsum"}
# Two labels as an LSR in the middle of an LDP-over-RSVP path quotes them: transport label on top, service label at the bottom.
LABELS = [(24001, 0, False, 1), (16, 5, True, 1)]


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def obj(class_num: int, c_type: int, data: bytes) -> bytes:
    return struct.pack("!HBB", 4 + len(data), class_num, c_type) + data


def mpls_object() -> bytes:
    return obj(1, 1, b"".join(struct.pack("!I", (l << 12) | (tc << 9) | (int(s) << 8) | ttl) for l, tc, s, ttl in LABELS))


def interface_object(v6: bool) -> bytes:
    # Incoming interface: role 0, ifIndex + address + name + MTU (C-Type 0x0F).
    addr = bytes.fromhex("20010db8000200000000000000000002") if v6 else bytes([198, 18, 2, 2])
    name = b"to-r1"
    name_sub = bytes([8]) + name + b"\0" * (8 - 1 - len(name))
    data = struct.pack("!I", 7) + struct.pack("!HH", 2 if v6 else 1, 0) + addr + name_sub + struct.pack("!I", 1500)
    return obj(2, 0x0F, data)


def structure(kind: str, v6: bool) -> bytes:
    objects = mpls_object() + (interface_object(v6) if kind == "compliant" else b"")
    body = bytearray(struct.pack("!BBH", 0x20, 0, 0) + objects)
    sum_ = checksum(bytes(body))
    if kind == "badsum":
        sum_ ^= 0x5555
    struct.pack_into("!H", body, 2, sum_)
    return bytes(body)


def original(packet: bytes) -> bytes:
    return (packet[:128] + b"\0" * 128)[:128]


def answer4(pkt):
    ip = pkt[IP]
    kind = TARGETS4[ip.dst]
    if ip.ttl > 1:
        return IP(src=ip.dst, dst=ip.src, ttl=64) / ICMP(type=0, id=pkt[ICMP].id, seq=pkt[ICMP].seq) / Raw(bytes(pkt[ICMP].payload))
    length = 32 if kind == "compliant" else 0
    icmp = bytearray(struct.pack("!BBHBBH", 11, 0, 0, 0, length, 0) + original(bytes(ip)) + structure(kind, False))
    struct.pack_into("!H", icmp, 2, checksum(bytes(icmp)))
    return IP(src=ROUTER4, dst=ip.src, ttl=64, proto=1) / Raw(bytes(icmp))


def answer6(pkt):
    ip = pkt[IPv6]
    kind = TARGETS6[ip.dst]
    request = pkt[ICMPv6EchoRequest]
    if ip.hlim > 1:
        return IPv6(src=ip.dst, dst=ip.src, hlim=64) / ICMPv6EchoReply(id=request.id, seq=request.seq, data=request.data)
    length = 16 if kind == "compliant" else 0
    return IPv6(src=ROUTER6, dst=ip.src, hlim=64) / ICMPv6TimeExceeded(code=0, length=length) / Raw(original(bytes(ip)) + structure(kind, True))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iface", required=True)
    parser.add_argument("--pidfile", required=True)
    parser.add_argument("--seconds", type=float, default=900)
    parser.add_argument("--packets", type=int, default=20000)
    args = parser.parse_args()
    conf.verb = 0
    answered = [0]

    def wanted(pkt):
        if IP in pkt and ICMP in pkt and pkt[ICMP].type == 8 and pkt[IP].dst in TARGETS4:
            return True
        return IPv6 in pkt and ICMPv6EchoRequest in pkt and pkt[IPv6].dst in TARGETS6

    def respond(pkt):
        if answered[0] >= args.packets:
            return
        answered[0] += 1
        send(answer4(pkt) if IP in pkt else answer6(pkt))

    sniffer = AsyncSniffer(iface=args.iface, lfilter=wanted, prn=respond, store=False)
    sniffer.start()
    # The socket is open once the sniffer thread runs; the pid file is the readiness signal.
    deadline = time.monotonic() + 10
    while getattr(sniffer, "stop_cb", None) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    with open(args.pidfile + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace(args.pidfile + ".tmp", args.pidfile)
    end = time.monotonic() + args.seconds
    while time.monotonic() < end and answered[0] < args.packets and sniffer.running:
        time.sleep(0.2)
    sniffer.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
