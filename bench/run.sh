#!/usr/bin/env bash
# bench/run.sh: IcmpTools benchmarks side by side with fping, iputils ping and icmplib.
# Needs root (namespaces, raw sockets). Writes bench/results/latest.md (+ raw.jsonl).
# Traffic goes only to 127.0.0.0/8 and to the namespace lab this script builds and removes.
# Takes about 6-8 minutes on a loaded 2-core machine (REPEAT=3); every step is bounded by `timeout`.
# Needs fping, iputils-ping, python3-icmplib, nftables, iptables, libnetfilter-queue-dev, time (Debian),
# and a pwsh for the memory rows: `dotnet pwsh` when .config/dotnet-tools.json exists, else $PWSH, else
# the dotnet tool PowerShell 7.6.9 installed into /tmp/pwshtool.
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

# A real pwsh for the memory rows (see the header).
PWSH_CMD=()
if [[ -f "$ROOT/.config/dotnet-tools.json" ]] && dotnet tool restore >"$LOGS/tool-restore.log" 2>&1; then
    PWSH_CMD=(dotnet pwsh)
elif [[ -n "${PWSH:-}" && -x "${PWSH:-}" ]]; then
    PWSH_CMD=("$PWSH")
else
    [[ -x /tmp/pwshtool/pwsh ]] || dotnet tool install --tool-path /tmp/pwshtool PowerShell --version 7.6.9 >"$LOGS/pwsh-install.log" 2>&1 || true
    [[ -x /tmp/pwshtool/pwsh ]] && PWSH_CMD=(/tmp/pwshtool/pwsh)
fi

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

# A sparse block, as real ones are: 1 % of the lab /16 answers (netlab.sh sparse), -Count 1
# -TimeoutSeconds 0.5 -Rate 0 with the default -ThrottleLimit, against fping -i 0 -r 0 -t 500.
echo "== sparse ($LAB_BLOCK, 1 % alive)"
bash tests/netlab/netlab.sh sparse "$LAB" on
ours sparse 180 sweep-ps --netns "$NS" --target "$LAB_BLOCK" --warmup 198.19.1.0/24 --throttle default --timeout 0.5 --repeat "$REPEAT"
ours sparse 120 sweep-engine --netns "$NS" --target "$LAB_BLOCK" --throttle default --timeout 0.5 --repeat "$REPEAT"
for ((r = 1; r <= REPEAT; r++)); do
    ext sparse fping "$r" 60 "$NS" sh -c "fping -q -a -i 0 -r 0 -t 500 -g $LAB_BLOCK | wc -l"
done
bash tests/netlab/netlab.sh sparse "$LAB" off

# Sweep RTT accuracy: each host's RTT from one sweep probe, against fping -C 1 on the same /24.
echo "== sweep rtt"
for spec in "lab $NS 198.19.1.0/24" "lo - 127.2.1.0/24"; do
    read -r where ns block <<<"$spec"
    nsarg=()
    [[ "$ns" != - ]] && nsarg=(--netns "$ns")
    for rate in 0 10000; do
        ours "sweeprtt-$where-r$rate" 60 sweep-rtt "${nsarg[@]}" --target "$block" --rate "$rate" --throttle default --repeat "$REPEAT" \
            --out "$LOGS/sweeprtt-$where-r$rate-ours.txt"
    done
    for ((r = 1; r <= REPEAT; r++)); do
        # fping -C prints "ADDR : RTT" per host on stderr: kept in the .err log for report.py.
        ext "sweeprtt-$where" fping-i0 "$r" 30 "$ns" fping -C 1 -q -i 0 -r 0 -t 500 -g "$block"
        ext "sweeprtt-$where" fping-i1 "$r" 30 "$ns" fping -C 1 -q -i 1 -r 0 -t 500 -g "$block"
        ext "sweeprtt-$where" fping-i10 "$r" 30 "$ns" fping -C 1 -q -r 0 -t 500 -g "$block"
    done
done

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

# Memory in a real pwsh: growth (VmHWM - VmRSS after a warm-up /24) of a loopback /16, streamed and collected.
echo "== memory (pwsh: ${PWSH_CMD[*]:-none})"
if ((${#PWSH_CMD[@]} > 0)); then
    for mode in stream collect; do
        for ((r = 1; r <= REPEAT; r++)); do
            echo "   pwsh $mode $r"
            timeout 120 "${PWSH_CMD[@]}" -NoProfile -NonInteractive -File "$ROOT/bench/pwsh-mem.ps1" \
                -Module "$ROOT/out/IcmpTools/IcmpTools.psd1" -Mode "$mode" 2>>"$LOGS/pwsh-mem.stderr" \
                | sed -n 's/^RESULT {/{"scenario":"memory",/p' | sed 's/"run":1,/"run":'"$r"',/' | tee -a "$RAW" | cut -c1-200 || true
        done
    done
fi

"$PY" "$ROOT/bench/report.py" "$RAW" "$LOGS" >"$OUT/latest.md"
echo "== wrote $OUT/latest.md"
cat "$OUT/latest.md"
