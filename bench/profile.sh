#!/usr/bin/env bash
# bench/profile.sh: where a sweep's time goes (issue 16). Records the engine sweep of the lab /16 under
# `perf record -g` with DOTNET_PerfMapEnabled=1 and W^X off (so perf names JIT-compiled methods; with W^X
# on, managed code runs from a memfd double mapping perf cannot name), sparse (1 % alive,
# -TimeoutSeconds 0.5, -Alive) and dense, and prints the top of each report.
# Needs root, linux-perf (Debian) and a Release build of bench/IcmpTools.Bench.
# Traffic goes only to the namespace lab this script builds and removes (LAB_PREFIX, default h16sp, + PID).
# `first` profiles instead the cmdlet's first sparse /16 of a fresh process (sweep-ps --collect 0, as bench/run.sh
# ONLY=sweep16 runs it), cut to the call itself (perf -k CLOCK_MONOTONIC against the call's start on the same
# clock), and lists what the JIT compiled during the call (the perf map's lines written then), by tier and assembly.
# Usage: bench/profile.sh [sparse|dense|both|first] [REPEAT]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
which_runs="${1:-both}"
repeat="${2:-3}"
BENCH="$ROOT/bench/IcmpTools.Bench/bin/Release/net10.0/IcmpTools.Bench"
OUT="$ROOT/bench/results/profile"
LAB="${LAB_PREFIX:-h16sp}$$"
BLOCK=198.19.0.0/16
[[ -x "$BENCH" ]] || { echo "build first: dotnet build IcmpTools.sln -c Release" >&2; exit 1; }
command -v perf >/dev/null || apt-get install -y linux-perf >/dev/null
mkdir -p "$OUT"

trap 'bash "$ROOT/tests/netlab/netlab.sh" down "$LAB" >/dev/null 2>&1 || true' EXIT
bash tests/netlab/netlab.sh up "$LAB"

record() {   # name extra-bench-args...
    local name="$1"; shift
    echo "== $name: perf record -g -- $BENCH sweep-engine --netns $LAB-c --target $BLOCK $*"
    DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 timeout 300 perf record -F 999 -g -o "$OUT/$name.data" -- \
        "$BENCH" sweep-engine --netns "$LAB-c" --target "$BLOCK" --repeat "$repeat" "$@" 2>"$OUT/$name.stderr" \
        | grep '^RESULT' | cut -c1-160
    # Self time by symbol, then by shared object: the JIT map names managed frames.
    perf report -i "$OUT/$name.data" --no-children --sort symbol --stdio 2>/dev/null | grep -v '^#' | grep '%' | head -40 \
        | tee "$OUT/$name.symbols.txt"
    perf report -i "$OUT/$name.data" --no-children --sort dso --stdio 2>/dev/null | grep -v '^#' | grep '%' | head -10 \
        | tee "$OUT/$name.dso.txt"
}

first() {
    local result="$OUT/first.result" from to map
    echo "== first: perf record -k CLOCK_MONOTONIC -g -- $BENCH sweep-ps --collect 0 (sparse, -Alive)"
    bash tests/netlab/netlab.sh sparse "$LAB" on
    DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 timeout 300 perf record -k CLOCK_MONOTONIC -F 1999 -g -o "$OUT/first.data" -- \
        "$BENCH" sweep-ps --netns "$LAB-c" --warmup 198.19.1.0/24 --throttle default --repeat 1 --collect 0 --target "$BLOCK" \
        --timeout 0.5 --alive 1 2>"$OUT/first.stderr" | grep '^RESULT' | tee "$result" | cut -c1-300
    bash tests/netlab/netlab.sh sparse "$LAB" off
    read -r from to < <(python3 -c "import json,sys; r=json.loads(open(sys.argv[1]).read()[7:]); t=r['t0_monotonic_ns']/1e9; print('%.6f %.6f' % (t, t + r['invoke_ms']/1e3))" "$result")
    perf report -i "$OUT/first.data" --time "$from,$to" --no-children --sort comm,dso --stdio -g none 2>/dev/null | grep -v '^#' | grep '%' | head -15 \
        | tee "$OUT/first.threads.txt" || true
    perf report -i "$OUT/first.data" --time "$from,$to" --no-children --sort symbol --stdio -g none 2>/dev/null | grep -v '^#' | grep '%' | head -40 \
        | tee "$OUT/first.symbols.txt" || true
    # The perf map of the bench process (perf record's child): the lines written during the call, by tier and by assembly.
    read -r map from to < <(python3 -c "import json,sys; r=json.loads(open(sys.argv[1]).read()[7:]); print('/tmp/perf-%d.map' % r['pid'], *r['perfmap_lines'].split('-'))" "$result")
    sed -n "$((from + 1)),${to}p" "$map" >"$OUT/first.jitted.txt"
    echo "== compiled during the call: $((to - from)) methods, by tier and by assembly"
    python3 - "$OUT/first.jitted.txt" <<'PYEOF'
import collections, re, sys
tiers, owners = collections.Counter(), collections.Counter()
for line in open(sys.argv[1]):
    name = line.split(" ", 2)[2].strip()
    tiers[re.search(r"\[([A-Za-z0-9-]+)\]$", name).group(1) if name.endswith("]") else "?"] += 1
    # The declaring assembly is the bracket right before "Namespace.Type::Method".
    m = re.search(r"\[([A-Za-z0-9.]+)\] [A-Za-z0-9_.`+<>\[\],]+::", name)
    owners[m.group(1) if m else "?"] += 1
print("  by tier:", ", ".join(f"{k} {v}" for k, v in tiers.most_common()))
print("  by assembly:", ", ".join(f"{k} {v}" for k, v in owners.most_common(10)))
PYEOF
}

if [[ "$which_runs" == first ]]; then
    first
fi
if [[ "$which_runs" == sparse || "$which_runs" == both ]]; then
    bash tests/netlab/netlab.sh sparse "$LAB" on
    record sparse --throttle default --timeout 0.5 --alive 1
    bash tests/netlab/netlab.sh sparse "$LAB" off
fi
if [[ "$which_runs" == dense || "$which_runs" == both ]]; then
    record dense --throttle default --timeout 0.5
fi
echo "== reports and data in $OUT"
