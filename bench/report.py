"""Turns bench/results/raw.jsonl (from bench/run.sh) into the markdown report on stdout."""
import json, os, re, statistics, sys

raw, logs = sys.argv[1], sys.argv[2]
recs = [json.loads(l) for l in open(raw) if l.strip()]


def sel(scen, mode):
    return [r for r in recs if r["scenario"] == scen and r["mode"] == mode]


def med(rs, key):
    vals = [r[key] for r in rs if isinstance(r.get(key), (int, float)) and r[key] == r[key] and r[key] >= 0]
    return statistics.median(vals) if vals else float("nan")


def alive_of(r):
    if "alive" in r:
        return f'{r["alive"]}/{r["hosts"]}'
    parts = r.get("out", "").split()
    if r["mode"] == "fping":
        return f'{parts[0] if parts else "?"}/65534'
    if r["mode"] == "icmplib" and len(parts) >= 2:
        return f"{parts[0]}/{parts[1]}"
    return "?"


def fmt(x, nd=0):
    return "n/a" if x != x else f"{x:,.{nd}f}"


out = ["# IcmpTools benchmarks", ""]
out.append("Medians of 3 runs (the IcmpTools modes run 3 times in one warm process, after a /24 warm-up sweep; "
           "fping and icmplib are fresh processes under `/usr/bin/time`, so their time includes process start-up).")
out.append("")
labels = {
    "sweep-ps": "IcmpTools: `$r = Invoke-IcmpMultiPing ...; $r.Count; ($r \\| Where-Object IsAlive).Count`",
    "sweep-ps-cmdlet": "IcmpTools: Invoke-IcmpMultiPing alone (call to last object)",
    "sweep-engine": "IcmpTools.Engine MultiPing (no PowerShell)",
    "loop": "bare C# raw-socket send/receive loop",
    "fping": "`fping -q -a -i 0 -r 0 -t 500 -g BLOCK \\| wc -l`",
    "icmplib": "icmplib 2.1.1 `multiping(addrs, count=1, interval=0, timeout=1)`",
}
notes = []
for scen, title in [("lab", "(a) Sweep of 198.19.0.0/16 in the lab client namespace (65,534 hosts)"),
                    ("loopback", "(b) Sweep of 127.1.0.0/16 on loopback, root namespace (65,534 hosts)")]:
    ours = med(sel(scen, "sweep-ps"), "wall_ms")
    out += [f"## {title}", "",
            "| tool | wall ms (median) | runs (ms) | CPU ms | peak RSS MB | alive/hosts (each run) | hosts/s | time ÷ ours |",
            "|---|---:|---|---:|---:|---|---:|---:|"]
    for mode in ["sweep-ps", "sweep-ps-cmdlet", "sweep-engine", "loop", "fping", "icmplib"]:
        rs = sel(scen, mode)
        if not rs:
            out.append(f"| {labels[mode]} | (no result) | | | | | | |")
            continue
        w = med(rs, "wall_ms")
        runs = ", ".join(fmt(r["wall_ms"]) for r in rs)
        alive = ", ".join(alive_of(r) for r in rs)
        rate = 65534 / (w / 1000) if w == w and w > 0 else float("nan")
        out.append(f"| {labels[mode]} | {fmt(w)} | {runs} | {fmt(med(rs, 'cpu_ms'))} | {fmt(med(rs, 'rss_kb') / 1024, 1)} | "
                   f"{alive} | {fmt(rate)} | {w / ours:.2f} |")
        for r in rs:
            if r.get("rc", 0) != 0 or r.get("stderr_lines", 0):
                notes.append(f"{scen}/{mode} run {r['run']}: exit {r.get('rc')}, {r.get('stderr_lines')} stderr lines; "
                             f"last: `{r.get('stderr_tail', '')}`")
    out.append("")

out += ["## (c) RTT, 200 echoes at 10 ms intervals from the lab client", "",
        "| target | iputils ping median (ms) | IcmpTools median (ms) | \\|ours − ping\\| (ms) | icmplib avg (ms) | IcmpTools avg (ms) | ping runs | ours runs | received ours/ping/icmplib |",
        "|---|---:|---:|---:|---:|---:|---|---|---|"]
