#!/usr/bin/env bash
# bench/ab16.sh: interleaved A/B of two builds on issue 16's rows, with the peers in the same run (a loaded machine
# moves every figure; the ratios between tools run side by side are what compare).
# A and B are folders each holding bin/ (a Release build of bench/IcmpTools.Bench, bin/Release/net10.0) and
# out/IcmpTools (the module laid out by that build), so the bench host finds its own module (FindModule).
# Per round, in an order that alternates A and B: the lab's sparse /16 (1 % alive, -TimeoutSeconds 0.5 -Alive, the
# session's first /16 after a /24 warm-up) through the Ethernet send path and the raw socket, then fping; the dense /16
# likewise with fping and zmap, every dense run under the same capture (zmap's time from its kernel stamps, as
# bench/run.sh); the loopback /16 (raw socket); the lab /16 as uid 65534 with no capabilities (datagram sockets);
# RTT to 198.18.4.2 (200 echoes). `uptime` before each round.
# Traffic goes only to 127.0.0.0/8 and to the namespace lab this script builds and removes (LAB_PREFIX + PID);
# zmap and fping run only inside the lab's client namespace, against the lab's block. Every step is bounded by timeout.
# Usage (root): bench/ab16.sh A-DIR B-DIR [ROUNDS]   writes bench/results/ab16/raw.jsonl and prints the summary.
# ONLY=sparse runs only the sparse rows (the goal's: more rounds in the same time); ONLY=local only the loopback and
# datagram rows.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
A="$1"
B="$2"
ROUNDS="${3:-3}"
OUT="$ROOT/bench/results/ab16"
RAW="$OUT/raw.jsonl"
LOGS="$OUT/logs"
PY=/usr/bin/python3
LAB="${LAB_PREFIX:-ab}$$"
NS="$LAB-c"
BLOCK=198.19.0.0/16
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all)
for v in "$A" "$B"; do
    [[ -x "$v/bin/IcmpTools.Bench" && -f "$v/out/IcmpTools/IcmpTools.psd1" ]] || { echo "$v: no bin/IcmpTools.Bench or out/IcmpTools" >&2; exit 1; }
