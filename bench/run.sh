#!/usr/bin/env bash
# bench/run.sh: IcmpTools benchmarks side by side with fping, iputils ping and icmplib.
# Needs root (namespaces, raw sockets). Writes bench/results/latest.md (+ raw.jsonl).
# Traffic goes only to 127.0.0.0/8 and to the namespace lab this script builds and removes.
# Takes about 6-8 minutes on a loaded 2-core machine (REPEAT=3); every step is bounded by `timeout`.
# ONLY=sweep16 runs only the issue-16 rows (zmap, the Ethernet send path against the raw socket, -Alive; ~3 min).
# Needs fping, zmap, tcpdump, iputils-ping, python3-icmplib, nftables, iptables, libnetfilter-queue-dev, time (Debian),
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
LAB="${LAB_PREFIX:-bench}$$"
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
command -v zmap >/dev/null || apt-get install -y zmap >/dev/null
command -v tcpdump >/dev/null || apt-get install -y tcpdump >/dev/null

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

# Issue 16, side by side in rounds: each round runs every tool once, so machine noise hits them alike.
# IcmpTools is a fresh bench process per run whose first /16 follows one /24 warm-up (the first sweep of a
# session: Invoke-IcmpMultiPing alone, from the call to its last object), once with the Ethernet send path (the default as root) and once with ICMPTOOLS_SEND_PATH=raw.
# zmap 2.1.1 runs only inside the lab client namespace, whose only route out is the lab's first router
# (checked below), with the lab block as its explicit target, its interface, the router's MAC and
# -b /dev/null (its default blocklist excludes 198.18.0.0/15); its figure is the time from its start to
# its 99th percentile reply. Sparse: netlab.sh sparse (1 % alive), -TimeoutSeconds 0.5 -Alive.
sweep16() {
    local r gw_mac dev
    dev="$(ip -n "$NS" route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") print $(i + 1)}')"
    [[ "$dev" == to-r1 && "$(ip -n "$NS" route show default | wc -l)" == 1 ]] || { echo "lab client route out is not the lab's router: $dev" >&2; exit 1; }
    ip netns exec "$NS" ping -n -q -c1 -W1 198.18.1.1 >/dev/null
    gw_mac="$(ip -n "$LAB-r1" link show to-c | awk '/link\/ether/ {print $2}')"
    echo "== issue 16: dense $LAB_BLOCK (gateway MAC $gw_mac)"
    # Every dense run, whatever the tool, runs under the same capture (tcpdump on the client's interface), so
    # each pays the same tap; zmap's figure comes from it (see zmap16).
    for ((r = 1; r <= REPEAT; r++)); do
        capture_on "$LOGS/dense16-frames-$r"; ours16 dense frames "$r" --target "$LAB_BLOCK" --timeout 0.5 --alive 1; capture_off
        capture_on "$LOGS/dense16-raw-$r"; ours16 dense raw "$r" --target "$LAB_BLOCK" --timeout 0.5 --alive 1; capture_off
        capture_on "$LOGS/dense16-fping-$r"; ext dense16 fping "$r" 60 "$NS" sh -c "fping -q -a -i 0 -r 0 -t 500 -g $LAB_BLOCK | wc -l"; capture_off
        capture_on "$LOGS/dense16-zmap-$r"; zmap16 "$r" "$gw_mac"; capture_off; zmap16_record "$r"
    done
    echo "== issue 16: sparse $LAB_BLOCK, 1 % alive, -Alive"
    bash tests/netlab/netlab.sh sparse "$LAB" on
    for ((r = 1; r <= REPEAT; r++)); do
        ours16 sparse frames "$r" --target "$LAB_BLOCK" --timeout 0.5 --alive 1
        ours16 sparse raw "$r" --target "$LAB_BLOCK" --timeout 0.5 --alive 1
        ext sparse16 fping "$r" 60 "$NS" sh -c "fping -q -a -i 0 -r 0 -t 500 -g $LAB_BLOCK | wc -l"
    done
    bash tests/netlab/netlab.sh sparse "$LAB" off
    echo "== issue 16: RTT (row e) through the Ethernet send path and the raw socket"
    for ((r = 1; r <= REPEAT; r++)); do
        ours "rtt16-frames" 60 rtt --netns "$NS" --target 198.18.4.2 --count 200 --interval 0.01 --repeat 1
        ICMPTOOLS_SEND_PATH=raw ours "rtt16-raw" 60 rtt --netns "$NS" --target 198.18.4.2 --count 200 --interval 0.01 --repeat 1
        ext "rtt16" ping "$r" 30 "$NS" ping -n -c 200 -i 0.01 198.18.4.2
    done
}

