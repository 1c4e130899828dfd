#!/usr/bin/env python3
"""Traceroute benchmark: runs inside the lab's client namespace (bench/trace.sh starts it there).

Every tool traces the same lab targets in one run, side by side: traceroute -I, scamper (trace
icmp-paris, tracelb), icmplib, mtr, and IcmpTools' engine (IcmpTools.Bench trace mode, warm
process, each run a fresh socket). Prints a Markdown report: median wall time of REPEAT runs,
the ratio to IcmpTools, and the hops each tool found, so "as fast" is also "the same hops".
Only lab addresses are probed; every run is bounded by a timeout.
"""
import json
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NETLAB = os.path.join(ROOT, "tests", "netlab", "netlab.sh")
BENCH = os.path.join(HERE, "IcmpTools.Bench", "bin", "Release", "net10.0", "IcmpTools.Bench.dll")

LAB = sys.argv[1]
REPEAT = int(sys.argv[2]) if len(sys.argv) > 2 else 3

ANSWERING = "198.18.4.2"
BLACKHOLE = "198.18.13.7"
DIAMOND = "198.18.30.1"


def run(cmd, limit=60):
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=limit)
    ms = (time.perf_counter() - start) * 1000
    if out.returncode != 0:
        raise RuntimeError(f"{cmd}: exit {out.returncode}: {out.stderr.strip()}")
    return ms, out.stdout


def path_of_lines(text, pattern):
    """Hops as 'a|b' per distance ('*' silent), from lines matched by pattern (distance, rest)."""
    hops = {}
    for line in text.splitlines():
        m = re.match(pattern, line)
        if not m:
            continue
        addrs = sorted(set(re.findall(r"\d+\.\d+\.\d+\.\d+", m.group(2))))
        hops[int(m.group(1))] = "|".join(addrs) if addrs else "*"
    return " ".join(hops[d] for d in sorted(hops))


def traceroute(target, *extra):
    ms, out = run(["traceroute", "-I", "-n", *extra, target])
    return ms, path_of_lines(out, r"^\s*(\d+)\s+(.*)$")


def scamper_trace(target):
    ms, out = run(["scamper", "-c", "trace -P icmp-paris -q 1", "-i", target])
    return ms, path_of_lines(out, r"^\s*(\d+)\s+(.*)$")


def out_echos():
    """Echo requests this namespace's kernel sent (Icmp OutEchos): every tool counted alike, on the wire."""
    with open("/proc/net/snmp") as f:
        icmp = [line.split() for line in f if line.startswith("Icmp:")]
    return int(icmp[1][icmp[0].index("OutEchos")])


MTR_ROW = r"^\s*(\d+)\.\|--\s+(\S+)\s+([\d.]+)%\s+(\d+)\s+[\d.]+\s+([\d.]+)"


def mtr_report(target, rounds):
    before = out_echos()
    ms, out = run(["mtr", "--report", "-n", "-c", str(rounds), target], limit=300)
    wire = out_echos() - before
    rows = [re.match(MTR_ROW, line) for line in out.splitlines()]
    report = " ".join(f"{m.group(1)}:{m.group(2).replace('???', '*')}:{float(m.group(3)):.1f}%:{m.group(4)}:{float(m.group(5)):.3f}"
                      for m in rows if m)
    return ms, wire, report


def rounds_scenario(target, rounds):
    """A report of `rounds` rounds a second apart, one probe a hop a round: IcmpTools beside mtr --report -c."""
    args = ["dotnet", BENCH, "trace", "--target", target, "--repeat", "1", "--rounds", str(rounds)]
    _, out = run(args, limit=300)
    result = [json.loads(line[len("RESULT "):]) for line in out.splitlines() if line.startswith("RESULT ")][-1]
    m_ms, m_wire, m_report = mtr_report(target, rounds)
    print(f"\n**{rounds}-round report ({target}): IcmpTools -Rounds {rounds} beside `mtr --report -n -c {rounds}`**\n")
    print("Both send one probe a hop a round, rounds a second apart. Report: distance:address:loss:sent:avg ms. "
          "Probes: echo requests the client namespace's kernel counted out (Icmp OutEchos), for both alike.\n")
    print("| tool | time | probes on the wire | report |")
    print("|---|---:|---:|---|")
    print(f"| IcmpTools engine, Rounds {rounds} | {result['ms']:,.0f} ms | {result['wire']} | `{result['report']}` |")
    print(f"| `mtr --report -n -c {rounds}` | {m_ms:,.0f} ms | {m_wire} | `{m_report}` |")


def mtr(target):
    ms, out = run(["mtr", "-r", "-n", "-c", "1", target])
    return ms, path_of_lines(out, r"^\s*(\d+)\.\|--\s+(\S+)")


ICMPLIB = """
import sys, time
from icmplib import traceroute
kw = eval(sys.argv[2])
t = time.perf_counter()
hops = traceroute(sys.argv[1], **kw)
ms = (time.perf_counter() - t) * 1000
print(ms)
print(" ".join(h.address for h in hops))
print(" ".join(str(h.distance) for h in hops))
"""


