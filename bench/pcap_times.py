"""Kernel receive times of a sweep's echo requests and replies, from a pcap file (bench/run.sh, issue 16).

zmap 2.1.1 stamps each reply with gettimeofday() when its receiver thread handles it, and that thread reads
through libpcap opened with a 1000 ms timeout: the last, partly filled TPACKET_V3 block of replies is handed
over only when that timeout retires it, so up to 1 s after the replies arrived. A capture's own stamps are the
kernel's, taken as each frame passes the interface, whoever reads them and whenever.

Usage: pcap_times.py FILE START_UNIX_SECONDS BLOCK  ->  one JSON object (times in ms after START).
"""
import ipaddress, json, struct, sys

path, start, block = sys.argv[1], float(sys.argv[2]), ipaddress.ip_network(sys.argv[3])
lo, hi = int(block.network_address), int(block.broadcast_address)
requests, replies = [], []
with open(path, "rb") as f:
    magic = struct.unpack("<I", f.read(24)[:4])[0]
    scale = 1e9 if magic == 0xA1B23C4D else 1e6
    while len(h := f.read(16)) == 16:
        sec, frac, incl, _ = struct.unpack("<IIII", h)
        d = f.read(incl)
        # Ethernet, IPv4, ICMP; the IHL is read, never assumed.
        if len(d) < 34 or d[12:14] != b"\x08\x00" or d[23] != 1:
            continue
        ihl = (d[14] & 15) * 4
        if len(d) < 14 + ihl + 1:
            continue
        src, dst = struct.unpack(">II", d[26:34])
        kind = d[14 + ihl]
        t = (sec + frac / scale - start) * 1000
        if kind == 8 and lo <= dst <= hi:
            requests.append(t)
        elif kind == 0 and lo <= src <= hi:
            replies.append(t)
requests.sort()
replies.sort()
q = lambda xs, p: xs[int(p * (len(xs) - 1))] if xs else float("nan")
print(json.dumps({"requests": len(requests), "first_send_ms": q(requests, 0), "last_send_ms": q(requests, 1),
                  "replies": len(replies), "p50_ms": q(replies, 0.5), "p99_ms": q(replies, 0.99), "last_ms": q(replies, 1)}))
