#!/usr/bin/env bash
# bench/run.sh: IcmpTools benchmarks side by side with fping, iputils ping and icmplib.
# Needs root (namespaces, raw sockets). Writes bench/results/latest.md (+ raw.jsonl).
# Traffic goes only to 127.0.0.0/8 and to the namespace lab this script builds and removes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/bench/results"
RAW="$OUT/raw.jsonl"
LOGS="$OUT/logs"
BENCH="$ROOT/bench/IcmpTools.Bench/bin/Release/net10.0/IcmpTools.Bench"
PY=/usr/bin/python3
REPEAT=3
LAB="bench$$"
NS="$LAB-c"
LAB_BLOCK=198.19.0.0/16
LO_BLOCK=127.1.0.0/16

mkdir -p "$OUT" "$LOGS"
: >"$RAW"
rm -f "$LOGS"/*

echo "== build (Release)"
if ! dotnet build IcmpTools.sln -c Release -v q -nologo >"$LOGS/build.log" 2>&1; then
    echo "   solution build failed (see $LOGS/build.log); building src/IcmpTools and the bench alone"
    dotnet build src/IcmpTools/IcmpTools.csproj -c Release -v q -nologo >>"$LOGS/build.log" 2>&1
    dotnet build bench/IcmpTools.Bench/IcmpTools.Bench.csproj -c Release -v q -nologo >>"$LOGS/build.log" 2>&1
fi
[[ -x "$BENCH" ]] || { echo "no $BENCH" >&2; exit 1; }

[[ -x /usr/bin/time ]] || apt-get install -y time >/dev/null

echo "== lab $LAB"
trap 'bash "$ROOT/tests/netlab/netlab.sh" down "$LAB" || true' EXIT
bash tests/netlab/netlab.sh up "$LAB"

# ours: the bench binary prints "RESULT {json}" lines; add the scenario and keep them.
ours() {   # scenario timeout args...
    local scen="$1" tmo="$2"; shift 2
    echo "   ours: $*"
    timeout "$tmo" "$BENCH" "$@" 2>>"$LOGS/bench.stderr" | sed -n 's/^RESULT {/{"scenario":"'"$scen"'",/p' | tee -a "$RAW" | cut -c1-200
}

# An external tool under /usr/bin/time: records wall, user, sys, maxrss and the count on stdout.
ext() {    # scenario tool run timeout netns|- cmd...
    local scen="$1" tool="$2" run="$3" tmo="$4" ns="$5"; shift 5
    local tf="$LOGS/$scen-$tool-$run"
    local pre=()
    [[ "$ns" != - ]] && pre=(ip netns exec "$ns")
    set +e
    timeout "$tmo" "${pre[@]}" /usr/bin/time -f "%e %U %S %M" -o "$tf.time" "$@" >"$tf.out" 2>"$tf.err"
    local rc=$?
    set -e
    "$PY" - "$scen" "$tool" "$run" "$rc" "$tf" >>"$RAW" <<'PYEOF'
import json, sys
scen, tool, run, rc, tf = sys.argv[1:6]
t = open(tf + ".time").read().split()
# /usr/bin/time prints "Command exited with non-zero status N" before the figures on failure.
e, u, s, m = (t[-4:] if len(t) >= 4 else ["nan"] * 4)
out = open(tf + ".out").read().split()
err = open(tf + ".err").read().strip().splitlines()
rec = {"scenario": scen, "mode": tool, "run": int(run), "rc": int(rc), "wall_ms": float(e) * 1000,
       "cpu_ms": (float(u) + float(s)) * 1000, "rss_kb": int(m) if m.isdigit() else -1,
       "out": " ".join(out[:4]), "stderr_tail": " | ".join(err[-3:])[:300], "stderr_lines": len(err)}
print(json.dumps(rec))
PYEOF
    tail -n1 "$RAW" | cut -c1-200
}

cat >"$LOGS/icmplib_sweep.py" <<'PYEOF'
import ipaddress, sys
from icmplib import multiping
addrs = [str(a) for a in ipaddress.ip_network(sys.argv[1]).hosts()]
hosts = multiping(addrs, count=1, interval=0, timeout=1, privileged=True)
print(sum(1 for h in hosts if h.is_alive), len(hosts))
PYEOF
cat >"$LOGS/icmplib_ping.py" <<'PYEOF'
import sys
from icmplib import ping
h = ping(sys.argv[1], count=200, interval=0.01, privileged=True)
print(h.avg_rtt, h.packets_received, h.min_rtt, h.max_rtt)
PYEOF

sweeps() {   # scenario netns|- block warmup
    local scen="$1" ns="$2" block="$3" warm="$4" nsarg=()
    [[ "$ns" != - ]] && nsarg=(--netns "$ns")
    echo "== sweep $scen ($block)"
    ours "$scen" 120 sweep-ps "${nsarg[@]}" --target "$block" --warmup "$warm" --repeat "$REPEAT"
    ours "$scen" 60 sweep-engine "${nsarg[@]}" --target "$block" --repeat "$REPEAT"
    ours "$scen" 60 loop "${nsarg[@]}" --target "$block" --repeat "$REPEAT"
    local r
    for ((r = 1; r <= REPEAT; r++)); do
        ext "$scen" fping "$r" 60 "$ns" sh -c "fping -q -a -i 0 -r 0 -t 500 -g $block | wc -l"
    done
    for ((r = 1; r <= REPEAT; r++)); do
        ext "$scen" icmplib "$r" 60 "$ns" "$PY" "$LOGS/icmplib_sweep.py" "$block"
    done
}

sweeps lab "$NS" "$LAB_BLOCK" 198.19.1.0/24
sweeps loopback - "$LO_BLOCK" 127.2.1.0/24

echo "== rtt"
for tgt in 198.18.4.2 198.18.10.1; do
    ours "rtt-$tgt" 60 rtt --netns "$NS" --target "$tgt" --count 200 --interval 0.01 --repeat "$REPEAT"
    for ((r = 1; r <= REPEAT; r++)); do
        ext "rtt-$tgt" ping "$r" 30 "$NS" ping -n -c 200 -i 0.01 "$tgt"
        ext "rtt-$tgt" icmplib "$r" 30 "$NS" "$PY" "$LOGS/icmplib_ping.py" "$tgt"
    done
done

echo "== startup"
for ((r = 1; r <= REPEAT; r++)); do
    ours startup 60 startup
done

"$PY" "$ROOT/bench/report.py" "$RAW" "$LOGS" >"$OUT/latest.md"
echo "== wrote $OUT/latest.md"
cat "$OUT/latest.md"