ours16() {   # dense|sparse frames|raw run args...
    local scen="$1" path="$2" run="$3"; shift 3
    local env=()
    [[ "$path" == raw ]] && env=(ICMPTOOLS_SEND_PATH=raw)
    echo "   ours ($path): sweep-ps $*"
    env "${env[@]}" timeout 120 "$BENCH" sweep-ps --netns "$NS" --warmup 198.19.1.0/24 --throttle default --repeat 1 --collect 0 "$@" \
        2>>"$LOGS/bench.stderr" | sed -n 's/^RESULT {/{"scenario":"'"$scen"'16","path":"'"$path"'",/p' | sed 's/"run":1,/"run":'"$run"',/' \
        | tee -a "$RAW" | cut -c1-200
}

# capture_on / capture_off: the lab client's capture, shared with bench/ab16.sh.
source "$ROOT/bench/capture.sh"

# zmap's figure: from its start (and from its first probe) to its 99th percentile reply, by the capture's kernel
# stamps. Its own CSV stamps (timestamp-ts/-us) are taken when its receiver thread handles a reply, which with
# zmap 2.1.1's libpcap timeout of 1000 ms is up to 1 s after the reply arrived (bench/pcap_times.py): kept as
# csv_p99_ms beside the capture's figure, never used as zmap's time.
zmap16() {   # run gateway-mac
    local tf="$LOGS/dense16-zmap-$1" start
    start="$(date +%s.%N)"
    set +e
    timeout 60 ip netns exec "$NS" zmap -q -M icmp_echoscan -i to-r1 -G "$2" -S 198.18.1.2 -r 0 -b /dev/null -c 1 \
        -f "saddr,timestamp-ts,timestamp-us" -O csv -o "$tf.csv" "$LAB_BLOCK" >"$tf.out" 2>"$tf.err"
    local rc=$?
    set -e
    echo "$start" >"$tf.start"
    echo "$rc" >"$tf.rc"
}

# After capture_off: zmap's record from its capture and its CSV.
zmap16_record() {   # run
    local tf="$LOGS/dense16-zmap-$1"
    "$PY" - "$1" "$(cat "$tf.rc")" "$(cat "$tf.start")" "$tf" "$("$PY" "$ROOT/bench/pcap_times.py" "$tf.pcap" "$(cat "$tf.start")" "$LAB_BLOCK")" >>"$RAW" <<'PYEOF'
import json, sys
run, rc, start, tf, cap = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], json.loads(sys.argv[5])
times = []
for line in open(tf + ".csv"):
    p = line.strip().split(",")
    if len(p) >= 3 and p[1].isdigit():
        times.append((int(p[1]) + int(p[2]) / 1e6 - start) * 1000)
times.sort()
csv_p99 = times[int(0.99 * (len(times) - 1))] if times else float("nan")
print(json.dumps({"scenario": "dense16", "mode": "zmap", "run": run, "rc": rc, "p99_ms": cap["p99_ms"],
                  "p99_after_first_send_ms": cap["p99_ms"] - cap["first_send_ms"], "first_send_ms": cap["first_send_ms"],
                  "last_send_ms": cap["last_send_ms"], "last_ms": cap["last_ms"], "replies": cap["replies"],
                  "requests": cap["requests"], "csv_p99_ms": csv_p99, "csv_last_ms": times[-1] if times else float("nan"),
                  "alive": len(set(l.split(",")[0] for l in open(tf + ".csv"))) - 1}))
PYEOF
    tail -n1 "$RAW" | cut -c1-250
}

if [[ "${ONLY:-}" == sweep16 ]]; then
    sweep16
    "$PY" "$ROOT/bench/report.py" "$RAW" "$LOGS" >"$OUT/latest.md"
    cat "$OUT/latest.md"
    exit 0
fi

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

sweep16

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