def icmplib(target, **kw):
    _, out = run([sys.executable, "-c", ICMPLIB, target, repr(kw)], limit=120)
    ms, addrs, dists = out.splitlines()[:3] + [""] * (3 - len(out.splitlines()[:3]))
    # icmplib leaves silent hops out of its list: show them as gaps, as it reports them.
    return float(ms), " ".join(f"{d}:{a}" for d, a in zip(dists.split(), addrs.split()))


def tracelb(target):
    ms, out = run(["scamper", "-O", "text", "-c", "tracelb -P icmp-echo", "-i", target])
    links = set()
    for line in out.splitlines()[1:]:
        nodes = [re.findall(r"\d+\.\d+\.\d+\.\d+", part) for part in line.split("->")]
        for a, b in zip(nodes, nodes[1:]):
            links.update(f"{x}>{y}" for x in a for y in b)
    return ms, " ".join(sorted(links))


def ours(target, repeat, **opts):
    args = ["dotnet", BENCH, "trace", "--target", target, "--repeat", str(repeat)]
    for k, v in opts.items():
        args += [f"--{k}", str(v).lower() if isinstance(v, bool) else str(v)]
    _, out = run(args, limit=300)
    results = [json.loads(line[len("RESULT "):]) for line in out.splitlines() if line.startswith("RESULT ")]
    key = "links" if opts.get("multipath") else "path"
    return [r["ms"] for r in results], results[-1][key]


def silent(on):
    subprocess.run(["bash", NETLAB, "silent", LAB, "r2", "on" if on else "off"], check=True, timeout=60)


def measure(label, fn, repeat):
    times, found = [], ""
    for _ in range(repeat):
        ms, found = fn()
        times.append(ms)
    return label, statistics.median(times), found, len(times)


def table(title, rows):
    """rows: (label, median ms, hops found, runs, IcmpTools median to compare with or None for ours)."""
    print(f"\n**{title}**\n")
    print("| tool | median | runs | vs IcmpTools (same probes/hop) | hops found |")
    print("|---|---:|---:|---:|---|")
    for label, ms, found, n, base in rows:
        ratio = "" if base is None else f"{ms / base:.1f}x"
        print(f"| {label} | {ms:,.1f} ms | {n} | {ratio} | `{found}` |")


def scenario(title, target, repeat):
    ours3, path3 = ours(target, repeat)
    ours1, path1 = ours(target, repeat, count=1)
    m3, m1 = statistics.median(ours3), statistics.median(ours1)
    rows = [
        ("IcmpTools engine, -Count 3", m3, path3, len(ours3), None),
        ("IcmpTools engine, -Count 1", m1, path1, len(ours1), None),
        measure("`traceroute -I -n` (3 probes/hop, 16 at once)", lambda: traceroute(target), repeat) + (m3,),
        measure("`traceroute -I -n -q 1`", lambda: traceroute(target, "-q", "1"), repeat) + (m1,),
        measure("scamper `trace -P icmp-paris -q 1`", lambda: scamper_trace(target), repeat) + (m1,),
        measure("icmplib `traceroute()` (defaults: count 2, timeout 2)", lambda: icmplib(target), repeat) + (m3,),
        measure("`mtr -r -n -c 1`", lambda: mtr(target), repeat) + (m1,),
    ]
    table(title, rows)


def main():
    print(f"Lab {LAB}, from its client namespace; medians of {REPEAT} runs "
          f"(blackhole: 1 run of each peer); IcmpTools runs are in one warm process, each with a fresh socket.")
    scenario(f"Every hop answering ({ANSWERING})", ANSWERING, REPEAT)
    silent(True)
    try:
        scenario(f"r2 silent ({ANSWERING})", ANSWERING, REPEAT)
    finally:
        silent(False)

    ours_bh, path_bh = ours(BLACKHOLE, 1, timeout=2)
    mbh = statistics.median(ours_bh)
    rows = [
        ("IcmpTools engine (-TimeoutSeconds 2, -MaxSilentHops 5)", mbh, path_bh, len(ours_bh), None),
        measure("`traceroute -I -n`", lambda: traceroute(BLACKHOLE), 1) + (mbh,),
        measure("icmplib `traceroute(count=1, timeout=1, max_hops=10)`",
                lambda: icmplib(BLACKHOLE, count=1, timeout=1, max_hops=10), 1) + (mbh,),
    ]
    table(f"Blackholed target ({BLACKHOLE}, r2 drops it)", rows)

    ours_mp, links = ours(DIAMOND, REPEAT, multipath=True)
    mmp = statistics.median(ours_mp)
    rows = [
        ("IcmpTools engine, -Multipath", mmp, links, len(ours_mp), None),
        measure("scamper `tracelb -P icmp-echo`", lambda: tracelb(DIAMOND), REPEAT) + (mmp,),
    ]
    table(f"Per-flow diamond ({DIAMOND}): links found", rows)

    rounds_scenario(ANSWERING, int(os.environ.get("ROUNDS", "10")))

if __name__ == "__main__":
    if os.environ.get("ONLY") == "rounds":
        rounds_scenario(ANSWERING, int(os.environ.get("ROUNDS", "10")))
        sys.exit(0)
    main()