for tgt in ["198.18.4.2", "198.18.10.1"]:
    scen = f"rtt-{tgt}"
    pmeds, precv = [], []
    for r in sel(scen, "ping"):
        f = os.path.join(logs, f"{scen}-ping-{r['run']}.out")
        t = [float(x) for x in re.findall(r"time=([\d.]+)", open(f).read())] if os.path.exists(f) else []
        precv.append(len(t))
        if t:
            pmeds.append(statistics.median(t))
    ours = sel(scen, "rtt")
    om = med(ours, "median_ms")
    pm = statistics.median(pmeds) if pmeds else float("nan")
    ic = sel(scen, "icmplib")
    icavg = [float(r["out"].split()[0]) for r in ic if r.get("out")]
    icrecv = [r["out"].split()[1] for r in ic if len(r.get("out", "").split()) > 1]
    pruns = ", ".join("%.3f" % x for x in pmeds)
    oruns = ", ".join("%.3f" % r["median_ms"] for r in ours)
    recv = "/".join(str(r["received"]) for r in ours) + " ; " + "/".join(map(str, precv)) + " ; " + "/".join(icrecv)
    icm = statistics.median(icavg) if icavg else float("nan")
    out.append(f"| {tgt} | {pm:.3f} | {om:.3f} | {abs(om - pm):.3f} | {icm:.3f} | {med(ours, 'avg_ms'):.3f} | {pruns} | {oruns} | {recv} |")
out.append("")

# ---- sparse block
out += ["## (d) Sparse block: 198.19.0.0/16 with 1 % alive (655 hosts), `-Count 1 -TimeoutSeconds 0.5 -Rate 0`, default `-ThrottleLimit`", "",
        "| tool | wall ms (median) | runs (ms) | CPU ms | alive/hosts (each run) | time ÷ fping's best |",
        "|---|---:|---|---:|---|---:|"]
fbest = min([r["wall_ms"] for r in sel("sparse", "fping") if r.get("wall_ms", -1) >= 0] or [float("nan")])
sparse_labels = {
    "sweep-ps": "IcmpTools: `$r = Invoke-IcmpMultiPing 198.19.0.0/16 -Count 1 -TimeoutSeconds 0.5 -Rate 0; $r.Count; ($r \\| Where-Object IsAlive).Count`",
    "sweep-ps-cmdlet": "IcmpTools: the same Invoke-IcmpMultiPing alone (call to last object)",
    "sweep-engine": "IcmpTools.Engine MultiPing (no PowerShell), default ThrottleLimit",
    "fping": "`fping -q -a -i 0 -r 0 -t 500 -g 198.19.0.0/16 \\| wc -l`",
}
for mode in ["sweep-ps", "sweep-ps-cmdlet", "sweep-engine", "fping"]:
    rs = sel("sparse", mode)
    if not rs:
        out.append(f"| {sparse_labels[mode]} | (no result) | | | | |")
        continue
    w = med(rs, "wall_ms")
    out.append(f"| {sparse_labels[mode]} | {fmt(w)} | {', '.join(fmt(r['wall_ms']) for r in rs)} | {fmt(med(rs, 'cpu_ms'))} | "
               f"{', '.join(alive_of(r) for r in rs)} | {w / fbest:.2f} |")
out.append("")

