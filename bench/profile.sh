#!/usr/bin/env bash
# bench/profile.sh: where a sweep's time goes (issue 16). Records the engine sweep of the lab /16 under
# `perf record -g` with DOTNET_PerfMapEnabled=1 and W^X off (so perf names JIT-compiled methods; with W^X
# on, managed code runs from a memfd double mapping perf cannot name), sparse (1 % alive,
# -TimeoutSeconds 0.5, -Alive) and dense, and prints the top of each report.
# Needs root, linux-perf (Debian) and a Release build of bench/IcmpTools.Bench.
# Traffic goes only to the namespace lab this script builds and removes (h16s-prof-PID).
# Usage: bench/profile.sh [sparse|dense|both] [REPEAT]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
which_runs="${1:-both}"
repeat="${2:-3}"
BENCH="$ROOT/bench/IcmpTools.Bench/bin/Release/net10.0/IcmpTools.Bench"
OUT="$ROOT/bench/results/profile"
LAB="h16sp$$"
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

if [[ "$which_runs" == sparse || "$which_runs" == both ]]; then
    bash tests/netlab/netlab.sh sparse "$LAB" on
    record sparse --throttle default --timeout 0.5 --alive 1
    bash tests/netlab/netlab.sh sparse "$LAB" off
fi
if [[ "$which_runs" == dense || "$which_runs" == both ]]; then
    record dense --throttle default --timeout 0.5
fi
echo "== reports and data in $OUT"