done
mkdir -p "$OUT" "$LOGS"
: >"$RAW"
rm -f "$LOGS"/*
# uid 65534 reads both builds and needs a home for PowerShell.
mkdir -p "$OUT/home"
chmod 777 "$OUT/home"
chmod -R o+rX "$A" "$B"

trap 'bash "$ROOT/tests/netlab/netlab.sh" down "$LAB" >/dev/null 2>&1 || true' EXIT
bash tests/netlab/netlab.sh up "$LAB"
ip netns exec "$NS" sysctl -qw net.ipv4.ping_group_range="0 2147483647"
dev="$(ip -n "$NS" route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") print $(i + 1)}')"
[[ "$dev" == to-r1 && "$(ip -n "$NS" route show default | wc -l)" == 1 ]] || { echo "lab client route out is not the lab's router: $dev" >&2; exit 1; }
ip netns exec "$NS" ping -n -q -c1 -W1 198.18.1.1 >/dev/null
GW_MAC="$(ip -n "$LAB-r1" link show to-c | awk '/link\/ether/ {print $2}')"

load() { cut -d' ' -f1 /proc/loadavg; }

# ours VERSION-LABEL DIR SCENARIO PATH ROUND [env...] -- bench-args...: one fresh bench process, its RESULT lines kept.
ours() {
    local label="$1" dir="$2" scen="$3" path="$4" round="$5"; shift 5
    local env=()
    while [[ "$1" != -- ]]; do env+=("$1"); shift; done
    shift
    local l0
    l0="$(load)"
    env "${env[@]}" timeout 180 "$dir/bin/IcmpTools.Bench" "$@" 2>>"$LOGS/bench-$label.stderr" \
        | sed -n 's/^RESULT {/{"build":"'"$label"'","scenario":"'"$scen"'","path":"'"$path"'","round":'"$round"',"load":'"$l0"',/p' \
        | tee -a "$RAW" | cut -c1-220
}

# ext TOOL SCENARIO ROUND cmd...: an external tool in the lab client under /usr/bin/time.
ext() {
    local tool="$1" scen="$2" round="$3"; shift 3
    local tf="$LOGS/$scen-$tool-$round" l0
    l0="$(load)"
    set +e
    timeout 60 ip netns exec "$NS" /usr/bin/time -f "%e %U %S" -o "$tf.time" "$@" >"$tf.out" 2>"$tf.err"
    set -e
    "$PY" - "$tool" "$scen" "$round" "$l0" "$tf" >>"$RAW" <<'PYEOF'
import json, sys
tool, scen, rnd, l0, tf = sys.argv[1:6]
t = open(tf + ".time").read().split()
e, u, s = t[-3:]
print(json.dumps({"build": tool, "scenario": scen, "path": "-", "round": int(rnd), "load": float(l0), "mode": tool,
                  "invoke_ms": float(e) * 1000, "cpu_ms": (float(u) + float(s)) * 1000, "alive": open(tf + ".out").read().strip()}))
PYEOF
    tail -n1 "$RAW" | cut -c1-220
}

# capture_on / capture_off (bench/capture.sh): a capture that is not zmap's is deleted once stopped.
source "$ROOT/bench/capture.sh"

zmap_run() {   # round
    local tf="$LOGS/dense-zmap-$1" start l0
    l0="$(load)"
    capture_on "$tf"
    start="$(date +%s.%N)"
    timeout 60 ip netns exec "$NS" zmap -q -M icmp_echoscan -i to-r1 -G "$GW_MAC" -S 198.18.1.2 -r 0 -b /dev/null -c 1 \
        -f "saddr" -O csv -o "$tf.csv" "$BLOCK" >"$tf.out" 2>"$tf.err" || true
    capture_off
    "$PY" - "$1" "$l0" "$("$PY" "$ROOT/bench/pcap_times.py" "$tf.pcap" "$start" "$BLOCK")" >>"$RAW" <<'PYEOF'
import json, sys
cap = json.loads(sys.argv[3])
print(json.dumps({"build": "zmap", "scenario": "dense", "path": "-", "round": int(sys.argv[1]), "load": float(sys.argv[2]),
                  "mode": "zmap", "invoke_ms": cap["p99_ms"], "alive": cap["replies"]}))
PYEOF
    rm -f "$tf.pcap"
    tail -n1 "$RAW" | cut -c1-220
}

sweep() {   # label dir scen path round
    local env=()
    [[ "$4" == raw ]] && env=(ICMPTOOLS_SEND_PATH=raw)
    ours "$1" "$2" "$3" "$4" "$5" "${env[@]}" -- sweep-ps --netns "$NS" --warmup 198.19.1.0/24 --throttle default --repeat 1 \
        --collect 0 --target "$BLOCK" --timeout 0.5 --alive 1
}

for ((r = 1; r <= ROUNDS; r++)); do
    # A first in odd rounds, B first in even ones.
    if ((r % 2)); then order=("A $A" "B $B"); else order=("B $B" "A $A"); fi
    echo "== round $r of $ROUNDS, load $(cut -d' ' -f1-3 /proc/loadavg)"
    if [[ "${ONLY:-}" != local ]]; then
    bash tests/netlab/netlab.sh sparse "$LAB" on
    for v in "${order[@]}"; do read -r label dir <<<"$v"; sweep "$label" "$dir" sparse frames "$r"; done
    for v in "${order[@]}"; do read -r label dir <<<"$v"; sweep "$label" "$dir" sparse raw "$r"; done
    ext fping sparse "$r" sh -c "fping -q -a -i 0 -r 0 -t 500 -g $BLOCK | wc -l"
    bash tests/netlab/netlab.sh sparse "$LAB" off
    [[ "${ONLY:-}" == sparse ]] && continue
    for v in "${order[@]}"; do
        read -r label dir <<<"$v"
        capture_on "$LOGS/dense-$label-$r"; sweep "$label" "$dir" dense frames "$r"; capture_off
    done
    for v in "${order[@]}"; do
        read -r label dir <<<"$v"
        capture_on "$LOGS/dense-$label-raw-$r"; sweep "$label" "$dir" dense raw "$r"; capture_off
    done
    capture_on "$LOGS/dense-fping-$r"; ext fping dense "$r" sh -c "fping -q -a -i 0 -r 0 -t 500 -g $BLOCK | wc -l"; capture_off
    zmap_run "$r"
    fi
    for v in "${order[@]}"; do
        read -r label dir <<<"$v"
        ours "$label" "$dir" loopback raw "$r" -- sweep-ps --warmup 127.2.1.0/24 --throttle default --repeat 1 --collect 0 \
            --target 127.1.0.0/16 --timeout 0.5
    done
    for v in "${order[@]}"; do
        read -r label dir <<<"$v"
        # In the lab client already (no --netns: entering a namespace needs root), as uid 65534: datagram sockets.
        l0="$(load)"
        ip netns exec "$NS" "${NOBODY[@]}" env HOME="$OUT/home" timeout 180 "$dir/bin/IcmpTools.Bench" sweep-ps --warmup 198.19.1.0/24 \
            --throttle default --repeat 1 --collect 0 --target "$BLOCK" --timeout 0.5 2>>"$LOGS/bench-$label-unpriv.stderr" \
            | sed -n 's/^RESULT {/{"build":"'"$label"'","scenario":"dense","path":"datagram","round":'"$r"',"load":'"$l0"',/p' \
            | tee -a "$RAW" | cut -c1-220
    done
    [[ "${ONLY:-}" == local ]] && continue
    for v in "${order[@]}"; do
        read -r label dir <<<"$v"
        ours "$label" "$dir" rtt frames "$r" -- rtt --netns "$NS" --target 198.18.4.2 --count 200 --interval 0.01 --repeat 1
    done
done

"$PY" - "$RAW" <<'PYEOF'
import json, statistics, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def med(xs):
    return statistics.median(xs) if xs else float("nan")
print("| block | path | A median ms (runs) | B median ms (runs) | B ÷ A | fping ms | fping ÷ A | fping ÷ B | zmap p99 ms | A CPU ms | B CPU ms | A / B JIT'd methods |")
print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
for scen in ["sparse", "dense", "loopback"]:
    fp = med([r["invoke_ms"] for r in recs if r["scenario"] == scen and r["build"] == "fping"])
    zm = med([r["invoke_ms"] for r in recs if r["scenario"] == scen and r["build"] == "zmap"])
    for path in ["frames", "raw", "datagram"]:
        a = [r for r in recs if r["scenario"] == scen and r["path"] == path and r["build"] == "A"]
        b = [r for r in recs if r["scenario"] == scen and r["path"] == path and r["build"] == "B"]
        if not a or not b:
            continue
        ma, mb = med([r["invoke_ms"] for r in a]), med([r["invoke_ms"] for r in b])
        runs = lambda rs: ", ".join("%.0f" % r["invoke_ms"] for r in rs)
        print(f"| {scen} | {path} | {ma:,.0f} ({runs(a)}) | {mb:,.0f} ({runs(b)}) | {mb / ma:.2f} | {fp:,.0f} | {fp / ma:.2f} | {fp / mb:.2f} | "
              f"{zm:,.0f} | {med([r['cpu_ms'] for r in a]):,.0f} | {med([r['cpu_ms'] for r in b]):,.0f} | "
              f"{med([r.get('jit_methods', 0) for r in a]):.0f} / {med([r.get('jit_methods', 0) for r in b]):.0f} |")
alive = {(r["build"], r["scenario"], r["path"]): r.get("alive") for r in recs}
print("\nalive (last round):", ", ".join(f"{k[0]} {k[1]} {k[2]}: {v}" for k, v in sorted(alive.items()) if k[1] != "rtt"))
for v in "AB":
    rt = [r for r in recs if r["scenario"] == "rtt" and r["build"] == v]
    if rt:
        print(f"RTT {v}: medians " + ", ".join("%.3f" % r.get("median_ms", float("nan")) for r in rt) + " ms")
    rss = [r["rss_kb"] for r in recs if r["build"] == v and "rss_kb" in r and r["scenario"] == "sparse"]
    if rss:
        print(f"peak RSS {v}, sparse rows: median {med(rss) / 1024:.1f} MB")
loads = [r["load"] for r in recs]
print(f"\nload average (1 min) at each run's start: {min(loads):.1f}-{max(loads):.1f}, median {med(loads):.1f}")
PYEOF