# ---- issue 16: zmap, the Ethernet send path, -Alive
if any(r["scenario"] in ("dense16", "sparse16") for r in recs):
    def path_sel(scen, path):
        return [r for r in recs if r["scenario"] == scen and r.get("path") == path and r["mode"] == "sweep-ps-cmdlet"]
    out += ["## (i) Issue 16: first /16 of a session, side by side in rounds (lab, `Invoke-IcmpMultiPing 198.19.0.0/16 -Count 1 -TimeoutSeconds 0.5 -Rate 0 -Alive`: the call, in-process, after a /24 warm-up; fping and zmap are fresh processes)", "",
            "| block | tool | median ms | runs (ms) | alive (each run) |", "|---|---|---:|---|---|"]
    rows = {}
    for scen, block in [("dense16", "dense /16"), ("sparse16", "sparse /16 (1 % alive), `-Alive`")]:
        for path, label in [("frames", "Invoke-IcmpMultiPing, Ethernet send path (default as root)"),
                            ("raw", "Invoke-IcmpMultiPing, `ICMPTOOLS_SEND_PATH=raw`")]:
            rs = path_sel(scen, path)
            if rs:
                rows[(scen, path)] = med(rs, "invoke_ms")
                out.append(f"| {block} | {label} | {fmt(rows[(scen, path)])} | {', '.join(fmt(r['invoke_ms']) for r in rs)} | "
                           f"{', '.join(str(r.get('alive')) for r in rs)} |")
        rs = sel(scen, "fping")
        if rs:
            rows[(scen, "fping")] = med(rs, "wall_ms")
            out.append(f"| {block} | `fping -q -a -i 0 -r 0 -t 500 -g BLOCK` | {fmt(rows[(scen, 'fping')])} | "
                       f"{', '.join(fmt(r['wall_ms']) for r in rs)} | {', '.join(r.get('out', '?') for r in rs)} |")
        rs = sel(scen, "zmap")
        if rs:
            rows[(scen, "zmap")] = med(rs, "p99_ms")
            out.append(f"| {block} | zmap 2.1.1 `-M icmp_echoscan -r 0`: process start to 99th percentile reply (kernel stamps) | "
                       f"{fmt(rows[(scen, 'zmap')])} | {', '.join(fmt(r['p99_ms']) for r in rs)} | {', '.join(str(r.get('alive')) for r in rs)} |")
            if all("p99_after_first_send_ms" in r for r in rs):
                out.append(f"| {block} | zmap: its first probe to its 99th percentile reply | {fmt(med(rs, 'p99_after_first_send_ms'))} | "
                           f"{', '.join(fmt(r['p99_after_first_send_ms']) for r in rs)} | |")
                out.append(f"| {block} | zmap: its CSV's own stamps (receiver's handling time; not used) | {fmt(med(rs, 'csv_p99_ms'))} | "
                           f"{', '.join(fmt(r['csv_p99_ms']) for r in rs)} | |")
    out.append("")
    if any("csv_p99_ms" in r for r in sel("dense16", "zmap")):
        out += ["zmap's times come from a capture on the lab client's interface (tcpdump, kernel stamps; bench/pcap_times.py); every "
                "dense run of every tool runs under the same capture. zmap 2.1.1 stamps a reply in its CSV when its receiver handles "
                "it, and it reads through libpcap with a 1000 ms timeout, so the last partly filled block of replies reaches it up "
                "to 1 s late: its CSV p99 is shown for contrast only.", ""]
    for scen in ["dense16", "sparse16"]:
        for path in ["frames", "raw"]:
            ours = rows.get((scen, path))
            if ours:
                peers = [f"fping ÷ ours {rows[(scen, 'fping')] / ours:.2f}×" if (scen, "fping") in rows else "",
                         f"ours ÷ zmap p99 {ours / rows[(scen, 'zmap')]:.2f}×" if (scen, "zmap") in rows else ""]
                out.append(f"- {scen} ({path}): " + "; ".join(p for p in peers if p))
    fr, rw = sel("rtt16-frames", "rtt"), sel("rtt16-raw", "rtt")
    pm = []
    for r in sel("rtt16", "ping"):
        f = os.path.join(logs, f"rtt16-ping-{r['run']}.out")
        t = [float(x) for x in re.findall(r"time=([\d.]+)", open(f).read())] if os.path.exists(f) else []
        if t:
            pm.append(statistics.median(t))
    if fr or rw:
        out += ["", "RTT to 198.18.4.2 (200 echoes, 10 ms apart; medians of each run's median): "
                f"Ethernet send path {', '.join('%.3f' % r['median_ms'] for r in fr)} ms, raw socket "
                f"{', '.join('%.3f' % r['median_ms'] for r in rw)} ms, iputils ping {', '.join('%.3f' % x for x in pm)} ms.", ""]

# ---- sweep RTT accuracy
def fping_c(scen, mode):
    """Median over hosts of fping -C 1's per-host RTT, per run (read from the run's stderr log)."""
    meds = []
    for r in sel(scen, mode):
        f = os.path.join(logs, f"{scen}-{mode}-{r['run']}.err")
        vals = [float(v) for v in re.findall(r"^\S+\s*:\s*([\d.]+)\s*$", open(f).read(), re.M)] if os.path.exists(f) else []
        if vals:
            meds.append((statistics.median(vals), len(vals)))
    return meds

