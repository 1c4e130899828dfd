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

st = sel("startup", "startup")
out += ["## (d) Start-up (in-process, fresh process each run)", "",
        "| step | median ms | runs (ms) |", "|---|---:|---|"]
for key, label in [("process_to_main_ms", "process start → Main"), ("runspace_ms", "create + open runspace (CreateDefault2)"),
                   ("import_ms", "Import-Module out/IcmpTools"), ("first_reply_ms", "first `Test-IcmpEcho 127.0.0.1 -Count 1`"),
                   ("import_plus_first_ms", "**Import-Module + first reply**"), ("process_total_ms", "process start → first reply")]:
    out.append(f"| {label} | {fmt(med(st, key), 1)} | {', '.join(fmt(r[key], 1) for r in st)} |")
out.append("")
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