out += ["## (e) Sweep RTT accuracy: one probe per host of a /24, median over hosts (ms)", "",
        "IcmpTools: the engine's sweep (`MultiPing`, as `Invoke-IcmpMultiPing -Count 1` runs it) at `-Rate 0` and at the default "
        "`-Rate 10000`; fping: `fping -C 1 -q [-i 0|-i 1] -r 0 -t 500 -g BLOCK` (no -i: fping's default 10 ms between sends). "
        "Each run is the median over the alive hosts of one sweep; the cell shows the median of the runs (runs in brackets). "
        "fping's own figure depends on its send spacing (an idle CPU between sends is slower to wake), so both ends are shown.", "",
        "| block | ours -Rate 0 | ours p90 | ours -Rate 10000 | ours p90 | fping -i 0 | fping -i 1 | fping (-i 10) | ours(-Rate 0) − fping -i 0 | ours(10000) − fping (-i 10) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
for where, block in [("lab", "198.19.1.0/24 (lab, 3 routers)"), ("lo", "127.2.1.0/24 (loopback)")]:
    o0 = sel(f"sweeprtt-{where}-r0", "sweep-rtt")
    o1 = sel(f"sweeprtt-{where}-r10000", "sweep-rtt")
    f0 = fping_c(f"sweeprtt-{where}", "fping-i0")
    f1 = fping_c(f"sweeprtt-{where}", "fping-i1")
    f10 = fping_c(f"sweeprtt-{where}", "fping-i10")
    m0, m1 = med(o0, "median_ms"), med(o1, "median_ms")
    mm = lambda f: statistics.median([m for m, _ in f]) if f else float("nan")
    fm0, fm1, fm10 = mm(f0), mm(f1), mm(f10)
    fr = lambda f: ", ".join("%.3f" % m for m, _ in f)
    runs = lambda rs: ", ".join("%.3f" % r["median_ms"] for r in rs)
    out.append(f"| {block} | {m0:.3f} ({runs(o0)}) | {med(o0, 'p90_ms'):.3f} | {m1:.3f} ({runs(o1)}) | {med(o1, 'p90_ms'):.3f} | "
               f"{fm0:.3f} ({fr(f0)}) | {fm1:.3f} ({fr(f1)}) | {fm10:.3f} ({fr(f10)}) | **{m0 - fm0:+.3f}** | **{m1 - fm10:+.3f}** |")
out.append("")

# ---- raw rates
out += ["## (f) Raw probe rate: the engine beside the bare loop (probes/s, medians)", "",
        "| path | engine (`MultiPing.ProbeRate`) | engine hosts/s (to last reply) | bare loop (probes/s to last reply) |", "|---|---:|---:|---:|"]
for scen, label in [("lab", "lab 198.19.0.0/16"), ("loopback", "loopback 127.1.0.0/16")]:
    out.append(f"| {label} | {fmt(med(sel(scen, 'sweep-engine'), 'engine_probe_rate'))} | {fmt(med(sel(scen, 'sweep-engine'), 'probes_per_s'))} | "
               f"{fmt(med(sel(scen, 'loop'), 'probes_per_s'))} |")
out.append("")

st = sel("startup", "startup")
out += ["## (g) Start-up (in-process, fresh process each run)", "",
        "| step | median ms | runs (ms) |", "|---|---:|---|"]
for key, label in [("process_to_main_ms", "process start → Main"), ("runspace_ms", "create + open runspace (CreateDefault2)"),
                   ("import_ms", "Import-Module out/IcmpTools"), ("first_reply_ms", "first `Test-IcmpEcho 127.0.0.1 -Count 1`"),
                   ("import_plus_first_ms", "**Import-Module + first reply**"), ("process_total_ms", "process start → first reply")]:
    out.append(f"| {label} | {fmt(med(st, key), 1)} | {', '.join(fmt(r[key], 1) for r in st)} |")
out.append("")
mem = [r for r in recs if r["scenario"] == "memory"]
if mem:
    out += ["## (h) Memory in a real pwsh (fresh `pwsh -NoProfile` per run; growth = VmHWM − VmRSS after a warm-up /24)", "",
            "| command | pwsh | VmRSS before (MB) | VmHWM (MB) | VmRSS after (MB) | **growth (MB)** | runs growth (MB) | wall ms |",
            "|---|---|---:|---:|---:|---:|---|---:|"]
    for mode in ["pwsh-stream", "pwsh-collect"]:
        rs = [r for r in mem if r["mode"] == mode]
        if not rs:
            continue
        cmd = rs[0]["command"].replace("|", "\\|")
        out.append(f"| `{cmd}` | {rs[0].get('pwsh', '?')} | {med(rs, 'rss_before_kb') / 1024:.1f} | {med(rs, 'hwm_kb') / 1024:.1f} | "
                   f"{med(rs, 'rss_after_kb') / 1024:.1f} | **{med(rs, 'growth_kb') / 1024:.1f}** | "
                   f"{', '.join('%.1f' % (r['growth_kb'] / 1024) for r in rs)} | {fmt(med(rs, 'wall_ms'))} |")
    out += ["", "VmHWM is reset (`5 > /proc/self/clear_refs`) right after the warm-up, so it is this command's peak. Script: bench/pwsh-mem.ps1.", ""]

out += ["## Method notes", "",
        "- Commands: see bench/run.sh; raw per-run records are in bench/results/raw.jsonl, tool output in bench/results/logs/.",
        "- 'time ÷ ours' divides each tool's median wall time by the median of the first IcmpTools row (the full PowerShell line).",
        "- IcmpTools rows are in-process Stopwatch times after warm-up; fping/icmplib rows are `/usr/bin/time -f \"%e %U %S %M\"` of a fresh process "
        "(fping's %e has 10 ms resolution). CPU = user + sys. Peak RSS = VmHWM; for the in-process modes it is reset (clear_refs 5) "
        "before each run but the process keeps earlier runs' heap, so it is cumulative-ish.",
        "- iputils ping prints `time=` with 3 significant digits (0.1 ms steps at 10 ms), so the 10 ms row's ping median is quantised.",
        "- On loopback the bare loop's raw socket also sees its own echo requests (counted as other_packets, ignored).",
        ""]
if notes:
    out += ["## Notes from the runs", ""] + [f"- {n}" for n in notes] + [""]
print("\n".join(out))
